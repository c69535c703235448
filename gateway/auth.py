"""Bearer JWTs: HS256 with a shared secret (development) or RS256 with a public key."""
import jwt
from pydantic import ValidationError

from gateway.errors import Refusal

from services.access import Caller


class Unauthenticated(Exception):
    pass


class Authenticator:
    def __init__(self, secret=None, public_key=None, issuer=None):
        if not secret and not public_key:
            raise ValueError("set CIVICGRID_JWT_SECRET (HS256) or CIVICGRID_JWT_PUBLIC_KEY_FILE (RS256)")
        self.keys = {}
        if secret:
            self.keys["HS256"] = secret
        if public_key:
            self.keys["RS256"] = public_key
        self.issuer = issuer

    def caller(self, metadata):
        """The verified caller of a call, from its `authorization: Bearer <JWT>` metadata."""
        token = self._bearer(metadata)
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
            if algorithm not in self.keys:
                raise Unauthenticated(f"token algorithm {algorithm!r} is not accepted")
            claims = jwt.decode(token, self.keys[algorithm], algorithms=[algorithm], issuer=self.issuer,
                                options={"require": ["sub", "exp"]})
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
