"""Events on the bus: a CloudEvents envelope, the contracts of their data, and consuming each
event once. Publishing goes through the outbox (`services.outbox`), so consumers see an event at
least once and must be idempotent (`consume_once`).
"""
from cloudevents.core.spec import SPECVERSION_V1_0
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict

from services import metrics
from services.storage import new_id, now, timestamp

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
    """Builds an event in the CloudEvents structured JSON form: the SDK checks the attributes
    (the `tenant` extension's name included), the registered contract checks `data`. `time` is
    written as every civicgrid time is (storage.timestamp), whole seconds included."""
    checked = CONTRACTS[event_type].model_validate(data).model_dump(mode="json")
    event = CloudEvent({
        "specversion": SPECVERSION_V1_0,
        "id": new_id(),
        "source": f"/civicgrid/{service}",
        "type": event_type,
        "time": now(),
        "subject": subject,
        "tenant": tenant,
        "datacontenttype": "application/json",
    }, checked)
    return {**event.get_attributes(), "time": timestamp(event.get_time()), "data": event.get_data()}


def consume_once(repository, service, event, handle):
    """Runs `handle(event)` until it has succeeded once for this event id. The mark is written
    after the handler, so a consumer killed mid-handler leaves none and the redelivery runs the
    handler again: handlers are idempotent by event id, and the mark only spares them the work."""
    if repository.was_handled(event["id"]):
        metrics.EVENTS_CONSUMED.labels(service, event["type"], "duplicate").inc()
        metrics.REDELIVERIES.labels(service, event["type"]).inc()
        return
    try:
        handle(event)
    except Exception:
        metrics.EVENTS_CONSUMED.labels(service, event["type"], "error").inc()
        raise
    repository.mark_handled(event["id"])
    metrics.EVENTS_CONSUMED.labels(service, event["type"], "ok").inc()
