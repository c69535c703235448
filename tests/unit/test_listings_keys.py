"""The keys and splits of listed records (services/storage/listings.py), without a store."""
import uuid

from services.storage.listings import (GRANULARITIES, LISTED_IN, SHARD_SIZE, SIZE_KEPT_SECONDS, KeptSizes, Listing,
                                       granularity_for, keys_of, list_key, shards_of)


def test_a_list_is_read_at_the_coarsest_split_whose_shards_hold_about_a_page():
    assert granularity_for(0) == 0 and granularity_for(SHARD_SIZE) == 0
    assert granularity_for(SHARD_SIZE + 1) == 1
    assert granularity_for(1_000) == 1  # the households of a grid
    assert granularity_for(1_371) == 2  # the elderly of a community
    assert granularity_for(20_000) == 3  # the elderly of a city
    assert granularity_for(102_180) == 3  # everyone in a city
    assert granularity_for(10_000_000) == GRANULARITIES[-1]


def test_a_record_is_in_one_shard_of_each_list_at_each_split():
    keys = keys_of(["city", "grid"], {"*", "tag:elderly"}, "3fa9c0")
    assert len(keys) == 2 * 2 * len(GRANULARITIES)
    assert list_key("grid", "tag:elderly", "3f") in keys and list_key("grid", "tag:elderly", "3a") not in keys
    assert keys == keys_of(["grid", "city"], {"tag:elderly", "*"}, "3fa9c0")


def test_shards_follow_each_other_in_id_order():
    assert shards_of(1) == tuple("0123456789abcdef")
    assert shards_of(2)[:3] == ("00", "01", "02") and shards_of(2)[-1] == "ff"


class ListedRecords:
    """Just what `Listing.page` asks of a collection: records found by one list key, after an `_id`."""

    def __init__(self, records):
        self.records, self.shards_read = records, []

    def find(self, query, fields=None):
        self.shards_read.append(query[LISTED_IN])
        after = query.get("_id", {}).get("$gt", "")
        equal = {key: value for key, value in query.items() if key not in (LISTED_IN, "_id")}
        return [record for record in self.records if query[LISTED_IN] in record[LISTED_IN] and record["_id"] > after
                and all(record.get(key) == value for key, value in equal.items())]


def test_a_page_reads_about_as_many_shards_as_hold_it_and_only_what_is_still_missing():
    listing = Listing(lambda record: {"*"}, depends_on=())
    records = [{"_id": uuid.UUID(int=number * 2 ** 116).hex, "path": ["c"], "even": number % 2 == 0}
               for number in range(4096)]
    collection = ListedRecords([record | listing.fields_of(record) for record in records])
    page = listing.page(collection, "c", "*", len(records), {}, 50, None)
    assert [record["_id"] for record in page] == sorted(record["_id"] for record in records)[:51]
    assert len(collection.shards_read) == 4  # 16 records a shard: 51 are in 4 of them
    collection.shards_read.clear()
    deeper = listing.page(collection, "c", "*", len(records), {}, 50, page[49]["_id"])
    assert deeper[0]["_id"] == page[50]["_id"] and len(deeper) == 51
    collection.shards_read.clear()
    half = listing.page(collection, "c", "*", len(records), {"even": True}, 50, None)
    assert len(half) == 51 and all(record["even"] for record in half)
    assert len(collection.shards_read) == 4 + 2 + 1  # 32 found in 4 shards, 16 in 2 more, then the 51st


def test_a_list_size_is_measured_again_only_once_it_is_old():
    now = [0.0]
    sizes, measured = KeptSizes(clock=lambda: now[0]), []

    def measure():
        measured.append(now[0])
        return len(measured)

    assert sizes.of("elderly", measure) == 1 and sizes.of("elderly", measure) == 1
    now[0] = SIZE_KEPT_SECONDS + 1
    assert sizes.of("elderly", measure) == 2 and measured == [0.0, SIZE_KEPT_SECONDS + 1]
