"""Big lists paged from their shards (services/storage/listings.py), against the real store: every
granularity gives the same records in the same `_id` order as a plain query would."""
import random
import uuid

import pytest
from pymongo import MongoClient

from services.storage import Listing, Records, new_id, rewrite_paths
from services.storage.listings import LISTED_IN, granularity_for, shards_of
from tests.conftest import required_env

pytestmark = pytest.mark.integration
CITY, GRIDS = "city", ("grid-1", "grid-2")
# A list size that makes each granularity the chosen one.
SIZE_FOR = {0: 10, 1: 1_000, 2: 10_000, 3: 1_000_000}


def tagged_lists(record):
    return {"*", *(f"tag:{tag}" for tag in record["tags"])}


@pytest.fixture
def people():
    client = MongoClient(required_env("MONGO_URI"), tz_aware=True)
    database = client[f"listings_{uuid.uuid4().hex[:8]}"]
    records = Records(database.people, "person", listing=Listing(tagged_lists, depends_on=("tags",)))
    records.ensure_indexes()
    rng = random.Random(7)
    for number in range(300):
        grid = GRIDS[number % 2]
        records.create("t1", None, {"path": [CITY, grid, f"b{number % 7}"],
                                    "tags": ["elderly"] if rng.random() < 0.3 else []})
    yield records
    client.drop_database(database.name)


def every_page(records, node_id, facet, size_of_list, query, page_size):
    seen, token = [], ""
    while True:
        documents, token = records.listed_page(node_id, facet, size_of_list, query, page_size, token)
        seen += [document["_id"] for document in documents]
        if not token:
            return seen


def expected(records, query):
    return sorted(document["_id"] for document in records.collection.find(query | {"retire_time": None}))


@pytest.mark.parametrize("granularity", [0, 1, 2, 3])
def test_every_granularity_pages_the_same_records_in_id_order(people, granularity):
    assert granularity_for(SIZE_FOR[granularity]) == granularity
    # Small pages cross shard boundaries often; the finest split (4,096 shards) is read once.
    page_size = 50 if granularity == 3 else 7
    assert every_page(people, CITY, "tag:elderly", SIZE_FOR[granularity], {"tenant": "t1"}, page_size) == expected(
        people, {"tenant": "t1", "tags": "elderly"})


def test_a_list_below_a_lower_node_holds_only_what_is_below_it(people):
    assert every_page(people, "grid-2", "*", SIZE_FOR[1], {"tenant": "t1"}, 50) == expected(
        people, {"tenant": "t1", "path": "grid-2"})


def test_a_page_also_applies_the_rest_of_the_query(people):
    scoped = {"tenant": "t1", "path": {"$in": ["b3"]}}
    assert every_page(people, CITY, "*", SIZE_FOR[1], scoped, 10) == expected(people, {"tenant": "t1", "path": "b3"})


def test_lists_follow_retagging_moving_and_deleting(people):
    someone = people.collection.find_one({"tags": []})
    people.update({"_id": someone["_id"]}, {"tags": ["elderly"]})
    assert someone["_id"] in every_page(people, CITY, "tag:elderly", SIZE_FOR[2], {}, 50)
    people.update({"_id": someone["_id"]}, {"path": [CITY, "grid-3", "b9"]})
    assert someone["_id"] in every_page(people, "grid-3", "*", SIZE_FOR[0], {}, 50)
    assert someone["_id"] not in every_page(people, "grid-1", "*", SIZE_FOR[1], {}, 50)
    people.retire({"_id": someone["_id"]}, [])
    assert someone["_id"] not in every_page(people, "grid-3", "*", SIZE_FOR[0], {}, 50)


def test_a_moved_node_takes_its_records_lists_along(people):
    rewrite_paths(people.collection, {"path": "grid-1"}, "grid-1", ["city-2", "grid-1"], people.listing.fields_of)
    moved = expected(people, {"path": "grid-1"})
    assert every_page(people, "city-2", "*", SIZE_FOR[1], {}, 50) == moved
    assert every_page(people, CITY, "*", SIZE_FOR[1], {}, 50) == expected(people, {"path": CITY})


def test_records_written_before_listing_get_their_lists_once(people):
    unlisted = {"_id": new_id(), "tenant": "t1", "path": [CITY, "grid-1", "b1"], "tags": []}
    people.collection.insert_one(unlisted)
    people.collection.database.listings_started.delete_many({})
    people.ensure_indexes()
    assert LISTED_IN in people.collection.find_one({"_id": unlisted["_id"]})
    assert unlisted["_id"] in every_page(people, "grid-1", "*", SIZE_FOR[0], {}, 50)


def test_shards_cover_every_hex_prefix_in_order():
    assert shards_of(0) == ("",)
    assert list(shards_of(2)) == sorted(shards_of(2)) and len(shards_of(3)) == 4096


def test_a_record_in_many_lists_is_stored_and_listed(people):
    """Its list keys outgrow a btree row on FerretDB; ferretdb-gin-indexes.sql keeps only the GIN."""
    tags = [f"tag-{number}" for number in range(30)]
    record, _ = people.create("t1", None, {"path": [CITY, "grid-1", "b1", "f1"], "tags": tags})
    assert record["_id"] in every_page(people, "b1", "tag:tag-29", SIZE_FOR[0], {}, 50)
