"""The log of every service's event, each with a position that partner streams resume from.

One `EventLog` serves a whole process: every worker's repository shares it (and with it the lock,
the queue and the block of positions), because a position taken from a worker's copy would be
lost with the worker."""
import collections
import threading

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import BulkWriteError

from services.ferretdb import DUPLICATE_KEY
from services.storage import now
from services.storage.ageing import AgeBuckets

POSITION_BLOCK = 100
BUCKET_SECONDS = 3600


class PendingEntry:
    """An event waiting for a group commit to the log, then what became of it."""

    def __init__(self, event):
        self.event, self.entry, self.failure, self.done = event, None, None, False

    def number(self, position, stamp):
        event = self.event
        self.entry = {"_id": event["id"], "position": position, "tenant": event.get("tenant"),
                      "type": event.get("type"), **stamp, "event": event}

    def result(self):
        if self.failure:
            raise self.failure
        return self.entry


class EventLog:
    def __init__(self, collection, counters):
        self.collection, self.counters = collection, counters
        self.ages = AgeBuckets(collection, "received_time", BUCKET_SECONDS)
        # Positions are taken and written under one lock so that, within this process, a reader
        # that saw position n never later finds a new event below n.
        self._lock = threading.Lock()
        self._queued = collections.deque()
        self._next, self._positions_left = 0, 0

    def ensure_indexes(self):
        self.collection.create_index([("position", ASCENDING)], unique=True, name="position")
        self.ages.ensure_index()

    def append(self, event):
        """Keeps an event once; returns its log entry, new or already there. A redelivery costs
        a position (positions increase but may skip), never a second entry.

        Appends are group-committed: the worker that takes the lock writes, in one ordered insert,
        every entry queued meanwhile by the others, which find theirs written when they get the
        lock. So positions still reach the store in order, without each event's round trip
        waiting behind the previous one's."""
        pending = PendingEntry(event)
        self._queued.append(pending)
        with self._lock:
            if not pending.done:
                self._write_in_order(self._take_queued())
        return pending.result()

    def after(self, tenant, position, event_types, node_ids, limit):
        query = {"tenant": tenant, "position": {"$gt": position}, "type": {"$in": list(event_types)},
                 "event.data.path": {"$in": list(node_ids)}}
        return list(self.collection.find(query).sort("position", ASCENDING).limit(limit))

    def purge_older_than(self, seconds):
        return self.ages.forget_older_than(seconds)

    def _take_queued(self):
        batch = []
        while self._queued:
            batch.append(self._queued.popleft())
        return batch

    def _write_in_order(self, batch):
        try:
            for pending in batch:
                pending.number(self._next_position(), self.ages.stamp(now()))
            unwritten = batch
            while unwritten:
                unwritten = self._insert_until_duplicate(unwritten)
        except Exception as failure:
            for pending in batch:
                pending.failure = failure
        finally:
            for pending in batch:
                pending.done = True

    def _insert_until_duplicate(self, batch):
        """Inserts `batch` in order; an event logged before stops the insert there, and its entry
        is the one logged before. Returns what is left to insert."""
        try:
            self.collection.insert_many([pending.entry for pending in batch], ordered=True)
            return []
        except BulkWriteError as exc:
            failed = exc.details["writeErrors"][0]
            if failed.get("code") != DUPLICATE_KEY:
                raise
            repeated = batch[failed["index"]]
            repeated.entry = self.collection.find_one({"_id": repeated.event["id"]})
            return batch[failed["index"] + 1:]

    def _next_position(self):
        """Positions come from a shared counter in blocks, so most events cost no counter write;
        a restart starts a fresh block above every position handed out before."""
        if self._positions_left == 0:
            block_end = self.counters.find_one_and_update(
                {"_id": "event_log"}, {"$inc": {"value": POSITION_BLOCK}}, upsert=True,
                return_document=ReturnDocument.AFTER)["value"]
            self._next, self._positions_left = block_end - POSITION_BLOCK + 1, POSITION_BLOCK
        position = self._next
        self._next += 1
        self._positions_left -= 1
        return position
