"""A year of the demo community's grid deliberation meetings (四议两公开): each month residents'
suggestions go to the first grid's meeting, which adopts one and rejects or refers the other;
two adopted suggestions became projects, one completed with the reporter's feedback, one under
way; the grid worker handled every other adopted suggestion as a ticket. A meeting publishes its
outcome once what it adopted is carried out, so the one whose project is under way has not. The
suggestions the grid referred upward went to the community's meeting, whose decision and outcome
every resident of the community reads (两公开).

The same every time and idempotent: every create carries a fixed request id, and a meeting's or
project's steps are taken only when its create call made it (a repeat finds it further along).
The meetings are dated back from the current month, so the latest is always this month's."""
import random
from datetime import datetime, timezone

from cli.seed import creator

TICKETS = "civicgrid.tickets.v1.Tickets"
GRIDS = "civicgrid.grids.v1.Grids"
SEED = 20241204
MONTHS = 12
# (the suggestion a meeting adopts, the one it does not, and why not); month n takes entry n % len.
AGENDAS = (
    ("小区增设晾衣架", "把垃圾桶移到消防通道旁", "会堵住消防通道"),
    ("单元门口加装扶手方便老人", "在绿地上新划停车位", "绿地属于公共绿化，不能改作车位"),
    ("增设电动车充电桩", "小区大门改为24小时开放", "影响小区安全，业主意见不一"),
    ("活动室增加老年人午休床", "拆除自行车棚改建商铺", "涉及规划调整，需街道审批"),
    ("修缮小区主干道路面", "在楼顶安装太阳能板", "需房屋安全鉴定，超出网格职权"),
    ("楼道加装声控灯", "每户每月加收清洁费", "收费事项须业主大会表决"),
)
# Every fourth month the second suggestion is beyond the grid: referred to the community's meeting.
REFERRED_EVERY = 4
SUPPORTERS = 2
# Months (0 the oldest) whose adopted suggestion became a project: the first completed, the second
# under way; (milestones, progress of each).
PROJECTS = {8: (("选址公示", "施工安装"), (100, 100)), 9: (("方案征求意见", "施工"), (100, 40))}
COMPLETED_PROJECTS = sum(all(percent == 100 for percent in progress) for _, progress in PROJECTS.values())
# The community's meeting on what the grid referred upward: held after the second referral, it
# adopts the first and rejects the second, for this reason.
COMMUNITY_MONTH = 8
COMMUNITY_REJECTION = "涉及全体业主共有部分，须经业主大会表决"
MEETINGS = MONTHS + 1


def seed_deliberation(cast, grid, convenor, flats):
    """The meetings of the past year of `grid` (convened by its worker `convenor`, suggestions from
    its `flats`) and the projects they adopted; returns counts."""
    leader = cast.as_person("grid_worker", (grid["id"],), convenor, ())
    create = creator(leader, "demo-work/deliberation")
    category = creator(cast.operator, "demo-work")(f"{TICKETS}/CreateCategory", "category/suggestions", {
        "name": "社区建议", "group": "议事协商", "routing": {"assignee_kind": "GRID_WORKER"},
        "promises": [{"priority": "NORMAL", "first_response_minutes": 1440, "resolution_minutes": 43200}]})
    station = creator(cast.operator, "demo-work")(f"{GRIDS}/CreateStation", "station/party-service", {
        "node_id": grid["parent_id"], "display_name": "党群服务站",
        "opening_hours": [{"weekday": day, "open": "08:30", "close": "17:30"}
                          for day in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")]})
    draw = random.Random(SEED)
    referred = []
    dates = meeting_dates(datetime.now(timezone.utc))
    for month, held_at in enumerate(dates):
        suggestions = [suggest(cast, create, draw.choice(flats), category, month, number, text)
                       for number, text in enumerate(AGENDAS[month % len(AGENDAS)][:2])]
        meeting = create(f"{TICKETS}/CreateMeeting", f"meeting/{month}", {
            "node_id": grid["id"], "title": f"{held_at[:4]}年{int(held_at[5:7])}月{grid['display_name']}议事会",
            "held_at": held_at, "place_station_id": station["id"], "attendees": attendees(convenor, suggestions)})
        if meeting["state"] == "PROPOSED" and not meeting.get("agenda"):
            hold(leader, meeting, suggestions, month)
            if carried_out(cast, leader, create, meeting, suggestions[0], month):
                leader.call(f"{TICKETS}/AdvanceMeeting", {"id": meeting["id"], "from_state": "DECISION_PUBLISHED"})
        if is_referred(month) and month < COMMUNITY_MONTH:
            referred.append(suggestions[1])
    hold_community_meeting(cast, leader, grid["parent_id"], station, referred, dates[COMMUNITY_MONTH])
    return {"meetings": MEETINGS, "projects": len(PROJECTS)}


def is_referred(month):
    """Every fourth month the grid refers its second suggestion upward (not this month's: its
    meeting has not decided yet)."""
    return month % REFERRED_EVERY == REFERRED_EVERY - 1 and month < MONTHS - 1


def hold_community_meeting(cast, leader, community_id, station, referred, held_at):
    """The community's meeting on the suggestions its first grid referred upward: the first
    adopted and handled by the grid worker, the second rejected; decision and outcome published."""
    staff = cast.as_person("community_staff", (community_id,), "demo-community-staff", ())
    meeting = creator(staff, "demo-work/deliberation")(f"{TICKETS}/CreateMeeting", "meeting/community", {
        "node_id": community_id, "title": f"{held_at[:4]}年{int(held_at[5:7])}月社区议事会", "held_at": held_at,
        "place_station_id": station["id"],
        "attendees": [{"kind": "STAFF", "person_id": "demo-community-staff", "name": "社区工作人员"}]})
    if meeting["state"] != "PROPOSED" or meeting.get("agenda"):
        return

    def act(method, body):
        return staff.call(f"{TICKETS}/{method}", {"id": meeting["id"], **body})
    adopted, rejected = referred
    for ticket in referred:
        act("AddAgendaItem", {"ticket_id": ticket["id"]})
    for state in ("PROPOSED", "COMMITTEE_REVIEW"):
        act("AdvanceMeeting", {"from_state": state})
    act("DecideAgendaItem", {"ticket_id": adopted["id"], "decision": "ADOPTED"})
    act("DecideAgendaItem", {"ticket_id": rejected["id"], "decision": "REJECTED", "reason": COMMUNITY_REJECTION})
    act("RecordMinutes", {"minutes": f"社区议事会审议网格提交的两项建议：「{adopted['description']}」通过，由网格落实；"
                                     f"「{rejected['description']}」未通过：{COMMUNITY_REJECTION}。"})
    for state in ("DELIBERATION", "RESOLVED"):
        act("AdvanceMeeting", {"from_state": state})
    handle_as_ticket(leader, adopted)
    act("AdvanceMeeting", {"from_state": "DECISION_PUBLISHED"})


def meeting_dates(now):
    """The 15th of each of the last MONTHS months, this one last, at 09:30 in Beijing."""
    dates = []
    for back in range(MONTHS - 1, -1, -1):
        months = now.year * 12 + now.month - 1 - back
        dates.append(f"{months // 12:04d}-{months % 12 + 1:02d}-15T01:30:00Z")
    return dates


def suggest(cast, create, flat, category, month, number, text):
    """A resident's suggestion at a station, followed by neighbours when it is the one adopted."""
    reporter = f"demo-suggester-{month + 1}-{number + 1}"
    ticket = create(f"{TICKETS}/CreateTicket", f"suggestion/{month}/{number}", {
        "kind": "SUGGESTION", "channel": "STATION_WALK_IN", "category_id": category["id"], "node_id": flat["id"],
        "reporter_subject": reporter, "description": text})
    for follower in range(SUPPORTERS if number == 0 else 0):
        neighbour = cast.as_person("resident", (flat["id"],), f"{reporter}-neighbour-{follower + 1}", ())
        neighbour.call(f"{TICKETS}/FollowTicket", {"id": ticket["id"]})
    return ticket


def attendees(convenor, suggestions):
    return [{"kind": "STAFF", "person_id": convenor, "name": "网格员"},
            {"kind": "STAFF", "person_id": "demo-community-staff", "name": "社区工作人员"},
            *({"kind": "RESIDENT", "person_id": ticket["reporter_subject"], "name": "提议居民"} for ticket in suggestions)]


def hold(leader, meeting, suggestions, month):
    """The procedure as far as the month allows: this month's meeting has its agenda under
    review; every earlier one has published its decision (its outcome follows once carried out)."""
    def act(method, body):
        return leader.call(f"{TICKETS}/{method}", {"id": meeting["id"], **body})
    for ticket in suggestions:
        act("AddAgendaItem", {"ticket_id": ticket["id"]})
    act("AdvanceMeeting", {"from_state": "PROPOSED"})
    if month == MONTHS - 1:
        return
    act("AdvanceMeeting", {"from_state": "COMMITTEE_REVIEW"})
    adopted, other = suggestions
    _, _, reason = AGENDAS[month % len(AGENDAS)]
    act("DecideAgendaItem", {"ticket_id": adopted["id"], "decision": "ADOPTED"})
    referred = is_referred(month)
    act("DecideAgendaItem", {"ticket_id": other["id"], "decision": "REFERRED_UPWARD" if referred else "REJECTED",
                             "reason": "提交社区议事会" if referred else reason})
    act("RecordMinutes", {"minutes": f"到会居民代表与业委会、物业共议两项建议：「{adopted['description']}」通过；"
                                     f"「{other['description']}」{'提交社区议事会' if referred else '未通过：' + reason}。"})
    for state in ("DELIBERATION", "RESOLVED"):
        act("AdvanceMeeting", {"from_state": state})


def carried_out(cast, leader, create, meeting, suggestion, month):
    """Whether the month's adopted suggestion is carried out, by its project or by the grid worker
    handling it as a ticket; the two latest months' are not yet."""
    if month in PROJECTS:
        return carry_out(cast, leader, create, meeting, suggestion, month, *PROJECTS[month])
    if month >= MONTHS - 2:
        return False
    handle_as_ticket(leader, suggestion)
    return True


def handle_as_ticket(leader, suggestion):
    """An adopted suggestion carried out by the grid worker, as any ticket is handled."""
    for method, body in (("TriageTicket", {"decision": "ACCEPT", "note": "议事会通过，纳入网格办理"}),
                         ("AssignTicket", {}), ("StartTicket", {}),
                         ("ResolveTicket", {"resolution": "已按议事会决议落实"})):
        leader.call(f"{TICKETS}/{method}", {"id": suggestion["id"], **body})


def carry_out(cast, leader, create, meeting, suggestion, month, milestones, progress):
    """The project of the month's adopted suggestion, its milestones as far as `progress` says,
    completed (and given feedback by the reporter) when every one is done; whether it was."""
    project = create(f"{TICKETS}/CreateProject", f"project/{month}", {
        "meeting_id": meeting["id"], "ticket_id": suggestion["id"], "title": suggestion["description"],
        "budget_line": "社区党组织服务群众经费", "milestone_titles": list(milestones)})
    if project["create_time"] != project["update_time"]:
        return project["state"] == "COMPLETED"
    for index, percent in enumerate(progress):
        leader.call(f"{TICKETS}/UpdateMilestone", {"id": project["id"], "milestone_index": index,
                                                   "progress_percent": percent, "note": f"{milestones[index]}进度{percent}%"})
    if all(percent == 100 for percent in progress):
        leader.call(f"{TICKETS}/CompleteProject", {"id": project["id"], "outcome": "已完工并经居民代表验收"})
        reporter = cast.as_person("resident", (), suggestion["reporter_subject"], ())
        reporter.call(f"{TICKETS}/SubmitTicketFeedback", {"id": suggestion["id"], "satisfaction": 5,
                                                         "comment": "说到做到，感谢社区"})
    return all(percent == 100 for percent in progress)
