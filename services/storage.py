"""MongoDB storage shared by the services.

Each service owns one database (`<prefix><service name>`) and reaches it through
a `MongoStore` dependency that hands the service its domain repository, never a
raw client. `Records` gives a collection the three things every service needs:
idempotent creates, updates that carry their events in the same document (the
outbox, since FerretDB has no multi-document transactions), and keyset pages.
"""
import base64
import binascii
import hashlib
import uuid
from datetime import datetime, timedelta, timezone

from nameko.extensions import DependencyProvider
from pymongo import ASCENDING, MongoClient, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.errors import InvalidArgument, NotFound

OUTBOX = "outbox"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Fields that never leave a service.
INTERNAL_FIELDS = ("_id", "tenant", "request_id", OUTBOX, "retire_time")
# Deletion first marks a record retired, with its events, in one write; the record
# is removed once the events are out, so a crash in between loses no event.
LIVE = {"retire_time": {"$exists": False}}


def now():
    """Millisecond precision: what MongoDB stores, so a record reads back as it was written."""
    moment = datetime.now(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


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
            OUTBOX: [event for event in events],
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
        document = self.collection.find_one({"$and": [query, LIVE]})
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
        if events:
            operation["$push"] = {OUTBOX: {"$each": list(events)}}
        if extra:
            operation.update(extra)
        document = self.collection.find_one_and_update(
            {"$and": [query, LIVE]}, operation, return_document=ReturnDocument.AFTER)
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
            query = {"$and": [query, {"_id": {"$gt": after}}]}
        query = {"$and": [query, LIVE]}
        documents = list(self.collection.find(query).sort("_id", ASCENDING).limit(size + 1))
        more = len(documents) > size
        documents = documents[:size]
        token = encode_page_token(documents[-1]["_id"]) if more else ""
        return documents, token

    def pending_outbox(self, older_than_seconds, limit=100):
        """Records whose events were not published by the call that wrote them. The grace
        period keeps the relay from racing that call's own publish."""
        cutoff = timestamp(now() - timedelta(seconds=older_than_seconds))
        return self.collection.find({f"{OUTBOX}.0.time": {"$lt": cutoff}}).limit(limit)

    def remove_retired(self, document):
        self.collection.delete_one({"_id": document["_id"], "retire_time": {"$exists": True}})

    def clear_outbox(self, document, published):
        """Removes published events by whole value (FerretDB ignores `$pull` conditions); a
        retired record goes once its events are out."""
        if "retire_time" in document:
            self.remove_retired(document)
            return
        self.collection.update_one({"_id": document["_id"]}, {"$pullAll": {OUTBOX: list(published)}})


# Bulk imports. A row-by-row import (look up, then create) slows down as data grows, since
# FerretDB answers few filters from an index. Imports instead give every record an `_id` derived
# from its row's content and insert a whole batch at once: a duplicate `_id` means "imported
# before" and needs no read. Documents get the shape `Records.create` gives them, so all other
# code reads them as usual.

def content_id(*parts):
    """A stable record id from the content that identifies the record."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]


def insert_new(collection, tenant, documents):
    """Inserts the documents that do not exist yet; returns the `_id`s actually inserted.
    `documents` carry `_id`, fields and `outbox`; the request id is their `_id`."""
    if not documents:
        return set()
    moment = now()
    for document in documents:
        document.update({"tenant": tenant, "request_id": document["_id"], "create_time": moment,
                         "update_time": moment})
    try:
        collection.insert_many(documents, ordered=False)
        return {document["_id"] for document in documents}
    except BulkWriteError as error:
        refused = {documents[problem["index"]]["_id"] for problem in error.details["writeErrors"]
                   if problem["code"] == 11000}
        others = [problem for problem in error.details["writeErrors"] if problem["code"] != 11000]
        if others:
            raise
        return {document["_id"] for document in documents} - refused


def publish_inserted(outbox, repository, documents, inserted):
    """Publishes the events of the documents just inserted, marking them in one write."""
    outbox.flush(repository, [document for document in documents if document["_id"] in inserted])


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
        changed = 0
        for name in self.record_collections:
            collection = getattr(self, name).collection
            writes = []
            for record in collection.find({"tenant": tenant, "path": node_id, "_id": {"$ne": node_id}},
                                          {"path": 1}):
                path = [*node_path, *record["path"][record["path"].index(node_id) + 1:]]
                if path != record["path"]:
                    writes.append(UpdateOne({"_id": record["_id"]}, {"$set": {"path": path}}))
            if writes:
                changed += collection.bulk_write(writes, ordered=False).modified_count
        return changed

    def mark_published(self, event_ids):
        if not event_ids:
            return
        moment = now()
        try:
            self.database.published_events.insert_many(
                [{"_id": event_id, "time": moment} for event_id in event_ids], ordered=False)
        except BulkWriteError as error:
            if any(problem["code"] != 11000 for problem in error.details["writeErrors"]):
                raise

    def forget_published(self, older_than_seconds):
        self.database.published_events.delete_many({"time": {"$lt": now() - timedelta(seconds=older_than_seconds)}})

    def published_among(self, event_ids):
        return {marker["_id"] for marker in self.database.published_events.find({"_id": {"$in": event_ids}})}

    def first_delivery(self, event_id):
        """Consumers call this before acting on an event: False means it was seen already."""
        try:
            self.database.processed_events.insert_one({"_id": event_id, "time": now()})
            return True
        except DuplicateKeyError:
            return False

    def forget_delivery(self, event_id):
        """Undo `first_delivery` when handling failed, so a redelivery is processed."""
        self.database.processed_events.delete_one({"_id": event_id})


class MongoStore(DependencyProvider):
    """Hands a service its repository, bound to the service's own database."""

    def __init__(self, repository_class):
        self.repository_class = repository_class
        self.client = None
        self.repository = None

    def setup(self):
        config = self.container.config
        self.client = MongoClient(config["MONGO_URI"], tz_aware=True, serverSelectionTimeoutMS=10000)
        database = self.client[f"{config.get('DB_PREFIX') or 'civicgrid_'}{self.container.service_name}"]
        self.repository = self.repository_class(database)
        self.repository.ensure_indexes()

    def stop(self):
        if self.client is not None:
            self.client.close()

    def get_dependency(self, worker_ctx):
        return self.repository
