"""Records: one collection of tenant-owned documents, and what every service does with them.

`Records` gives a collection idempotent creates, updates that carry their events in the same
document (the outbox, since FerretDB has no multi-document transactions), claimed updates for
writes that must not race (`storage.claims`), and keyset pages. A repository bound to a worker
(`storage.provider`) hands out records that note every document written with events, so the
worker's events are published once it has succeeded, by the store, never by the handler.
"""
import base64
import binascii
import copy
import uuid
from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.errors import InvalidArgument, NotFound
from services.ferretdb import DUPLICATE_KEY, duplicate_keys_reported
from services.queries import combined
from services.storage.listings import LISTED_IN, KeptSizes

OUTBOX = "outbox"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Fields that never leave a service.
# Set while the outbox holds events: the relay finds such records by this indexed equality,
# where any test on the outbox array itself scans every record on FerretDB.
OUTBOX_PENDING = "outbox_pending"
IMPORT_BATCH = "import_batch"
INTERNAL_FIELDS = ("_id", "tenant", "request_id", OUTBOX, OUTBOX_PENDING, IMPORT_BATCH, "retire_time", LISTED_IN)
# Deletion first marks a record retired, with its events, in one write; the record
# is removed once the events are out, so a crash in between loses no event.
LIVE = {"retire_time": {"$exists": False}}
# What a page of a list never shows: a resident's lists are over half of it, and without them the
# store sends and the service decodes a third less (FerretDB still reads them: it projects after).
UNSHOWN_IN_PAGES = {LISTED_IN: 0, OUTBOX: 0}


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
    # isoformat, not strftime: a page of 50 tickets formats some 300 times, and strftime took a
    # sixth of the tickets service's time on it.
    if not moment:
        return None
    return moment.astimezone(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


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


class WorkerWrites:
    """What one worker wrote with events, for its store to publish once the worker has succeeded."""

    def __init__(self, outbox):
        self.outbox = outbox
        self.records = []  # (records, document written)
        self.batches = []  # (held import batch id, events of the records it inserted)


class Records:
    """One collection of tenant-owned records."""

    def __init__(self, collection, what, claims=None, listing=None):
        """`claims` (a `ClaimedUpdates` of this collection) for records written by `claimed_update`;
        `listing` (a `storage.listings.Listing`) for records paged by `listed_page`."""
        self.collection = collection
        self.what = what
        self.claims = claims
        self.listing = listing
        # sizes of lists measured by `sampled_listed_page`; worker copies share them
        self.list_sizes = KeptSizes() if listing else None
        self.writes = None

    def for_worker(self, writes):
        """These records, noting in `writes` what a worker writes with events."""
        bound = copy.copy(self)
        bound.writes = writes
        return bound

    def wrote(self, document):
        if document and document.get(OUTBOX) and self.writes is not None:
            self.writes.records.append((self, document))
        return document

    def ensure_indexes(self):
        self.collection.create_index(
            [("tenant", ASCENDING), ("request_id", ASCENDING)], unique=True, name="idempotency")
        self.collection.create_index([("tenant", ASCENDING), ("path", ASCENDING)], name="scope")
        self.collection.create_index(OUTBOX_PENDING, name="outbox_pending")
        if self.claims:
            self.claims.ensure_indexes()
        if self.listing:
            self.ensure_listing()

    def ensure_listing(self):
        """Indexes the lists, and gives records written before this collection was listed their
        lists, once: a note in `listings_started` spares later starts the scan."""
        self.collection.create_index([(LISTED_IN, ASCENDING)], name="listed_in")
        started = self.collection.database.listings_started
        if started.find_one({"_id": self.collection.name}):
            return
        for document in self.collection.find({LISTED_IN: {"$exists": False}}):
            self.collection.update_one({"_id": document["_id"]}, {"$set": self.listing.fields_of(document)})
        insert_all(started, [{"_id": self.collection.name, "time": now()}])

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
        if self.listing:
            document |= self.listing.fields_of(document)
        try:
            self.collection.insert_one(document)
            return self.wrote(document), True
        except DuplicateKeyError:
            existing = self.collection.find_one({"tenant": tenant, "request_id": document["request_id"]})
            if existing is None:
                raise
            return existing, False

    def insert_new(self, tenant, documents):
        if self.listing:
            for document in documents:
                document |= self.listing.fields_of(document)
        return insert_new(self.collection, tenant, documents)

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

    def update(self, query, changes, events=(), extra=None, current=None):
        """Apply `$set` changes and queue their events in the same single-document write; a
        listed record's lists change in that write too, derived from `current` (the record as
        the caller just read it) or read here."""
        if self.listing and self.listing.depends_on & set(changes):
            changes = changes | self.listing.fields_of((current or self.get(query)) | changes)
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
        return self.wrote(document)

    def claimed_update(self, record, operation, events=(), query=None):
        """`operation` on `record` if no other write moved it on since it was read (see
        `storage.claims`); the record as written, or None."""
        return self.wrote(self.claims.write(record, operation, events, query))

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
        unshown = UNSHOWN_IN_PAGES if self.listing else None
        documents = list(self.collection.find(query, unshown).sort("_id", ASCENDING).limit(size + 1))
        more = len(documents) > size
        documents = documents[:size]
        token = encode_page_token(documents[-1]["_id"]) if more else ""
        return documents, token

    def listed_page(self, node_id, facet, size_of_list, query, page_size=None, page_token=None):
        """`page` of the records below `node_id` in list `facet` that match `query`, read from
        the list's shards (see `storage.listings`); `size_of_list` is about how many it holds."""
        size = page_size_of(page_size)
        after = decode_page_token(page_token)
        documents = self.listing.page(
            self.collection, node_id, facet, size_of_list, live(query), size, after, UNSHOWN_IN_PAGES)
        more = len(documents) > size
        documents = documents[:size]
        return documents, encode_page_token(documents[-1]["_id"]) if more else ""

    def sampled_listed_page(self, node_id, facet, query, page_size=None, page_token=None):
        """`listed_page` of a list whose size nothing keeps: estimated from a sample of its shards,
        once a minute (see `KeptSizes`)."""
        size = self.list_sizes.of((node_id, facet), lambda: self.listing.estimated_size(
            self.collection, node_id, facet, live(query)))
        return self.listed_page(node_id, facet, size, query, page_size, page_token)

    def first(self, query, fields=None):
        """The first live record matching `query`, or None; `fields` as a projection."""
        return self.collection.find_one(live(query), fields)

    def all(self, query, fields=None, sort=None, limit=0):
        return list(self.collection.find(live(query), fields, sort=sort, limit=limit))

    def count(self, query):
        return self.collection.count_documents(live(query))

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


def insert_all(collection, documents):
    """Inserts every document it can; returns the `_id`s refused as duplicates."""
    if not documents:
        return set()
    try:
        collection.insert_many(documents, ordered=False)
        return set()
    except BulkWriteError as error:
        if any(problem["code"] != DUPLICATE_KEY for problem in error.details["writeErrors"]):
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
