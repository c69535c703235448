"""What the command line reads from the environment, under the platform's names; flags win."""
from pydantic import Field

from services.settings import Settings


class CliSettings(Settings):
    amqp_uri: str = Field("amqp://guest:guest@127.0.0.1:5672/", validation_alias="AMQP_URI")
    jwt_secret: str = Field("", validation_alias="CIVICGRID_JWT_SECRET")
