"""What the door reads from the environment (DOOR_ variables)."""
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.settings import Settings


class DoorSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="DOOR_")

    port: int = 8081
    gateway: str = "127.0.0.1:50051"
    # JSON or YAML: the SHA-256 (hex) of each api_key → the bearer token it calls with (door/keys.py).
    api_keys_file: str | None = None
    # A read-only credential (e.g. a partner token) for GET calls without an api_key; unset, they
    # are refused.
    public_token: str | None = None
    time_zone: str = "Asia/Shanghai"
    call_timeout_seconds: float = 10
    # What the discovery document names.
    contact: str = "civicgrid operators"
    changeset: str = "2025-01-01T00:00:00+08:00"
    # Requests listed per page when page_size is not given, and at most.
    default_page_size: int = Field(50, ge=1)
    max_page_size: int = Field(200, ge=1)
    # The farthest page a GET requests.{fmt} walks to (each page before it is one gateway call).
    max_page: int = Field(50, ge=1)
