"""MongoDB storage shared by the services: each owns one database (`<prefix><service name>`) and
reaches it through a `MongoStore` dependency that hands it its domain repository, never a raw
client.

- `records`: a collection of tenant-owned records with outbox, idempotent creates and pages;
- `claims`: the claimed update, for writes that must not race;
- `snapshots`: per-building figures kept up by the records that are counted;
- `listings`: big lists paged from an index, by shards of `_id`;
- `bulk`: content ids, reads in flight together, path rewrites;
- `repository`: a service's records plus event bookkeeping; `provider`: the Nameko dependency.
"""
from services.queries import combined
from services.storage.records import (DEFAULT_PAGE_SIZE, INTERNAL_FIELDS, LIVE, MAX_PAGE_SIZE, OUTBOX,
                                      OUTBOX_PENDING, Records, insert_all, live, new_id, now, page_size_of,
                                      public, timestamp)
from services.storage.bulk import content_id, read_each, rewrite_paths
from services.storage.claims import ClaimedUpdates, at_version, version_of
from services.storage.repository import UNREACHABLE as STORE_UNREACHABLE, Repository
from services.storage.snapshots import BuildingSnapshots, CountedRecords, KeptIn, building_of
from services.storage.listings import KeptSizes, Listing
from services.storage.provider import MongoStore

__all__ = ["DEFAULT_PAGE_SIZE", "INTERNAL_FIELDS", "LIVE", "MAX_PAGE_SIZE", "OUTBOX", "OUTBOX_PENDING",
           "BuildingSnapshots", "ClaimedUpdates", "CountedRecords", "KeptIn", "KeptSizes", "Listing", "MongoStore", "Records",
           "Repository",
           "STORE_UNREACHABLE", "at_version", "building_of", "combined", "content_id", "insert_all", "live",
           "new_id", "now", "page_size_of", "public", "read_each", "rewrite_paths", "timestamp", "version_of"]
