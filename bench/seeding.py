"""Seeds a bench city through the gateway: N real-scale demo communities (cli/demo_city.py, each
10 grids, 86 buildings, ~3,200 flats, 2,911 households, 6,812 residents) under one street, each
with tickets, volunteers and volunteer tasks; and a full inbox for one resident of the first
community and one of the last.

Every create carries a fixed request id and the import keys rows by their content, so seeding
again writes nothing new (it still costs the calls). Tickets are a queue's mix: three in five
left SUBMITTED in their grid's queue, two in five triaged and assigned, half of those in a
category whose promise runs out in a minute or two (overdue, then escalated by the deadline
timer). Inboxes are filled by notices (CreateNotice writes its messages as it answers), not by
ticket events, which reach the inbox only once the notifications service has worked through
every event the import published before them.
"""
import dataclasses
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import grpc
from tenacity import retry, retry_if_exception, stop_after_delay, wait_exponential

from cli.demo_city import REAL, SEED, generate
from cli.importer import import_rows
from cli.seed import create_hierarchy, create_vacant_flats

GRIDS = "civicgrid.grids.v1.Grids"
RESIDENTS = "civicgrid.residents.v1.Residents"
TICKETS = "civicgrid.tickets.v1.Tickets"
VOLUNTEERS = "civicgrid.volunteers.v1.Volunteers"

TICKETS_PER_COMMUNITY = 500
VOLUNTEERS_PER_COMMUNITY = 100
TASKS_PER_COMMUNITY = 50
# Ten pages of 50: enough for a tenth page.
NOTICES_PER_INBOX = 500
NOTICE_AUDIENCE_TAGS = ["elderly", "living_alone"]
SKILLS = ("first_aid", "cooking", "patrol", "childcare", "calligraphy")
# Qualifies for every task: the volunteer whose open-task list is measured.
ALL_ROUNDER = "bench-volunteer-all-rounder"


@dataclasses.dataclass
class SeededCity:
    city: str
    communities: list  # community node ids, the first is the one measured as "a community"
    buildings: list  # per community, its building node ids
    write_grid: str  # a grid of its own for the create benchmarks, outside the communities
    write_flat: str
    inbox_subjects: dict  # "community" and "city": a resident of the first and of the last community
    counts: dict


def seed_city(gateway, communities, workers=8, log=print):
    """Seeds `communities` demo communities; `gateway` is a cli.api.Gateway whose token has the
    whole tenant and the sensitive_tags grant."""
    gateway = Retrying(gateway)
    create = creator(gateway)
    seeder = CommunitySeeder(gateway, create, create_categories(create), workers, log)
    seeded = [seeder.seed(index, measured_inbox=index in (0, communities - 1)) for index in range(communities)]
    city = seeded[0]["node"]["path"][0]
    inboxes = [community["inbox_subject"] for community in seeded if community["inbox_subject"]]
    seed_all_rounder(create, seeded[0]["buildings"][0])
    write_grid, write_flat = seed_write_area(create, city)
    counts = {"residents": sum(community["residents"] for community in seeded),
              "households": communities * REAL.households, "tickets": communities * TICKETS_PER_COMMUNITY,
              "volunteers": communities * VOLUNTEERS_PER_COMMUNITY, "tasks": communities * TASKS_PER_COMMUNITY,
              "notices": len(inboxes) * NOTICES_PER_INBOX}
    return SeededCity(city, [community["node"]["id"] for community in seeded],
                      [community["buildings"] for community in seeded], write_grid, write_flat,
                      {"community": inboxes[0], "city": inboxes[-1]}, counts)


class CommunitySeeder:
    def __init__(self, gateway, create, categories, workers, log):
        self.gateway, self.create, self.categories, self.workers, self.log = gateway, create, categories, workers, log
        self.national_ids = set()

    def seed(self, index, measured_inbox):
        """The community's hierarchy, flats, residents, tickets, volunteers, tasks and, when its
        inbox is measured, notices; logs how long each took."""
        phases = Phases()
        community = generate(community_size(index), seed=SEED + index)
        node, building_ids = create_hierarchy(self.create, community)
        with ThreadPoolExecutor(self.workers) as pool:
            list(pool.map(lambda flats: create_vacant_flats(
                self.create, dataclasses.replace(community, flats=flats), building_ids),
                split(community.flats, self.workers)))
            phases.done("nodes and vacant flats")
            rows = unique_national_ids(community.import_rows(building_ids, True), self.national_ids)
            report = import_rows(self.gateway, rows, progress=sys.stderr)
            if report["errors"]:
                self.log(f"  {len(report['errors'])} rows refused, first: {report['errors'][0]}")
            phases.done("import")
            list(pool.map(lambda n: seed_ticket(self.gateway, self.create, index, n, building_ids, self.categories),
                          range(TICKETS_PER_COMMUNITY)))
            phases.done("tickets")
            list(pool.map(lambda n: seed_volunteer(self.create, index, n, building_ids),
                          range(VOLUNTEERS_PER_COMMUNITY)))
            list(pool.map(lambda n: seed_task(self.gateway, self.create, index, n, building_ids),
                          range(TASKS_PER_COMMUNITY)))
            phases.done("volunteers and tasks")
            inbox_subject = seed_inbox(self.gateway, self.create, pool, index, building_ids) if measured_inbox else ""
            if measured_inbox:
                phases.done("notices")
        self.log(f"community {index + 1} {community.size.community} seeded: {phases}")
        return {"node": node, "buildings": building_ids, "inbox_subject": inbox_subject,
                "residents": report["residents_created"] + report["rows_unchanged"]}


def busy(error):
    return isinstance(error, grpc.RpcError) and error.code() in (
        grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class Retrying:
    """The gateway, with a call the platform was too busy to answer made again, for up to ten
    minutes: on a store loaded by others an import batch can time out again and again. Creates
    carry request ids and the import keys rows by content, so a call made twice writes once."""

    def __init__(self, gateway):
        self.gateway = gateway

    @retry(retry=retry_if_exception(busy), stop=stop_after_delay(600), wait=wait_exponential(1, max=30),
           reraise=True)
    def call(self, method, request, timeout=30):
        return self.gateway.call(method, request, timeout=timeout)


@contextmanager
def unless_moved_on():
    """A step retried after its first try went through finds its record moved on: as wanted."""
    try:
        yield
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
            raise


class Phases:
    """How long each step of a community's seed took."""

    def __init__(self):
        self.started = self.last = time.perf_counter()
        self.seconds = {}

    def done(self, phase):
        now = time.perf_counter()
        self.seconds[phase], self.last = now - self.last, now

    def __str__(self):
        steps = ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in self.seconds.items())
        return f"{time.perf_counter() - self.started:.0f} s ({steps})"


def creator(gateway):
    def create(method, key, body):
        return gateway.call(method, {"request_id": f"speed-bench/{key}", **body}, timeout=60)
    return create


def community_size(index):
    """The first is the demo community itself; the others are generated the same way with
    another seed and name."""
    return REAL if index == 0 else dataclasses.replace(REAL, community=f"第{index + 1}社区")


def split(items, parts):
    return [items[part::parts] for part in range(parts)]


def unique_national_ids(rows, seen):
    """Communities generated with different seeds may draw the same ID number; the later
    resident is then registered without one rather than refused."""
    for row in rows:
        if row.get("national_id") in seen:
            del row["national_id"]
        elif row.get("national_id"):
            seen.add(row["national_id"])
    return rows


def create_categories(create):
    routing = {"assignee_kind": "GRID_WORKER"}
    usual = create(f"{TICKETS}/CreateCategory", "category/usual", {
        "name": "Heating", "routing": routing,
        "promises": [{"priority": "NORMAL", "first_response_minutes": 24 * 60, "resolution_minutes": 3 * 24 * 60}]})
    hasty = create(f"{TICKETS}/CreateCategory", "category/hasty", {
        "name": "Lift stuck", "routing": routing,
        "promises": [{"priority": "NORMAL", "first_response_minutes": 1, "resolution_minutes": 2}]})
    return usual["id"], hasty["id"]


def seed_ticket(gateway, create, community, number, building_ids, categories):
    usual, hasty = categories
    ticket = create(f"{TICKETS}/CreateTicket", f"ticket/{community}/{number}", {
        "kind": "REQUEST", "channel": "HOTLINE", "category_id": hasty if number % 5 == 0 else usual,
        "node_id": building_ids[number % len(building_ids)], "description": f"bench ticket {number}"})
    if number % 5 > 1:
        return
    with unless_moved_on():
        if ticket["state"] == "SUBMITTED":
            ticket = gateway.call(f"{TICKETS}/TriageTicket", {"id": ticket["id"], "decision": "ACCEPT"})
        if ticket["state"] == "TRIAGED":
            gateway.call(f"{TICKETS}/AssignTicket", {"id": ticket["id"],
                                                     "assignee_subject": f"bench-staff-{community}"})


def seed_volunteer(create, community, number, building_ids):
    skills = [{"name": SKILLS[(number + k) % len(SKILLS)], "level": 1 + (number + k) % 5} for k in range(2)]
    create(f"{VOLUNTEERS}/CreateVolunteer", f"volunteer/{community}/{number}", {
        "subject": f"bench-volunteer-{community}-{number}", "display_name": f"Volunteer {community}-{number}",
        "home_node_id": building_ids[number % len(building_ids)], "skills": skills,
        "certifications": [{"name": "first_aid", "expires_on": "2035-01-01"}],
        "availability": [{"weekday": "SATURDAY", "start": "08:00", "end": "12:00"}]})


def seed_all_rounder(create, building_id):
    create(f"{VOLUNTEERS}/CreateVolunteer", "volunteer/all-rounder", {
        "subject": ALL_ROUNDER, "display_name": "All-rounder", "home_node_id": building_id,
        "skills": [{"name": skill, "level": 5} for skill in SKILLS],
        "certifications": [{"name": "first_aid", "expires_on": "2035-01-01"}]})


def seed_task(gateway, create, community, number, building_ids):
    """Tasks weeks ahead, so no deadline of theirs passes during a run; two in three published."""
    start = datetime(2035, 1, 1, 9, tzinfo=timezone.utc) + timedelta(days=number, hours=community)
    task = create(f"{VOLUNTEERS}/CreateTask", f"task/{community}/{number}", {
        "title": f"Task {community}-{number}", "node_id": building_ids[number % len(building_ids)],
        "required_skills": [{"name": SKILLS[number % len(SKILLS)], "min_level": 1 + number % 3}],
        "start_time": start.isoformat(), "end_time": (start + timedelta(hours=3)).isoformat(), "people_needed": 3})
    if number % 3 and task["state"] == "DRAFT":
        with unless_moved_on():
            gateway.call(f"{VOLUNTEERS}/PublishTask", {"id": task["id"]})


def seed_inbox(gateway, create, pool, community, building_ids):
    """NOTICES_PER_INBOX notices to the elderly living alone in the first building that has any;
    returns the subject of one of them (a resident signs in as their resident id)."""
    for building_id in building_ids:
        audience = {"node_id": building_id, "tags": NOTICE_AUDIENCE_TAGS}
        found = gateway.call(f"{RESIDENTS}/ListResidents", {**audience, "page_size": 1})["residents"]
        if found:
            break
    list(pool.map(lambda n: create("civicgrid.notifications.v1.Notifications/CreateNotice",
                                   f"notice/{community}/{n}", {
                                       "audience": audience, "title": f"Notice {n}",
                                       "body": "Free blood pressure checks at the station on Saturday."}),
                  range(NOTICES_PER_INBOX)))
    return found[0]["id"]


def seed_write_area(create, city):
    """A community, grid, building and flat of their own for the create benchmarks, so what they
    create does not change the measured communities."""
    street = create(f"{GRIDS}/CreateNode", "write/street", {"kind": "STREET", "display_name": "Bench writes",
                                                            "parent_id": city})
    community = create(f"{GRIDS}/CreateNode", "write/community", {
        "kind": "COMMUNITY", "display_name": "Bench writes", "parent_id": street["id"]})
    grid = create(f"{GRIDS}/CreateNode", "write/grid", {"kind": "GRID", "display_name": "Bench writes",
                                                        "parent_id": community["id"]})
    building = create(f"{GRIDS}/CreateNode", "write/building", {"kind": "BUILDING", "display_name": "Bench writes",
                                                                "parent_id": grid["id"]})
    flat = create(f"{GRIDS}/CreateFlat", "write/flat", {"building_id": building["id"], "unit": "1", "floor": 1,
                                                        "number": "101", "occupancy": "OWNER_OCCUPIED"})
    return grid["id"], flat["id"]
