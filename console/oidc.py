"""Sign-in through the city's OpenID Connect provider (authorization code flow, by Authlib): the
provider's access token is the person's token for the gateway; who they are and their role are
read from the ID token the provider signed (Authlib checks its signature, issuer, audience and nonce)."""
from authlib.integrations.flask_client import OAuth


def provider_of(app, settings):
    """The registered provider, or None when OIDC sign-in is not configured."""
    if not settings.oidc_issuer:
        return None
    return OAuth(app).register(
        "city", server_metadata_url=f"{settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration",
        client_id=settings.oidc_client_id, client_secret=settings.oidc_client_secret,
        client_kwargs={"scope": settings.oidc_scope})


def signed_in_person(answer):
    """The session of a person from the provider's token answer."""
    claims = answer["userinfo"]
    scope = claims.get("scope")
    return {"token": answer["access_token"], "role": claims.get("role", ""),
            "who": claims.get("name") or claims["sub"], "subject": claims["sub"],
            "place": scope[0] if isinstance(scope, list) and scope else ""}
