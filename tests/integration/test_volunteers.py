"""Volunteers through the real gateway, RabbitMQ and MongoDB/FerretDB: profiles and teams, the
ask–take–dispatch loop to hours and feedback, ranking, the hours ledger and unfilled tasks."""
import time
from datetime import date, datetime, timedelta, timezone
from unittest.mock import Mock

import grpc
import pytest
from nameko.testing.services import worker_factory

from services.storage import now
from services.storage.records import WorkerWrites
from services.volunteers.service import VolunteersService
from services.volunteers.store import VolunteersRepository
from tests.support.errors import rpc_error
from tests.support.polling import eventually
from tests.support.volunteering import VOLUNTEERS, hierarchy, next_weekday, rfc3339, task, volunteer

pytestmark = pytest.mark.integration
TICKETS = "civicgrid.tickets.v1.Tickets"
NEXT_YEAR = (date.today() + timedelta(days=365)).isoformat()
LAST_MONTH = (date.today() - timedelta(days=30)).isoformat()


def reported_ticket(client, node_id, unique):
    """A real ticket for a task to name: CreateTask checks its ticket_id with the tickets service."""
    category = client.call(f"{TICKETS}/CreateCategory", {
        "request_id": f"{unique}-clinic", "name": f"Clinic {unique}", "routing": {"assignee_kind": "GRID_WORKER"},
        "promises": [{"priority": "NORMAL", "first_response_minutes": 60, "resolution_minutes": 240}]})
    return client.call(f"{TICKETS}/CreateTicket", {
        "kind": "REQUEST", "channel": "STATION_WALK_IN", "category_id": category["id"], "node_id": node_id,
        "description": "Needs a nurse at home"})["id"]


def test_volunteer_profile_and_teams(world):
    staff, ids, unique = world["staff"], world["ids"], world["unique"]
    li = volunteer(staff, unique, "Li", ids["BUILDING"], skills=[("first_aid", 4), ("calligraphy", 2)],
                   certifications=[("first_aid", NEXT_YEAR)],
                   availability=[{"weekday": "SATURDAY", "start": "08:00", "end": "12:00"}])
    assert li["path"][-1] == ids["BUILDING"] and li["path"][0] == ids["CITY"]
    assert li["skills"] == [{"name": "first_aid", "level": 4}, {"name": "calligraphy", "level": 2}]
    assert staff.call(f"{VOLUNTEERS}/GetVolunteer", {"id": li["id"]}) == li

    updated = staff.call(f"{VOLUNTEERS}/UpdateVolunteer", {
        "volunteer": {"id": li["id"], "skills": [{"name": "first_aid", "level": 5}]}, "update_mask": "skills"})
    assert updated["skills"] == [{"name": "first_aid", "level": 5}]

    zhao = volunteer(staff, unique, "Zhao", ids["OTHER_GRID"])
    medical = staff.call(f"{VOLUNTEERS}/CreateTeam", {
        "display_name": "Angel", "purpose": "MEDICAL", "node_id": ids["COMMUNITY"],
        "coordinators": [f"staff-{unique}"], "member_ids": [li["id"], zhao["id"]]})
    teachers = staff.call(f"{VOLUNTEERS}/CreateTeam", {
        "display_name": "Classroom", "purpose": "TEACHERS", "speciality": "calligraphy",
        "node_id": ids["COMMUNITY"], "member_ids": [li["id"]]})
    teams_of_li = staff.call(f"{VOLUNTEERS}/ListTeams", {"member_id": li["id"]})["teams"]
    assert {t["id"] for t in teams_of_li} == {medical["id"], teachers["id"]}
    assert medical["purpose"] == "MEDICAL"

    # A volunteer reads their own profile only.
    assert world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/GetVolunteer", {"id": li["id"]})["id"] == li["id"]
    assert rpc_error(lambda: world["as_volunteer"]("Li").call(
        f"{VOLUNTEERS}/GetVolunteer", {"id": zhao["id"]})).code() == grpc.StatusCode.NOT_FOUND


def every_page(client, method, request, key):
    """Every record of a list, following next_page_token with pages of two."""
    seen, token = [], ""
    while True:
        answer = client.call(f"{VOLUNTEERS}/{method}", {**request, "page_size": 2, "page_token": token})
        seen += [record["id"] for record in answer[key]]
        token = answer.get("next_page_token", "")
        if not token:
            return seen


def test_volunteers_and_tasks_below_a_node_page_from_their_lists(world):
    """Listed by node (and skill) from the lists they are in, in id order, following a change of
    skills (services/volunteers/store.py)."""
    staff, ids, unique = world["staff"], world["ids"], world["unique"]
    homes = {"Li": ids["BUILDING"], "Wang": ids["OTHER_BUILDING"], "Zhao": ids["OTHER_GRID"], "Sun": ids["BUILDING"]}
    people = {name: volunteer(staff, unique, name, home, skills=[("first_aid" if name != "Wang" else "cooking", 3)])
              for name, home in homes.items()}
    by_name = {name: person["id"] for name, person in people.items()}

    assert every_page(staff, "ListVolunteers", {"node_id": ids["COMMUNITY"]}, "volunteers") == sorted(by_name.values())
    assert every_page(staff, "ListVolunteers", {"node_id": ids["GRID"]}, "volunteers") == sorted(
        by_name[name] for name in ("Li", "Wang", "Sun"))
    assert every_page(staff, "ListVolunteers", {"node_id": ids["COMMUNITY"], "skill": "first_aid"},
                      "volunteers") == sorted(by_name[name] for name in ("Li", "Zhao", "Sun"))

    staff.call(f"{VOLUNTEERS}/UpdateVolunteer", {
        "volunteer": {"id": by_name["Li"], "skills": [{"name": "cooking", "level": 2}]}, "update_mask": "skills"})
    assert every_page(staff, "ListVolunteers", {"node_id": ids["CITY"], "skill": "cooking"},
                      "volunteers") == sorted([by_name["Li"], by_name["Wang"]])

    start = datetime.now(timezone.utc) + timedelta(days=3)
    made = {node: task(staff, ids[node], start)["id"] for node in ("BUILDING", "OTHER_GRID", "GRID")}
    assert every_page(staff, "ListTasks", {"node_id": ids["COMMUNITY"]}, "tasks") == sorted(made.values())
    assert every_page(staff, "ListTasks", {"node_id": ids["GRID"]}, "tasks") == sorted(
        [made["BUILDING"], made["GRID"]])


@pytest.mark.parametrize("change, code", [
    ({"skills": [{"name": "first_aid", "level": 6}]}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"availability": [{"weekday": "MONDAY", "start": "12:00", "end": "08:00"}]},
     grpc.StatusCode.INVALID_ARGUMENT),
    ({"certifications": [{"name": "first_aid", "expires_on": "someday"}]}, grpc.StatusCode.INVALID_ARGUMENT),
    ({"home_node_id": "nowhere"}, grpc.StatusCode.NOT_FOUND),
])
def test_bad_volunteer_input_is_refused_and_nothing_written(platform, world, change, code):
    request = {"subject": "x", "display_name": "X", "home_node_id": world["ids"]["GRID"], **change}
    assert rpc_error(lambda: world["staff"].call(f"{VOLUNTEERS}/CreateVolunteer", request)).code() == code
    assert platform.database("volunteers").volunteers.count_documents({"tenant": world["tenant"]}) == 0


def test_the_loop_from_publish_to_feedback(platform, world, volunteers_tap):
    staff, ids, unique = world["staff"], world["ids"], world["unique"]
    start = datetime.now(timezone.utc) + timedelta(days=2)
    li = volunteer(staff, unique, "Li", ids["BUILDING"], skills=[("first_aid", 4)],
                   certifications=[("first_aid", NEXT_YEAR)])
    wu = volunteer(staff, unique, "Wu", ids["BUILDING"], skills=[("first_aid", 3)],
                   certifications=[("first_aid", NEXT_YEAR)])
    novice = volunteer(staff, unique, "Novice", ids["BUILDING"], skills=[("first_aid", 1)])
    lapsed = volunteer(staff, unique, "Lapsed", ids["BUILDING"], skills=[("first_aid", 5)],
                       certifications=[("first_aid", LAST_MONTH)])
    ticket_id = reported_ticket(staff, ids["BUILDING"], unique)
    clinic = task(staff, ids["GRID"], start, required_skills=[{"name": "first_aid", "min_level": 3}],
                  required_certification="first_aid", ticket_id=ticket_id,
                  served_subject=f"resident-{unique}")
    assert clinic["state"] == "DRAFT"
    assert world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/ListOpenTasks", {}) == {}
    staff.call(f"{VOLUNTEERS}/PublishTask", {"id": clinic["id"]})

    open_to_li = world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/ListOpenTasks", {})["tasks"]
    assert [t["id"] for t in open_to_li] == [clinic["id"]]
    assert world["as_volunteer"]("Novice").call(f"{VOLUNTEERS}/ListOpenTasks", {}) == {}
    error = rpc_error(lambda: world["as_volunteer"]("Novice").call(f"{VOLUNTEERS}/OfferTask",
                                                                   {"id": clinic["id"]}))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "first_aid level 1" in error.details()

    offered = world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/OfferTask", {"id": clinic["id"]})
    assert offered["offers"] == [li["id"]] and "assignments" not in offered

    error = rpc_error(lambda: staff.call(f"{VOLUNTEERS}/DispatchTask",
                                         {"id": clinic["id"], "volunteer_ids": [lapsed["id"]]}))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"first_aid certification expired on {LAST_MONTH}" in error.details()
    error = rpc_error(lambda: staff.call(f"{VOLUNTEERS}/DispatchTask",
                                         {"id": clinic["id"], "volunteer_ids": [li["id"], wu["id"], novice["id"]]}))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION  # novice holds no certificate
    dispatched = staff.call(f"{VOLUNTEERS}/DispatchTask", {"id": clinic["id"], "volunteer_ids": [li["id"]]})
    assert [a["volunteer_id"] for a in dispatched["assignments"]] == [li["id"]]
    told = eventually(lambda: world["as_volunteer"]("Li").call(
        "civicgrid.notifications.v1.Notifications/ListInbox", {}).get("messages"), timeout=20)
    assert told
    assert [m["event_type"] for m in told] == ["civicgrid.volunteers.task.dispatched.v1"]

    error = rpc_error(lambda: world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/CheckOut", {"task_id": clinic["id"]}))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "check in" in error.details()

    shift = world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/CheckIn", {"task_id": clinic["id"]})
    assert shift["volunteer_id"] == li["id"] and "end_time" not in shift
    time.sleep(0.05)
    closed = world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/CheckOut", {"task_id": clinic["id"]})
    assert "end_time" in closed

    served = platform.client(tenant=world["tenant"], role="resident", scope=(), subject=f"resident-{unique}")
    stranger = platform.client(tenant=world["tenant"], role="resident", scope=(), subject="someone-else")
    assert rpc_error(lambda: stranger.call(f"{VOLUNTEERS}/GiveFeedback", {
        "task_id": clinic["id"], "rating": 5})).code() == grpc.StatusCode.NOT_FOUND
    rated = served.call(f"{VOLUNTEERS}/GiveFeedback", {"task_id": clinic["id"], "rating": 5, "comment": "kind"})
    assert rated["feedback"][0]["rating"] == 5

    mine = world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/ListTasks", {})["tasks"]
    assert [t["id"] for t in mine] == [clinic["id"]] and "check_out_time" in mine[0]["assignments"][0]

    steps = {f"civicgrid.volunteers.task.{s}.v1" for s in
             ("created", "published", "offered", "dispatched", "checked_in", "checked_out", "feedback_given")}
    seen = volunteers_tap.wait_for(lambda events: steps <= {e["type"] for e in events if e["tenant"] == world["tenant"]})
    ours = [e for e in seen if e["tenant"] == world["tenant"] and e["type"] in steps]
    assert {e["type"] for e in ours} == steps
    assert all(e["data"]["ticket_id"] == ticket_id and e["specversion"] == "1.0" for e in ours)


def test_dispatching_more_than_needed_and_auto_dispatch(world):
    staff, ids, unique = world["staff"], world["ids"], world["unique"]
    people = [volunteer(staff, unique, f"P{n}", ids["BUILDING"]) for n in range(3)]
    chores = task(staff, ids["GRID"], datetime.now(timezone.utc) + timedelta(days=1), auto_dispatch=True)
    staff.call(f"{VOLUNTEERS}/PublishTask", {"id": chores["id"]})

    error = rpc_error(lambda: staff.call(f"{VOLUNTEERS}/DispatchTask", {
        "id": chores["id"], "volunteer_ids": [p["id"] for p in people]}))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "needs 2 people" in error.details()

    first = world["as_volunteer"]("P0").call(f"{VOLUNTEERS}/OfferTask", {"id": chores["id"]})
    assert [a["volunteer_id"] for a in first["assignments"]] == [people[0]["id"]]
    staff.call(f"{VOLUNTEERS}/DispatchTask", {"id": chores["id"], "volunteer_ids": [people[1]["id"]]})
    full = world["as_volunteer"]("P2").call(f"{VOLUNTEERS}/OfferTask", {"id": chores["id"]})
    assert people[2]["id"] in full["offers"] and len(full["assignments"]) == 2
    assert world["as_volunteer"]("P2").call(f"{VOLUNTEERS}/ListOpenTasks", {}) == {}


def test_volunteer_from_another_tenant_is_not_found(platform, world):
    staff, ids, unique = world["staff"], world["ids"], world["unique"]
    other_staff = platform.client(tenant=f"other-{unique}")
    other_ids = hierarchy(other_staff, f"o{unique}")
    foreigner = volunteer(other_staff, unique, "Foreigner", other_ids["BUILDING"])
    job = task(staff, ids["GRID"], datetime.now(timezone.utc) + timedelta(days=1))
    staff.call(f"{VOLUNTEERS}/PublishTask", {"id": job["id"]})
    error = rpc_error(lambda: staff.call(f"{VOLUNTEERS}/DispatchTask",
                                         {"id": job["id"], "volunteer_ids": [foreigner["id"]]}))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert rpc_error(lambda: staff.call(f"{VOLUNTEERS}/GetVolunteer", {"id": foreigner["id"]})).code() == \
        grpc.StatusCode.NOT_FOUND
    assert rpc_error(lambda: other_staff.call(f"{VOLUNTEERS}/GetTask", {"id": job["id"]})).code() == \
        grpc.StatusCode.NOT_FOUND


def test_overlapping_hours_are_refused_and_the_ledger_totals(world):
    staff, ids, unique = world["staff"], world["ids"], world["unique"]
    li = volunteer(staff, unique, "Li", ids["BUILDING"])
    wu = volunteer(staff, unique, "Wu", ids["BUILDING"])
    team = staff.call(f"{VOLUNTEERS}/CreateTeam", {"display_name": "Baoliang", "purpose": "VETERANS",
                                                   "node_id": ids["COMMUNITY"], "member_ids": [li["id"], wu["id"]]})
    base = datetime(2026, 3, 2, 8, tzinfo=timezone.utc)
    patrol, cleanup = (task(staff, ids["GRID"], base + timedelta(days=d)) for d in (0, 1))
    for job in (patrol, cleanup):
        staff.call(f"{VOLUNTEERS}/PublishTask", {"id": job["id"]})
        staff.call(f"{VOLUNTEERS}/DispatchTask", {"id": job["id"], "volunteer_ids": [li["id"], wu["id"]]})

    def attend(job, who, start, hours):
        staff.call(f"{VOLUNTEERS}/CheckIn", {"task_id": job["id"], "volunteer_id": who["id"],
                                              "time": rfc3339(start)})
        return staff.call(f"{VOLUNTEERS}/CheckOut", {"task_id": job["id"], "volunteer_id": who["id"],
                                                      "time": rfc3339(start + timedelta(hours=hours))})

    assert attend(patrol, li, base, 3)["hours"] == 3
    for overlapping_start in (base + timedelta(hours=1), base - timedelta(hours=1)):
        error = rpc_error(lambda: staff.call(f"{VOLUNTEERS}/CheckIn", {
            "task_id": cleanup["id"], "volunteer_id": li["id"], "time": rfc3339(overlapping_start)}))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION and "overlap" in error.details()
    error = rpc_error(lambda: staff.call(f"{VOLUNTEERS}/CheckIn", {
        "task_id": patrol["id"], "volunteer_id": li["id"], "time": rfc3339(base)}))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    attend(patrol, wu, base, 2)
    attend(cleanup, wu, base + timedelta(days=30), 4.5)

    ledger = staff.call(f"{VOLUNTEERS}/GetHoursLedger", {"volunteer_id": wu["id"], "start_date": "2026-03-01",
                                                         "end_date": "2026-05-01"})
    assert ledger["periods"] == [{"period": "2026-03", "hours": 2}, {"period": "2026-04", "hours": 4.5}]
    assert ledger["total_hours"] == 6.5
    team_ledger = staff.call(f"{VOLUNTEERS}/GetHoursLedger", {"team_id": team["id"], "start_date": "2026-03-01",
                                                              "end_date": "2026-04-01"})
    assert team_ledger["total_hours"] == 5
    own = world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/GetHoursLedger", {"start_date": "2026-03-01",
                                                                            "end_date": "2026-04-01"})
    assert own["total_hours"] == 3
    assert rpc_error(lambda: world["as_volunteer"]("Li").call(f"{VOLUNTEERS}/GetHoursLedger", {
        "volunteer_id": wu["id"], "start_date": "2026-03-01", "end_date": "2026-04-01"})).code() == \
        grpc.StatusCode.NOT_FOUND

    march = staff.call(f"{VOLUNTEERS}/SummarizeHours", {"start_date": "2026-03-01", "end_date": "2026-04-01",
                                                        "active_hours_per_month": 2.5})
    assert [(t["display_name"], t["hours"], t.get("active", False), t["rank"]) for t in march["totals"]] == \
        [("Li", 3, True, 1), ("Wu", 2, False, 2)]
    teams = staff.call(f"{VOLUNTEERS}/SummarizeHours", {"group_by": "BY_TEAM", "start_date": "2026-03-01",
                                                        "end_date": "2026-05-01"})
    assert teams["totals"] == [{"id": team["id"], "display_name": "Baoliang", "hours": 9.5,
                                "average_hours_per_month": 4.75, "rank": 1}]


def test_ranking_orders_by_fit_and_explains(world):
    staff, ids, unique = world["staff"], world["ids"], world["unique"]
    saturday = next_weekday(5)
    morning = [{"weekday": "SATURDAY", "start": "08:00", "end": "12:00"}]
    best = volunteer(staff, unique, "Best", ids["BUILDING"], skills=[("first_aid", 5)],
                     certifications=[("first_aid", NEXT_YEAR)], availability=morning)
    volunteer(staff, unique, "Far", ids["OTHER_GRID"], skills=[("first_aid", 5)],
              certifications=[("first_aid", NEXT_YEAR)], availability=morning)
    volunteer(staff, unique, "Busy", ids["OTHER_BUILDING"], skills=[("first_aid", 3)],
              certifications=[("first_aid", NEXT_YEAR)])
    volunteer(staff, unique, "Lapsed", ids["BUILDING"], skills=[("first_aid", 5)],
              certifications=[("first_aid", LAST_MONTH)], availability=morning)
    volunteer(staff, unique, "Cook", ids["BUILDING"], skills=[("cooking", 5)])
    clinic = task(staff, ids["BUILDING"], saturday + timedelta(hours=9),
                  required_skills=[{"name": "first_aid", "min_level": 3}], required_certification="first_aid")

    ranked = staff.call(f"{VOLUNTEERS}/RankVolunteers", {"task_id": clinic["id"]})
    assert ranked["candidates"] == 4
    order = [r["display_name"] for r in ranked["rankings"]]
    assert order == ["Best", "Far", "Busy", "Lapsed"]
    by_name = {r["display_name"]: r for r in ranked["rankings"]}
    assert by_name["Best"]["score"] == 100 and by_name["Best"]["reasons"] == [
        "first_aid level 5 meets 3", "first_aid certification valid", "available for 100% of the time window",
        "lives at the task's place", "dispatched 0 times in the last 30 days"]
    assert "shares 3 of 5 hierarchy levels with the task's place" in by_name["Far"]["reasons"]
    assert "available for 0% of the time window" in by_name["Busy"]["reasons"]
    assert by_name["Lapsed"].get("eligible", False) is False
    assert f"first_aid certification expired on {LAST_MONTH}" in by_name["Lapsed"]["reasons"]
    assert all(by_name[n]["eligible"] for n in ("Best", "Far", "Busy"))

    # Fairness: once Best is dispatched elsewhere, an equal twin asked less lately ranks first.
    twin = volunteer(staff, unique, "Twin", ids["BUILDING"], skills=[("first_aid", 5)],
                     certifications=[("first_aid", NEXT_YEAR)], availability=morning)
    other = task(staff, ids["GRID"], saturday + timedelta(days=7))
    staff.call(f"{VOLUNTEERS}/PublishTask", {"id": other["id"]})
    staff.call(f"{VOLUNTEERS}/DispatchTask", {"id": other["id"], "volunteer_ids": [best["id"]]})
    again = staff.call(f"{VOLUNTEERS}/RankVolunteers", {"task_id": clinic["id"], "limit": 2})["rankings"]
    assert [r["volunteer_id"] for r in again] == [twin["id"], best["id"]]
    assert "dispatched 1 times in the last 30 days" in again[1]["reasons"]


def test_task_nobody_takes_is_raised_once(platform, world, volunteers_tap):
    staff, ids = world["staff"], world["ids"]
    team = staff.call(f"{VOLUNTEERS}/CreateTeam", {"display_name": "Lebei", "purpose": "CHILDCARE",
                                                   "node_id": ids["COMMUNITY"], "coordinators": ["coord-1"]})
    soon = datetime.now(timezone.utc) + timedelta(seconds=2)
    lonely = task(staff, ids["GRID"], soon + timedelta(hours=1), offer_deadline=rfc3339(soon), team_id=team["id"])
    staff.call(f"{VOLUNTEERS}/PublishTask", {"id": lonely["id"]})
    unfilled = "civicgrid.volunteers.task.unfilled.v1"
    seen = volunteers_tap.wait_for(lambda events: any(e["type"] == unfilled and e["data"]["id"] == lonely["id"]
                                           for e in events), timeout=20)
    raised = [e for e in seen if e["type"] == unfilled and e["data"]["id"] == lonely["id"]]
    assert len(raised) == 1 and raised[0]["data"]["coordinators"] == ["coord-1"]
    assert raised[0]["data"]["people_dispatched"] == 0
    assert platform.database("volunteers").tasks.find_one({"_id": lonely["id"]})["unfilled_raised"] is True


def test_the_unfilled_timer_raises_a_task_once_however_often_it_runs(platform, unique):
    repository = VolunteersRepository(platform.database(f"scratch_{unique}"))
    repository.ensure_indexes()
    writes = WorkerWrites(outbox=Mock())
    service = worker_factory(VolunteersService, store=repository.for_worker(writes))
    repository.teams.create("t1", "", {"id": "team", "display_name": "Lebei", "coordinators": ["coord-1"],
                                       "member_ids": [], "path": ["g1"]})
    repository.tasks.create("t1", "", {
        "id": "lonely", "title": "T", "node_id": "g1", "ticket_id": "", "team_id": "team", "path": ["g1"],
        "state": "PUBLISHED", "people_needed": 2, "people_dispatched": 0, "offers": [], "assignments": [],
        "feedback": [], "offer_deadline": now() - timedelta(seconds=1), "version": 0})

    service.raise_unfilled_tasks()
    [(_, written)] = writes.records
    [event] = written["outbox"]
    assert event["type"] == "civicgrid.volunteers.task.unfilled.v1"
    assert (event["data"]["coordinators"], event["data"]["people_dispatched"]) == (["coord-1"], 0)
    service.raise_unfilled_tasks()
    assert len(writes.records) == 1
    assert repository.tasks.get({"_id": "lonely"})["version"] == 1


@pytest.mark.parametrize("body, field", [
    ({"people_needed": 0}, "people_needed"),
    ({"required_skills": [{"name": "first_aid", "min_level": 9}]}, "required_skills"),
    ({"start_time": "2026-03-02T10:00:00Z", "end_time": "2026-03-02T09:00:00Z"}, "end_time"),
])
def test_bad_task_input_names_the_field(platform, world, body, field):
    request = {"title": "T", "node_id": world["ids"]["GRID"], "start_time": "2026-03-02T08:00:00Z",
               "end_time": "2026-03-02T10:00:00Z", "people_needed": 1, **body}
    error = rpc_error(lambda: world["staff"].call(f"{VOLUNTEERS}/CreateTask", request))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field in error.details()
    assert platform.database("volunteers").tasks.count_documents({"tenant": world["tenant"]}) == 0
