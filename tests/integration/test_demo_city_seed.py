"""The demo seed at a small size, through the real gateway and services: it lands whole, and
seeding again writes nothing."""
from collections import Counter

import pytest

from cli.demo_city import CommunitySize, generate
from cli.seed import seed_demo
from services.residents.schemas import PUBLIC_TAGS, SENSITIVE_GRANT, SENSITIVE_TAGS
from tests.support.hierarchy import GRIDS

pytestmark = pytest.mark.integration
SIZE = CommunitySize("测试社区", grids=1, buildings=2, households=20, people=45)


def figures(client, node_id):
    found = client.call(f"{GRIDS}/GetNodeFigures", {"node_id": node_id})
    counts = {key: int(found.get(key, 0)) for key in ("grids", "buildings", "flats", "households", "residents")}
    return counts, {kind: int(count) for kind, count in found.get("flats_by_occupancy", {}).items()}, {
        tag: int(count) for tag, count in found.get("residents_by_tag", {}).items()}


def test_a_small_demo_city_lands_whole_and_seeding_again_changes_nothing(platform, unique):
    operator = platform.client(tenant=f"seed-{unique}", grants=[SENSITIVE_GRANT])
    community = generate(SIZE)
    node, first = seed_demo(operator, SIZE, with_sensitive_tags=False, log=lambda line: None)
    assert (first["residents_created"], first["households_created"], first["flats_created"], first["errors"]) == (
        45, 20, 20, [])

    counts, occupancy, tags = figures(operator, node["id"])
    assert counts == {"grids": 1, "buildings": 2, "flats": len(community.flats), "households": 20, "residents": 45}
    assert occupancy == {kind.lower(): count for kind, count in Counter(flat.occupancy for flat in community.flats)
                         .items()}
    expected_tags = Counter(tag for person in community.people for tag in person.tags if tag in PUBLIC_TAGS)
    assert tags == dict(expected_tags) and not set(tags) & SENSITIVE_TAGS

    again_node, again = seed_demo(operator, SIZE, with_sensitive_tags=False, log=lambda line: None)
    assert again_node["id"] == node["id"]
    assert (again["residents_created"], again["households_created"], again["flats_created"],
            again["rows_unchanged"], again["errors"]) == (0, 0, 0, 45, [])
    assert figures(operator, node["id"]) == (counts, occupancy, tags)
