"""Polls through the real gateway, RabbitMQ and FerretDB: a poll to one building counts one
answer per household, refuses a second one and residents of another building, keeps results from
residents until it closes and who chose what from everyone unless it is public."""
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from console.app import create_app
from console.settings import ConsoleSettings
from services.settings import PollSettings
from tests.support.errors import field_violations, rpc_error
from tests.support.events import EventTap, publish_again
from tests.support.hierarchy import GRIDS, RESIDENTS, add_residents, build_hierarchy
from tests.support.partners import organisation_grant, remove_partner_users
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
NOTIFICATIONS = "civicgrid.notifications.v1.Notifications"
OPENED = "civicgrid.notifications.poll.opened.v1"
ANSWERED = "civicgrid.notifications.poll.answered.v1"
CLOSED = "civicgrid.notifications.poll.closed.v1"
QUESTIONS = [{"text": "是否同意制定养犬公约？", "kind": "SINGLE_CHOICE",
              "choices": [{"label": "同意"}, {"label": "反对"}, {"label": "弃权"}]},
             {"text": "希望增设哪些设施？", "kind": "MULTIPLE_CHOICE",
              "choices": [{"label": "充电桩"}, {"label": "晾衣架"}, {"label": "长椅"}]}]


@pytest.fixture(scope="module", autouse=True)
def partner_users(platform):
    yield
    remove_partner_users(platform)


@pytest.fixture
def poll_tap(platform):
    events = EventTap(platform.amqp_uri, ["notifications"])
    yield events
    events.close()


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def in_hours(hours):
    return rfc3339(datetime.now(timezone.utc) + timedelta(hours=hours))


def answers(first, *second):
    return [{"question_id": "q1", "choice_ids": [first]}, {"question_id": "q2", "choice_ids": list(second)}]


class Compound:
    """A building with two households of two residents each, a building beside it with one, every
    resident's sign-in bound in the registry, and the community's staff."""

    def __init__(self, platform, unique):
        self.tenant = f"poll-{unique}"
        self.operator = platform.client(tenant=self.tenant)
        self.ids = build_hierarchy(self.operator, unique)
        second_flat = self.operator.call(f"{GRIDS}/CreateFlat", {"building_id": self.ids["BUILDING"], "number": "302"})
        next_door = self.operator.call(f"{GRIDS}/CreateNode", {"kind": "BUILDING", "display_name": "2号楼",
                                                               "parent_id": self.ids["GRID"]})
        next_door_flat = self.operator.call(f"{GRIDS}/CreateFlat", {"building_id": next_door["id"], "number": "101"})
        self.ids["NEXT_DOOR"] = next_door["id"]
        first = add_residents(self.operator, self.ids["FLAT"], unique, [["elderly"], []])
        self.first_records = first
        self.first_ids = [record["id"] for record in first]
        self.first = [self.resident(platform, record) for record in first]
        self.second = [self.resident(platform, r) for r in add_residents(self.operator, second_flat["id"], unique,
                                                                         [[], []])]
        neighbour = add_residents(self.operator, next_door_flat["id"], unique, [[]])[0]
        self.neighbours_household = neighbour["household_id"]
        self.neighbour = self.resident(platform, neighbour)
        self.staff = platform.client(tenant=self.tenant, role="community_staff", scope=(self.ids["COMMUNITY"],),
                                     subject=f"staff-{unique}")

    def resident(self, platform, record):
        """The resident's own gateway, signed in as the registry binds them."""
        self.operator.call(f"{RESIDENTS}/BindResidentAccount", {"resident_id": record["id"], "subject": record["id"]})
        return platform.client(tenant=self.tenant, role="resident", scope=(), subject=record["id"],
                               household_id=record["household_id"])

    def addressed(self):
        """The residents of the building, whom a poll to the building asks."""
        return [*self.first, *self.second]

    def poll(self, unique, **overrides):
        return self.staff.call(f"{NOTIFICATIONS}/CreatePoll", {
            "request_id": f"{unique}-dogs", "audience": {"node_id": self.ids["BUILDING"]}, "title": "养犬公约征求意见",
            "description": "请每户表达意见", "questions": QUESTIONS, "per": "HOUSEHOLD", "closes_at": in_hours(2),
            **overrides})


@pytest.fixture
def compound(platform, unique):
    return Compound(platform, unique)


def test_a_building_poll_counts_one_answer_per_household_and_publishes_results_when_closed(compound, unique,
                                                                                           poll_tap):
    poll = compound.poll(unique)
    assert (poll["state"], poll["per"], poll["recipient_count"]) == ("OPEN", "HOUSEHOLD", 4)
    assert [q["id"] for q in poll["questions"]] == ["q1", "q2"] and poll["questions"][0]["choices"][1] == \
        {"id": "c2", "label": "反对"}
    assert compound.poll(unique)["id"] == poll["id"]
    reader = compound.first[1]
    told = eventually(lambda: reader.call(f"{NOTIFICATIONS}/ListInbox", {}).get("messages"))
    assert [(m["poll_id"], m["title"]) for m in told] == [(poll["id"], "问卷调查：养犬公约征求意见")]

    poll_id = poll["id"]
    first = compound.first[0].call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll_id, "answers": answers("c1", "c1", "c3")})
    assert first["poll_id"] == poll_id and first["household_id"] and "resident_id" not in first
    again = compound.first[0].call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll_id, "answers": answers("c1", "c1", "c3")})
    assert again["create_time"] == first["create_time"]
    second_answer = rpc_error(lambda: compound.first[1].call(f"{NOTIFICATIONS}/AnswerPoll", {
        "id": poll_id, "answers": answers("c2", "c2")}))
    assert second_answer.code() == grpc.StatusCode.ALREADY_EXISTS and "household" in second_answer.details()
    compound.second[1].call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll_id, "answers": answers("c2", "c1")})

    for refused in (lambda: compound.neighbour.call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll_id,
                                                                                      "answers": answers("c1", "c1")}),
                    lambda: compound.neighbour.call(f"{NOTIFICATIONS}/GetPoll", {"id": poll_id})):
        assert rpc_error(refused).code() == grpc.StatusCode.NOT_FOUND
    assert compound.neighbour.call(f"{NOTIFICATIONS}/ListPolls", {}) == {}
    mine = compound.first[1].call(f"{NOTIFICATIONS}/ListPolls", {})["polls"]
    assert [(p["id"], p.get("answered", False)) for p in mine] == [(poll_id, True)]
    assert compound.second[0].call(f"{NOTIFICATIONS}/GetPoll", {"id": poll_id})["answered"] is True

    hidden = rpc_error(lambda: reader.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll_id}))
    assert hidden.code() == grpc.StatusCode.PERMISSION_DENIED
    live = compound.staff.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll_id})
    assert live["state"] == "OPEN" and live["answer_count"] == 2 and "answers" not in live
    assert [[c.get("count", 0) for c in q["choices"]] for q in live["questions"]] == [[1, 1, 0], [2, 0, 1]]

    closed = compound.staff.call(f"{NOTIFICATIONS}/ClosePoll", {"id": poll_id})
    assert closed["state"] == "CLOSED"
    late = rpc_error(lambda: compound.first[1].call(f"{NOTIFICATIONS}/AnswerPoll", {
        "id": poll_id, "answers": answers("c3", "c2")}))
    assert late.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert rpc_error(lambda: compound.staff.call(f"{NOTIFICATIONS}/ClosePoll", {"id": poll_id})).code() == \
        grpc.StatusCode.FAILED_PRECONDITION
    published = reader.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll_id})
    assert published["state"] == "CLOSED" and published["answer_count"] == 2 and "answers" not in published
    assert compound.poll(unique, closes_at=in_hours(-1))["state"] == "CLOSED"

    events = poll_tap.drain(compound.tenant, {OPENED: 1, ANSWERED: 2, CLOSED: 1})
    by_type = {kind: [e["data"] for e in events if e["type"] == kind] for kind in (OPENED, ANSWERED, CLOSED)}
    assert by_type[OPENED][0]["questions"][0]["choices"][0] == {"id": "c1", "label": "同意"}
    assert all((a["household_id"], a["resident_id"], a["answers"]) == ("", "", []) for a in by_type[ANSWERED])
    assert by_type[CLOSED][0]["answer_count"] == 2
    assert [c["count"] for c in by_type[CLOSED][0]["results"][0]["choices"]] == [1, 1, 0]
    assert all(compound.ids["BUILDING"] in data["path"] for found in by_type.values() for data in found)


def test_a_public_poll_per_resident_shows_who_chose_what(compound, unique, poll_tap):
    poll = compound.poll(unique, request_id=f"{unique}-public", per="RESIDENT", public=True,
                         audience={"node_id": compound.ids["GRID"], "tags": ["elderly"]})
    assert poll["recipient_count"] == 1 and poll["public"] is True
    elder = compound.first[0]
    elder.call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll["id"], "answers": answers("c3", "c2")})
    untagged = rpc_error(lambda: compound.first[1].call(f"{NOTIFICATIONS}/AnswerPoll", {
        "id": poll["id"], "answers": answers("c1", "c1")}))
    assert untagged.code() == grpc.StatusCode.NOT_FOUND
    compound.staff.call(f"{NOTIFICATIONS}/ClosePoll", {"id": poll["id"]})
    shown = elder.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll["id"]})
    assert [(a["resident_id"], a["answers"]) for a in shown["answers"]] == [(compound.first_ids[0],
                                                                            answers("c3", "c2"))]
    answered = poll_tap.drain(compound.tenant, {ANSWERED: 1})
    assert [e["data"]["answers"] for e in answered if e["type"] == ANSWERED] == [answers("c3", "c2")]


def test_bad_polls_and_answers_are_refused_naming_the_field(platform, compound, unique):
    now = datetime.now(timezone.utc)
    refusals = {
        "closes_at": {"opens_at": rfc3339(now + timedelta(hours=3)), "closes_at": rfc3339(now + timedelta(hours=1))},
        "questions.0.choices": {"questions": [{"text": "?", "kind": "SINGLE_CHOICE", "choices": []}]},
        "questions": {"questions": []},
        "per": {"per": "ANSWER_PER_UNSPECIFIED"},
    }
    for field, overrides in refusals.items():
        error = rpc_error(lambda: compound.poll(unique, request_id=f"{unique}-{field}", **overrides))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field in field_violations(error), field
    past = rpc_error(lambda: compound.poll(unique, request_id=f"{unique}-past", closes_at=rfc3339(now - timedelta(1))))
    assert "closes_at" in field_violations(past)
    other_grid = compound.operator.call(f"{GRIDS}/CreateNode", {"kind": "GRID", "display_name": "第9网格",
                                                                "parent_id": compound.ids["COMMUNITY"]})
    elsewhere = platform.client(tenant=compound.tenant, role="grid_worker", scope=(other_grid["id"],))
    out_of_scope = rpc_error(lambda: elsewhere.call(f"{NOTIFICATIONS}/CreatePoll", {
        "audience": {"node_id": compound.ids["BUILDING"]}, "title": "x", "questions": QUESTIONS, "per": "HOUSEHOLD",
        "closes_at": in_hours(1)}))
    assert out_of_scope.code() == grpc.StatusCode.NOT_FOUND and "audience.node_id" in field_violations(out_of_scope)

    poll = compound.poll(unique)
    wrong_choice = rpc_error(lambda: compound.first[0].call(f"{NOTIFICATIONS}/AnswerPoll", {
        "id": poll["id"], "answers": answers("c9", "c1")}))
    assert wrong_choice.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(wrong_choice) == ["answers.0.choice_ids"]
    two_for_one = rpc_error(lambda: compound.first[0].call(f"{NOTIFICATIONS}/AnswerPoll", {
        "id": poll["id"], "answers": [answers("c1", "c1")[0], {"question_id": "q2", "choice_ids": []}]}))
    assert field_violations(two_for_one) == ["answers.1.choice_ids"]
    assert compound.staff.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll["id"]}).get("answer_count", 0) == 0


def test_an_owners_committee_follows_its_compounds_polls(platform, compound, unique):
    grants = organisation_grant(compound.operator, compound.ids["GRID"], "OWNERS_COMMITTEE")
    committee = platform.client(tenant=compound.tenant, role="partner", scope=(compound.ids["COMMUNITY"],),
                                subject=f"committee-{unique}", grants=grants)
    committee.call(f"{NOTIFICATIONS}/CreatePartnerSubscription", {
        "request_id": f"{unique}-committee", "event_types": [OPENED, ANSWERED, CLOSED],
        "scope_node_ids": [compound.ids["BUILDING"]]})
    poll = compound.poll(unique, request_id=f"{unique}-committee-poll")
    compound.first[0].call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll["id"], "answers": answers("c1", "c2")})
    compound.staff.call(f"{NOTIFICATIONS}/ClosePoll", {"id": poll["id"]})

    def followed():
        seen = committee.call(f"{NOTIFICATIONS}/ListPartnerEvents", {}).get("events", [])
        return [e["type"] for e in seen if e["data"]["id"] == poll["id"]] == [OPENED, ANSWERED, CLOSED] and seen
    seen = eventually(followed, timeout=20)
    closed = next(e for e in seen if e["type"] == CLOSED)
    assert closed["data"]["title"] == "养犬公约征求意见" and closed["data"]["answer_count"] == 1


def test_a_scheduled_poll_opens_and_closes_by_its_times(compound, unique, poll_tap):
    """Opening and closing are announced by the service's timer, once each, with no call."""
    now = datetime.now(timezone.utc)
    poll = compound.poll(unique, request_id=f"{unique}-scheduled", opens_at=rfc3339(now + timedelta(seconds=3)),
                         closes_at=rfc3339(now + timedelta(seconds=8)))
    assert poll["state"] == "DRAFT"
    resident = compound.second[0]
    assert rpc_error(lambda: resident.call(f"{NOTIFICATIONS}/GetPoll", {"id": poll["id"]})).code() == \
        grpc.StatusCode.NOT_FOUND
    opened = poll_tap.drain(compound.tenant, {OPENED: 1}, timeout=20)
    assert [e["data"]["id"] for e in opened if e["type"] == OPENED] == [poll["id"]]
    resident.call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll["id"], "answers": answers("c2", "c3")})
    closed = poll_tap.drain(compound.tenant, {CLOSED: 1}, timeout=20)
    assert [e["data"]["answer_count"] for e in closed if e["type"] == CLOSED] == [1]
    shown = resident.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll["id"]})
    assert shown["state"] == "CLOSED" and [c.get("count", 0) for c in shown["questions"][0]["choices"]] == [0, 1, 0]
    assert [e["type"] for e in poll_tap.drain(compound.tenant, {}) if e["type"] in (OPENED, CLOSED)] == \
        [OPENED, CLOSED]


def results_of(viewer, poll_id):
    return viewer.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll_id})


def counts_of(shown):
    return shown.get("answer_count", 0), [[c.get("count", 0) for c in q["choices"]] for q in shown["questions"]]


def slipped_in(platform, poll_id, household_id):
    """An answer written straight into the store, as if a call had stored it after the closing."""
    answers_stored = platform.database("notifications").poll_answers
    late = answers_stored.find_one({"poll_id": poll_id}) | {"household_id": household_id}
    late["_id"] = late["request_id"] = f"{poll_id}-{household_id}"
    answers_stored.insert_one(late)


def test_a_closed_poll_shows_the_counts_kept_at_its_closing_and_an_older_one_is_counted_once(
        platform, compound, unique, poll_tap):
    poll_id = compound.poll(unique, request_id=f"{unique}-kept")["id"]
    compound.first[0].call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll_id, "answers": answers("c1", "c1")})
    compound.second[0].call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll_id, "answers": answers("c2", "c1", "c3")})
    compound.staff.call(f"{NOTIFICATIONS}/ClosePoll", {"id": poll_id})
    poll_tap.drain(compound.tenant, {CLOSED: 1}, timeout=20)
    stored = platform.database("notifications").polls
    assert counts_of(stored.find_one({"_id": poll_id})["results"]) == (2, [[1, 1, 0], [2, 0, 1]])

    slipped_in(platform, poll_id, "late-household")
    for viewer in (compound.staff, compound.first[1]):
        assert counts_of(results_of(viewer, poll_id)) == (2, [[1, 1, 0], [2, 0, 1]])

    # A poll closed before closings kept counts has none: counted once from its answers, then kept.
    stored.update_one({"_id": poll_id}, {"$unset": {"results": ""}})
    assert counts_of(results_of(compound.first[1], poll_id)) == (3, [[2, 1, 0], [3, 0, 1]])
    assert stored.find_one({"_id": poll_id})["results"]["answer_count"] == 3
    slipped_in(platform, poll_id, "later-household")
    assert counts_of(results_of(compound.staff, poll_id))[0] == 3


def test_answers_racing_the_closing_are_each_either_counted_or_refused(platform, compound, unique, poll_tap):
    racing = [compound.resident(platform, record) for record in add_residents(
        compound.operator, compound.ids["FLAT"], f"{unique}-race", [[] for _ in range(16)])]
    poll_id = compound.poll(unique, request_id=f"{unique}-race", per="RESIDENT")["id"]

    def answer(resident):
        try:
            resident.call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll_id, "answers": answers("c1", "c2")})
            return "taken"
        except grpc.RpcError as refused:
            return refused.code()
    with ThreadPoolExecutor(len(racing) + 1) as pool:
        before = [pool.submit(answer, resident) for resident in racing[:8]]
        closing = pool.submit(compound.staff.call, f"{NOTIFICATIONS}/ClosePoll", {"id": poll_id})
        after = [pool.submit(answer, resident) for resident in racing[8:]]
        outcomes = [future.result() for future in before + after]
    assert closing.result()["state"] == "CLOSED"
    assert set(outcomes) <= {"taken", grpc.StatusCode.FAILED_PRECONDITION}
    taken = outcomes.count("taken")

    [closed] = [e for e in poll_tap.drain(compound.tenant, {CLOSED: 1}, timeout=20) if e["type"] == CLOSED]
    stored_answers = platform.database("notifications").poll_answers.count_documents({"poll_id": poll_id})
    assert closed["data"]["answer_count"] == results_of(compound.staff, poll_id).get("answer_count", 0) == \
        stored_answers == taken


def test_staff_see_a_new_answer_in_an_open_polls_results_within_the_freshness_window(compound, unique):
    poll_id = compound.poll(unique, request_id=f"{unique}-live")["id"]
    compound.first[0].call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll_id, "answers": answers("c1", "c1")})
    assert results_of(compound.staff, poll_id)["answer_count"] == 1
    compound.second[0].call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll_id, "answers": answers("c2", "c2")})
    answered = time.monotonic()
    window = PollSettings().live_results_seconds
    assert eventually(lambda: results_of(compound.staff, poll_id)["answer_count"] == 2, timeout=window + 5)
    assert time.monotonic() - answered <= window + 1


def told_of(resident, poll_id):
    """The event types of the resident's inbox messages about the poll, sorted: the poll's
    opening (OPENED) and its results (CLOSED)."""
    messages = resident.call(f"{NOTIFICATIONS}/ListInbox", {}).get("messages", [])
    return sorted(m["event_type"] for m in messages if m.get("poll_id") == poll_id)


def all_told(residents, poll_id, expected):
    return eventually(lambda: all(told_of(resident, poll_id) == expected for resident in residents), timeout=20)


def test_residents_are_told_when_a_scheduled_poll_opens_and_when_it_closes_by_its_times_once_each(compound, unique,
                                                                                                 poll_tap):
    now = datetime.now(timezone.utc)
    poll = compound.poll(unique, request_id=f"{unique}-told", opens_at=rfc3339(now + timedelta(seconds=4)),
                         closes_at=rfc3339(now + timedelta(seconds=10)))
    assert poll["state"] == "DRAFT" and poll["recipient_count"] == 4
    assert all(told_of(resident, poll["id"]) == [] for resident in [*compound.addressed(), compound.neighbour])

    poll_tap.drain(compound.tenant, {OPENED: 1}, timeout=20)
    assert all_told(compound.addressed(), poll["id"], [OPENED])
    opening = next(m for m in compound.second[0].call(f"{NOTIFICATIONS}/ListInbox", {})["messages"]
                   if m.get("poll_id") == poll["id"])
    assert opening["title"] == "问卷调查：养犬公约征求意见" and opening["body"].startswith("请每户表达意见（请于")
    compound.second[0].call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll["id"], "answers": answers("c2", "c3")})

    poll_tap.drain(compound.tenant, {CLOSED: 1}, timeout=20)
    assert all_told(compound.addressed(), poll["id"], [CLOSED, OPENED])
    results = next(m for m in compound.first[0].call(f"{NOTIFICATIONS}/ListInbox", {})["messages"]
                   if m.get("event_type") == CLOSED)
    # Two questions: no choice to name in a line, only how many answered.
    assert (results["title"], results["body"]) == ("问卷结果：养犬公约征求意见",
                                                   "问卷已结束，共1户作答。结果已公布，欢迎查看。")
    assert told_of(compound.neighbour, poll["id"]) == []


def test_closing_tells_the_audience_of_that_time_the_results_once_however_often_the_event_comes(
        platform, compound, unique, poll_tap):
    poll = compound.poll(unique, request_id=f"{unique}-close", questions=QUESTIONS[:1])
    assert all_told(compound.addressed(), poll["id"], [OPENED])
    for resident in (compound.first[0], compound.second[1]):
        resident.call(f"{NOTIFICATIONS}/AnswerPoll", {"id": poll["id"], "answers": answers("c1")[:1]})
    # Before it closes, one resident moves next door and one moves in: the audience of the
    # results is the building's then.
    leaver = compound.first[1]
    compound.operator.call(f"{RESIDENTS}/MoveResident", {"id": compound.first_ids[1],
                                                         "household_id": compound.neighbours_household})
    newcomer = compound.resident(platform, add_residents(compound.operator, compound.ids["FLAT"], f"{unique}-new",
                                                         [[]])[0])

    compound.staff.call(f"{NOTIFICATIONS}/ClosePoll", {"id": poll["id"]})
    stayed = [compound.first[0], *compound.second]
    assert all_told(stayed, poll["id"], [CLOSED, OPENED]) and all_told([newcomer], poll["id"], [CLOSED])
    results = next(m for m in newcomer.call(f"{NOTIFICATIONS}/ListInbox", {})["messages"]
                   if m.get("poll_id") == poll["id"])
    assert results["body"] == "问卷已结束，共2户作答，「同意」得票最多（2票）。结果已公布，欢迎查看。"
    assert told_of(leaver, poll["id"]) == [OPENED] and told_of(compound.neighbour, poll["id"]) == []

    # The closing delivered again (the relay, a replica, a retry) tells whoever is new to the
    # audience, and nobody twice.
    [closing] = [e for e in poll_tap.drain(compound.tenant, {CLOSED: 1}) if e["type"] == CLOSED]
    latecomer = compound.resident(platform, add_residents(compound.operator, compound.ids["FLAT"], f"{unique}-late",
                                                          [[]])[0])
    publish_again(platform.amqp_uri, "notifications", closing)
    assert all_told([latecomer], poll["id"], [CLOSED])
    assert all(told_of(resident, poll["id"]) == [CLOSED, OPENED] for resident in stayed)
    assert told_of(newcomer, poll["id"]) == [CLOSED] and told_of(leaver, poll["id"]) == [OPENED]


def console_as(platform, compound, role, **claims):
    """The console's pages, through its Flask test client and the real gateway, as one signed-in person."""
    settings = ConsoleSettings(session_secret="polls-console-test-secret", gateway=platform.address,
                               tenant=compound.tenant)
    client = create_app(settings).test_client()
    with client.session_transaction() as session:
        session.update(token=platform.token(role=role, tenant=compound.tenant, **claims), role=role, who=role,
                       place=(claims.get("scope") or ("",))[0],
                       subject=claims.get("subject", ""))
    return client


def test_staff_start_a_poll_and_watch_it_and_residents_answer_it_in_the_console(platform, compound):
    staff = console_as(platform, compound, "community_staff", scope=(compound.ids["COMMUNITY"],), subject="staff-c")
    building = compound.ids["BUILDING"]
    assert "发起问卷" in staff.get(f"/nodes/{building}/polls/new").get_data(as_text=True)
    created = staff.post(f"/nodes/{building}/polls", data={
        "request_id": f"console-{building}", "title": "增设充电桩意见征集", "description": "请每户作答",
        "question-1": "是否同意在楼下增设充电桩？", "kind-1": "SINGLE_CHOICE", "choices-1": "同意\n不同意",
        "per": "HOUSEHOLD", "closes_at": "2199-12-01T09:00"})
    assert created.status_code == 302 and "/polls/" in created.location
    poll_path = created.location
    poll_id = poll_path.rsplit("/", 1)[-1]
    page = staff.get(poll_path).get_data(as_text=True)
    assert "增设充电桩意见征集" in page and "进行中" in page and "立即结束问卷" in page
    assert "增设充电桩意见征集" in staff.get(f"/nodes/{building}/polls").get_data(as_text=True)

    record = compound.first_records[0]
    resident = console_as(platform, compound, "resident", scope=(), subject=record["id"],
                          household_id=record["household_id"])
    assert "增设充电桩意见征集" in resident.get("/me").get_data(as_text=True)
    assert "是否同意在楼下增设充电桩？" in resident.get(f"/me/polls/{poll_id}").get_data(as_text=True)
    assert resident.post(f"/me/polls/{poll_id}", data={"q1": "c1"}).status_code == 302
    assert "感谢参与" in resident.get(f"/me/polls/{poll_id}").get_data(as_text=True)
    assert staff.post(f"/polls/{poll_id}/close").status_code == 302
    published = resident.get(f"/me/polls/{poll_id}").get_data(as_text=True)
    assert 'data-test="answer-count">1<' in published and "100%" in published
