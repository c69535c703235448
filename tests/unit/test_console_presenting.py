"""How the console words what the gateway answers: pinned without a browser or a gateway."""
from datetime import date, datetime, timezone

import pytest
from flask import Flask
from flask_babel import Babel

from console import presenting

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["zh_CN", "en"])
def locale(request):
    app = Flask("console.app")  # the console's own catalogue, in console/translations
    Babel(app, locale_selector=lambda: request.param)
    with app.test_request_context("/"):
        yield request.param


class KnownNames:
    def category(self, category_id):
        return {"c1": "暖气不热"}.get(category_id, "")

    def place(self, ticket):
        return "3号楼 2-502"


def ticket(**fields):
    return {"id": "t1", "category_id": "c1", "state": "ASSIGNED", "priority": "HIGH",
            "create_time": "2026-12-01T01:30:00Z",
            "clock": {"due_at": "2026-12-01T11:00:00Z", "paused": False}, **fields}


def test_times_are_shown_in_the_tenants_zone():
    assert presenting.local_time("2026-12-01T16:30:00Z", "Asia/Shanghai") == "2026-12-02 00:30"
    assert presenting.local_time("", "Asia/Shanghai") == ""


def test_an_open_ticket_past_its_running_clock_is_overdue():
    assert presenting.is_overdue(ticket(), NOW)
    assert not presenting.is_overdue(ticket(clock={"due_at": "2026-12-01T13:00:00Z"}), NOW)
    assert not presenting.is_overdue(ticket(clock={"due_at": "2026-12-01T11:00:00Z", "paused": True}), NOW)
    assert not presenting.is_overdue(ticket(state="RESOLVED"), NOW)
    assert not presenting.is_overdue(ticket(clock={}), NOW)


def test_a_queue_row_names_what_and_where_in_the_readers_language(locale):
    row = presenting.ticket_row(ticket(), KnownNames(), "Asia/Shanghai", now=NOW)
    assert (row["category"], row["place"], row["created"], row["due"], row["overdue"], row["urgent"]) == (
        "暖气不热", "3号楼 2-502", "2026-12-01 09:30", "2026-12-01 19:00", True, True)
    assert str(row["state"]) == {"zh_CN": "已派单", "en": "Assigned"}[locale]
    assert str(row["priority"]) == {"zh_CN": "高", "en": "High"}[locale]


def test_a_closed_ticket_shows_no_due_time():
    assert presenting.ticket_row(ticket(state="CLOSED"), KnownNames(), "Asia/Shanghai", now=NOW)["due"] == ""


def test_durations_read_as_days_hours_and_minutes(locale):
    expected = {"zh_CN": ("5分钟", "1小时35分", "2天3小时"), "en": ("5m", "1h 35m", "2d 3h")}[locale]
    assert (presenting.minutes_text(5), presenting.minutes_text(95), presenting.minutes_text(3060)) == expected


def test_ticket_figures_read_as_percentages_and_durations_with_a_dash_for_none(locale):
    shown = presenting.ticket_headline({
        "total": 12, "completion_rate": 0.756, "first_response": {"count": 10, "median_minutes": 30, "p90_minutes": 95},
        "resolution": {"count": 0}, "satisfaction_average": 4.26, "satisfaction_count": 7, "overdue_count": 2})
    assert (shown["total"], shown["completion"], shown["satisfaction"], shown["overdue"]) == (12, 76, 4.3, 2)
    assert (shown["resolution_p50"], shown["resolution_p90"]) == ("—", "—")
    assert shown["first_response_p90"] == {"zh_CN": "1小时35分", "en": "1h 35m"}[locale]


def test_node_figures_are_numbers_and_tags_are_ranked_and_named(locale):
    figures = {"buildings": "86", "flats": "3210", "households": "2911", "residents": "6812",
               "flats_by_occupancy": {"vacant": "299", "owner_occupied": "2276", "rented": "635"},
               "residents_by_tag": {"elderly": "1371", "veteran": "125", "child": "909"}}
    shown = presenting.headline(figures)
    assert (shown["residents"], [o["count"] for o in shown["occupancy"]]) == (6812, [299, 2276, 635])
    bars = presenting.tag_bars(figures)
    assert [bar["count"] for bar in bars] == [1371, 909, 125]
    assert bars[0]["name"] == {"zh_CN": "老年人", "en": "Elderly"}[locale]


def test_a_building_reads_top_floor_first_and_unit_by_unit():
    flats = [{"floor": 1, "unit": "2", "number": "102"}, {"floor": 2, "unit": "1", "number": "201"},
             {"floor": 1, "unit": "1", "number": "101"}]
    assert [(floor, [flat["number"] for flat in row]) for floor, row in presenting.floors_of(flats)] == [
        (2, ["201"]), (1, ["101", "102"])]


def test_staff_are_offered_the_next_step_and_what_an_open_ticket_allows_others_none():
    running = {"paused": False}
    assert presenting.actions_for("grid_worker", {"state": "SUBMITTED", "level": "GRID", "clock": running}, "w") == (
        "triage", "escalate", "add_party", "request_volunteers")
    in_progress = {"state": "IN_PROGRESS", "level": "STREET", "clock": {"paused": True}, "assignee_subject": "w"}
    assert presenting.actions_for("community_staff", in_progress, "w") == (
        "resolve", "resume", "add_party", "request_volunteers")
    assert presenting.actions_for("community_staff", in_progress, "someone else") == ("add_party", "request_volunteers")
    assert presenting.actions_for("grid_worker", {"state": "CLOSED", "level": "GRID"}, "w") == ()
    assert presenting.actions_for("resident", {"state": "SUBMITTED", "clock": running}, "r") == ()
    assert presenting.actions_for("resident", {"state": "RESOLVED"}, "r") == ("feedback",)


def test_a_datetime_field_is_read_in_the_tenants_zone():
    moment = presenting.moment_of_local("2026-12-02T09:30", "Asia/Shanghai")
    assert moment == datetime(2026, 12, 2, 1, 30, tzinfo=timezone.utc)
    assert presenting.local_input(moment, "Asia/Shanghai") == "2026-12-02T09:30"
    assert presenting.moment_of_local("", "Asia/Shanghai") is None


def test_this_month_runs_from_its_first_to_its_last_day():
    assert presenting.this_month(date(2026, 2, 14)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert presenting.this_month(date(2026, 12, 31)) == (date(2026, 12, 1), date(2026, 12, 31))


def test_the_services_own_timeline_steps_are_worded_in_the_readers_language(locale):
    missed = {"action": "deadline_missed", "note": "RESOLUTION was due at 2026-12-01T06:00:00Z at GRID level",
              "details": {"stage": "RESOLUTION", "due_at": "2026-12-01T06:00:00Z", "level": "GRID"}}
    task = {"action": "volunteers_dispatched", "note": "Carry: 2 dispatched, 2 of 3",
            "details": {"title": "搬运", "dispatched": "2", "people_dispatched": "2", "people_needed": "3"}}
    written_by_staff = {"action": "triaged", "note": "已电话联系居民"}
    decided = {"action": "deliberated", "note": "三月议事会: REJECTED (会堵住消防通道)",
               "details": {"meeting_id": "m1", "decision": "REJECTED", "decision_reason": "会堵住消防通道"}}
    rows = presenting.timeline_rows([missed, task, written_by_staff, decided], "Asia/Shanghai")
    if locale == "zh_CN":
        assert rows[0]["note"] == "办结已于 2026-12-01 14:00 超时（网格级）"
        assert rows[1]["note"] == "搬运：本次派出 2 人，已派 2/3 人"
        assert (rows[3]["action"], rows[3]["note"]) == ("议事会决定", "议事会决定：不予采纳 会堵住消防通道")
    else:
        assert rows[0]["note"] == "The resolution was due at 2026-12-01 14:00 (Grid level)"
        assert rows[3]["note"] == "The meeting decided: Not adopted 会堵住消防通道"
    assert rows[2]["note"] == "已电话联系居民"


def test_a_step_missing_some_details_still_reads():
    entry = {"action": "volunteer_checked_out", "note": "x", "details": {"title": "搬运"}}
    app = Flask("console.app")
    Babel(app, locale_selector=lambda: "en")
    with app.test_request_context("/"):
        assert presenting.said(entry, "Asia/Shanghai") == "搬运: a volunteer checked out after  hours"


def test_a_flats_households_list_their_members_head_first(locale):
    households = [{"id": "h1", "display_name": "张家"}, {"id": "h2", "display_name": "租户李"}]
    residents = [{"household_id": "h1", "display_name": "张小明", "relation": "child", "birth_date": "2016-03-01"},
                 {"household_id": "h1", "display_name": "张建国", "relation": "head", "gender": "MALE",
                  "phone": "138****0001", "tags": ["elderly"], "birth_date": "1950-05-01"}]
    shown = presenting.households_of_flat(households, residents, date(2026, 12, 2))
    assert [member["name"] for member in shown[0]["members"]] == ["张建国", "张小明"]
    assert shown[1] == {"name": "租户李", "members": []}
    head = shown[0]["members"][0]
    assert head["age"] == 76 and head["phone"] == "138****0001"
    if locale == "zh_CN":
        assert (head["relation"], head["gender"], head["tags"]) == ("户主", "男", "老年人")
        assert shown[0]["members"][1]["relation"] == "子女"


def test_a_poll_reads_with_its_state_and_rule_in_words_and_its_times_local(locale):
    row = presenting.poll_row({"id": "p1", "title": "养犬公约", "state": "OPEN", "per": "HOUSEHOLD",
                               "opens_at": "2026-12-01T01:00:00Z", "closes_at": "2026-12-08T01:00:00Z"},
                              "Asia/Shanghai")
    assert (row["state_name"], row["per"]) == (("进行中", "每户一票") if locale == "zh_CN"
                                               else ("Open", "One answer per household"))
    assert (row["opens"], row["closes"], row["answered"]) == ("2026-12-01 09:00", "2026-12-08 09:00", False)


def test_poll_results_give_each_choice_its_share_of_the_answers():
    shown = presenting.poll_results({"answer_count": 4, "questions": [{"text": "同意吗？", "choices": [
        {"label": "同意", "count": 3}, {"label": "反对", "count": 1}, {"label": "弃权"}]}]})
    assert [(c["count"], c["percent"]) for c in shown["questions"][0]["choices"]] == [(3, 75), (1, 25), (0, 0)]
    assert presenting.poll_results({})["answer_count"] == 0


def meeting(state, **fields):
    return {"id": "m1", "state": state, "convenor": "staff-li", "agenda": [], "steps": [
        {"state": "PROPOSED", "time": "2026-12-01T11:00:00Z", "actor": "staff-li", "note": ""},
        {"state": "COMMITTEE_REVIEW", "time": "2026-12-02T02:00:00Z", "actor": "worker-zhao", "note": "两委同意"}],
        **fields}


def test_a_meetings_procedure_reads_as_six_steps_taken_by_whom_and_when(locale):
    steps = presenting.procedure_steps(meeting("COMMITTEE_REVIEW"), {"staff-li": "李娜"}, "Asia/Shanghai")
    assert [step["state"] for step in steps] == list(presenting.MEETING_STATES)
    assert [(step["done"], step["current"]) for step in steps[:3]] == [(True, False), (True, True), (False, False)]
    assert (steps[0]["who"], steps[0]["time"]) == ("李娜", "2026-12-01 19:00")
    assert (steps[1]["who"], steps[1]["note"]) == ("worker-zhao", "两委同意")  # no post: the subject itself
    assert steps[2]["who"] == steps[2]["time"] == ""
    assert str(steps[1]["name"]) == ("两委商议" if locale == "zh_CN" else "Committee review")
    assert presenting.next_step(meeting("RESOLVED")) == "DECISION_PUBLISHED"
    assert presenting.next_step(meeting("OUTCOME_PUBLISHED")) is None


def test_staff_are_offered_what_a_meeting_allows_at_its_step():
    def offered(state, role="grid_worker", subject="staff-li"):
        return presenting.meeting_actions(meeting(state), role, subject)
    assert offered("PROPOSED") == {"advance", "add_item", "minutes"}
    assert offered("DELIBERATION") == {"advance", "decide", "minutes"}
    assert "decide" not in offered("DELIBERATION", subject="worker-zhao")  # not its convenor
    assert "decide" in offered("RESOLVED", role="community_staff", subject="someone")
    assert offered("DECISION_PUBLISHED") == {"advance", "start_project", "minutes"}
    assert offered("OUTCOME_PUBLISHED") == {"start_project", "minutes"}
    assert offered("PROPOSED", role="resident") == frozenset()


def test_an_agenda_names_who_decided_and_links_each_adopted_item_to_its_project(locale):
    held = meeting("DECISION_PUBLISHED", agenda=[
        {"ticket_id": "t1", "summary": "增设充电桩", "supporters": 3, "decision": "ADOPTED", "reason": "",
         "decided_by": "staff-li", "decide_time": "2026-12-02T03:00:00Z"},
        {"ticket_id": "t2", "summary": "移垃圾桶", "supporters": 1, "decision": "REJECTED", "reason": "堵消防通道"}])
    rows = presenting.agenda_rows(held, {"staff-li": "李娜"}, "Asia/Shanghai",
                                  [{"id": "p1", "ticket_id": "t1", "meeting_id": "m1"},
                                   {"id": "p2", "ticket_id": "t2", "meeting_id": "another"}])
    assert [(row["decided_by"], row["decided"], row["project_id"]) for row in rows] == [
        ("李娜", "2026-12-02 11:00", "p1"), ("", "", "")]
    assert str(rows[1]["decision"]) == ("不予采纳" if locale == "zh_CN" else "Not adopted")


def test_a_project_completes_once_every_milestone_is_done(locale):
    project = {"id": "p1", "title": "增设充电桩", "ticket_id": "t1", "state": "ACTIVE", "owner": "staff-li",
               "milestones": [{"title": "选址公示", "progress_percent": 100, "note": "无异议"},
                              {"title": "安装", "progress_percent": 60}]}
    view = presenting.project_view(project, {"staff-li": "李娜"}, "Asia/Shanghai")
    assert [(m["index"], m["progress"]) for m in view["milestones"]] == [(0, 100), (1, 60)]
    assert (view["owner"], view["active"], view["may_complete"]) == ("李娜", True, False)
    project["milestones"][1]["progress_percent"] = 100
    assert presenting.project_view(project, {}, "Asia/Shanghai")["may_complete"]
    completed = presenting.project_view({**project, "state": "COMPLETED"}, {}, "Asia/Shanghai")
    assert not completed["may_complete"] and str(completed["state"]) == (
        "已完工" if locale == "zh_CN" else "Project completed")
    assert presenting.milestones_of(" 选址公示\n\n安装 \n") == ["选址公示", "安装"]


def test_a_project_shows_its_photos_and_its_ratings_by_name(locale):
    project = {"id": "p1", "title": "增设长椅", "ticket_id": "t1", "state": "COMPLETED", "owner": "staff-li",
               "milestones": [{"title": "安装", "progress_percent": 100,
                               "photos": [{"id": "ph1", "content_type": "image/png", "size": 10}]}],
               "feedback": [{"subject": "r1", "satisfaction": 4, "comment": "舒服", "time": "2026-12-01T02:00:00Z"}],
               "feedback_count": 3, "average_satisfaction": 4.333}
    view = presenting.project_view(project, {"r1": "王阿姨"}, "Asia/Shanghai")
    assert view["milestones"][0]["photo_ids"] == ["ph1"]
    assert (view["rating_count"], view["average_rating"]) == (3, "4.3")
    assert view["ratings"] == [{"who": "王阿姨", "satisfaction": 4, "comment": "舒服", "time": "2026-12-01 10:00"}]


class PlaceNames(KnownNames):
    def node(self, node_id):
        return {"b1": "3号楼"}.get(node_id, "")


def test_a_recurring_problem_is_named_by_category_place_and_how_often(locale):
    [row] = presenting.recurring_rows([{"ticket_id": "t9", "summary": "暖气不热", "category_id": "c1", "place_id": "b1",
                                        "ticket_count": 4, "first_create_time": "2026-10-01T02:00:00Z",
                                        "last_create_time": "2026-11-30T02:00:00Z"}], PlaceNames(), "Asia/Shanghai")
    assert (row["category"], row["place"], row["count"], row["first"]) == ("暖气不热", "3号楼", 4, "2026-10-01 10:00")
