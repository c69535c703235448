"""The one concurrency primitive of civicgrid's storage: a claimed update.

FerretDB's find-and-modify is not atomic (read, then write) and may lose one of two concurrent
updates of a document. So a write that must not race first claims (record, version) by inserting
a document with that `_id` — the unique key makes that the atomic step — and then writes
conditionally on the version it read, moving the version on by one. Tickets' transitions,
volunteers' tasks and shifts, and the building figure snapshots all write this way.
"""
from datetime import timedelta

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from services.queries import combined
from services.storage.records import LIVE, now, queue_events

# A claim older than this whose record never moved was left by a crash: the version is skipped.
CLAIM_LEASE = timedelta(seconds=60)


def version_of(record):
    """The version a record was read at; one written before records carried a version is at 0."""
    return record.get("version", 0)


def at_version(version):
    """A filter for records at `version`, counting those without a version as at 0."""
    return {"version": version} if version else {"version": {"$in": [0, None]}}


class ClaimedUpdates:
    """Claimed updates of the documents of `records` (a collection), with claims kept in
    `claims`."""

    def __init__(self, records, claims):
        self.records = records
        self.claims = claims

    def ensure_indexes(self):
        self.claims.create_index([("time", ASCENDING)], name="claim_age")

    def write(self, record, operation, events=(), query=None, upsert=False):
        """Applies `operation` to the live `record` (as read; with `upsert`, a document not
        stored yet is `{"_id": ...}`) and queues its events in the same write, if no other write
        took the version it was read at and it still matches `query`; returns it as written, or
        None if it moved on."""
        version = version_of(record)
        try:
            self.claims.insert_one({"_id": f"{record['_id']}:{version}", "version": version, "time": now()})
        except DuplicateKeyError:
            return None
        operation.setdefault("$set", {})["update_time"] = now()
        operation.setdefault("$inc", {})["version"] = 1
        if events:
            queue_events(operation, events)
        return self.records.find_one_and_update(
            combined({"_id": record["_id"]}, query or {}, at_version(version), LIVE), operation,
            upsert=upsert, return_document=ReturnDocument.AFTER)

    def release_stale(self, limit=200):
        """Drops claims past their lease; a record still at a claimed version skips it, since the
        claim's write may or may not have been made."""
        stale = self.claims.find({"time": {"$lt": now() - CLAIM_LEASE}}).limit(limit)
        for claim in list(stale):
            record_id = claim["_id"].rsplit(":", 1)[0]
            self.records.update_one({"_id": record_id, **at_version(claim["version"])}, {"$inc": {"version": 1}})
            self.claims.delete_one({"_id": claim["_id"]})
