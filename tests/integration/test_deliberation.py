"""Deliberation meetings (四议两公开) and the projects they adopt, through the real gateway: a
suggestion raised by several residents reaches a meeting's agenda, is adopted, becomes a project
with two milestones its supporters hear of and see photos of, closes with the reporter's feedback
and its supporters' ratings, and is published to the residents of the grid."""
import base64
from datetime import datetime, timezone

import grpc
import pytest

from tests.support.errors import field_violations, rpc_error
from tests.support.hierarchy import GRIDS, RESIDENTS
from tests.support.partners import organisation_grant, remove_partner_users
from tests.support.polling import eventually
from tests.support.town import TICKETS, Town

pytestmark = pytest.mark.integration

NOTIFICATIONS = "civicgrid.notifications.v1.Notifications"
MILESTONE_TITLE = "您关注的建议有新进展"
RESOLVED_TITLE = "您的诉求已办结"
CARRIED_OUT_TITLE = "您关注的建议已落实"
PUBLISHED_TITLE = "议事会决定已公开"
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==")


def call(client, method, **body):
    return client.call(f"{TICKETS}/{method}", body)


class Neighbourhood:
    """A town whose residents raise suggestions: Grandma Li's drying racks, followed by two
    neighbours, and a lone proposal to move the bins. Each signs in as a resident of the registry."""

    def __init__(self, platform, unique):
        self.town = town = Town(platform, unique, prefix="delib")
        self.bind(town.elder, "resident-li")
        self.category = town.operator.call(f"{TICKETS}/CreateCategory", {
            "request_id": f"{unique}-public", "name": "Public space", "group": "Community",
            "promises": [{"priority": "NORMAL", "first_response_minutes": 1440, "resolution_minutes": 43200}],
            "routing": {"assignee_kind": "GRID_WORKER"}})
        self.neighbours = [platform.client(tenant=town.tenant, role="resident", scope=(town.ids["FLAT"],),
                                           subject=subject) for subject in ("resident-wang", "resident-zhao")]
        for subject in ("resident-wang", "resident-zhao"):
            self.bind(town.operator.call(f"{RESIDENTS}/CreateResident", {
                "household_id": town.household["id"], "display_name": subject, "relation": "other",
                "birth_date": "1960-05-01"}), subject)
        self.racks = self.suggest("小区增设晾衣架")
        for neighbour in self.neighbours:
            call(neighbour, "FollowTicket", id=self.racks["id"])
        self.bins = self.suggest("把垃圾桶移到消防通道旁")
        self.leader = town.worker  # worker-1 convenes the grid's meetings

    def resident_at(self, parent_id, subject):
        """A new resident's sign-in, in a flat of their own below `parent_id` (a building, or a grid
        to build one in)."""
        operator, platform = self.town.operator, self.town.platform
        parent = operator.call(f"{GRIDS}/GetNode", {"id": parent_id})
        building_id = parent_id if parent["kind"] == "BUILDING" else operator.call(f"{GRIDS}/CreateNode", {
            "kind": "BUILDING", "display_name": f"{subject} 楼", "parent_id": parent_id})["id"]
        flat = operator.call(f"{GRIDS}/CreateFlat", {"building_id": building_id, "number": subject[-4:]})
        household = operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": flat["id"], "display_name": subject})
        self.bind(operator.call(f"{RESIDENTS}/CreateResident", {
            "household_id": household["id"], "display_name": subject, "relation": "head",
            "birth_date": "1970-01-01"}), subject)
        return platform.client(tenant=self.town.tenant, role="resident", scope=(flat["id"],), subject=subject)

    def bind(self, resident, subject):
        self.town.operator.call(f"{RESIDENTS}/BindResidentAccount", {"resident_id": resident["id"], "subject": subject})

    def suggest(self, description):
        return call(self.town.resident, "CreateTicket", kind="SUGGESTION", channel="SELF_SERVICE",
                    category_id=self.category["id"], node_id=self.town.ids["FLAT"], description=description)

    def meeting(self, **overrides):
        return call(self.leader, "CreateMeeting", **{
            "node_id": self.town.ids["GRID"], "title": "三月网格议事会", "held_at": "2026-03-15T01:30:00Z",
            "attendees": [{"kind": "STAFF", "person_id": "worker-1", "name": "网格长"},
                          {"kind": "RESIDENT", "person_id": "resident-li", "name": "李奶奶"},
                          {"kind": "ORGANISATION", "organisation_id": "owners-committee", "name": "业委会"}],
            **overrides})

    def advance(self, meeting, times=1):
        for _ in range(times):
            meeting = call(self.leader, "AdvanceMeeting", id=meeting["id"], from_state=meeting["state"])
        return meeting


@pytest.fixture
def hood(platform, unique):
    return Neighbourhood(platform, unique)


def inbox_titles(client):
    return [message["title"] for message in client.call(f"{NOTIFICATIONS}/ListInbox", {}).get("messages", [])]


def test_a_suggestion_several_residents_raised_is_adopted_carried_out_and_closed_with_feedback(hood):
    town = hood.town
    suggested = call(hood.leader, "SuggestAgenda", node_id=town.ids["GRID"])["items"]
    assert [(item["ticket_id"], item["supporters"]) for item in suggested] == [
        (hood.racks["id"], 3), (hood.bins["id"], 1)]

    meeting = hood.meeting()
    assert meeting["state"] == "PROPOSED" and meeting["convenor"] == "worker-1" and len(meeting["attendees"]) == 3
    for item in suggested:
        meeting = call(hood.leader, "AddAgendaItem", id=meeting["id"], ticket_id=item["ticket_id"])
    meeting = hood.advance(meeting, 2)
    assert meeting["state"] == "DELIBERATION"
    call(hood.leader, "DecideAgendaItem", id=meeting["id"], ticket_id=hood.racks["id"], decision="ADOPTED")
    meeting = call(hood.leader, "DecideAgendaItem", id=meeting["id"], ticket_id=hood.bins["id"], decision="REJECTED",
                   reason="会堵住消防通道")
    assert [(item["decision"], item.get("reason", "")) for item in meeting["agenda"]] == [
        ("ADOPTED", ""), ("REJECTED", "会堵住消防通道")]
    rejected = call(town.worker, "GetTicket", id=hood.bins["id"])
    assert rejected["deliberation"] == {"meeting_id": meeting["id"], "meeting_node_id": town.ids["GRID"],
                                        "decision": "REJECTED", "reason": "会堵住消防通道"}
    entry = rejected["timeline"][-1]
    assert entry["action"] == "deliberated" and "会堵住消防通道" in entry["note"]
    assert entry["details"] == {"meeting_id": meeting["id"], "decision": "REJECTED", "decision_reason": "会堵住消防通道"}
    assert [item["ticket_id"] for item in call(hood.leader, "SuggestAgenda", node_id=town.ids["GRID"]).get(
        "items", [])] == []

    call(hood.leader, "RecordMinutes", id=meeting["id"], minutes="到会 12 人，一致同意增设晾衣架。")
    meeting = hood.advance(meeting, 2)
    assert meeting["state"] == "DECISION_PUBLISHED" and meeting["minutes"].startswith("到会 12 人")

    def decisions_told(client):
        return sorted(message["body"] for message in client.call(f"{NOTIFICATIONS}/ListInbox", {}).get("messages", [])
                      if message["title"] == PUBLISHED_TITLE)
    assert eventually(lambda: len(decisions_told(town.resident)) == 2), decisions_told(town.resident)
    adopted_told, rejected_told = sorted(decisions_told(town.resident), key=lambda body: "会堵住消防通道" in body)
    assert adopted_told.endswith("议定：通过。") and "议定：未通过。会堵住消防通道" in rejected_told
    assert eventually(lambda: decisions_told(hood.neighbours[0]) == [adopted_told])
    assert [step["state"] for step in meeting["steps"]] == [
        "PROPOSED", "COMMITTEE_REVIEW", "DELIBERATION", "RESOLVED", "DECISION_PUBLISHED"]

    not_adopted = rpc_error(lambda: call(hood.leader, "CreateProject", meeting_id=meeting["id"],
                                         ticket_id=hood.bins["id"], title="移桶", milestone_titles=["移动"]))
    assert not_adopted.code() == grpc.StatusCode.FAILED_PRECONDITION
    project = call(hood.leader, "CreateProject", request_id="racks-project", meeting_id=meeting["id"],
                   ticket_id=hood.racks["id"], title="增设晾衣架", budget_line="社区惠民资金",
                   milestone_titles=["选址公示", "安装"], household_ids=[town.household["id"]])
    assert project["state"] == "ACTIVE" and [m["title"] for m in project["milestones"]] == ["选址公示", "安装"]
    assert call(hood.leader, "CreateProject", request_id="racks-project", meeting_id=meeting["id"],
                ticket_id=hood.racks["id"], title="again", milestone_titles=["x"])["id"] == project["id"]

    call(hood.leader, "UpdateMilestone", id=project["id"], milestone_index=0, progress_percent=100, note="位置已公示")
    photo = {"content_type": "image/png", "data": base64.b64encode(PNG).decode()}
    installed = call(hood.leader, "UpdateMilestone", id=project["id"], milestone_index=1, progress_percent=100,
                     note="5 个已安装", photos=[photo])
    [reference] = installed["milestones"][1]["photos"]
    for resident in (town.resident, *hood.neighbours):
        assert eventually(lambda: inbox_titles(resident).count(MILESTONE_TITLE) == 2), inbox_titles(resident)
    early = rpc_error(lambda: hood.advance(meeting))
    assert early.code() == grpc.StatusCode.FAILED_PRECONDITION and "增设晾衣架" in early.details()

    completed = call(hood.leader, "CompleteProject", id=project["id"], outcome="5 个晾衣架已投入使用")
    assert completed["state"] == "COMPLETED" and completed["complete_time"]
    racks = call(town.worker, "GetTicket", id=hood.racks["id"])
    assert racks["state"] == "RESOLVED" and "5 个晾衣架已投入使用" in racks["resolution"]
    for resident in (town.resident, *hood.neighbours):
        assert eventually(lambda: {RESOLVED_TITLE, CARRIED_OUT_TITLE} <= set(inbox_titles(resident))), \
            inbox_titles(resident)
    feedback = call(town.resident, "SubmitTicketFeedback", id=hood.racks["id"], satisfaction=5, comment="晾被子方便了")
    assert feedback["state"] == "FEEDBACK"
    for resident, satisfaction in zip(hood.neighbours, (4, 3)):
        rated = call(resident, "SubmitProjectFeedback", id=project["id"], satisfaction=satisfaction, comment="不错")
        assert [entry["satisfaction"] for entry in rated["feedback"]] == [satisfaction]
    as_staff = call(hood.leader, "GetProject", id=project["id"])
    assert (as_staff["feedback_count"], as_staff["average_satisfaction"], len(as_staff["feedback"])) == (2, 3.5, 2)
    shown = call(hood.neighbours[0], "GetProjectPhoto", project_id=project["id"], photo_id=reference["id"])
    assert base64.b64decode(shown["data"]) == PNG

    meeting = hood.advance(meeting)
    assert meeting["state"] == "OUTCOME_PUBLISHED"
    over = rpc_error(lambda: hood.advance(meeting))
    assert over.code() == grpc.StatusCode.FAILED_PRECONDITION
    listed = call(hood.leader, "ListMeetings", node_id=town.ids["GRID"])["meetings"]
    assert [m["id"] for m in listed] == [meeting["id"]]
    assert [p["id"] for p in call(town.operator, "ListProjects", node_id=town.ids["COMMUNITY"])["projects"]] == [
        project["id"]]


def test_residents_read_what_their_grid_published_and_supporters_rate_its_project(platform, hood):
    """两公开: a meeting's decision and outcome are published to the residents of its grid, who
    read them without who attended by id or which households a project touches."""
    town = hood.town
    meeting = hood.meeting()
    meeting = call(hood.leader, "AddAgendaItem", id=meeting["id"], ticket_id=hood.racks["id"])
    meeting = hood.advance(meeting, 2)
    call(hood.leader, "DecideAgendaItem", id=meeting["id"], ticket_id=hood.racks["id"], decision="ADOPTED")
    meeting = hood.advance(meeting)
    unpublished = rpc_error(lambda: call(town.resident, "GetMeeting", id=meeting["id"]))
    assert unpublished.code() == grpc.StatusCode.NOT_FOUND
    assert call(town.resident, "ListMeetings").get("meetings", []) == []
    meeting = hood.advance(meeting)
    project = call(hood.leader, "CreateProject", meeting_id=meeting["id"], ticket_id=hood.racks["id"],
                   title="增设晾衣架", milestone_titles=["安装"], household_ids=[town.household["id"]])

    read = call(town.resident, "GetMeeting", id=meeting["id"])
    assert read["state"] == "DECISION_PUBLISHED" and read["agenda"][0]["decision"] == "ADOPTED"
    assert [attendee.get("person_id") for attendee in read["attendees"]] == [None, None, None]
    assert [m["id"] for m in call(town.resident, "ListMeetings", node_id=town.ids["GRID"])["meetings"]] == [
        meeting["id"]]
    [listed] = call(town.resident, "ListProjects")["projects"]
    assert listed["id"] == project["id"] and "household_ids" not in listed
    not_yet = rpc_error(lambda: call(town.resident, "SubmitProjectFeedback", id=project["id"], satisfaction=5))
    assert not_yet.code() == grpc.StatusCode.FAILED_PRECONDITION

    other_grid = town.operator.call(f"{GRIDS}/CreateNode", {"kind": "GRID", "display_name": "二网格",
                                                            "parent_id": town.ids["COMMUNITY"]})
    far_away = hood.resident_at(other_grid["id"], "resident-sun")
    assert rpc_error(lambda: call(far_away, "GetProject", id=project["id"])).code() == grpc.StatusCode.NOT_FOUND
    assert call(far_away, "ListMeetings").get("meetings", []) == []
    qian = hood.resident_at(town.ids["BUILDING"], "resident-qian")
    assert call(qian, "GetProject", id=project["id"])["id"] == project["id"]
    call(hood.leader, "UpdateMilestone", id=project["id"], milestone_index=0, progress_percent=100)
    call(hood.leader, "CompleteProject", id=project["id"], outcome="已安装")
    not_a_supporter = rpc_error(lambda: call(qian, "SubmitProjectFeedback", id=project["id"], satisfaction=1))
    assert not_a_supporter.code() == grpc.StatusCode.PERMISSION_DENIED
    rated = call(town.resident, "SubmitProjectFeedback", id=project["id"], satisfaction=5, comment="好")
    assert call(town.resident, "SubmitProjectFeedback", id=project["id"], satisfaction=5, comment="好") == rated
    again = rpc_error(lambda: call(town.resident, "SubmitProjectFeedback", id=project["id"], satisfaction=2))
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS
    out_of_range = rpc_error(lambda: call(town.resident, "SubmitProjectFeedback", id=project["id"], satisfaction=6))
    assert field_violations(out_of_range) == ["satisfaction"]
    assert call(qian, "GetProject", id=project["id"])["feedback_count"] == 1
    assert "feedback" not in call(qian, "GetProject", id=project["id"])


def test_a_meeting_is_held_at_a_station_of_its_own_community(hood):
    operator = hood.town.operator
    station = operator.call(f"{GRIDS}/CreateStation", {"node_id": hood.town.ids["COMMUNITY"], "display_name": "党群服务站"})
    assert hood.meeting(place_station_id=station["id"])["place_station_id"] == station["id"]
    other_community = operator.call(f"{GRIDS}/CreateNode", {"kind": "COMMUNITY", "display_name": "东社区",
                                                            "parent_id": hood.town.ids["STREET"]})
    theirs = operator.call(f"{GRIDS}/CreateStation", {"node_id": other_community["id"], "display_name": "别处"})
    for station_id in (theirs["id"], "no-such-station"):
        refused = rpc_error(lambda: hood.meeting(place_station_id=station_id))
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(refused) == ["place_station_id"]


def test_bad_input_out_of_order_steps_and_roles_are_refused(hood):
    town = hood.town
    resident_made = rpc_error(lambda: call(town.resident, "CreateMeeting", node_id=town.ids["GRID"], title="t",
                                           held_at="2026-03-15T01:30:00Z"))
    assert resident_made.code() == grpc.StatusCode.PERMISSION_DENIED
    untitled = rpc_error(lambda: hood.meeting(title=""))
    assert untitled.code() == grpc.StatusCode.INVALID_ARGUMENT and "title" in field_violations(untitled)
    nameless = rpc_error(lambda: hood.meeting(attendees=[{"kind": "ORGANISATION"}]))
    assert "attendees.0.organisation_id" in field_violations(nameless)

    meeting = hood.meeting()
    empty = rpc_error(lambda: hood.advance(meeting, 2))
    assert empty.code() == grpc.StatusCode.FAILED_PRECONDITION
    request = town.report(description="The radiator is cold")
    not_a_suggestion = rpc_error(lambda: call(hood.leader, "AddAgendaItem", id=meeting["id"], ticket_id=request["id"]))
    assert "ticket_id" in field_violations(not_a_suggestion)
    meeting = call(hood.leader, "AddAgendaItem", id=meeting["id"], ticket_id=hood.bins["id"])
    too_early = rpc_error(lambda: call(hood.leader, "DecideAgendaItem", id=meeting["id"], ticket_id=hood.bins["id"],
                                       decision="ADOPTED"))
    assert too_early.code() == grpc.StatusCode.FAILED_PRECONDITION
    moved_on = hood.advance(meeting)
    stale = rpc_error(lambda: call(hood.leader, "AdvanceMeeting", id=meeting["id"], from_state="PROPOSED"))
    assert stale.code() == grpc.StatusCode.FAILED_PRECONDITION
    deliberating = hood.advance(moved_on)

    without_reason = rpc_error(lambda: call(hood.leader, "DecideAgendaItem", id=deliberating["id"],
                                            ticket_id=hood.bins["id"], decision="REJECTED"))
    assert without_reason.code() == grpc.StatusCode.INVALID_ARGUMENT and field_violations(without_reason) == ["reason"]
    not_convenor = rpc_error(lambda: call(town.other_worker, "DecideAgendaItem", id=deliberating["id"],
                                          ticket_id=hood.bins["id"], decision="ADOPTED"))
    assert not_convenor.code() == grpc.StatusCode.PERMISSION_DENIED
    unpublished = rpc_error(lambda: hood.advance(deliberating, 2))
    assert unpublished.code() == grpc.StatusCode.FAILED_PRECONDITION and hood.bins["id"] in unpublished.details()
    assert rpc_error(lambda: call(town.resident, "GetMeeting", id=meeting["id"])).code() == \
        grpc.StatusCode.NOT_FOUND


def test_the_owners_committee_follows_its_compound_s_meetings(platform, unique, hood):
    town = hood.town
    committee = platform.client(tenant=town.tenant, role="partner", scope=(town.ids["COMMUNITY"],),
                                subject=f"committee-{unique}",
                                grants=organisation_grant(town.operator, town.ids["COMMUNITY"], "OWNERS_COMMITTEE"))
    try:
        committee.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
            "request_id": f"{unique}-meetings", "scope_node_ids": [town.ids["GRID"]],
            "event_types": ["civicgrid.tickets.meeting.created.v1", "civicgrid.tickets.meeting.advanced.v1",
                            "civicgrid.tickets.meeting.item_decided.v1"]})
        meeting = hood.meeting()
        meeting = call(hood.leader, "AddAgendaItem", id=meeting["id"], ticket_id=hood.racks["id"])
        hood.advance(meeting)

        def types_read():
            events = committee.call(f"{NOTIFICATIONS}/ListPartnerEvents", {"from_position": 0}).get("events", [])
            return [event["type"].split(".")[-2] for event in events]
        assert eventually(lambda: types_read() == ["created", "advanced"], timeout=20), types_read()
        assert call(committee, "GetMeeting", id=meeting["id"])["state"] == "COMMITTEE_REVIEW"
        elsewhere = Town(platform, f"{unique}x", prefix="delibx")
        stranger = platform.client(tenant=town.tenant, role="partner", scope=(elsewhere.ids["COMMUNITY"],),
                                   subject="stranger", grants=("org:someone",))
        assert rpc_error(lambda: call(stranger, "GetMeeting", id=meeting["id"])).code() == grpc.StatusCode.NOT_FOUND
    finally:
        remove_partner_users(platform)


def test_a_repeat_finishes_a_completion_a_crash_left_halfway(platform, hood):
    meeting = hood.meeting()
    meeting = call(hood.leader, "AddAgendaItem", id=meeting["id"], ticket_id=hood.racks["id"])
    meeting = hood.advance(meeting, 2)
    call(hood.leader, "DecideAgendaItem", id=meeting["id"], ticket_id=hood.racks["id"], decision="ADOPTED")
    meeting = hood.advance(meeting, 2)
    project = call(hood.leader, "CreateProject", meeting_id=meeting["id"], ticket_id=hood.racks["id"],
                   title="增设晾衣架", milestone_titles=["安装"])
    call(hood.leader, "UpdateMilestone", id=project["id"], milestone_index=0, progress_percent=100)
    # The project's write landed; the call ended before the suggestion was resolved.
    platform.database("tickets").projects.update_one({"_id": project["id"]}, {"$set": {
        "state": "COMPLETED", "outcome": "已安装", "complete_time": datetime.now(timezone.utc)}})
    assert call(hood.town.worker, "GetTicket", id=hood.racks["id"])["state"] != "RESOLVED"

    for _ in range(2):  # the repeat resolves it; one more changes nothing
        completed = call(hood.leader, "CompleteProject", id=project["id"], outcome="已安装")
        assert completed["state"] == "COMPLETED"
        racks = call(hood.town.worker, "GetTicket", id=hood.racks["id"])
        assert racks["state"] == "RESOLVED" and "已安装" in racks["resolution"]
        assert [entry["action"] for entry in racks["timeline"]].count("resolved") == 1


def test_a_problem_reported_again_and_again_is_deliberated_and_carried_out_by_a_project(hood):
    town = hood.town
    reports = [town.report(description=f"暖气不热，第{n}次反映") for n in (1, 2, 3)]
    suggested = call(hood.leader, "SuggestAgenda", node_id=town.ids["GRID"])
    [recurring] = suggested["recurring"]
    assert (recurring["ticket_id"], recurring["ticket_count"], recurring["place_id"], recurring["category_id"]) == (
        reports[-1]["id"], 3, town.ids["BUILDING"], town.category["id"])
    assert recurring["ticket_ids"] == [report["id"] for report in reports] and "第3次" in recurring["summary"]
    lone = town.report(category_id=hood.category["id"], description="路灯坏了", extra={})
    lone_refused = rpc_error(lambda: call(hood.leader, "AddAgendaItem", id=hood.meeting()["id"], ticket_id=lone["id"]))
    assert field_violations(lone_refused) == ["ticket_id"]

    meeting = call(hood.leader, "AddAgendaItem", id=hood.meeting()["id"], ticket_id=recurring["ticket_id"])
    [item] = meeting["agenda"]
    assert (item["recurrences"], item["related_ticket_ids"]) == (3, [report["id"] for report in reports[:2]])
    meeting = hood.advance(meeting, 2)
    call(hood.leader, "DecideAgendaItem", id=meeting["id"], ticket_id=recurring["ticket_id"], decision="ADOPTED")
    meeting = hood.advance(meeting, 2)
    assert call(hood.leader, "SuggestAgenda", node_id=town.ids["GRID"]).get("recurring", []) == []
    waiting = rpc_error(lambda: hood.advance(meeting))
    assert waiting.code() == grpc.StatusCode.FAILED_PRECONDITION and "第3次" in waiting.details()

    project = call(hood.leader, "CreateProject", meeting_id=meeting["id"], ticket_id=recurring["ticket_id"],
                   title="更换楼内暖气主管", milestone_titles=["施工"])
    call(hood.leader, "UpdateMilestone", id=project["id"], milestone_index=0, progress_percent=100)
    call(hood.leader, "CompleteProject", id=project["id"], outcome="主管已更换")
    assert hood.advance(meeting)["state"] == "OUTCOME_PUBLISHED"
    latest = call(town.worker, "GetTicket", id=recurring["ticket_id"])
    assert latest["deliberation"]["decision"] == "ADOPTED" and latest["state"] == "RESOLVED"


def test_a_suggestion_referred_upward_reaches_the_community_meeting_not_the_next_grid_one(hood):
    town = hood.town
    meeting = call(hood.leader, "AddAgendaItem", id=hood.meeting()["id"], ticket_id=hood.bins["id"])
    meeting = hood.advance(meeting, 2)
    call(hood.leader, "DecideAgendaItem", id=meeting["id"], ticket_id=hood.bins["id"], decision="REFERRED_UPWARD",
         reason="涉及消防通道，提交社区议事会")

    def suggested_at(node_id):
        return [item["ticket_id"] for item in call(town.operator, "SuggestAgenda", node_id=node_id).get("items", [])]
    assert hood.bins["id"] not in suggested_at(town.ids["GRID"])
    assert hood.bins["id"] in suggested_at(town.ids["COMMUNITY"])
    next_grid_meeting = hood.meeting(title="四月网格议事会")
    refused = rpc_error(lambda: call(hood.leader, "AddAgendaItem", id=next_grid_meeting["id"],
                                     ticket_id=hood.bins["id"]))
    assert field_violations(refused) == ["ticket_id"]
    community_meeting = call(town.operator, "CreateMeeting", node_id=town.ids["COMMUNITY"], title="社区议事会",
                             held_at="2026-04-20T01:30:00Z")
    taken_up = call(town.operator, "AddAgendaItem", id=community_meeting["id"], ticket_id=hood.bins["id"])
    assert [item["ticket_id"] for item in taken_up["agenda"]] == [hood.bins["id"]]
