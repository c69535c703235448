"""Many records at once: content-derived ids, reads in flight together, path rewrites.

A row-by-row import (look up, then create) slows down as data grows, since FerretDB answers few
filters from an index. Imports instead give every record an `_id` derived from its row's content
and insert a whole batch at once: a duplicate `_id` means "imported before" and needs no read.
Documents get the shape `Records.create` gives them, so all other code reads them as usual.
"""
import hashlib

from eventlet import GreenPool

READS_IN_FLIGHT = 8


def content_id(*parts):
    """A stable record id from the content that identifies the record."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()[:32]


def read_each(read, keys):
    """{key: read(key)}, several in flight at once. For many records by `_id`: FerretDB answers
    an `_id` match from its index but an `$in` by scanning the whole collection."""
    keys = list(keys)
    return dict(zip(keys, GreenPool(READS_IN_FLIGHT).imap(read, keys)))


def rewrite_paths(collection, query, node_id, node_path, fields_of=None):
    """Gives the documents matching `query`, all at or below `node_id`, `node_path` as the prefix
    of their path, and the fields `fields_of(document as moved)` derives from it, if given;
    returns how many changed. One document per write: FerretDB v1 deadlocks for good, every
    later command included, when two multi-document updates of the same documents run at once,
    as a move and the handlers of its node.moved event do."""
    changed = {}
    for document in collection.find(query, None if fields_of else {"path": 1}):
        path = [*node_path, *document["path"][document["path"].index(node_id) + 1:]]
        if path != document["path"]:
            moved = document | {"path": path}
            changed[document["_id"]] = {"path": path, **(fields_of(moved) if fields_of else {})}

    def rewrite(record_id):
        return collection.update_one({"_id": record_id}, {"$set": changed[record_id]}).modified_count
    return sum(read_each(rewrite, changed).values())
