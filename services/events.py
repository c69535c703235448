"""Events on the bus: a CloudEvents envelope, the contracts of their data, and the outbox relay.

A record's events are written into the record itself (`outbox`) in the same
write; `EventOutbox.flush` then publishes them through Nameko and removes them.
A crash in between loses nothing: the relay timer publishes whatever is still
pending. Consumers therefore see an event at least once and must be idempotent
(`Repository.first_delivery`).
"""
import logging
from datetime import datetime, timezone

from nameko.events import EventDispatcher
from pydantic import BaseModel, ConfigDict

from services import metrics
from services.storage import new_id, now, timestamp

log = logging.getLogger(__name__)

SPEC_VERSION = "1.0"
RELAY_GRACE_SECONDS = 5
# event type -> pydantic model of its `data`
CONTRACTS = {}


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")


def contract(event_type):
    """Registers the data model of an event type; every published event is checked against it."""
    def register(model):
        CONTRACTS[event_type] = model
        model.event_type = event_type
        return model
    return register


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes, plus the `tenant` extension every consumer filters on."""

    model_config = ConfigDict(extra="forbid")

    specversion: str
    id: str
    source: str
    type: str
    time: str
    subject: str
    tenant: str
    datacontenttype: str
    data: dict


def envelope(service, event_type, tenant, subject, data):
    """Builds an event, validating `data` against the registered contract."""
    model = CONTRACTS[event_type]
    checked = model.model_validate(data).model_dump(mode="json")
    return {
        "specversion": SPEC_VERSION,
        "id": new_id(),
        "source": f"/civicgrid/{service}",
        "type": event_type,
        "time": timestamp(now()),
        "subject": subject,
        "tenant": tenant,
        "datacontenttype": "application/json",
        "data": checked,
    }


class EventOutbox(EventDispatcher):
    """Publishes the events a record carries in its outbox, then clears them."""

    def get_dependency(self, worker_ctx):
        dispatch = super().get_dependency(worker_ctx)
        return OutboxPublisher(dispatch, self.container.service_name)


class OutboxPublisher:
    def __init__(self, dispatch, service):
        self.dispatch = dispatch
        self.service = service

    def flush(self, records, document):
        pending = document.get("outbox") or []
        if not pending:
            return
        for event in pending:
            self.dispatch(event["type"], event)
            metrics.EVENTS_PUBLISHED.labels(self.service, event["type"]).inc()
        records.clear_outbox(document, pending)

    def relay(self, records_list):
        """Publishes what a crash left behind; returns (pending count, oldest age in seconds)."""
        pending, oldest = 0, 0.0
        for records in records_list:
            for document in records.pending_outbox(older_than_seconds=RELAY_GRACE_SECONDS):
                pending += len(document["outbox"])
                oldest = max(oldest, age_seconds(document["outbox"][0]["time"]))
                self.flush(records, document)
        metrics.OUTBOX_PENDING.labels(self.service).set(pending)
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(oldest)
        return pending, oldest


def age_seconds(rfc3339):
    moment = datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return max(0.0, (now() - moment).total_seconds())


def consume_once(repository, service, event, handle):
    """Runs `handle(event)` at most once per event id, however often it is redelivered."""
    if not repository.first_delivery(event["id"]):
        metrics.EVENTS_CONSUMED.labels(service, event["type"], "duplicate").inc()
        metrics.REDELIVERIES.labels(service, event["type"]).inc()
        return
    try:
        handle(event)
    except Exception:
        repository.forget_delivery(event["id"])
        metrics.EVENTS_CONSUMED.labels(service, event["type"], "error").inc()
        raise
    metrics.EVENTS_CONSUMED.labels(service, event["type"], "ok").inc()
