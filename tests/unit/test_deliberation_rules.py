"""The rules of deliberation meetings and their projects, without a broker or a store."""
from datetime import datetime, timezone

import pytest

from services.access import Caller
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, PermissionDenied
from services.tickets import deliberation, schemas
from services.tickets.queue_index import QueueIndex
from services.validation import parse

MOMENT = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
GRID_PATH = ["city", "community", "grid"]
CONVENOR = Caller(subject="leader-1", tenant="t1", role="grid_worker", scope=("grid",))
OTHER_WORKER = Caller(subject="worker-2", tenant="t1", role="grid_worker", scope=("grid",))
COMMUNITY = Caller(subject="staff-1", tenant="t1", role="community_staff", scope=("community",))


def suggestion(ticket_id="s1", followers=(), state="SUBMITTED", kind="SUGGESTION", path=(*GRID_PATH, "b1"),
               deliberated=None, created="2026-02-01T00:00:00Z"):
    return {"_id": ticket_id, "id": ticket_id, "kind": kind, "state": state, "path": list(path),
            "node_id": path[-1], "category_id": "c1", "description": f"Suggestion {ticket_id}\nmore",
            "reporter_subject": "resident-a", "followers": list(followers), "create_time": created,
            **({"deliberation": deliberated} if deliberated else {})}


def meeting(state="PROPOSED", agenda=()):
    command = parse(schemas.CreateMeeting, {"node_id": "grid", "title": "三月议事会", "held_at": "2026-03-01T09:00:00Z"})
    fields, _ = deliberation.new_meeting(CONVENOR, command, {"id": "grid", "path": GRID_PATH}, MOMENT)
    return {**fields, "_id": fields.pop("id"), "tenant": "t1", "state": state, "agenda": list(agenda)}


def with_item(state, ticket=None, decision=""):
    item = deliberation.agenda_item(meeting(), ticket or suggestion())
    return meeting(state, [{**item, "decision": decision}])


def test_a_new_meeting_is_proposed_by_its_convenor_and_announced():
    command = parse(schemas.CreateMeeting, {
        "node_id": "grid", "title": "三月议事会", "held_at": "2026-03-01T09:00:00Z",
        "attendees": [{"kind": "ORGANISATION", "organisation_id": "owners-committee"},
                      {"kind": "RESIDENT", "person_id": "resident-a", "name": "王阿姨"}]})
    fields, event = deliberation.new_meeting(CONVENOR, command, {"id": "grid", "path": GRID_PATH}, MOMENT)
    assert fields["state"] == "PROPOSED" and fields["convenor"] == "leader-1" and len(fields["attendees"]) == 2
    assert event["type"] == "civicgrid.tickets.meeting.created.v1"
    assert event["data"]["path"] == GRID_PATH and event["data"]["held_at"] == "2026-03-01T09:00:00.000000Z"


def test_an_attendee_names_a_person_or_an_organisation():
    with pytest.raises(Exception) as refused:
        parse(schemas.CreateMeeting, {"node_id": "grid", "title": "t", "held_at": "2026-03-01T09:00:00Z",
                                      "attendees": [{"kind": "ORGANISATION"}]})
    assert "organisation_id" in str(refused.value)


def test_the_procedure_goes_forward_one_step_at_a_time_to_its_end():
    current = with_item("PROPOSED", decision="ADOPTED")
    seen = [current["state"]]
    while current["state"] != "OUTCOME_PUBLISHED":
        following = deliberation.next_state(current, current["state"])
        changes, [event, *told] = deliberation.advanced(current, following, CONVENOR, "", MOMENT, [suggestion()])
        assert len(told) == (following == "DECISION_PUBLISHED")
        assert event["data"]["previous_state"] == current["state"] and event["data"]["state"] == following
        current = {**current, **changes}
        seen.append(following)
    assert tuple(seen) == deliberation.PROCEDURE and len(current["steps"]) == len(deliberation.PROCEDURE)
    with pytest.raises(FailedPrecondition):
        deliberation.next_state(current, None)


def test_advancing_from_a_state_the_meeting_has_left_is_refused():
    with pytest.raises(FailedPrecondition, match="not PROPOSED"):
        deliberation.next_state(with_item("DELIBERATION"), "PROPOSED")


def test_no_deliberation_without_an_agenda_and_no_publication_with_an_undecided_item():
    with pytest.raises(FailedPrecondition, match="agenda"):
        deliberation.next_state(meeting("COMMITTEE_REVIEW"), None)
    with pytest.raises(FailedPrecondition, match="undecided: s1"):
        deliberation.next_state(with_item("RESOLVED"), None)


def test_the_agenda_takes_open_suggestions_below_the_node_once_and_only_while_open():
    assert deliberation.agenda_item(meeting(), suggestion(followers=["b", "c"]))["supporters"] == 3
    for ticket, field in ((suggestion(kind="REQUEST"), "ticket_id"), (suggestion(path=["city", "elsewhere"]), "ticket_id"),
                          (suggestion(state="CLOSED"), "ticket_id"),
                          (suggestion(deliberated={"meeting_id": "m0", "decision": "REJECTED", "reason": "x"}),
                           "ticket_id")):
        with pytest.raises(InvalidArgument) as refused:
            deliberation.agenda_item(meeting(), ticket)
        assert refused.value.violations[0]["field"] == field
    with pytest.raises(AlreadyExists):
        deliberation.agenda_item(with_item("PROPOSED"), suggestion())
    with pytest.raises(FailedPrecondition):
        deliberation.agenda_item(meeting("DELIBERATION"), suggestion())


def test_suggested_agenda_puts_the_most_supported_first_and_leaves_out_what_was_decided():
    tickets = [suggestion("lonely", created="2026-01-01T00:00:00Z"), suggestion("popular", followers=["b", "c"]),
               suggestion("request", kind="REQUEST", followers=["b", "c", "d"]),
               suggestion("adopted", followers=["b"], deliberated={"meeting_id": "m", "decision": "ADOPTED",
                                                                   "reason": ""}),
               suggestion("referred", followers=["b"], deliberated={"meeting_id": "m", "decision": "REFERRED_UPWARD",
                                                                    "reason": "too big"})]
    items = deliberation.suggested(tickets, "grid")
    assert [(item["ticket_id"], item["supporters"]) for item in items] == [("popular", 3), ("referred", 2),
                                                                           ("lonely", 1)]


def test_only_the_convenor_or_community_staff_decide_and_only_while_deliberating():
    deliberation.require_decider(CONVENOR, meeting())
    deliberation.require_decider(COMMUNITY, meeting())
    with pytest.raises(PermissionDenied):
        deliberation.require_decider(OTHER_WORKER, meeting())
    with pytest.raises(FailedPrecondition):
        deliberation.decided(with_item("COMMITTEE_REVIEW"), "s1", "ADOPTED", "", CONVENOR, MOMENT)
    with pytest.raises(InvalidArgument):
        deliberation.decided(with_item("DELIBERATION"), "nope", "ADOPTED", "", CONVENOR, MOMENT)


def test_rejecting_needs_a_reason():
    with pytest.raises(Exception) as refused:
        parse(schemas.DecideAgendaItem, {"id": "m", "ticket_id": "s1", "decision": "REJECTED", "reason": "  "})
    assert "reason" in str(refused.value)


def test_a_decision_goes_on_the_suggestion_once():
    current = with_item("DELIBERATION")
    changes, [event] = deliberation.decided(current, "s1", "REJECTED", "no budget this year", CONVENOR, MOMENT)
    decided = {**current, **changes}
    assert deliberation.decided(decided, "s1", "REJECTED", "no budget this year", CONVENOR, MOMENT) is None
    assert event["data"]["decision"] == "REJECTED" and event["data"]["ticket_id"] == "s1"
    item = deliberation.item_of(decided, "s1")
    changes, [step] = deliberation.decision_step(suggestion(), decided, item)
    assert changes["deliberation"] == {"meeting_id": decided["_id"], "meeting_node_id": "grid", "decision": "REJECTED",
                                       "reason": "no budget this year"}
    assert step.action == "deliberated" and step.to_state == "SUBMITTED" and "no budget this year" in step.note
    assert deliberation.decision_step(suggestion(deliberated=changes["deliberation"]), decided, item) is None


def project_command(**overrides):
    return parse(schemas.CreateProject, {"meeting_id": "m", "ticket_id": "s1", "title": "增设晾衣架",
                                         "milestone_titles": ["选址", "安装"], **overrides})


def test_a_project_comes_only_from_an_adopted_and_published_item():
    fields, event = deliberation.new_project(CONVENOR, project_command(), with_item("DECISION_PUBLISHED",
                                                                                   decision="ADOPTED"), suggestion())
    assert fields["state"] == "ACTIVE" and [m["progress_percent"] for m in fields["milestones"]] == [0, 0]
    assert event["data"]["reporter_subject"] == "resident-a" and event["data"]["milestones"] == ["选址", "安装"]
    with pytest.raises(FailedPrecondition, match="published"):
        deliberation.new_project(CONVENOR, project_command(), with_item("RESOLVED", decision="ADOPTED"), suggestion())
    with pytest.raises(FailedPrecondition, match="REJECTED"):
        deliberation.new_project(CONVENOR, project_command(), with_item("DECISION_PUBLISHED", decision="REJECTED"),
                                 suggestion())


def active_project():
    fields, _ = deliberation.new_project(CONVENOR, project_command(), with_item("DECISION_PUBLISHED",
                                                                               decision="ADOPTED"), suggestion())
    return {**fields, "_id": fields.pop("id")}


def test_milestones_move_forward_and_tell_the_suggestion_s_supporters():
    project = active_project()
    ticket = suggestion(followers=["b", "c"])
    update = parse(schemas.UpdateMilestone, {"id": "p", "milestone_index": 1, "progress_percent": 60, "note": "过半"})
    changes, event = deliberation.milestone_updated(project, ticket, update, [], CONVENOR, MOMENT)
    assert changes["milestones"][1]["progress_percent"] == 60 and event["data"]["followers"] == ["b", "c"]
    project = {**project, **changes}
    for body, field in (({"milestone_index": 2, "progress_percent": 10}, "milestone_index"),
                        ({"milestone_index": 1, "progress_percent": 50}, "progress_percent")):
        with pytest.raises(InvalidArgument) as refused:
            deliberation.milestone_updated(project, ticket, parse(schemas.UpdateMilestone, {"id": "p", **body}),
                                           [], CONVENOR, MOMENT)
        assert refused.value.violations[0]["field"] == field


def test_completion_needs_every_milestone_done_and_resolves_the_open_suggestion():
    project = active_project()
    complete = parse(schemas.CompleteProject, {"id": "p", "outcome": "5 个晾衣架已投用"})
    with pytest.raises(FailedPrecondition, match="选址, 安装"):
        deliberation.completed(project, suggestion(), complete, CONVENOR, MOMENT)
    done = {**project, "milestones": [{**m, "progress_percent": 100} for m in project["milestones"]]}
    changes, event = deliberation.completed(done, suggestion(), complete, CONVENOR, MOMENT)
    assert changes["state"] == "COMPLETED" and event["data"]["outcome"] == "5 个晾衣架已投用"
    finished = {**done, **changes}
    ticket_changes, [step] = deliberation.completion_step(suggestion(state="TRIAGED"), finished, MOMENT)
    assert step.action == "resolved" and step.to_state == "RESOLVED" and "5 个晾衣架已投用" in ticket_changes["resolution"]
    assert deliberation.completion_step(suggestion(state="RESOLVED"), finished, MOMENT) is None
    with pytest.raises(FailedPrecondition):
        deliberation.completed(finished, suggestion(), complete, CONVENOR, MOMENT)


def photo(photo_id):
    return {"id": photo_id, "content_type": "image/png", "size": 10}


def test_a_milestone_keeps_the_photos_of_every_update_once_each_up_to_its_limit():
    project = active_project()
    update = parse(schemas.UpdateMilestone, {"id": "p", "milestone_index": 0, "progress_percent": 50})
    changes, event = deliberation.milestone_updated(project, suggestion(), update, [photo("a"), photo("b")],
                                                    CONVENOR, MOMENT)
    assert [p["id"] for p in changes["milestones"][0]["photos"]] == ["a", "b"] and event["data"]["photo_count"] == 2
    project = {**project, **changes}
    changes, event = deliberation.milestone_updated(project, suggestion(), update, [photo("b"), photo("c")],
                                                    CONVENOR, MOMENT)
    assert [p["id"] for p in changes["milestones"][0]["photos"]] == ["a", "b", "c"] and event["data"]["photo_count"] == 1
    full = {**project, "milestones": [{**project["milestones"][0], "photos": [
        photo(str(n)) for n in range(deliberation.PHOTOS_PER_MILESTONE)]}, project["milestones"][1]]}
    with pytest.raises(InvalidArgument) as refused:
        deliberation.milestone_updated(full, suggestion(), update, [photo("new")], CONVENOR, MOMENT)
    assert refused.value.violations[0]["field"] == "photos"


def completed_project(feedback=()):
    project = active_project()
    return {**project, "state": "COMPLETED", "feedback": list(feedback)}


def rating(satisfaction, comment=""):
    return parse(schemas.Feedback, {"id": "p", "satisfaction": satisfaction, "comment": comment})


def resident(subject):
    return Caller(subject=subject, tenant="t1", role="resident", scope=("flat",))


def test_every_supporter_rates_a_completed_project_once():
    ticket = suggestion(followers=["follower-b"])
    changes, event = deliberation.feedback_given(completed_project(), ticket, resident("follower-b"), rating(4, "好"),
                                                 MOMENT)
    assert changes["feedback"] == [{"subject": "follower-b", "satisfaction": 4, "comment": "好", "time": MOMENT}]
    assert event["type"] == "civicgrid.tickets.project.feedback_given.v1" and event["data"]["satisfaction"] == 4
    assert "comment" not in event["data"]
    rated = completed_project(changes["feedback"])
    assert deliberation.feedback_given(rated, ticket, resident("follower-b"), rating(4, "好"), MOMENT) is None
    with pytest.raises(AlreadyExists):
        deliberation.feedback_given(rated, ticket, resident("follower-b"), rating(2), MOMENT)
    changes, _ = deliberation.feedback_given(rated, ticket, resident("resident-a"), rating(5), MOMENT)
    assert [entry["subject"] for entry in changes["feedback"]] == ["follower-b", "resident-a"]


def test_only_supporters_rate_and_only_once_the_project_is_completed():
    ticket = suggestion(followers=["follower-b"])
    with pytest.raises(PermissionDenied):
        deliberation.feedback_given(completed_project(), ticket, resident("stranger"), rating(5), MOMENT)
    with pytest.raises(FailedPrecondition, match="ACTIVE"):
        deliberation.feedback_given(active_project(), ticket, resident("resident-a"), rating(5), MOMENT)


def test_a_resident_reads_ratings_in_sum_and_only_their_own_in_full():
    project = completed_project([{"subject": "a", "satisfaction": 5, "comment": "x", "time": MOMENT},
                                 {"subject": "b", "satisfaction": 2, "comment": "y", "time": MOMENT}])
    project["household_ids"] = ["h1"]
    as_staff = deliberation.project_as_read(project, CONVENOR)
    assert (as_staff["feedback_count"], as_staff["average_satisfaction"]) == (2, 3.5)
    assert len(as_staff["feedback"]) == 2 and as_staff["household_ids"] == ["h1"]
    as_b = deliberation.project_as_read(project, resident("b"))
    assert (as_b["feedback_count"], as_b["average_satisfaction"]) == (2, 3.5)
    assert [entry["comment"] for entry in as_b["feedback"]] == ["y"] and as_b["household_ids"] == []
    committee = Caller(subject="committee", tenant="t1", role="partner", scope=("community",))
    as_partner = deliberation.project_as_read(project, committee)
    assert (as_partner["feedback_count"], as_partner["feedback"], as_partner["household_ids"]) == (2, [], ["h1"])


def test_residents_read_only_published_meetings_of_their_own_grid_or_community_and_no_attendee_ids():
    home = [*GRID_PATH, "b1", "flat-1"]
    published = with_item("DECISION_PUBLISHED", decision="ADOPTED")
    assert deliberation.published_to(published, home)
    assert not deliberation.published_to(with_item("RESOLVED", decision="ADOPTED"), home)
    assert not deliberation.published_to(published, ["city", "community", "grid-2", "b9", "flat-9"])
    attended = {**published, "attendees": [{"kind": "RESIDENT", "person_id": "resident-a", "name": "王阿姨"}]}
    assert deliberation.meeting_as_read(attended, resident("r"))["attendees"] == [{"kind": "RESIDENT", "name": "王阿姨"}]
    assert deliberation.meeting_as_read(attended, CONVENOR) == attended


def test_the_outcome_waits_for_every_adopted_suggestion_and_project_to_be_done():
    current = with_item("DECISION_PUBLISHED", decision="ADOPTED")
    open_one = deliberation.unfinished_work(current, [suggestion()], [])
    assert open_one == ["Suggestion s1"]
    with pytest.raises(FailedPrecondition, match="Suggestion s1"):
        deliberation.next_state(current, current["state"], open_one)
    under_way = deliberation.unfinished_work(current, [suggestion(state="RESOLVED")],
                                             [{"title": "增设晾衣架", "state": "ACTIVE", "ticket_id": "s1"}])
    assert under_way == ["增设晾衣架"]
    assert deliberation.unfinished_work(current, [suggestion(state="CLOSED")],
                                        [{"title": "增设晾衣架", "state": "COMPLETED", "ticket_id": "s1"}]) == []
    assert deliberation.next_state(current, current["state"], []) == "OUTCOME_PUBLISHED"


def test_a_meeting_is_held_at_a_station_of_its_own_community_not_another():
    place = {"id": "grid", "path": GRID_PATH}
    deliberation.require_station_near({"node_id": "community", "path": ["city", "community"]}, place)
    deliberation.require_station_near({"node_id": "grid", "path": GRID_PATH}, place)
    with pytest.raises(InvalidArgument) as refused:
        deliberation.require_station_near({"node_id": "grid-9", "path": ["city", "community-9", "grid-9"]}, place)
    assert refused.value.violations[0]["field"] == "place_station_id"


DAY_MILLIS = 24 * 3600 * 1000
NOW_MILLIS = 1_780_000_000_000


def report(ticket_id, category="heating", building="b1", days_ago=1, kind="REQUEST", path=(*GRID_PATH, "b1", "f1")):
    moment = datetime.fromtimestamp((NOW_MILLIS - days_ago * DAY_MILLIS) / 1000, timezone.utc)
    return QueueIndex().entry_of({"_id": ticket_id, "tenant": "t1", "path": list(path), "building_id": building,
                                  "state": "CLOSED", "category_id": category, "kind": kind, "priority": "NORMAL",
                                  "create_time": moment, "queue_due": moment})


def recurring_among(*entries, node_id="grid"):
    return deliberation.recurring([entry for entry in entries
                                   if deliberation.recurring_below(node_id, NOW_MILLIS)(entry)])


def test_a_problem_recurs_when_one_category_is_reported_three_times_at_one_place_within_ninety_days():
    found = recurring_among(report("r1", days_ago=80), report("r2", days_ago=30), report("r3", days_ago=2),
                            report("x1", building="b2"), report("x2", building="b2"),
                            report("old", building="b2", days_ago=91), report("s", building="b2", kind="SUGGESTION"),
                            report("w1", category="water"), report("w2", category="water"))
    assert [(f["category_id"], f["place_id"], f["ticket_count"], f["ticket_ids"], f["latest_ticket_id"])
            for f in found] == [("heating", "b1", 3, ["r1", "r2", "r3"], "r3")]
    at_node = recurring_among(*(report(f"n{n}", building="", path=(*GRID_PATH,)) for n in range(4)))
    assert [(f["place_id"], f["ticket_count"]) for f in at_node] == [("grid", 4)]
    assert recurring_among(report("r1"), report("r2"), report("r3"), node_id="grid-2") == []


def test_a_recurring_problem_a_meeting_decided_is_not_suggested_again_and_its_report_joins_an_agenda():
    [found] = recurring_among(report("r1", days_ago=3), report("r2", days_ago=2), report("r3", days_ago=1))
    reports = {ticket_id: {"description": f"暖气不热 {ticket_id}"} for ticket_id in ("r1", "r2", "r3")}
    [shown] = deliberation.undecided_recurrences([found], reports)
    assert (shown["ticket_id"], shown["summary"], shown["ticket_count"]) == ("r3", "暖气不热 r3", 3)
    assert shown["first_create_time"] < shown["last_create_time"]
    decided = {**reports, "r1": {**reports["r1"], "deliberation": {"decision": "ADOPTED"}}}
    assert deliberation.undecided_recurrences([found], decided) == []

    ticket = suggestion("r3", kind="REQUEST", state="CLOSED")
    with pytest.raises(InvalidArgument, match="recurring"):
        deliberation.agenda_item(meeting(), ticket)
    item = deliberation.agenda_item(meeting(), ticket, found)
    assert (item["recurrences"], item["related_ticket_ids"]) == (3, ["r1", "r2"])


def test_an_adopted_recurring_problem_is_carried_out_by_a_completed_project():
    [found] = recurring_among(report("s1"), report("r2"), report("r3"))
    item = {**deliberation.agenda_item(meeting(), suggestion("s1", kind="REQUEST", state="CLOSED"), found),
            "decision": "ADOPTED"}
    current = meeting("DECISION_PUBLISHED", [item])
    closed = [suggestion("s1", kind="REQUEST", state="CLOSED")]
    assert deliberation.unfinished_work(current, closed, []) == ["Suggestion s1"]
    assert deliberation.unfinished_work(current, closed, [{"title": "换暖气管", "state": "COMPLETED",
                                                           "ticket_id": "s1"}]) == []


def test_a_suggestion_referred_upward_goes_to_a_meeting_above_not_to_another_at_its_level():
    referred = suggestion(deliberated={"meeting_id": "m0", "meeting_node_id": "grid", "decision": "REFERRED_UPWARD",
                                       "reason": "超出网格职权"})
    assert [item["ticket_id"] for item in deliberation.suggested([referred], "community")] == ["s1"]
    assert deliberation.suggested([referred], "grid") == []
    with pytest.raises(InvalidArgument, match="above"):
        deliberation.agenda_item(meeting(), referred)
    community_meeting = {**meeting(), "node_id": "community", "path": ["city", "community"]}
    assert deliberation.agenda_item(community_meeting, referred)["ticket_id"] == "s1"
    unplaced = suggestion(deliberated={"meeting_id": "m0", "decision": "REFERRED_UPWARD", "reason": ""})
    assert [item["ticket_id"] for item in deliberation.suggested([unplaced], "grid")] == ["s1"]
