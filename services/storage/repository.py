"""A service's repository: its record collections and what the outbox and consumers keep beside
them (held import batches, published and handled event marks)."""
import copy
from datetime import timedelta

import pymongo
from pymongo.errors import ConnectionFailure, ExecutionTimeout, NetworkTimeout, WaitQueueTimeoutError

from services.storage.ageing import AgeBuckets
from services.storage.bulk import read_each, rewrite_paths
from services.storage.records import IMPORT_BATCH, OUTBOX, OUTBOX_PENDING, insert_all, new_id, now

# What a store that does not answer raises: no server found in time, a socket timed out or broke,
# no connection free in time, or the server gave up on the operation.
UNREACHABLE = (ConnectionFailure, ExecutionTimeout)
PING_TIMEOUT_SECONDS = 1.5
PUBLISHED_MARK_BUCKET_SECONDS = 300
# How long the relay remembers an event as published (services/outbox.py).
PUBLISHED_MARKS_KEPT_SECONDS = 3600
HANDLED_MARK_BUCKET_SECONDS = 3600
HANDLED_MARKS_KEPT_SECONDS = 7 * 24 * 3600


class Repository:
    """Base for a service's domain repository: names its record collections, whose records
    carry a `path` in the hierarchy and an outbox."""

    record_collections = ()

    def __init__(self, database):
        self.database = database
        self.writes = None
        self.published_marks = AgeBuckets(database.published_events, "time", PUBLISHED_MARK_BUCKET_SECONDS)
        self.handled_marks = AgeBuckets(database.processed_events, "time", HANDLED_MARK_BUCKET_SECONDS)

    def for_worker(self, writes):
        """This repository for one worker: its records note in `writes` what they write with
        events, and `writes.outbox` publishes them once the worker has succeeded."""
        bound = copy.copy(self)
        bound.writes = writes
        for name in self.record_collections:
            setattr(bound, name, getattr(self, name).for_worker(writes))
        return bound

    def relay_outbox(self):
        """Publishes what calls left unpublished (see `services.outbox`)."""
        return self.writes.outbox.relay(self)

    def import_new(self, tenant, documents_by_records):
        """Inserts the documents not stored yet ({records name: documents}, in that order);
        returns {records name: the `_id`s inserted}. Their events wait in one held batch rather
        than in each record, so no record is written twice to clear its outbox; the worker's
        store publishes those of the inserted records and releases the batch. Each inserted
        record names its batch: after a crash the relay publishes exactly the events of the
        records this batch inserted."""
        batch_id, held = new_id(), []
        for records_name, documents in documents_by_records.items():
            for document in documents:
                held += [{"records": records_name, "record_id": document["_id"], "event": event}
                         for event in document.pop(OUTBOX)]
                document.update({OUTBOX: [], OUTBOX_PENDING: False, IMPORT_BATCH: batch_id})
        self.hold_events(batch_id, held)
        inserted = {records_name: getattr(self, records_name).insert_new(tenant, documents)
                    for records_name, documents in documents_by_records.items()}
        self.writes.batches.append(
            (batch_id, [item["event"] for item in held if item["record_id"] in inserted[item["records"]]]))
        return inserted

    def ensure_indexes(self):
        for records in self.outbox_records():
            records.ensure_indexes()
        self.published_marks.ensure_index()
        self.handled_marks.ensure_index()

    def outbox_records(self):
        return [getattr(self, name) for name in self.record_collections]

    def rewrite_paths_below(self, tenant, node_id, node_path):
        """Makes every record below `node_id` (the node itself excluded) carry `node_path` as its
        prefix. Idempotent, so a move interrupted halfway is finished by running it again.
        Returns how many records changed."""
        below = {"tenant": tenant, "path": node_id, "_id": {"$ne": node_id}}
        return sum(self._rewrite_paths(getattr(self, name), below, node_id, node_path)
                   for name in self.record_collections)

    @staticmethod
    def _rewrite_paths(records, below, node_id, node_path):
        fields_of = records.listing.fields_of if records.listing else None
        return rewrite_paths(records.collection, below, node_id, node_path, fields_of)

    def hold_events(self, batch_id, held):
        self.database.held_events.insert_one({"_id": batch_id, "time": now(), "held": held})

    def release_events(self, batch_id):
        self.database.held_events.delete_one({"_id": batch_id})

    def held_batches(self, older_than_seconds):
        """Batches an import call did not release: it crashed, or is still running if recent."""
        return self.database.held_events.find({"time": {"$lt": now() - timedelta(seconds=older_than_seconds)}})

    def events_imported_by(self, batch):
        """The held events of the records the batch itself inserted."""
        def inserted_by_batch(record):
            records_name, record_id = record
            return getattr(self, records_name).collection.find_one(
                {"_id": record_id, IMPORT_BATCH: batch["_id"]}, {"_id": 1}) is not None
        inserted = read_each(inserted_by_batch, {(item["records"], item["record_id"]) for item in batch["held"]})
        return [item["event"] for item in batch["held"] if inserted[(item["records"], item["record_id"])]]

    def mark_published(self, event_ids):
        stamp = self.published_marks.stamp(now())
        insert_all(self.database.published_events, [{"_id": event_id, **stamp} for event_id in event_ids])

    def forget_aged_marks(self):
        """Forgets published-event marks after an hour, and handled-event marks after a week (a
        replay from the dead letters later than that runs its idempotent handler again)."""
        self.published_marks.forget_older_than(PUBLISHED_MARKS_KEPT_SECONDS)
        self.handled_marks.forget_older_than(HANDLED_MARKS_KEPT_SECONDS)

    def published_among(self, event_ids):
        found = read_each(lambda event_id: self.database.published_events.find_one({"_id": event_id}, {"_id": 1}),
                          event_ids)
        return {event_id for event_id, marker in found.items() if marker}

    def was_handled(self, event_id):
        return self.database.processed_events.find_one({"_id": event_id}, {"_id": 1}) is not None

    def mark_handled(self, event_id):
        """Written once the handler has succeeded, never before: a crash in between makes the
        redelivery run the handler again, which idempotent handlers allow."""
        insert_all(self.database.processed_events, [{"_id": event_id, **self.handled_marks.stamp(now())}])

    def answers(self):
        """Whether the store is there: for health checks, so it never waits long. A store too
        busy to answer in time (the ping's socket read or its wait for a free connection timed
        out) is up: under load, calling it down would turn a slow moment into an outage, as the
        gateway refused every call to a service whose store was slow to answer its ping."""
        try:
            with pymongo.timeout(PING_TIMEOUT_SECONDS):
                self.database.command("ping")
            return True
        except (NetworkTimeout, WaitQueueTimeoutError, ExecutionTimeout):
            return True
        except UNREACHABLE:
            return False
