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
# Long enough for the relay to have pruned every record that carried the event.
PUBLISHED_MARKS_KEPT_SECONDS = 3600
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
    """Publishes the events records carry in their outbox."""

    def get_dependency(self, worker_ctx):
        dispatch = super().get_dependency(worker_ctx)
        return OutboxPublisher(dispatch, self.container.service_name)


class OutboxPublisher:
    """Publishing writes nothing to the record: on FerretDB v1 a second write to a document can
    clobber a concurrent change to it. It marks the events published in a collection of their
    own (inserts are safe); the relay later removes published events from records, once, and
    publishes whatever a crash left unmarked."""

    def __init__(self, dispatch, service):
        self.dispatch = dispatch
        self.service = service

    def flush(self, repository, documents):
        events = [event for document in documents for event in document.get("outbox") or []]
        for event in events:
            self.dispatch(event["type"], event)
            metrics.EVENTS_PUBLISHED.labels(self.service, event["type"]).inc()
        repository.mark_published([event["id"] for event in events])

    def relay(self, repository):
        """Publishes unmarked events older than the grace period and prunes published ones;
        returns (unpublished count, oldest unpublished age in seconds)."""
        unpublished, oldest = 0, 0.0
        for records in repository.outbox_records():
            for document in records.pending_outbox(older_than_seconds=RELAY_GRACE_SECONDS):
                published = repository.published_among([event["id"] for event in document["outbox"]])
                missing = [event for event in document["outbox"] if event["id"] not in published]
                if missing:
                    unpublished += len(missing)
                    oldest = max(oldest, age_seconds(missing[0]["time"]))
                    self.flush(repository, [{"outbox": missing}])
                records.clear_outbox(document, document["outbox"])
        repository.forget_published(older_than_seconds=PUBLISHED_MARKS_KEPT_SECONDS)
        metrics.OUTBOX_PENDING.labels(self.service).set(unpublished)
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(oldest)
        return unpublished, oldest


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
