"""The queue index (services/tickets/queue_index.py) and the predicates ListTickets and
GetTicketFigures select its entries with: order, pages, versions, moves, memory, and the same
answers as the MongoDB filters the predicates replace, on a table of cases."""
import itertools
import tracemalloc
from datetime import datetime, timedelta, timezone

import bson
import pytest

from services.access import Caller
from services.errors import PermissionDenied
from services.queries import combined
from services.tickets import figures, lifecycle, parties, schemas
from services.tickets.queue_index import QueueIndex, millis
from services.tickets.store import TicketQueue
from services.validation import parse

MOMENT = datetime(2026, 1, 10, 8, 0, tzinfo=timezone.utc)


def stored(ticket_id, due_minutes=60, tenant="t1", version=0, **fields):
    """A stored ticket with what an entry reads, due `due_minutes` after MOMENT (None: no clock)."""
    due = lifecycle.NO_DEADLINE if due_minutes is None else MOMENT + timedelta(minutes=due_minutes)
    return {"_id": ticket_id, "tenant": tenant, "path": ["c", "g1", "b1", "f1"], "state": "SUBMITTED",
            "category_id": "heating", "kind": "REQUEST", "priority": "NORMAL", "involved": ["resident-li"],
            "organisation_ids": [], "create_time": MOMENT, "queue_due": due, "version": version,
            "timeline": [{"action": "created"}], **fields}


def everything(entry):
    return True


# The index


def test_a_page_is_in_queue_order_after_its_key_and_per_tenant():
    index = QueueIndex()
    for document in [stored("b", 30), stored("a", 30), stored("late", None), stored("overdue", -60),
                     stored("other-tenant", 10, tenant="t2")]:
        index.put(document)
    assert index.page("t1", everything, 10) == ["overdue", "a", "b", "late"]
    assert index.page("t1", everything, 2) == ["overdue", "a"]
    after_a = index.get("a").key
    assert index.page("t1", everything, 10, after_a) == ["b", "late"]
    assert index.page("t1", lambda entry: entry.id != "b", 1, after_a) == ["late"]
    assert index.page("t2", everything, 10) == ["other-tenant"] and index.page("t3", everything, 10) == []


def test_a_put_moves_the_ticket_in_its_queue_unless_the_index_holds_a_later_version():
    index = QueueIndex()
    index.put(stored("a", 30))
    index.put(stored("b", 60))
    assert index.put(stored("b", -5, version=1))
    assert index.page("t1", everything, 10) == ["b", "a"]
    assert not index.put(stored("b", 90, version=0))
    assert index.page("t1", everything, 10) == ["b", "a"] and index.get("b").version == 1
    assert not index.put(stored("b", -5, version=1))
    assert index.put(stored("b", 90, version=1, state="TRIAGED"))  # written behind the service's back
    assert index.page("t1", everything, 10) == ["a", "b"]
    assert index.put(stored("a", 30, retire_time=MOMENT)) and index.page("t1", everything, 10) == ["b"]
    assert index.remove("b") and not index.remove("b") and len(index) == 0 and index.queues["t1"] == []


def test_an_entry_is_equal_to_one_made_again_from_the_same_stored_ticket():
    """What a page's kept rows rely on: a row is shown while its entry equals the index's."""
    index = QueueIndex()
    index.put(stored("a", 30))
    assert index.get("a") == index.entry_of(stored("a", 30, timeline=[]))
    assert index.get("a") != index.entry_of(stored("a", 31))
    naive = stored("a", 30, create_time=MOMENT.replace(tzinfo=None), queue_due=(MOMENT + timedelta(minutes=30))
                   .replace(tzinfo=None))
    assert index.get("a") == index.entry_of(naive)


def test_tickets_below_a_moved_node_take_its_new_path():
    index = QueueIndex()
    index.put(stored("a", 30))
    index.put(stored("b", 30, path=["c", "g2", "b2"]))
    index.move_below("t1", "b1", ["c2", "g9", "b1"])
    assert index.get("a").path == ("c2", "g9", "b1", "f1") and index.get("b").path == ("c", "g2", "b2")


def test_millis_are_what_mongodb_stores():
    assert millis(datetime(1970, 1, 1, 0, 0, 1, 999999)) == 1999
    assert millis(datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=timezone.utc)) == -500
    assert millis(datetime(2026, 1, 10, 16, 0, tzinfo=timezone(timedelta(hours=8)))) == millis(MOMENT)


def test_entries_are_slim():
    """What 100,000 tickets take in the index, measured on 20,000 of a city's shape (30 grids,
    600 buildings, a few parties each)."""
    tracemalloc.start()
    index = QueueIndex()
    before = tracemalloc.get_traced_memory()[0]
    for number in range(20_000):
        grid, building = f"grid{number % 30:026d}", f"building{number % 600:022d}"
        index.put(stored(f"{number:032x}", number % 5000, path=["city", "street", "community", grid, building,
                                                              f"flat{number % 9000:026d}"],
                         involved=[f"resident-{number}", f"worker-{number % 60}"], category_id=f"cat{number % 40}",
                         first_response_time=MOMENT, feedback={"satisfaction": 4, "comment": "ok"}))
    per_ticket = (tracemalloc.get_traced_memory()[0] - before) / 20_000
    tracemalloc.stop()
    assert per_ticket * 100_000 < 120 * 2**20, f"{per_ticket:.0f} bytes a ticket"


# The predicates, against the MongoDB filters they replace


def mongo_matches(condition, document):
    """What MongoDB answers for the filters ListTickets and GetTicketFigures sent: equality (an
    array field matches if any element is equal), `$in`, `$gte`, `$lt`, `$exists` and `$and`;
    times compared as BSON holds them, in whole milliseconds."""
    for field, wanted in condition.items():
        if field == "$and":
            if not all(mongo_matches(part, document) for part in wanted):
                return False
            continue
        value = as_bson(document.get(field))
        values = value if isinstance(value, list) else [value]
        if isinstance(wanted, dict):
            for operator, operand in wanted.items():
                if operator == "$exists":
                    ok = (field in document) == operand
                elif operator == "$in":
                    ok = any(item in operand for item in values)
                elif operator == "$gte":
                    ok = value is not None and value >= as_bson(operand)
                elif operator == "$lt":
                    ok = value is not None and value < as_bson(operand)
                else:
                    raise AssertionError(operator)
                if not ok:
                    return False
        elif wanted not in values:
            return False
    return True


def as_bson(value):
    return millis(value) if isinstance(value, datetime) else value


def mongo_listed(caller, command):
    """The filter ListTickets sent the store before the queue index (parties.listed then); those
    who are not staff read only their own queue."""
    if command.queue == "MINE" or (command.queue != "ORGANISATION_QUEUE" and caller.role not in lifecycle.STAFF_ROLES):
        query = {"tenant": caller.tenant, "involved": {"$in": sorted(parties.identities(caller))}}
    elif command.queue == "ORGANISATION_QUEUE":
        organisation = {"organisation_ids": command.organisation_id}
        if command.organisation_id in parties.identities(caller):
            query = {"tenant": caller.tenant, **organisation}
        elif caller.role in lifecycle.STAFF_ROLES:
            query = caller.scoped(organisation)
        else:
            raise PermissionDenied("only staff or the organisation itself read its queue")
    else:
        query = caller.scoped()
    conditions = [query]
    if command.node_id:
        conditions.append({"path": command.node_id})
    if command.states:
        conditions.append({"state": {"$in": command.states}})
    for name in ("category_id", "kind", "priority"):
        if getattr(command, name):
            conditions.append({name: getattr(command, name)})
    if command.created_after:
        conditions.append({"create_time": {"$gte": command.created_after}})
    if command.created_before:
        conditions.append({"create_time": {"$lt": command.created_before}})
    return combined(*conditions)


def mongo_counted(caller, command):
    """The filter GetTicketFigures sent the store before the queue index."""
    period = {"create_time": {"$gte": command.start_time, "$lt": command.end_time}}
    if command.node_id:
        period["path"] = command.node_id
    return caller.scoped(period)


CALLERS = [
    {"subject": "operator-1", "tenant": "t1", "role": "city_operator", "scope": ["*"]},
    {"subject": "worker-1", "tenant": "t1", "role": "grid_worker", "scope": ["g1"]},
    {"subject": "staff-2", "tenant": "t1", "role": "community_staff", "scope": ["g2", "b9"]},
    {"subject": "resident-li", "tenant": "t1", "role": "resident", "scope": ["f1"]},
    {"subject": "plumber", "tenant": "t1", "role": "partner", "scope": [], "grants": ["org:o1"]},
    {"subject": "operator-2", "tenant": "t2", "role": "city_operator", "scope": ["*"]},
]
TICKETS = [
    stored("plain", 60),
    stored("other-grid", 30, path=["c", "g2", "b2", "f2"], kind="HAZARD", priority="HIGH", involved=["w9"]),
    stored("assigned", 120, state="ASSIGNED", involved=["resident-li", "worker-1"]),
    stored("organisation", 10, path=["c", "g2", "b9"], organisation_ids=["o1"], involved=["o1", "resident-zhao"],
           category_id="lifts"),
    stored("old", None, state="CLOSED", create_time=MOMENT - timedelta(days=40), involved=["resident-li"]),
    stored("just-now", 5, create_time=MOMENT + timedelta(milliseconds=1), involved=[]),
    stored("other-tenant", 1, tenant="t2", involved=["resident-li"]),
    stored("rootless", 1, path=[], involved=["worker-1", "plumber"], priority="URGENT"),
]
REQUESTS = [
    {}, {"queue": "MINE"}, {"queue": "ORGANISATION_QUEUE", "organisation_id": "o1"},
    {"node_id": "g2"}, {"node_id": "f1", "kind": "REQUEST"}, {"states": ["ASSIGNED", "CLOSED"]},
    {"category_id": "lifts"}, {"priority": "URGENT"}, {"priority": "HIGH", "kind": "HAZARD"},
    {"created_after": "2026-01-10T08:00:00Z"}, {"created_after": "2026-01-10T08:00:00.0005Z"},
    {"created_before": "2026-01-10T08:00:00Z"},
    {"created_after": "2025-12-01T00:00:00+08:00", "created_before": "2026-01-10T08:00:00.001Z"},
    {"queue": "MINE", "states": ["SUBMITTED"], "node_id": "c"},
]


@pytest.mark.parametrize("caller, request_body", itertools.product(CALLERS, REQUESTS))
def test_listed_selects_what_the_mongodb_filter_did(caller, request_body):
    caller, command = Caller.of(caller), parse(schemas.ListTickets, request_body)
    try:
        query = mongo_listed(caller, command)
    except PermissionDenied:
        with pytest.raises(PermissionDenied):
            parties.listed(caller, command)
        return
    matches, index = parties.listed(caller, command), QueueIndex()
    assert ([ticket["_id"] for ticket in TICKETS if matches(index.entry_of(ticket))] ==
            [ticket["_id"] for ticket in TICKETS if mongo_matches(query, ticket)])


PERIODS = [
    {"start_time": "2026-01-01T00:00:00Z", "end_time": "2026-02-01T00:00:00Z"},
    {"start_time": "2026-01-10T08:00:00Z", "end_time": "2026-01-10T08:00:00.001Z", "node_id": "g1"},
    {"start_time": "2025-01-01T00:00:00Z", "end_time": "2026-01-10T08:00:00Z", "node_id": "c"},
    {"start_time": "2025-01-01T00:00:00Z", "end_time": "2027-01-01T00:00:00Z", "node_id": "b9"},
]


@pytest.mark.parametrize("caller, request_body", itertools.product(CALLERS, PERIODS))
def test_figures_count_what_the_mongodb_filter_did(caller, request_body):
    caller, command = Caller.of(caller), parse(schemas.Figures, request_body)
    counted, query, index = figures.counted(caller, command), mongo_counted(caller, command), QueueIndex()
    assert ([ticket["_id"] for ticket in TICKETS if counted(index.entry_of(ticket))] ==
            [ticket["_id"] for ticket in TICKETS if mongo_matches(query, ticket)])


# The queue of a process, over a store


class StoredTickets:
    """Just what `TicketQueue` asks of the tickets' `Records`, over a dict."""

    def __init__(self, *documents):
        self.documents = {document["_id"]: document for document in documents}
        self.collection = self
        self.codec_options = bson.CodecOptions(tz_aware=True)
        self.reads = []

    def find(self, query, fields):
        return list(self.documents.values())

    def first(self, query, fields):
        self.reads.append(query["_id"])
        return self.documents.get(query["_id"])


def ids_of(rows):
    return [row.entry.id for row in rows]


def test_a_page_reads_only_the_tickets_it_does_not_keep_as_the_index_has_them():
    tickets = StoredTickets(stored("a", 10), stored("b", 20), stored("c", 30))
    queue = TicketQueue(tickets)
    assert ids_of(queue.page("t1", everything, 2, None)) == ["a", "b"]
    assert tickets.reads == ["a", "b"]
    rows = queue.page("t1", everything, 3, None)
    assert ids_of(rows) == ["a", "b", "c"] and tickets.reads == ["a", "b", "c"]
    assert rows[0].shown == {"id": "a", "path": ["c", "g1", "b1", "f1"], "state": "SUBMITTED",
                             "category_id": "heating", "kind": "REQUEST", "priority": "NORMAL",
                             "organisation_ids": [], "create_time": "2026-01-10T08:00:00.000000Z"}
    tickets.documents["b"] = stored("b", 20, version=1, state="TRIAGED")
    queue.index.put(tickets.documents["b"])  # as a reload of the index takes it
    assert [row.shown["state"] for row in queue.page("t1", everything, 3, None)] == ["SUBMITTED", "TRIAGED", "SUBMITTED"]
    assert tickets.reads == ["a", "b", "c", "b"]


def test_a_page_learns_from_events_and_reads_by_id_what_was_written_behind_its_back():
    tickets = StoredTickets(stored("a", 10), stored("b", 20), stored("c", 30))
    queue = TicketQueue(tickets)
    queue.page("t1", everything, 3, None)
    tickets.documents["c"] = stored("c", -30)  # overdue now, written behind the process's back
    del tickets.documents["a"]
    assert ids_of(queue.page("t1", everything, 3, None)) == ["a", "b", "c"]
    queue.mirror("a", "event-1")
    queue.seen(tickets.first({"_id": "c"}, None))
    assert ids_of(queue.page("t1", everything, 3, None)) == ["c", "b"]


def test_a_page_puts_right_what_the_store_contradicts_and_reads_again():
    tickets = StoredTickets(stored("a", 10), stored("b", 20), stored("c", 30))
    queue = TicketQueue(tickets)
    queue.loaded()
    tickets.documents["c"] = stored("c", -30)  # overdue now, written behind the process's back
    del tickets.documents["a"]
    assert ids_of(queue.page("t1", everything, 3, None)) == ["c", "b"]
    assert queue.index.page("t1", everything, 10) == ["c", "b"]


def test_a_process_reads_back_what_others_wrote_not_what_it_wrote_itself():
    tickets = StoredTickets(stored("a", 10))
    queue = TicketQueue(tickets)
    queue.loaded()
    queue.wrote({**stored("b", 5, version=1), "outbox": [{"id": "event-1"}]})
    queue.mirror("b", "event-1")
    assert tickets.reads == [] and queue.index.page("t1", everything, 10) == ["b", "a"]
    tickets.documents["a"] = stored("a", 1, version=1)
    queue.mirror("a", "event-2")
    assert tickets.reads == ["a"] and queue.index.get("a").version == 1


def clocked(ticket_id, **clock):
    """A stored ticket on a fresh first-response clock of 60 minutes from MOMENT, changed by `clock`."""
    running = lifecycle.new_clock({"first_response_minutes": 60, "resolution_minutes": 600}, "FIRST_RESPONSE",
                                  "GRID", MOMENT) | clock
    return stored(ticket_id, clock=running, queue_due=lifecycle.queue_due(running))


def test_the_deadline_scan_watches_a_ticket_from_its_warning_then_its_deadline_until_both_are_told():
    fresh = clocked("fresh")
    warned = clocked("warned", approaching_notified=True)
    paused = clocked("paused", paused=True)
    told = clocked("told", approaching_notified=True, missed_notified=True)
    closed = stored("closed", state="CLOSED", clock=None)
    assert lifecycle.watch_time(fresh) == fresh["clock"]["warn_at"] < fresh["queue_due"]
    assert lifecycle.watch_time(warned) == warned["queue_due"]
    assert lifecycle.watch_time(paused) == lifecycle.NO_DEADLINE
    assert lifecycle.watch_time(told) is None and lifecycle.watch_time(closed) is None

    index = QueueIndex()
    for document in (fresh, warned, paused, told, closed):
        index.put(document)
    before_warning = fresh["clock"]["warn_at"] - timedelta(seconds=1)
    assert index.watched(millis(before_warning)) == []
    assert index.watched(millis(fresh["clock"]["warn_at"])) == ["fresh"]
    assert sorted(index.watched(millis(fresh["queue_due"]))) == ["fresh", "warned"]
    moment = fresh["clock"]["warn_at"]
    assert lifecycle.warning_due(fresh, moment) and not lifecycle.deadline_missed(fresh, moment)
    assert lifecycle.deadline_missed(warned, warned["queue_due"]) and not lifecycle.warning_due(warned, moment)
    assert not lifecycle.warning_due(paused, moment) and not lifecycle.deadline_missed(told, told["queue_due"])
