"""The outbox: how an event written with its record reaches the bus exactly when the record is
written, whatever crashes in between.

An event goes through these states, each kept where a single-document write (all FerretDB
offers) can keep it:

1. PENDING: in the outbox array of the record it belongs to, written in the same write as the
   change (`Records.create`, `update`, `claimed_update`); a bulk import instead holds a batch's
   events in one `held_events` document and names the batch in each record it inserts.
2. PUBLISHED: confirmed by the broker and marked in `published_events` (an insert, safe beside
   concurrent writes to the record). The worker's store publishes once the worker has succeeded
   (`MongoStore.worker_result`); the relay publishes what a failed or crashed worker, or a broker
   outage, left PENDING for longer than `RELAY_GRACE_SECONDS`.
3. PRUNED: removed from the record by the relay (a retired record is deleted with it, and a held
   batch released); the mark is forgotten after `PUBLISHED_MARKS_KEPT_SECONDS`
   (services/storage/repository.py).

A crash between 1 and 2 makes the relay publish the event again: consumers drop repeats by id.
"""
import logging
import time
from datetime import datetime, timezone

from kombu import Connection, Producer
from kombu.pools import connections
from nameko.amqp.publish import UndeliverableMessage
from nameko.constants import PERSISTENT
from nameko.events import EventDispatcher

from services import metrics
from services.bus import BROKER_UNREACHABLE

log = logging.getLogger(__name__)

RELAY_GRACE_SECONDS = 5
# Long enough for the relay to have pruned every record that carried the event.
CONFIRMS_TIMEOUT_SECONDS = 30


class OutboxDispatcher(EventDispatcher):
    """Publishes to the service's event exchange on behalf of its store (not a dependency of the
    service itself)."""

    def outbox_publisher(self, worker_ctx):
        dispatch = self.get_dependency(worker_ctx)
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
    """Moves events from PENDING to PUBLISHED, and the relay on to PRUNED.

    Publishing writes nothing to the record: on FerretDB v1 a second write to a document can
    clobber a concurrent change to it. The relay removes published events from records, once."""

    def __init__(self, publish_all, service):
        self.publish_all = publish_all
        self.service = service

    def publish_written(self, repository):
        """Publishes what the worker bound to `repository` wrote; a retired record goes once its
        events are out, a held import batch once its events are."""
        writes = repository.writes
        if writes.records and self._published_or_left([document for _, document in writes.records], repository):
            for records, document in writes.records:
                if "retire_time" in document:
                    records.remove_retired(document)
        for batch_id, events in writes.batches:
            if self._published_or_left([{"outbox": events}], repository, marked=False):
                repository.release_events(batch_id)

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
        repository.forget_aged_marks()
        unpublished = sum(count for count, _ in recovered)
        oldest = max((age for _, age in recovered), default=0.0)
        metrics.OUTBOX_PENDING.labels(self.service).set(unpublished)
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(oldest)
        return unpublished, oldest

    def _published_or_left(self, documents, repository, marked=True):
        """Publishes the outboxes of `documents` (and marks them, for events whose record keeps
        them until the relay prunes them); a broker that does not take them leaves them PENDING,
        for the relay. Returns whether they went out."""
        try:
            self._publish([event for document in documents for event in document.get("outbox") or []],
                          repository if marked else None)
            return True
        except BROKER_UNREACHABLE as error:
            log.warning("events left to the relay, the broker did not take them: %s", error)
            return False

    def _publish(self, events, marking_repository=None):
        self.publish_all(events)
        for event in events:
            metrics.EVENTS_PUBLISHED.labels(self.service, event["type"]).inc()
        if marking_repository is not None:
            marking_repository.mark_published([event["id"] for event in events])

    def _publish_unmarked(self, repository, events):
        """Publishes those of `events` not marked published; returns (how many, oldest's age)."""
        published = repository.published_among([event["id"] for event in events])
        missing = [event for event in events if event["id"] not in published]
        if not missing:
            return 0, 0.0
        self._publish(missing, repository)
        return len(missing), age_seconds(missing[0]["time"])


def age_seconds(rfc3339):
    moment = datetime.fromisoformat(rfc3339)
    return max(0.0, (datetime.now(timezone.utc) - moment).total_seconds())
