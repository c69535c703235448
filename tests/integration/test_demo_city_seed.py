"""The demo seed at a small size, through the real gateway and services: it lands whole, and
seeding again writes nothing."""
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from cli.demo_city import CommunitySize, generate
from cli.demo_deliberation import COMPLETED_PROJECTS, MEETINGS, MONTHS, PROJECTS
from cli.demo_work import (CATEGORIES, JOURNEYS, NOTIFICATIONS, ORGANISATIONS, POLL, POLL_HOUSEHOLDS, TEAMS,
                           TICKETS_IN_ALL, VISITED_PER_GRID, Cast, seed_work)
from cli.seed import seed_demo
from services.residents.schemas import PUBLIC_TAGS, SENSITIVE_GRANT, SENSITIVE_TAGS
from tests.support.hierarchy import GRIDS
from tests.support.town import TICKETS

VOLUNTEERS = "civicgrid.volunteers.v1.Volunteers"

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


def poll_answers(operator, node):
    """The households of the first building the demo poll is put to: each answers, up to a limit."""
    grid = operator.call(f"{GRIDS}/ListNodes", {"parent_id": node["id"], "page_size": 1})["nodes"][0]
    building = operator.call(f"{GRIDS}/ListNodes", {"parent_id": grid["id"], "page_size": 1})["nodes"][0]
    households = operator.call("civicgrid.residents.v1.Residents/ListHouseholds", {
        "node_id": building["id"], "page_size": POLL_HOUSEHOLDS}).get("households", [])
    assert households
    return len(households)


def test_the_demo_communitys_work_lands_in_every_state_and_seeding_again_changes_nothing(platform, unique):
    tenant = f"work-{unique}"
    operator = platform.client(tenant=tenant, subject="demo-operator")
    cast = Cast(operator, lambda role, scope, subject, grants: platform.client(
        tenant=tenant, role=role, scope=scope, subject=subject, grants=grants))
    node, _ = seed_demo(operator, SIZE, with_sensitive_tags=False, log=lambda line: None)
    assert seed_work(cast, node, log=lambda line: None) == {
        "organisations": 5, "grid_workers": 1, "categories": len(CATEGORIES), "tickets": TICKETS_IN_ALL,
        "meetings": MEETINGS, "projects": len(PROJECTS), "teams": len(TEAMS), "visits": VISITED_PER_GRID,
        "poll_answers": poll_answers(operator, node)}

    def states():
        tickets = operator.call(f"{TICKETS}/ListTickets", {"queue": "SCOPE", "kind": "REQUEST",
                                                           "page_size": 100})["tickets"]
        return Counter(ticket["state"] for ticket in tickets), {ticket["id"]: ticket["update_time"] for ticket in tickets}

    counts, versions = states()
    assert sum(counts.values()) == TICKETS_IN_ALL
    assert set(counts) == {"SUBMITTED", "TRIAGED", "REJECTED", "DUPLICATE", "ASSIGNED", "IN_PROGRESS", "RESOLVED",
                           "FEEDBACK", "CLOSED"}
    now = datetime.now(timezone.utc)
    figures = operator.call(f"{TICKETS}/GetTicketFigures", {
        "node_id": node["id"], "start_time": (now - timedelta(days=1)).isoformat(),
        "end_time": (now + timedelta(minutes=1)).isoformat()})
    assert figures["satisfaction_count"] == JOURNEYS["feedback"] + JOURNEYS["closed"] + COMPLETED_PROJECTS
    organisations = operator.call(f"{GRIDS}/ListOrganisations", {"node_id": node["id"]})["organisations"]
    assert sorted(o["display_name"] for o in organisations) == sorted(name for _, name, _ in ORGANISATIONS)

    def hours():
        return operator.call(f"{VOLUNTEERS}/SummarizeHours", {
            "group_by": "BY_TEAM", "start_date": (now - timedelta(days=30)).date().isoformat(),
            "end_date": now.date().isoformat()})["totals"]
    assert sorted(total["display_name"] for total in hours()) == sorted(team[0] for team in TEAMS)

    def visits():
        return sorted((visit["visit_date"], visit["visitor"]) for visit in operator.call(
            "civicgrid.residents.v1.Residents/ListVisits", {"node_id": node["id"], "page_size": 100})["visits"])
    logged = visits()
    assert len(logged) == VISITED_PER_GRID and logged[-1][0] == datetime.now(timezone.utc).date().isoformat()
    assert {visitor for _, visitor in logged} == {"demo-grid-worker-1"}

    def deliberation():
        meetings = operator.call(f"{TICKETS}/ListMeetings", {"node_id": node["id"], "page_size": 100})["meetings"]
        projects = operator.call(f"{TICKETS}/ListProjects", {"node_id": node["id"]})["projects"]
        return (Counter(meeting["state"] for meeting in meetings),
                sorted((project["state"], project["update_time"]) for project in projects))
    held = deliberation()
    # The outcome waits for what a meeting adopted: last month's, and the one whose project is under
    # way; the community's meeting on what the grid referred has published both.
    assert held == (Counter({"OUTCOME_PUBLISHED": MONTHS - 3 + 1, "DECISION_PUBLISHED": 2, "COMMITTEE_REVIEW": 1}),
                    sorted(held[1])) and [state for state, _ in held[1]] == ["ACTIVE", "COMPLETED"]

    polls = operator.call(f"{NOTIFICATIONS}/ListPolls", {"node_id": node["id"]})["polls"]
    assert [(poll["title"], poll["state"]) for poll in polls] == [(POLL["title"], "CLOSED")]
    results = operator.call(f"{NOTIFICATIONS}/GetPollResults", {"id": polls[0]["id"]})
    assert sum(choice.get("count", 0) for choice in results["questions"][0]["choices"]) == results["answer_count"]

    seed_work(cast, node, log=lambda line: None)
    assert deliberation() == held
    assert operator.call(f"{NOTIFICATIONS}/GetPollResults", {"id": polls[0]["id"]}) == results
    assert visits() == logged
    assert states() == (counts, versions)
    assert [total["hours"] for total in hours()] == [6.0] * len(TEAMS)
