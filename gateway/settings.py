"""What the gateway reads from the environment: its own GATEWAY_ variables, and the broker,
JWT keys and log level it shares with the rest of the platform under their platform-wide names."""
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.settings import Settings


class GatewaySettings(Settings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    port: int = 50051
    metrics_port: int = 9100
    workers: int = 32
    amqp_uri: str = Field("amqp://guest:guest@127.0.0.1:5672/", validation_alias="AMQP_URI")
    jwt_secret: str | None = Field(None, validation_alias="CIVICGRID_JWT_SECRET")
    jwt_public_key_file: str | None = Field(None, validation_alias="CIVICGRID_JWT_PUBLIC_KEY_FILE")
    # An OIDC provider's signing keys (e.g. https://sso.example/realms/city/protocol/openid-connect/certs),
    # and what its tokens must say of who issued them and for whom.
    jwt_jwks_url: str | None = Field(None, validation_alias="CIVICGRID_JWT_JWKS_URL")
    jwt_issuer: str | None = Field(None, validation_alias="CIVICGRID_JWT_ISSUER")
    jwt_audience: str | None = Field(None, validation_alias="CIVICGRID_JWT_AUDIENCE")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")

    def jwt_public_key(self):
        if not self.jwt_public_key_file:
            return None
        with open(self.jwt_public_key_file) as key:
            return key.read()
