"""What the console reads from the environment (CONSOLE_ variables, and the platform-wide JWT secret
that only development sign-in uses)."""
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.settings import Settings


class ConsoleSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_")

    port: int = 8080
    gateway: str = "127.0.0.1:50051"
    # Signs the session cookie that carries the person's token.
    session_secret: str = Field(min_length=16)
    tenant: str = "demo"
    time_zone: str = "Asia/Shanghai"
    # Development sign-in: pick a demo role and scope, and the console mints the token with the
    # gateway's HS256 secret. Off in production, where people sign in through OIDC.
    dev_signin: bool = False
    jwt_secret: str | None = Field(None, validation_alias="CIVICGRID_JWT_SECRET")
    call_timeout_seconds: float = 10
    # OIDC sign-in (production): the provider's issuer URL (its discovery document is at
    # <issuer>/.well-known/openid-configuration) and this console's client. The access token it
    # gives is what the console passes to the gateway, which verifies it by the provider's keys
    # (CIVICGRID_JWT_JWKS_URL).
    oidc_issuer: str | None = None
    oidc_client_id: str = "civicgrid-console"
    oidc_client_secret: str | None = None
    oidc_scope: str = "openid profile"
