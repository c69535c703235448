"""Pages of big lists (residents with a tag below a community, households below a city) that the
store answers from an index, in `_id` order, on FerretDB as on MongoDB.

FerretDB v1 pushes only equality filters down to PostgreSQL, never a sort or a limit: a page of
"elderly below this community" reads, decodes and sorts every match (1,371 there, 20,000 in a
city) to return 50. So a listed record carries, in the same write that changes it, the keys of
the lists it is in (`listed_in`, an indexed array), each list split into shards by the first
characters of the record's `_id`: the shard holding `_id`s that start with "3f" is one equality
away, and shards taken in order give the records in `_id` order, so pages keep the keyset
contract of `Records.page`. A list is stored at four shard granularities (1, 16, 256 and 4,096
shards); a page reads the granularity whose shards hold about a page, chosen from the list's
size (the node's figures), and reads several shards at once.
"""
import hashlib
import math
import time
from functools import lru_cache

from services.queries import combined
from services.storage.bulk import read_each

LISTED_IN = "listed_in"
HEX = "0123456789abcdef"
GRANULARITIES = (0, 1, 2, 3)
# Records a shard should hold at most: about a page. FerretDB decodes every record a shard query
# returns (about 1 ms each for a resident); reading more small shards at once costs less.
SHARD_SIZE = 64
SHARDS_IN_FLIGHT = 8
# A list's size only chooses how its pages read their shards, never what a page holds: a process
# uses one measure this long, for this many lists at most.
SIZE_KEPT_SECONDS = 60
SIZES_KEPT = 10_000
# Records a sampled shard must hold for its size to tell the list's.
SAMPLE_ENOUGH = 8
ID_ONLY = {"_id": 1}


def list_key(node_id, facet, shard):
    """A short, fixed-length key for (node, facet, shard): a resident is in some 80 of them."""
    return hashlib.blake2b(f"{node_id}|{facet}|{shard}".encode(), digest_size=8).hexdigest()


def keys_of(path, facets, record_id):
    """Every list a record is in: below each node of its path, for each facet, at each granularity."""
    return sorted({list_key(node_id, facet, record_id[:granularity])
                   for node_id in path for facet in facets for granularity in GRANULARITIES})


def granularity_for(size):
    """The coarsest split whose shards hold at most SHARD_SIZE records of a list this big."""
    for granularity in GRANULARITIES:
        if size <= SHARD_SIZE * 16 ** granularity:
            return granularity
    return GRANULARITIES[-1]


def shards_for_a_page(records_per_shard, page_size):
    """How many shards to read at once for the `page_size` records a page still misses (and the
    one that tells whether there is a next page): about as many as hold them, at most
    SHARDS_IN_FLIGHT. Reading more costs decoding records the page does not show: at 86 records
    a shard, eight shards read at once were 690 records for a page of 50."""
    return max(1, min(SHARDS_IN_FLIGHT, math.ceil((page_size + 1) / max(records_per_shard, 1))))


@lru_cache(maxsize=None)
def shards_of(granularity):
    if granularity == 0:
        return ("",)
    return tuple(prefix + char for prefix in shards_of(granularity - 1) for char in HEX)


def path_of(record):
    return record["path"]


class KeptSizes:
    """The sizes of lists a process measured lately, by a key of the caller's."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.kept = {}  # key -> (when measured, size)

    def of(self, key, measure):
        """The size kept for `key`, or `measure()` when none is kept or it is too old."""
        kept = self.kept.get(key)
        if kept is None or self.clock() - kept[0] > SIZE_KEPT_SECONDS:
            if len(self.kept) >= SIZES_KEPT:
                self.kept.clear()
            kept = self.kept[key] = (self.clock(), measure())
        return kept[1]


class Listing:
    """How a collection's records are listed: `facets_of(record)` names the lists below each of
    its `nodes_of(record)` (by default the nodes of its path) a record is in (e.g. {"*",
    "tag:elderly"}), or none; `depends_on` names the fields those depend on."""

    def __init__(self, facets_of, depends_on, nodes_of=path_of):
        self.facets_of = facets_of
        self.nodes_of = nodes_of
        self.depends_on = set(depends_on) | ({"path"} if nodes_of is path_of else set())

    def fields_of(self, record):
        """The `listed_in` field of a record (as it will be stored, `_id` included)."""
        return {LISTED_IN: keys_of(self.nodes_of(record), self.facets_of(record), record["_id"])}

    def whole_list(self, node_id, facet):
        """The filter of every record in a list, for counting a short one."""
        return {LISTED_IN: list_key(node_id, facet, "")}

    def estimated_size(self, collection, node_id, facet, query):
        """About how many records a list holds, for lists whose size nothing else keeps: from one
        of its 256 finer shards, or from one of its 16 when that holds too few to tell (a list of
        500 was taken for empty, and its page read all 500)."""
        sample = len(self._shard(collection, node_id, facet, "80", query, None, ID_ONLY))
        if sample >= SAMPLE_ENOUGH:
            return 256 * sample
        return 16 * len(self._shard(collection, node_id, facet, "8", query, None, ID_ONLY))

    def page(self, collection, node_id, facet, size_of_list, query, page_size, after, fields=None):
        """Up to `page_size` + 1 records of (node, facet) after `after` (an `_id`, or None) that
        also match `query`, in `_id` order; `fields` as a projection."""
        shards = shards_of(granularity_for(size_of_list))
        start = shards.index(after[:len(shards[0])]) if after and shards[0] else 0
        per_shard = size_of_list / len(shards)
        found, position = [], start
        while position < len(shards) and len(found) <= page_size:
            batch = shards[position:position + shards_for_a_page(per_shard, page_size - len(found))]
            read = read_each(lambda shard: self._shard(collection, node_id, facet, shard, query, after, fields), batch)
            found += [document for shard in batch for document in read[shard]]
            position += len(batch)
        return found[:page_size + 1]

    @staticmethod
    def _shard(collection, node_id, facet, shard, query, after, fields=None):
        conditions = {LISTED_IN: list_key(node_id, facet, shard)}
        if after:
            conditions["_id"] = {"$gt": after}
        return sorted(collection.find(combined(conditions, query), fields), key=lambda document: document["_id"])
