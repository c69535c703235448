"""The work of the demo community, so that the console shows a community at work on day one:
the organisations that serve it, the staff at their posts, the categories of the field reports,
tickets in every state from report to feedback, and a year of grid deliberation meetings with
the projects they adopted (`demo_deliberation`), put in through the gateway as the people who do
the work would.

The same every time (drawn from a generator seeded with a fixed number) and idempotent: every
create carries a fixed request id, and a ticket's steps are taken only when its create call made
it (a repeat returns the ticket as it is, already further along).
"""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
import random

from faker import Faker

from cli.demo_deliberation import seed_deliberation
from cli.seed import creator

SEED = 20241201
GRIDS, TICKETS = "civicgrid.grids.v1.Grids", "civicgrid.tickets.v1.Tickets"
VOLUNTEERS = "civicgrid.volunteers.v1.Volunteers"
RESIDENTS = "civicgrid.residents.v1.Residents"
# (team, purpose, speciality, the skill its volunteers bring, a task it does)
TEAMS = (
    ("天使志愿服务队", "MEDICAL", "健康义诊", "first_aid", "老年人健康义诊"),
    ("保亮志愿服务队", "OTHER", "环境保洁", "cleaning", "楼道清理小广告"),
    ("乐贝志愿服务队", "CHILDCARE", "四点半课堂", "tutoring", "四点半课堂辅导作业"),
    ("红管家志愿服务队", "VETERANS", "楼道管家", "repair", "为独居老人检修水电"),
)
VOLUNTEERS_PER_TEAM = 3
# Where each team's tasks stand: one done a fortnight ago (its hours recorded), one with people
# dispatched for next week, one published and waiting for people.
TASK_WHEN_DAYS = {"done": -14, "dispatched": 5, "open": 9}
ORGANISATIONS = (
    ("PROPERTY_COMPANY", "绿城物业柳荫服务中心", "物业经理"),
    ("PROPERTY_COMPANY", "万家物业第二服务处", "物业经理"),
    ("OWNERS_COMMITTEE", "柳荫社区业主委员会", "主任"),
    ("POLICE_POST", "滨河派出所柳荫警务室", "社区民警"),
    ("CLINIC", "滨河街道社区卫生服务站", "站长"),
)
# (name, group, handled by: an organisation's index in ORGANISATIONS, or None for the grid's
# worker; first response and resolution promised at NORMAL priority, in minutes)
CATEGORIES = (
    ("暖气不热", "供暖", 0, 120, 2880), ("漏水渗水", "房屋维修", 0, 60, 1440),
    ("垃圾清运", "环境卫生", 1, 240, 1440), ("僵尸车", "停车秩序", 3, 240, 10080),
    ("电梯故障", "设施设备", 0, 30, 480), ("违章搭建", "城市管理", None, 480, 10080),
    ("下水道堵塞", "房屋维修", 1, 60, 720), ("楼道堆物", "消防安全", None, 240, 2880),
    ("犬只扰民", "邻里纠纷", None, 480, 4320), ("电动车充电", "消防安全", 1, 240, 2880),
    ("水电燃气费用", "生活服务", None, 480, 4320),
)
DESCRIPTIONS = {
    "暖气不热": ["卧室暖气片冰凉，室温只有14度", "家里有老人，暖气一直不热"],
    "漏水渗水": ["楼上卫生间漏水，天花板渗水", "厨房水管接口滴水"],
    "垃圾清运": ["单元门口垃圾两天没有清运", "垃圾桶满溢，有异味"],
    "僵尸车": ["小区东门一辆白色轿车停放半年无人挪", "地面车位被废弃电动三轮车占用"],
    "电梯故障": ["电梯停在5楼不动", "电梯门关不严，运行有异响"],
    "违章搭建": ["一楼住户在院内搭建彩钢房", "楼顶有人私搭棚子"],
    "下水道堵塞": ["厨房下水反味、堵塞", "单元污水井冒水"],
    "楼道堆物": ["楼道堆放纸箱杂物，影响通行", "楼梯间停放电动车"],
    "犬只扰民": ["邻居家狗夜里一直叫", "有人遛狗不牵绳"],
    "电动车充电": ["有人从楼上拉电线给电动车充电", "希望增设电动车充电桩"],
    "水电燃气费用": ["燃气费缴费后未到账", "电费账单明显偏高"],
}
# How far each demo ticket goes, and how many go that far.
JOURNEYS = {"submitted": 6, "triaged": 4, "rejected": 2, "duplicate": 1, "assigned": 5, "in_progress": 6,
            "paused": 2, "escalated": 2, "resolved": 5, "feedback": 8, "closed": 4}
TICKETS_IN_ALL = sum(JOURNEYS.values())
# Each grid worker's visits: this many households, visited once every VISIT_EVERY_DAYS back from
# today, so the quotas of this month and the care list both have something to show.
VISITED_PER_GRID = 12
VISIT_EVERY_DAYS = 7
FINDINGS = ("身体状况良好", "反映楼道灯不亮，已记录", "独居老人，需每周电话问候", "家中暖气正常", "子女不在身边，已留联系方式")
# The finished poll: a dog-keeping convention put to the first building's households (a community
# of the field reports drew its convention from such a survey), answered by up to this many.
NOTIFICATIONS = "civicgrid.notifications.v1.Notifications"
POLL_HOUSEHOLDS = 20
POLL = {
    "title": "文明养犬公约意见征集", "per": "HOUSEHOLD", "public": False,
    "description": "为解决犬只扰民、遛狗不牵绳等问题，社区拟制定本楼文明养犬公约，请每户派一位代表作答。",
    "questions": [
        {"text": "您是否同意制定本楼文明养犬公约？", "kind": "SINGLE_CHOICE",
         "choices": [{"label": "同意"}, {"label": "不同意"}, {"label": "无所谓"}]},
        {"text": "公约应包含哪些内容？（可多选）", "kind": "MULTIPLE_CHOICE",
         "choices": [{"label": "遛狗必须牵绳"}, {"label": "及时清理犬只粪便"}, {"label": "夜间控制犬只吠叫"},
                     {"label": "犬只登记和免疫"}]}],
}
POLL_OPEN_DAYS = 7


@dataclass
class Cast:
    """Who does the work: the operator's gateway, a grid worker's per grid, a resident's per subject."""
    operator: object
    as_person: object  # (role, scope, subject, grants) -> gateway


def seed_work(cast, community_node, log=print):
    """Organisations, posts, categories and the demo tickets of the community; returns counts."""
    create = creator(cast.operator, "demo-work")
    organisations = seed_organisations(create, community_node)
    grids = cast.operator.call(f"{GRIDS}/ListNodes", {"parent_id": community_node["id"], "page_size": 100})["nodes"]
    workers = seed_posts(create, community_node, grids)
    categories = seed_categories(create, organisations)
    flats_by_grid = {grid["id"]: flats_below(cast.operator, grid["id"]) for grid in grids}
    seed_tickets(cast, create, grids, flats_by_grid, workers, categories, community_node)
    deliberated = seed_deliberation(cast, grids[0], workers[grids[0]["id"]], flats_by_grid[grids[0]["id"]])
    teams = seed_teams(create, cast.operator, community_node)
    visits = seed_visits(cast, grids, workers)
    poll_answers = seed_poll(cast, community_node, grids)
    log(f"demo work: {len(organisations)} organisations, {len(workers)} grid workers, "
        f"{len(categories)} categories, {TICKETS_IN_ALL} tickets, {deliberated['meetings']} meetings, "
        f"{deliberated['projects']} projects, {len(teams)} volunteer teams, {visits} visits, "
        f"a closed poll with {poll_answers} answers")
    return {"organisations": len(organisations), "grid_workers": len(workers), "categories": len(categories),
            "tickets": TICKETS_IN_ALL, **deliberated, "teams": len(teams), "visits": visits,
            "poll_answers": poll_answers}


def seed_organisations(create, community_node):
    names = Faker("zh_CN")
    names.seed_instance(SEED)
    return [create(f"{GRIDS}/CreateOrganisation", f"organisation/{index}", {
        "node_id": community_node["id"], "kind": kind, "display_name": name, "address": "滨河街道柳荫路",
        "contacts": [{"display_name": names.name(), "role": role, "phone": names.phone_number()}]})
        for index, (kind, name, role) in enumerate(ORGANISATIONS)]


def seed_posts(create, community_node, grids):
    """A grid worker at each grid and the community's staff; returns {grid id: worker subject}."""
    names = Faker("zh_CN")
    names.seed_instance(SEED + 1)
    create(f"{GRIDS}/AssignPost", "post/community-staff", {
        "node_id": community_node["id"], "kind": "COMMUNITY_STAFF",
        "holder": {"subject": "demo-community-staff", "display_name": names.name(), "phone": names.phone_number()}})
    workers = {}
    for index, grid in enumerate(grids):
        subject = f"demo-grid-worker-{index + 1}"
        create(f"{GRIDS}/AssignPost", f"post/grid-worker/{index}", {
            "node_id": grid["id"], "kind": "GRID_WORKER",
            "holder": {"subject": subject, "display_name": names.name(), "phone": names.phone_number()}})
        workers[grid["id"]] = subject
    return workers


def seed_categories(create, organisations):
    categories = []
    for index, (name, group, handler, first_response, resolution) in enumerate(CATEGORIES):
        routing = ({"assignee_kind": "ORGANISATION", "organisation_id": organisations[handler]["id"]}
                   if handler is not None else {"assignee_kind": "GRID_WORKER"})
        categories.append(create(f"{TICKETS}/CreateCategory", f"category/{index}", {
            "name": name, "group": group, "routing": routing, "promises": [
                {"priority": "NORMAL", "first_response_minutes": first_response, "resolution_minutes": resolution},
                {"priority": "HIGH", "first_response_minutes": max(15, first_response // 4),
                 "resolution_minutes": max(120, resolution // 4)}]}))
    return categories


def seed_tickets(cast, create, grids, flats_by_grid, workers, categories, community_node):
    """The demo tickets, each taken as far as its journey goes (a ticket a repeat finds further
    along is left as it is)."""
    draw = random.Random(SEED)
    journeys = [journey for journey, count in JOURNEYS.items() for _ in range(count)]
    first_in_grid = {}
    for number, journey in enumerate(journeys):
        grid = grids[number % len(grids)]
        flat = draw.choice(flats_by_grid[grid["id"]])
        category = draw.choice(categories)
        reporter = f"demo-resident-{number + 1}"
        ticket = create(f"{TICKETS}/CreateTicket", f"ticket/{number}", {
            "kind": "REQUEST", "channel": draw.choice(["HOTLINE", "STATION_WALK_IN", "ON_BEHALF_OF_RESIDENT"]),
            "category_id": category["id"], "node_id": flat["id"], "reporter_subject": reporter,
            "priority": "HIGH" if draw.random() < 0.2 else "NORMAL",
            "description": draw.choice(DESCRIPTIONS[category["name"]])})
        if ticket["state"] == "SUBMITTED" and ticket["create_time"] == ticket["update_time"]:
            worker = cast.as_person("grid_worker", (grid["id"],), workers[grid["id"]], ())
            resident = cast.as_person("resident", (), reporter, ())
            take_journey(journey, ticket, Hands(worker, handler(cast, community_node, category, worker), resident),
                         draw, first_in_grid.get(grid["id"]))
        first_in_grid.setdefault(grid["id"], ticket)


def seed_visits(cast, grids, workers):
    """Each grid worker's visits to the first households of their grid, one a week back from
    today (a repeat on a later day finds them by their request ids); returns how many."""
    draw = random.Random(SEED + 2)
    today = datetime.now(timezone.utc).date()
    visits = 0
    for grid in grids:
        worker = cast.as_person("grid_worker", (grid["id"],), workers[grid["id"]], ())
        log_visit = creator(worker, f"demo-work/visit/{grid['id']}")
        households = worker.call(f"{RESIDENTS}/ListHouseholds", {
            "node_id": grid["id"], "page_size": VISITED_PER_GRID}).get("households", [])
        for number, household in enumerate(households):
            log_visit(f"{RESIDENTS}/LogVisit", str(number), {
                "household_id": household["id"], "findings": draw.choice(FINDINGS),
                "visit_date": (today - timedelta(days=VISIT_EVERY_DAYS * number)).isoformat()})
        visits += len(households)
    return visits


def seed_poll(cast, community_node, grids):
    """The community's staff put the dog-keeping poll to the first building, a member of each of
    its first households answers, and the staff close it; returns how many households answered.
    A poll a repeat finds closed is left as it is."""
    staff = cast.as_person("community_staff", (community_node["id"],), "demo-community-staff", ())
    building = cast.operator.call(f"{GRIDS}/ListNodes", {"parent_id": grids[0]["id"], "page_size": 1})["nodes"][0]
    closes_at = datetime.now(timezone.utc) + timedelta(days=POLL_OPEN_DAYS)
    poll = creator(staff, "demo-work")(f"{NOTIFICATIONS}/CreatePoll", "poll/dogs", {
        **POLL, "audience": {"node_id": building["id"]}, "closes_at": closes_at.isoformat()})
    if poll["state"] == "OPEN":
        answer_poll(cast, poll, building)
        staff.call(f"{NOTIFICATIONS}/ClosePoll", {"id": poll["id"]})
    return staff.call(f"{NOTIFICATIONS}/GetPollResults", {"id": poll["id"]}).get("answer_count", 0)


def answer_poll(cast, poll, building):
    """A member of each of the building's first households answers, signed in as the registry
    binds them (their subject is their resident id, as the console's demo residents')."""
    draw = random.Random(SEED + 3)
    households = cast.operator.call(f"{RESIDENTS}/ListHouseholds", {
        "node_id": building["id"], "page_size": POLL_HOUSEHOLDS}).get("households", [])
    for household in households:
        members = cast.operator.call(f"{RESIDENTS}/ListResidents", {
            "node_id": household["flat_id"], "page_size": 20}).get("residents", [])
        member = next((m for m in members if m["household_id"] == household["id"]), None)
        if member is None:
            continue
        cast.operator.call(f"{RESIDENTS}/BindResidentAccount", {"resident_id": member["id"], "subject": member["id"]})
        agreed = draw.choices(["c1", "c2", "c3"], weights=[7, 2, 1])
        rules = sorted(draw.sample(["c1", "c2", "c3", "c4"], draw.randint(1, 3)))
        cast.as_person("resident", (), member["id"], ()).call(f"{NOTIFICATIONS}/AnswerPoll", {
            "id": poll["id"], "answers": [{"question_id": "q1", "choice_ids": agreed},
                                          {"question_id": "q2", "choice_ids": rules}]})


def flats_below(gateway, grid_id):
    buildings = gateway.call(f"{GRIDS}/ListNodes", {"parent_id": grid_id, "page_size": 100})["nodes"]
    return [flat for building in buildings
            for flat in gateway.call(f"{GRIDS}/ListFlats", {"building_id": building["id"], "page_size": 100})["flats"]]


@dataclass
class Hands:
    """Who takes a ticket's steps: the grid's worker triages, assigns and closes, the handler (the
    worker, or the category's organisation) starts and resolves, the reporter gives feedback."""
    worker: object
    handler: object
    reporter: object


def handler(cast, community_node, category, worker):
    organisation_id = category["routing"].get("organisation_id")
    if not organisation_id:
        return worker
    return cast.as_person("partner", (community_node["id"],), f"demo-partner-{organisation_id[:8]}",
                          (f"org:{organisation_id}",))


def take_journey(journey, ticket, hands, draw, first):
    """The steps a ticket takes from SUBMITTED to where `journey` ends, each by who takes it
    (`first`: an earlier ticket of the same grid, which a duplicate repeats)."""
    def act(method, body=None, by=hands.worker):
        by.call(f"{TICKETS}/{method}", {"id": ticket["id"], **(body or {})})
    if journey == "submitted":
        return
    if journey == "rejected":
        act("TriageTicket", {"decision": "REJECT", "reason": "不属于社区受理范围，已告知居民向供电公司反映"})
        return
    if journey == "duplicate":
        act("TriageTicket", {"decision": "MARK_DUPLICATE", "duplicate_of": first["id"]})
        return
    act("TriageTicket", {"decision": "ACCEPT", "note": "已电话联系居民"})
    if journey == "triaged":
        return
    act("AssignTicket", {"note": "按类别派单"})
    if journey == "assigned":
        return
    act("StartTicket", {"note": "已上门查看"}, by=hands.handler)
    if journey == "paused":
        act("PauseTicketClock", {"reason": "等待配件到货"}, by=hands.handler)
    if journey == "escalated":
        act("EscalateTicket", {"reason": "需社区协调多方处理"})
    if journey in ("in_progress", "paused", "escalated"):
        return
    act("ResolveTicket", {"resolution": "已处理完毕，居民确认"}, by=hands.handler)
    if journey == "resolved":
        return
    hands.reporter.call(f"{TICKETS}/SubmitTicketFeedback", {
        "id": ticket["id"], "satisfaction": draw.choice([5, 5, 5, 4, 4, 3, 2]), "comment": "处理及时，谢谢网格员"})
    if journey == "closed":
        act("CloseTicket", {"closing_reason": "FIXED"})


def seed_teams(create, operator, community_node):
    """The volunteer teams of the field reports, their volunteers, and their tasks in each state."""
    names = Faker("zh_CN")
    names.seed_instance(SEED + 2)
    day = datetime.now(timezone.utc).replace(hour=1, minute=0, second=0, microsecond=0)  # 09:00 in China
    teams = []
    for index, (name, purpose, speciality, skill, task_title) in enumerate(TEAMS):
        volunteers = [create(f"{VOLUNTEERS}/CreateVolunteer", f"volunteer/{index}/{number}", {
            "subject": f"demo-volunteer-{index}-{number}", "display_name": names.name(),
            "home_node_id": community_node["id"], "skills": [{"name": skill, "level": 2 + number}]})
            for number in range(VOLUNTEERS_PER_TEAM)]
        team = create(f"{VOLUNTEERS}/CreateTeam", f"team/{index}", {
            "display_name": name, "purpose": purpose, "speciality": speciality, "node_id": community_node["id"],
            "coordinators": ["demo-community-staff"], "member_ids": [volunteer["id"] for volunteer in volunteers]})
        for stage, days in TASK_WHEN_DAYS.items():
            start = day + timedelta(days=days)
            task = create(f"{VOLUNTEERS}/CreateTask", f"task/{index}/{stage}", {
                "title": task_title, "description": f"{name}：{task_title}", "node_id": community_node["id"],
                "required_skills": [{"name": skill, "min_level": 1}], "people_needed": 2, "team_id": team["id"],
                "start_time": start.isoformat(), "end_time": (start + timedelta(hours=3)).isoformat()})
            if task["state"] == "DRAFT":
                take_task_to(stage, task, volunteers[:2], operator)
        teams.append(team)
    return teams


def take_task_to(stage, task, volunteers, gateway):
    """Publishes a new task and, as its coordinator would, dispatches people and records their hours."""
    gateway.call(f"{VOLUNTEERS}/PublishTask", {"id": task["id"]})
    if stage == "open":
        return
    gateway.call(f"{VOLUNTEERS}/DispatchTask", {"id": task["id"], "volunteer_ids": [v["id"] for v in volunteers]})
    if stage == "dispatched":
        return
    for volunteer in volunteers:
        gateway.call(f"{VOLUNTEERS}/CheckIn", {"task_id": task["id"], "volunteer_id": volunteer["id"],
                                               "time": task["start_time"]})
        gateway.call(f"{VOLUNTEERS}/CheckOut", {"task_id": task["id"], "volunteer_id": volunteer["id"],
                                                "time": task["end_time"]})
