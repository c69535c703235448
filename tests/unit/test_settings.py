"""The environment the services, the gateway and the CLI read: defaults, names, overrides."""
import pytest
from pydantic import ValidationError

from cli.settings import CliSettings
from gateway.settings import GatewaySettings
from services.settings import (EventHandlingSettings, EventLogSettings, OutboxSettings, PartnerBrokerSettings,
                               PiiSettings, ReferenceSettings, RpcSettings, SmsProviderSettings, StoreSettings,
                               WebhookSettings)

DEFAULTS = [
    (StoreSettings, {"operation_timeout_ms": 8000, "connect_timeout_ms": 3000, "max_pool_size": 32}),
    (OutboxSettings, {"relay_seconds": 10}),
    (RpcSettings, {"call_timeout_seconds": 20}),
    (ReferenceSettings, {"max_entries": 10000, "ttl_seconds": 60}),
    (EventHandlingSettings, {"delivery_limit": 5, "outage_patience_seconds": 600}),
    (EventLogSettings, {"retention_seconds": 7 * 24 * 3600}),
    (WebhookSettings, {"backoff_seconds": 1, "max_backoff_seconds": 300, "max_attempts": 8, "pause_after": 5,
                       "allow_local": False}),
    (SmsProviderSettings, {"url": "", "token": ""}),
    (PartnerBrokerSettings, {"partner_queue_max_length": 10000, "rabbitmq_api": "http://127.0.0.1:15672/api"}),
    (PiiSettings, {"pii_key": ""}),
    (GatewaySettings, {"port": 50051, "metrics_port": 9100, "workers": 32,
                       "amqp_uri": "amqp://guest:guest@127.0.0.1:5672/", "jwt_secret": None,
                       "jwt_public_key_file": None, "jwt_jwks_url": None, "jwt_issuer": None,
                       "jwt_audience": None, "log_level": "INFO"}),
    (CliSettings, {"amqp_uri": "amqp://guest:guest@127.0.0.1:5672/", "jwt_secret": ""}),
]
VARIABLES = [
    (StoreSettings, "MONGO_OPERATION_TIMEOUT_MS", "operation_timeout_ms", "100", 100),
    (StoreSettings, "MONGO_CONNECT_TIMEOUT_MS", "connect_timeout_ms", "200", 200),
    (StoreSettings, "MONGO_MAX_POOL_SIZE", "max_pool_size", "4", 4),
    (OutboxSettings, "OUTBOX_RELAY_SECONDS", "relay_seconds", "2", 2),
    (RpcSettings, "RPC_CALL_TIMEOUT_SECONDS", "call_timeout_seconds", "1.5", 1.5),
    (ReferenceSettings, "REFERENCE_TTL_SECONDS", "ttl_seconds", "5", 5),
    (EventHandlingSettings, "EVENT_DELIVERY_LIMIT", "delivery_limit", "3", 3),
    (EventHandlingSettings, "EVENT_OUTAGE_PATIENCE_SECONDS", "outage_patience_seconds", "60", 60),
    (EventLogSettings, "EVENT_RETENTION_SECONDS", "retention_seconds", "3600", 3600),
    (WebhookSettings, "WEBHOOK_BACKOFF_SECONDS", "backoff_seconds", "0", 0),
    (WebhookSettings, "WEBHOOK_MAX_BACKOFF_SECONDS", "max_backoff_seconds", "30", 30),
    (WebhookSettings, "WEBHOOK_MAX_ATTEMPTS", "max_attempts", "3", 3),
    (WebhookSettings, "WEBHOOK_PAUSE_AFTER", "pause_after", "2", 2),
    (SmsProviderSettings, "SMS_PROVIDER_URL", "url", "http://sms", "http://sms"),
    (SmsProviderSettings, "SMS_PROVIDER_TOKEN", "token", "k", "k"),
    (PartnerBrokerSettings, "PARTNER_QUEUE_MAX_LENGTH", "partner_queue_max_length", "10", 10),
    (PartnerBrokerSettings, "RABBITMQ_API", "rabbitmq_api", "http://mq/api", "http://mq/api"),
    (PiiSettings, "CIVICGRID_PII_KEY", "pii_key", "secret", "secret"),
    (GatewaySettings, "GATEWAY_PORT", "port", "1", 1),
    (GatewaySettings, "GATEWAY_METRICS_PORT", "metrics_port", "0", 0),
    (GatewaySettings, "GATEWAY_WORKERS", "workers", "2", 2),
    (GatewaySettings, "AMQP_URI", "amqp_uri", "amqp://mq/", "amqp://mq/"),
    (GatewaySettings, "CIVICGRID_JWT_SECRET", "jwt_secret", "s", "s"),
    (GatewaySettings, "CIVICGRID_JWT_PUBLIC_KEY_FILE", "jwt_public_key_file", "/k.pem", "/k.pem"),
    (GatewaySettings, "LOG_LEVEL", "log_level", "DEBUG", "DEBUG"),
    (CliSettings, "AMQP_URI", "amqp_uri", "amqp://mq/", "amqp://mq/"),
    (CliSettings, "CIVICGRID_JWT_SECRET", "jwt_secret", "s", "s"),
]
ALL_VARIABLES = sorted({variable for _, variable, *_ in VARIABLES})


@pytest.fixture
def clean_environment(monkeypatch):
    for variable in ALL_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


@pytest.mark.parametrize("settings, defaults", DEFAULTS, ids=lambda value: getattr(value, "__name__", ""))
def test_defaults_without_the_environment(clean_environment, settings, defaults):
    assert settings().model_dump() == defaults


@pytest.mark.parametrize("settings, variable, field, value, read", VARIABLES, ids=[row[1] for row in VARIABLES])
def test_each_variable_overrides_its_field(clean_environment, settings, variable, field, value, read):
    clean_environment.setenv(variable, value)
    assert getattr(settings(), field) == read


def test_an_empty_variable_counts_as_unset(clean_environment):
    clean_environment.setenv("WEBHOOK_MAX_ATTEMPTS", "")
    clean_environment.setenv("RABBITMQ_API", "")
    assert WebhookSettings().max_attempts == 8
    assert PartnerBrokerSettings().rabbitmq_api == "http://127.0.0.1:15672/api"


def test_a_value_of_the_wrong_kind_stops_the_process_naming_the_variable(clean_environment):
    clean_environment.setenv("MONGO_MAX_POOL_SIZE", "many")
    with pytest.raises(ValidationError, match="max_pool_size"):
        StoreSettings()


def test_the_gateway_reads_its_public_key_from_the_named_file(clean_environment, tmp_path):
    key = tmp_path / "jwt.pem"
    key.write_text("-----BEGIN PUBLIC KEY-----\n")
    clean_environment.setenv("CIVICGRID_JWT_PUBLIC_KEY_FILE", str(key))
    assert GatewaySettings().jwt_public_key() == "-----BEGIN PUBLIC KEY-----\n"
    clean_environment.delenv("CIVICGRID_JWT_PUBLIC_KEY_FILE")
    assert GatewaySettings().jwt_public_key() is None
