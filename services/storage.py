"""MongoDB storage shared by the services.

Each service owns one database (`<prefix><service name>`) and reaches it through
a `MongoStore` dependency that hands the service its domain repository, never a
raw client. `Records` gives a collection the three things every service needs:
idempotent creates, updates that carry their events in the same document (the
outbox, since FerretDB has no multi-document transactions), and keyset pages.
`VersionClaims` lets only one of several concurrent writes change a record.
"""
import base64
import binascii
import hashlib
import os
import uuid
from datetime import datetime, timedelta, timezone

import pymongo
from eventlet import GreenPool, spawn_n
from nameko.extensions import DependencyProvider
from pymongo import ASCENDING, MongoClient, ReturnDocument
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, ExecutionTimeout

from services.errors import InvalidArgument, NotFound
from services.ferretdb import duplicate_keys_reported
from services.queries import combined

OUTBOX = "outbox"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
READS_IN_FLIGHT = 8
# Fields that never leave a service.
# Set while the outbox holds events: the relay finds such records by this indexed equality,
# where any test on the outbox array itself scans every record on FerretDB.
OUTBOX_PENDING = "outbox_pending"
IMPORT_BATCH = "import_batch"
INTERNAL_FIELDS = ("_id", "tenant", "request_id", OUTBOX, OUTBOX_PENDING, IMPORT_BATCH, "retire_time")
# Deletion first marks a record retired, with its events, in one write; the record
# is removed once the events are out, so a crash in between loses no event.
LIVE = {"retire_time": {"$exists": False}}
# What a store that does not answer raises: no server found in time, a socket timed out or broke,
# no connection free in time, or the server gave up on the operation.
STORE_UNREACHABLE = (ConnectionFailure, ExecutionTimeout)
# No call waits on the store longer than this: a stalled store becomes UNAVAILABLE within the
# gateway's default 10 s deadline rather than a hang. One operation (an import batch of 500
# rows, a city's figures) takes well under it here.
STORE_OPERATION_TIMEOUT_MS = int(os.environ.get("MONGO_OPERATION_TIMEOUT_MS", "8000"))
STORE_CONNECT_TIMEOUT_MS = int(os.environ.get("MONGO_CONNECT_TIMEOUT_MS", "3000"))
STORE_PING_TIMEOUT_SECONDS = 1.5
# Operations one service process has in flight at most; more wait for a connection. FerretDB v1
# hangs once more arrive at once than its PostgreSQL pool holds (scripts/lib/postgres.sh).
STORE_CONNECTIONS = int(os.environ.get("MONGO_MAX_POOL_SIZE", "32"))
# A claim older than this whose record never moved was left by a crash: the version is skipped.
CLAIM_LEASE = timedelta(seconds=60)


def now():
    """Millisecond precision: what MongoDB stores, so a record reads back as it was written."""
    moment = datetime.now(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def live(query):
    """`query` limited to records not deleted."""
    return combined(query, LIVE)


def queue_events(operation, events):
    """Adds `events` to an update's outbox, in the same single-document write."""
    operation.setdefault("$push", {})[OUTBOX] = {"$each": list(events)}
    operation.setdefault("$set", {})[OUTBOX_PENDING] = True
    return operation


def timestamp(moment):
    """RFC 3339 in UTC, as google.protobuf.Timestamp's JSON form wants it."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else None


def new_id():
    return uuid.uuid4().hex


def public(document):
    """A stored document as the service returns it: `id` instead of `_id`, times as strings."""
    if document is None:
        return None
    shown = {key: value for key, value in document.items() if key not in INTERNAL_FIELDS}
    shown["id"] = document["_id"]
    for key, value in shown.items():
        if isinstance(value, datetime):
            shown[key] = timestamp(value.replace(tzinfo=value.tzinfo or timezone.utc))
    return shown


def encode_page_token(last_id):
    return base64.urlsafe_b64encode(last_id.encode()).decode() if last_id else ""


def decode_page_token(token):
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidArgument.field("page_token", "is not a token this API returned") from None


def page_size_of(requested):
    if requested is None or requested == 0:
        return DEFAULT_PAGE_SIZE
    if requested < 0:
        raise InvalidArgument.field("page_size", "must not be negative")
    return min(requested, MAX_PAGE_SIZE)


class Records:
    """One collection of tenant-owned records."""

    def __init__(self, collection, what):
        self.collection = collection
        self.what = what

    def ensure_indexes(self):
        self.collection.create_index(
            [("tenant", ASCENDING), ("request_id", ASCENDING)], unique=True, name="idempotency")
        self.collection.create_index([("tenant", ASCENDING), ("path", ASCENDING)], name="scope")
        self.collection.create_index(OUTBOX_PENDING, name="outbox_pending")

    def create(self, tenant, request_id, fields, events=()):
        """Insert once per (tenant, request_id); a repeat returns the first record and
        writes nothing, whatever the repeat carried."""
        moment = now()
        document = {
            "_id": fields.pop("id", None) or new_id(),
            "tenant": tenant,
            "request_id": request_id or new_id(),
            "create_time": moment,
            "update_time": moment,
            **fields,
            OUTBOX: list(events),
            OUTBOX_PENDING: bool(events),
        }
        try:
            self.collection.insert_one(document)
            return document, True
        except DuplicateKeyError:
            existing = self.collection.find_one({"tenant": tenant, "request_id": document["request_id"]})
            if existing is None:
                raise
            return existing, False

    def get(self, query):
        document = self.collection.find_one(live(query))
        if document is None:
            raise NotFound(f"{self.what} not found")
        return document

    def get_in_scope(self, caller, record_id):
        """The caller's tenant's record, if it lies in their scope; NOT_FOUND either way, so that
        existence does not leak."""
        record = self.get({"tenant": caller.tenant, "_id": record_id})
        caller.require(record["path"], self.what)
        return record

    def update(self, query, changes, events=(), extra=None):
        """Apply `$set` changes and queue their events in the same single-document write."""
        operation = {"$set": {**changes, "update_time": now()}}
        for operator, fields in (extra or {}).items():
            operation.setdefault(operator, {}).update(fields)
        if events:
            queue_events(operation, events)
        with duplicate_keys_reported():
            document = self.collection.find_one_and_update(
                live(query), operation, return_document=ReturnDocument.AFTER)
        if document is None:
            raise NotFound(f"{self.what} not found")
        return document

    def retire(self, query, events):
        """Deletes a record: it disappears from reads now and from storage once its
        events are published (see `clear_outbox`)."""
        return self.update(query, {"retire_time": now()}, events)

    def page(self, query, page_size=None, page_token=None):
        """Keyset pagination on `_id`: stable under inserts, O(page) per call."""
        size = page_size_of(page_size)
        after = decode_page_token(page_token)
        if after:
            query = combined(query, {"_id": {"$gt": after}})
        query = live(query)
        documents = list(self.collection.find(query).sort("_id", ASCENDING).limit(size + 1))
        more = len(documents) > size
        documents = documents[:size]
        token = encode_page_token(documents[-1]["_id"]) if more else ""
        return documents, token

    def pending_outbox(self, older_than_seconds):
        """Records whose events were not published by the call that wrote them, all of them: after
        a broker outage every record written meanwhile waits here. The grace period keeps the
        relay from racing that call's own publish."""
        cutoff = timestamp(now() - timedelta(seconds=older_than_seconds))
        pending = self.collection.find({OUTBOX_PENDING: True}, {OUTBOX: 1, "retire_time": 1})
        return [document for document in pending if document[OUTBOX] and document[OUTBOX][0]["time"] < cutoff]

    def remove_retired(self, document):
        self.collection.delete_one({"_id": document["_id"], "retire_time": {"$exists": True}})

    def clear_outbox(self, document, published):
        """Removes published events by whole value (FerretDB ignores `$pull` conditions); a
        retired record goes once its events are out."""
        if "retire_time" in document:
            self.remove_retired(document)
            return
        self.collection.update_one({"_id": document["_id"]}, {"$pullAll": {OUTBOX: list(published)}})
        self.collection.update_one({"_id": document["_id"], OUTBOX: []}, {"$set": {OUTBOX_PENDING: False}})


def version_of(record):
    """The version a record was read at; one written before records carried a version is at 0."""
    return record.get("version", 0)


def at_version(version):
    """A filter for records at `version`, counting those without a version as at 0."""
    return {"version": version} if version else {"version": {"$in": [0, None]}}


class VersionClaims:
    """Lets only one write leave each version of a record. FerretDB's find-and-modify is not
    atomic (read, then write) and may lose one of two concurrent updates of a document, so a
    write first claims (record, version) by inserting a document with that `_id` — the unique key
    makes that the atomic step — and then writes conditionally on the version it read, moving the
    version on by one. Every write that must not race goes through `write`."""

    def __init__(self, database, records, claims, record_field):
        """`records` and `claims` name the collections; a claim names its record in `record_field`."""
        self.records = database[records]
        self.claims = database[claims]
        self.record_field = record_field

    def ensure_indexes(self):
        self.claims.create_index([("time", ASCENDING)], name="claim_age")

    def write(self, record, operation, events=(), query=None):
        """Applies `operation` to the live `record` and queues its events, as `Records.update` does,
        if no other write took the version it was read at and it still matches `query`; returns it
        as written, or None if it moved on."""
        version = version_of(record)
        try:
            self.claims.insert_one({"_id": f"{record['_id']}:{version}", self.record_field: record["_id"],
                                    "version": version, "time": now()})
        except DuplicateKeyError:
            return None
        operation.setdefault("$set", {})["update_time"] = now()
        operation.setdefault("$inc", {})["version"] = 1
        if events:
            queue_events(operation, events)
        return self.records.find_one_and_update(
            combined({"_id": record["_id"]}, query or {}, at_version(version), LIVE), operation,
            return_document=ReturnDocument.AFTER)

    def release_stale(self, limit=200):
        """Drops claims past their lease; a record still at a claimed version skips it, since the
        claim's write may or may not have been made."""
        stale = self.claims.find({"time": {"$lt": now() - CLAIM_LEASE}}).limit(limit)
        for claim in list(stale):
            self.records.update_one({"_id": claim[self.record_field], **at_version(claim["version"])},
                                    {"$inc": {"version": 1}})
            self.claims.delete_one({"_id": claim["_id"]})


# Bulk imports. A row-by-row import (look up, then create) slows down as data grows, since
# FerretDB answers few filters from an index. Imports instead give every record an `_id` derived
# from its row's content and insert a whole batch at once: a duplicate `_id` means "imported
# before" and needs no read. Documents get the shape `Records.create` gives them, so all other
# code reads them as usual.

def content_id(*parts):
    """A stable record id from the content that identifies the record."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]


def insert_all(collection, documents):
    """Inserts every document it can; returns the `_id`s refused as duplicates."""
    if not documents:
        return set()
    try:
        collection.insert_many(documents, ordered=False)
        return set()
    except BulkWriteError as error:
        if any(problem["code"] != 11000 for problem in error.details["writeErrors"]):
            raise
        return {documents[problem["index"]]["_id"] for problem in error.details["writeErrors"]}


def insert_new(collection, tenant, documents):
    """Inserts the documents that do not exist yet; returns the `_id`s actually inserted.
    `documents` carry `_id`, fields and `outbox`; the request id is their `_id`."""
    moment = now()
    for document in documents:
        document.update({"tenant": tenant, "request_id": document["_id"], "create_time": moment,
                         "update_time": moment})
    return {document["_id"] for document in documents} - insert_all(collection, documents)


def read_each(read, keys):
    """{key: read(key)}, several in flight at once. For many records by `_id`: FerretDB answers
    an `_id` match from its index but an `$in` by scanning the whole collection."""
    keys = list(keys)
    return dict(zip(keys, GreenPool(READS_IN_FLIGHT).imap(read, keys)))


def import_new(outbox, repository, tenant, documents_by_records):
    """Inserts the documents not stored yet ({records name: documents}, in that order) and
    publishes the events they carry; returns {records name: the `_id`s inserted}. Meanwhile the
    events wait in one held batch rather than in each record, so no record is written twice to
    clear its outbox. Each inserted record names its batch: after a crash the relay publishes
    exactly the events of the records this batch inserted. The batch is released off the call's
    path, since the relay also covers a release that never happens (consumers drop repeats), and
    is left to the relay when the broker does not take the events."""
    batch_id, held = new_id(), []
    for records_name, documents in documents_by_records.items():
        for document in documents:
            held += [{"records": records_name, "record_id": document["_id"], "event": event}
                     for event in document.pop(OUTBOX)]
            document.update({OUTBOX: [], OUTBOX_PENDING: False, IMPORT_BATCH: batch_id})
    repository.hold_events(batch_id, held)
    inserted = {records_name: insert_new(getattr(repository, records_name).collection, tenant, documents)
                for records_name, documents in documents_by_records.items()}
    if outbox.publish_or_leave_to_relay(
            [item["event"] for item in held if item["record_id"] in inserted[item["records"]]]):
        spawn_n(repository.release_events, batch_id)
    return inserted


def rewrite_paths(collection, query, node_id, node_path):
    """Gives the documents matching `query`, all at or below `node_id`, `node_path` as the prefix
    of their path; returns how many changed. One document per write: FerretDB v1 deadlocks for
    good, every later command included, when two multi-document updates of the same documents
    run at once, as a move and the handlers of its node.moved event do."""
    changed = {}
    for document in collection.find(query, {"path": 1}):
        path = [*node_path, *document["path"][document["path"].index(node_id) + 1:]]
        if path != document["path"]:
            changed[document["_id"]] = path

    def rewrite(record_id):
        return collection.update_one({"_id": record_id}, {"$set": {"path": changed[record_id]}}).modified_count
    return sum(read_each(rewrite, changed).values())


class Repository:
    """Base for a service's domain repository: names its record collections, whose records
    carry a `path` in the hierarchy and an outbox."""

    record_collections = ()

    def __init__(self, database):
        self.database = database

    def ensure_indexes(self):
        for records in self.outbox_records():
            records.ensure_indexes()

    def outbox_records(self):
        return [getattr(self, name) for name in self.record_collections]

    def rewrite_paths_below(self, tenant, node_id, node_path):
        """Makes every record below `node_id` (the node itself excluded) carry `node_path` as its
        prefix. Idempotent, so a move interrupted halfway is finished by running it again.
        Returns how many records changed."""
        below = {"tenant": tenant, "path": node_id, "_id": {"$ne": node_id}}
        return sum(rewrite_paths(getattr(self, name).collection, below, node_id, node_path)
                   for name in self.record_collections)

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
        moment = now()
        insert_all(self.database.published_events, [{"_id": event_id, "time": moment} for event_id in event_ids])

    def forget_published(self, older_than_seconds):
        self.database.published_events.delete_many({"time": {"$lt": now() - timedelta(seconds=older_than_seconds)}})

    def published_among(self, event_ids):
        return {marker["_id"] for marker in self.database.published_events.find({"_id": {"$in": event_ids}})}

    def was_handled(self, event_id):
        return self.database.processed_events.find_one({"_id": event_id}, {"_id": 1}) is not None

    def mark_handled(self, event_id):
        """Written once the handler has succeeded, never before: a crash in between makes the
        redelivery run the handler again, which idempotent handlers allow."""
        insert_all(self.database.processed_events, [{"_id": event_id, "time": now()}])

    def answers(self):
        """Whether the store answers a ping in time; for health checks, so it never waits long."""
        try:
            with pymongo.timeout(STORE_PING_TIMEOUT_SECONDS):
                self.database.command("ping")
            return True
        except STORE_UNREACHABLE:
            return False


class MongoStore(DependencyProvider):
    """Hands a service its repository, bound to the service's own database."""

    def __init__(self, repository_class):
        self.repository_class = repository_class
        self.client = None
        self.repository = None

    def setup(self):
        config = self.container.config
        self.client = MongoClient(
            config["MONGO_URI"], tz_aware=True, serverSelectionTimeoutMS=STORE_CONNECT_TIMEOUT_MS,
            connectTimeoutMS=STORE_CONNECT_TIMEOUT_MS, socketTimeoutMS=STORE_OPERATION_TIMEOUT_MS,
            waitQueueTimeoutMS=STORE_OPERATION_TIMEOUT_MS, maxPoolSize=STORE_CONNECTIONS)
        database = self.client[f"{config.get('DB_PREFIX') or 'civicgrid_'}{self.container.service_name}"]
        self.repository = self.repository_class(database)
        self.repository.ensure_indexes()

    def stop(self):
        if self.client is not None:
            self.client.close()

    def get_dependency(self, worker_ctx):
        return self.repository
