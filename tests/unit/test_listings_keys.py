"""The keys and splits of listed records (services/storage/listings.py), without a store."""
from services.storage.listings import GRANULARITIES, SHARD_SIZE, granularity_for, keys_of, list_key, shards_of


def test_a_list_is_read_at_the_coarsest_split_whose_shards_hold_about_a_page():
    assert granularity_for(0) == 0 and granularity_for(SHARD_SIZE) == 0
    assert granularity_for(SHARD_SIZE + 1) == 1
    assert granularity_for(1_371) == 1  # the elderly of a community
    assert granularity_for(20_000) == 2  # the elderly of a city
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
