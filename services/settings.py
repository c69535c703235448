"""What the services read from the environment, one class per thing configured. A field's
variable is the class's prefix and the field's name, upper-cased (`WebhookSettings.max_attempts`
is WEBHOOK_MAX_ATTEMPTS); an empty variable counts as unset. Each module that is configured reads
its class once. MONGO_URI, AMQP_URI and the database prefix are Nameko's configuration, which
services/nameko.yaml takes from the environment."""
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_ignore_empty=True, frozen=True)


class StoreSettings(Settings):
    """How long a call may wait on the store, and how many connections one process holds."""

    model_config = SettingsConfigDict(env_prefix="MONGO_")

    operation_timeout_ms: int = 8000
    connect_timeout_ms: int = 3000
    max_pool_size: int = 32


class OutboxSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="OUTBOX_")

    relay_seconds: int = 10


class RpcSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="RPC_")

    call_timeout_seconds: float = 20


class ReferenceSettings(Settings):
    """What a process remembers of other services' reference data (services/reference.py): at most
    `max_entries` records, each for at most `ttl_seconds`, the bound on staleness should an
    event that changes one be lost."""

    model_config = SettingsConfigDict(env_prefix="REFERENCE_")

    max_entries: int = 10000
    ttl_seconds: float = 60


class EventHandlingSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="EVENT_")

    # Attempts, after the first, at an event whose handler fails for a reason other than an outage.
    delivery_limit: int = 5
    # How long a handler waits out an outage before it gives the message back (counted as an attempt).
    outage_patience_seconds: float = 600


class EventLogSettings(Settings):
    """How long the notifications service keeps every service's events."""

    model_config = SettingsConfigDict(env_prefix="EVENT_")

    retention_seconds: int = 7 * 24 * 3600


class SubscriptionSettings(Settings):
    """How long the notifications service feeds partners from its last read of their subscriptions."""

    model_config = SettingsConfigDict(env_prefix="SUBSCRIPTIONS_")

    fed_ttl_seconds: float = 2


class PollSettings(Settings):
    """How long one notifications process shows an open poll's counts before counting again.

    Staff's console refreshes live results every 10 s, and each refresh by each viewer used to
    make the store decode every answer (about 0.8 ms of FerretDB's time each, 3 s for a community
    of 4,000 households). Counted at most once per 5 s per process, a new answer still shows
    within one refresh, however many watch."""

    model_config = SettingsConfigDict(env_prefix="POLLS_")

    live_results_seconds: float = 5


class WebhookSettings(Settings):
    """Retries of partner webhooks, and of texts to the SMS provider."""

    model_config = SettingsConfigDict(env_prefix="WEBHOOK_")

    backoff_seconds: float = 1
    max_backoff_seconds: float = 300
    # After this many attempts a delivery is dead-lettered.
    max_attempts: int = 8
    # After this many failures in a row the subscription's webhook is paused.
    pause_after: int = 5
    # Development only (scripts/devstack.py sets it): webhooks over http and to this machine's or
    # a private network's addresses, where test receivers listen. Elsewhere that is an SSRF hole.
    allow_local: bool = False


class SmsProviderSettings(Settings):
    """Without a URL texts go to the local sink."""

    model_config = SettingsConfigDict(env_prefix="SMS_PROVIDER_")

    url: str = ""
    token: str = ""


class PartnerBrokerSettings(Settings):
    """Partner queues, and the RabbitMQ management API that makes their readers."""

    partner_queue_max_length: int = 10000
    rabbitmq_api: str = "http://127.0.0.1:15672/api"


class PiiSettings(Settings):
    model_config = SettingsConfigDict(env_prefix="CIVICGRID_")

    pii_key: str = ""
