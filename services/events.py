"""Events on the bus: a CloudEvents envelope, the contracts of their data, and the outbox relay.

A record's events are written into the record itself (`outbox`) in the same write;
`OutboxPublisher.flush` then publishes them and marks them published, and the relay later
prunes them from the record. Bulk imports hold a batch's events in one document instead
(`storage.import_new`). A crash in between loses nothing: the relay publishes whatever is still
pending. Consumers therefore see an event at least once and must be idempotent
(`consume_once`).
"""
import logging
import time
from datetime import datetime

from kombu import Connection, Producer
from kombu.pools import connections
from nameko.amqp.publish import UndeliverableMessage
from nameko.constants import PERSISTENT
from nameko.events import EventDispatcher
from pydantic import BaseModel, ConfigDict

from services import metrics
from services.bus import BROKER_UNREACHABLE
from services.storage import new_id, now, timestamp

log = logging.getLogger(__name__)

SPEC_VERSION = "1.0"
RELAY_GRACE_SECONDS = 5
# Long enough for the relay to have pruned every record that carried the event.
PUBLISHED_MARKS_KEPT_SECONDS = 3600
CONFIRMS_TIMEOUT_SECONDS = 30
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
        headers = self.get_message_headers(worker_ctx)

        def publish_all(events):
            if len(events) == 1:
                dispatch(events[0]["type"], events[0])
            elif events:
                self._publish_confirmed_together(events, headers)
        return OutboxPublisher(publish_all, self.container.service_name)

    def _publish_confirmed_together(self, events, headers):
        """Publishes on one channel, then waits once for the broker to confirm every event:
        awaiting each confirm in turn costs a round trip per event, thousands in a bulk import."""
        pooled = Connection(self.amqp_uri, transport_options={"confirm_publish": False})
        with connections[pooled].acquire(block=True) as connection:
            try:
                connection.ensure_connection(max_retries=3)
                channel = connection.channel()
                confirms = BrokerConfirms(channel)
                producer = Producer(channel, exchange=self.exchange, serializer=self.serializer)
                for event in events:
                    producer.publish(event, routing_key=event["type"], headers=headers, delivery_mode=PERSISTENT)
                confirms.wait_for(len(events), connection)
                channel.close()
            except BROKER_UNREACHABLE:
                # A pooled connection the broker dropped would fail every later call: the next
                # one connects afresh.
                connection.collect()
                raise


class BrokerConfirms:
    """Counts the broker's confirms of what is published on a channel in confirm mode."""

    def __init__(self, channel):
        self.confirmed_up_to, self.confirmed, self.refused = 0, set(), False
        channel.confirm_select()
        channel.events["basic_ack"].add(self._confirm)
        channel.events["basic_nack"].add(self._refuse)

    def _confirm(self, delivery_tag, multiple):
        if multiple:
            self.confirmed_up_to = max(self.confirmed_up_to, delivery_tag)
        else:
            self.confirmed.add(delivery_tag)

    def _refuse(self, delivery_tag, multiple):
        self.refused = True

    def wait_for(self, count, connection):
        """Returns once `count` messages are confirmed; raises if the broker refuses one or
        `socket.timeout` if it is too slow, and the relay publishes them again later."""
        deadline = time.monotonic() + CONFIRMS_TIMEOUT_SECONDS
        while not self.refused and self._count() < count:
            connection.drain_events(timeout=max(0.01, deadline - time.monotonic()))
        if self.refused:
            raise UndeliverableMessage()

    def _count(self):
        return self.confirmed_up_to + sum(1 for tag in self.confirmed if tag > self.confirmed_up_to)


class OutboxPublisher:
    """Publishing writes nothing to the record: on FerretDB v1 a second write to a document can
    clobber a concurrent change to it. It marks the events published in a collection of their
    own (inserts are safe); the relay later removes published events from records, once, and
    publishes whatever a crash left unmarked."""

    def __init__(self, publish_all, service):
        self.publish_all = publish_all
        self.service = service

    def flush(self, repository, documents):
        events = [event for document in documents for event in document.get("outbox") or []]
        self.publish(events)
        repository.mark_published([event["id"] for event in events])

    def flush_or_leave_to_relay(self, repository, documents):
        """For a call's own path: the record is written, so a broker that does not take its
        events must not fail the call; they stay pending and the relay publishes them.
        Returns whether they went out."""
        return left_to_relay_on_failure(self.flush, repository, documents)

    def publish_or_leave_to_relay(self, events):
        """`publish` for events whose holder stays pending until this returns True."""
        return left_to_relay_on_failure(self.publish, events)

    def publish(self, events):
        """Publishes without marking: for events whose holder is cleared right after, so that
        only a crash makes the relay publish them again (consumers drop the repeat by id)."""
        self.publish_all(events)
        for event in events:
            metrics.EVENTS_PUBLISHED.labels(self.service, event["type"]).inc()

    def relay(self, repository):
        """Publishes unmarked events older than the grace period and prunes published ones;
        returns (unpublished count, oldest unpublished age in seconds)."""
        recovered = []
        for records in repository.outbox_records():
            for document in records.pending_outbox(older_than_seconds=RELAY_GRACE_SECONDS):
                recovered.append(self._publish_unmarked(repository, document["outbox"]))
                records.clear_outbox(document, document["outbox"])
        for batch in repository.held_batches(older_than_seconds=RELAY_GRACE_SECONDS):
            recovered.append(self._publish_unmarked(repository, repository.events_imported_by(batch)))
            repository.release_events(batch["_id"])
        repository.forget_published(older_than_seconds=PUBLISHED_MARKS_KEPT_SECONDS)
        unpublished = sum(count for count, _ in recovered)
        oldest = max((age for _, age in recovered), default=0.0)
        metrics.OUTBOX_PENDING.labels(self.service).set(unpublished)
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(oldest)
        return unpublished, oldest

    def _publish_unmarked(self, repository, events):
        """Publishes those of `events` not marked published; returns (how many, oldest's age)."""
        published = repository.published_among([event["id"] for event in events])
        missing = [event for event in events if event["id"] not in published]
        if not missing:
            return 0, 0.0
        self.flush(repository, [{"outbox": missing}])
        return len(missing), age_seconds(missing[0]["time"])


def left_to_relay_on_failure(publish, *args):
    try:
        publish(*args)
        return True
    except BROKER_UNREACHABLE as error:
        log.warning("events left to the relay, the broker did not take them: %s", error)
        return False


def age_seconds(rfc3339):
    moment = datetime.fromisoformat(rfc3339)
    return max(0.0, (now() - moment).total_seconds())


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
