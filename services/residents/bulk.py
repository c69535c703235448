"""Batch writes for bulk imports on FerretDB.

FerretDB's SQLite backend answers only `_id` equality from an index; any other filter scans the
collection. A row-by-row import (look up, then create) therefore slows down as the data grows.
Imports instead give every record an `_id` derived from its row's content and insert a whole
batch at once: a duplicate `_id` means "imported before" and needs no read. Documents have the
shape `Records.create` gives them (tenant, request_id, times, outbox), so all other code reads
them as usual.
"""
import hashlib

from pymongo.errors import BulkWriteError

from services.storage import OUTBOX, now


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


def publish_inserted(outbox, collection, documents, inserted):
    """Publishes the events of the documents just inserted, then clears them in one write."""
    fresh = [document for document in documents if document["_id"] in inserted]
    if not fresh:
        return
    batch = OutboxBatch(collection)
    for document in fresh:
        outbox.flush(batch, document)
    batch.commit()


class OutboxBatch:
    """Stands in for `Records` while a batch is flushed: collects what to clear, clears it at once."""

    def __init__(self, collection):
        self.collection = collection
        self.document_ids, self.event_ids = [], []

    def clear_outbox(self, document, event_ids):
        self.document_ids.append(document["_id"])
        self.event_ids.extend(event_ids)

    def commit(self):
        self.collection.update_many({"_id": {"$in": self.document_ids}},
                                    {"$pull": {OUTBOX: {"id": {"$in": self.event_ids}}}})
