"""Bearer JWTs: HS256 with a shared secret (development), RS256 with a public key, or RS256
tokens of an OIDC identity provider, verified by the keys it publishes (JWKS)."""
import jwt
from pydantic import ValidationError

from gateway.errors import Refusal

from services.access import Caller


class Unauthenticated(Exception):
    pass


class KeysUnavailable(Exception):
    """The identity provider's keys could not be fetched: not the caller's fault."""


# The provider's keys are fetched again at most this often (a rotated key is found at once: an
# unknown `kid` fetches them again).
JWKS_KEPT_SECONDS = 300


class Authenticator:
    def __init__(self, secret=None, public_key=None, issuer=None, jwks_url=None, audience=None):
        if not secret and not public_key and not jwks_url:
            raise ValueError("set CIVICGRID_JWT_SECRET (HS256), CIVICGRID_JWT_PUBLIC_KEY_FILE (RS256) "
                             "or CIVICGRID_JWT_JWKS_URL (RS256, an OIDC provider's keys)")
        self.keys = {}
        if secret:
            self.keys["HS256"] = secret
        if public_key:
            self.keys["RS256"] = public_key
        self.jwks = jwt.PyJWKClient(jwks_url, lifespan=JWKS_KEPT_SECONDS, timeout=5) if jwks_url else None
        self.issuer = issuer
        self.audience = audience

    def _key(self, token, algorithm):
        if algorithm == "RS256" and self.jwks and "RS256" not in self.keys:
            try:
                return self.jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientConnectionError as exc:
                raise KeysUnavailable(f"the identity provider's keys could not be fetched: {exc}") from None
        if algorithm not in self.keys:
            raise Unauthenticated(f"token algorithm {algorithm!r} is not accepted")
        return self.keys[algorithm]

    def caller(self, metadata):
        """The verified caller of a call, from its `authorization: Bearer <JWT>` metadata."""
        token = self._bearer(metadata)
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            claims = jwt.decode(token, self._key(token, algorithm), algorithms=[algorithm], issuer=self.issuer,
                                audience=self.audience, options={"require": ["sub", "exp"],
                                                                 "verify_aud": self.audience is not None})
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"invalid token: {exc}") from None
        try:
            return Caller.model_validate({**claims, "subject": claims["sub"]})
        except ValidationError as exc:
            fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
            raise Unauthenticated(f"token claims invalid: {fields}") from None

    @staticmethod
    def _bearer(metadata):
        for key, value in metadata:
            if key == "authorization":
                scheme, _, token = value.partition(" ")
                if scheme.lower() == "bearer" and token:
                    return token.strip()
                raise Unauthenticated("authorization must be 'Bearer <token>'")
        raise Unauthenticated("missing authorization metadata")


def authorised_caller(authenticator, context, roles, method):
    """The verified caller, if their role may call `method`; else a Refusal."""
    try:
        caller = authenticator.caller(context.invocation_metadata())
    except Unauthenticated as exc:
        raise Refusal("UNAUTHENTICATED", str(exc)) from None
    except KeysUnavailable as exc:
        raise Refusal("UNAVAILABLE", str(exc)) from None
    if caller.role not in roles:
        raise Refusal("PERMISSION_DENIED", f"role {caller.role} may not call {method}")
    return caller


def mint(secret, subject, tenant, role, scope, grants=(), ttl_seconds=3600, household_id=""):
    """A HS256 token for development and tests; `household_id` is a resident's household claim."""
    import time
    now = int(time.time())
    claims = {"sub": subject, "tenant": tenant, "role": role, "scope": list(scope), "grants": list(grants),
              "iat": now, "exp": now + ttl_seconds, **({"household_id": household_id} if household_id else {})}
    return jwt.encode(claims, secret, algorithm="HS256")
