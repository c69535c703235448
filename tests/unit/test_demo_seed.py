"""The demo city's generator and seed, offline: sizes, validity, determinism, proportions."""
from collections import Counter
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.demo_city import ADULT_AGE, ELDERLY_AGE, REAL, SMALL, CommunitySize, generate
from cli.importer import IMPORT_METHOD, import_rows
from cli.seed import CREATE_FLAT, CREATE_NODE, seed_demo
from services.residents.schemas import PUBLIC_TAGS, SENSITIVE_TAGS, ImportRow
from services.residents.disclosure import consistent_birth_date
from services.validation import parse

ROOT = Path(__file__).resolve().parents[2]
TINY = CommunitySize("测试社区", grids=1, buildings=2, households=20, people=45)


@pytest.fixture(scope="module")
def real():
    return generate(REAL)


def building_ids(community):
    return [f"b{building}" for building in range(community.size.buildings)]


def rows_digest(community):
    rows = community.import_rows(building_ids(community), with_sensitive_tags=True)
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def test_the_real_community_has_the_field_reports_counts(real):
    assert len(set(real.grid_of_building)) == 10
    assert len(real.grid_of_building) == len({flat.building for flat in real.flats}) == 86
    assert len(real.households) == 2911
    assert len(real.people) == len(real.import_rows(building_ids(real), with_sensitive_tags=True)) == 6812


@pytest.mark.parametrize("size", [TINY, SMALL, CommunitySize("x", 2, 5, 40, 240), CommunitySize("y", 1, 1, 3, 3)])
def test_any_size_comes_out_exactly(size):
    community = generate(size)
    assert len(set(community.grid_of_building)) == size.grids
    assert len({flat.building for flat in community.flats}) == size.buildings
    assert (len(community.households), len(community.people)) == (size.households, size.people)


def test_an_impossible_size_is_refused():
    with pytest.raises(ValueError, match="between one and six"):
        generate(CommunitySize("z", 1, 1, 10, 61))


def test_every_row_passes_the_residents_service_checks(real):
    national_ids = set()
    for raw in real.import_rows(building_ids(real), with_sensitive_tags=True):
        row = parse(ImportRow, raw)
        assert consistent_birth_date(row.national_id, row.birth_date) == raw["birth_date"]
        assert int(row.national_id[16]) % 2 == (row.gender == "MALE")
        national_ids.add(row.national_id)
    assert len(national_ids) == 6812


def test_generating_again_gives_the_same_rows_in_any_process(real):
    """Re-seeding relies on it: the import finds a resident by the row's content."""
    digest = rows_digest(real)
    assert rows_digest(generate(REAL)) == digest
    script = ("import sys; sys.path.insert(0, '.'); from cli.demo_city import generate, REAL;"
              "from tests.unit.test_demo_seed import rows_digest; print(rows_digest(generate(REAL)))")
    for hash_seed in ("1", "2"):
        other = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                               env={**os.environ, "PYTHONHASHSEED": hash_seed})
        assert other.stdout.strip() == digest


def test_flats_are_addressed_by_unit_and_floor_and_occupied_in_a_realistic_mix(real):
    addresses = [(flat.building, flat.unit, flat.number) for flat in real.flats]
    assert len(set(addresses)) == len(addresses)
    assert all(flat.number.startswith(str(flat.floor)) for flat in real.flats)
    occupancy = Counter(flat.occupancy for flat in real.flats)
    assert occupancy["OWNER_OCCUPIED"] + occupancy["RENTED"] == 2911
    assert 0.05 <= occupancy["VACANT"] / len(real.flats) <= 0.15
    assert 0.10 <= occupancy["RENTED"] / 2911 <= 0.35
    assert all(household.flat.occupancy != "VACANT" for household in real.households)
    assert len({id(household.flat) for household in real.households}) == 2911


def test_households_spread_over_every_building_and_grid(real):
    households = Counter(household.flat.building for household in real.households)
    flats = Counter(flat.building for flat in real.flats)
    assert len(households) == 86
    assert all(households[building] <= flats[building] for building in flats)
    assert 10 <= min(households.values()) and max(households.values()) <= 80
    assert len(set(flats.values())) > 3, "buildings of different sizes"
    assert set(Counter(real.grid_of_building).values()) <= {8, 9}


def test_households_are_families_around_a_head(real):
    for household in real.households:
        head, *others = household.members
        assert head.relation == "head" and "head" not in {member.relation for member in others}
        assert household.name.startswith(head.name)
        for member in others:
            if member.relation == "spouse":
                assert member.gender != head.gender
            if member.relation in ("child", "grandchild"):
                assert member.age < head.age
            if member.relation == "parent":
                assert member.age > head.age
    sizes = Counter(len(household.members) for household in real.households)
    assert sizes[1] > sizes[4] and sizes[2] > sizes[5] and max(sizes) <= 6


def test_tags_follow_age_and_household_in_realistic_shares(real):
    people = real.people
    tags = Counter(tag for person in people for tag in person.tags)
    assert set(tags) <= PUBLIC_TAGS | SENSITIVE_TAGS and set(tags) >= PUBLIC_TAGS
    share = {tag: count / len(people) for tag, count in tags.items()}
    assert 0.15 <= share["elderly"] <= 0.30
    assert 0.10 <= share["child"] <= 0.25
    assert 0.01 <= share["veteran"] <= 0.05 and 0.01 <= share["disabled"] <= 0.06
    assert share["fully_vaccinated"] >= 0.75
    assert 0 < sum(tags[tag] for tag in SENSITIVE_TAGS) <= 0.01 * len(people)
    for household in real.households:
        for person in household.members:
            assert ("elderly" in person.tags) == (person.age >= ELDERLY_AGE)
            assert ("child" in person.tags) == (person.age < ADULT_AGE)
            assert ("living_alone" in person.tags) == (person.age >= ELDERLY_AGE and len(household.members) == 1)


def test_sensitive_tags_are_left_out_unless_granted_and_nothing_else_changes(real):
    granted = real.import_rows(building_ids(real), with_sensitive_tags=True)
    plain = real.import_rows(building_ids(real), with_sensitive_tags=False)
    assert not any(set(row["tags"]) & SENSITIVE_TAGS for row in plain)
    assert [{**row, "tags": sorted(set(row["tags"]) - SENSITIVE_TAGS)} for row in granted] == plain


class RecordingGateway:
    """Answers the seed's calls as the gateway would, and records them."""

    def __init__(self):
        self.calls = []
        self.ids = {}

    def call(self, method, request, timeout=30):
        self.calls.append((method, request))
        if method == IMPORT_METHOD:
            return {"residents_created": len(request["rows"]), "households_created": 1}
        node_id = self.ids.setdefault(request["request_id"], f"n{len(self.ids)}")
        return {"id": node_id, "display_name": request.get("display_name", "")}


def test_seeding_twice_sends_the_same_calls_with_fixed_request_ids():
    first, second = RecordingGateway(), RecordingGateway()
    seed_demo(first, SMALL, log=lambda line: None)
    seed_demo(second, SMALL, log=lambda line: None)
    assert first.calls == second.calls
    creates = [request for method, request in first.calls if method in (CREATE_NODE, CREATE_FLAT)]
    assert len({request["request_id"] for request in creates}) == len(creates)
    community = generate(SMALL)
    assert sum(method == CREATE_FLAT for method, _ in first.calls) == len(community.vacant_flats)
    assert sum(len(request["rows"]) for method, request in first.calls if method == IMPORT_METHOD) == SMALL.people


def test_import_rows_sends_batches_adds_up_and_shows_progress(tmp_path):
    gateway = RecordingGateway()
    progress = tmp_path / "progress"
    with open(progress, "w") as stream:
        report = import_rows(gateway, [{"row": n} for n in range(1, 251)], stream, batch_rows=100,
                             failed_locally=[{"row": 7, "field": "floor", "reason": "must be a whole number"}])
    assert [len(request["rows"]) for _, request in gateway.calls] == [100, 100, 50]
    assert (report["residents_created"], report["households_created"]) == (250, 3)
    assert report["errors"] == [{"row": 7, "field": "floor", "reason": "must be a whole number"}]
    assert progress.read_text().rstrip().endswith("251/251 rows, 1 errors")
