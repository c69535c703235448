"""The queue index: a read model of every live ticket, kept in the tickets service's memory.

Why: FerretDB pushes only equality filters down to its backend, never a sort, a limit, a range or
an `$in`, so a queue page ordered by (queue_due, _id) or a period's figures made it read and
decode every matching ticket, timeline and all: 2 calls a second over 500 tickets. This index
holds one slim entry per ticket — only what the queue filters, the queue order and the figures
read — sorted by (queue_due, _id) per tenant, so a page is a walk from the page token's key to the
first matches, and figures a pass over small entries. The store stays the truth: the index takes
every ticket written, read or announced by an event, and a page shows a ticket as kept with the
entry the index holds now, or reads it (`services.tickets.store.TicketQueue`).

Pure: no broker, no store. Times are whole milliseconds since the epoch (what MongoDB stores), so
an entry compares equal to one derived again from the same stored ticket. The strings and tuples
many entries repeat (tenant, path, state, parties) are shared, not copied per entry: about 0.7 KB a
ticket in all. 100,000 tickets of a city's shape take 66 MB (tracemalloc), and a process holding
them 150 MB RSS, 75 MB of which it has without them (tests/unit/test_tickets_queue_index.py).

The index is changed and read only by green threads of one process, and no operation here yields,
so none sees another half done.
"""
import calendar
import sys
from bisect import bisect_left, bisect_right, insort
from typing import NamedTuple

from services.tickets import lifecycle
from services.tickets.lifecycle import OPEN_STATES
from services.tickets.views import aware

# The fields of a stored ticket an entry is made of: the projection the index loads with.
ENTRY_FIELDS = {"tenant": 1, "path": 1, "building_id": 1, "state": 1, "category_id": 1, "kind": 1, "priority": 1,
                "involved": 1,
                "organisation_ids": 1, "create_time": 1, "queue_due": 1, "first_response_time": 1,
                "resolve_time": 1, "feedback": 1, "clock": 1, "version": 1}


class Entry(NamedTuple):
    """What ListTickets filters and sorts on, GetTicketFigures counts and SuggestAgenda finds
    recurring, of one ticket."""

    id: str
    tenant: str
    path: tuple
    building_id: str
    state: str
    category_id: str
    kind: str
    priority: str
    involved: tuple
    organisation_ids: tuple
    create_time: int
    queue_due: int
    first_response_time: int | None
    resolve_time: int | None
    satisfaction: int | None
    watch_time: int | None
    version: int

    @property
    def key(self):
        """The queue order: overdue first, then soonest due; ties by id."""
        return self.queue_due, self.id


def millis(moment):
    """A time as MongoDB stores it: whole milliseconds since the epoch (a zoneless time is UTC)."""
    moment = aware(moment)
    return calendar.timegm(moment.utctimetuple()) * 1000 + moment.microsecond // 1000


def optional_millis(moment):
    return millis(moment) if moment else None


class QueueIndex:
    """Entries by id, and each tenant's queue: the keys (queue_due, id) of its tickets, sorted."""

    def __init__(self):
        self.entries = {}
        self.queues = {}
        self.shared = {}

    def __len__(self):
        return len(self.entries)

    def entry_of(self, document):
        """The entry of a stored ticket (or of the fields `ENTRY_FIELDS` projects)."""
        feedback = document.get("feedback") or {}
        return Entry(
            id=document["_id"], tenant=self._shared(document["tenant"]),
            path=self._shared(tuple(map(self._shared, document.get("path") or ()))),
            building_id=self._shared(document.get("building_id") or ""), state=self._shared(document["state"]),
            category_id=self._shared(document["category_id"]),
            kind=self._shared(document["kind"]), priority=self._shared(document["priority"]),
            involved=self._shared(tuple(map(self._shared, document.get("involved") or ()))),
            organisation_ids=self._shared(tuple(map(self._shared, document.get("organisation_ids") or ()))),
            create_time=millis(document["create_time"]), queue_due=millis(document["queue_due"]),
            first_response_time=optional_millis(document.get("first_response_time")),
            resolve_time=optional_millis(document.get("resolve_time")),
            satisfaction=feedback.get("satisfaction"), watch_time=optional_millis(lifecycle.watch_time(document)),
            version=document.get("version", 0))

    def _shared(self, value):
        if isinstance(value, str):
            return sys.intern(value)
        return self.shared.setdefault(value, value)

    def get(self, ticket_id):
        return self.entries.get(ticket_id)

    def put(self, document):
        """Takes a ticket as written or read, unless the index holds a later version of it; a
        retired ticket leaves. Returns whether the entry changed."""
        if "retire_time" in document:
            return self.remove(document["_id"])
        entry = self.entry_of(document)
        current = self.entries.get(entry.id)
        if current is not None and (current.version > entry.version or current == entry):
            return False
        if current is not None:
            self._unqueue(current)
        self.entries[entry.id] = entry
        insort(self.queues.setdefault(entry.tenant, []), entry.key)
        return True

    def remove(self, ticket_id):
        entry = self.entries.pop(ticket_id, None)
        if entry is not None:
            self._unqueue(entry)
        return entry is not None

    def _unqueue(self, entry):
        queue = self.queues[entry.tenant]
        del queue[bisect_left(queue, entry.key)]

    def move_below(self, tenant, node_id, node_path):
        """Gives the tenant's tickets below `node_id` `node_path` as the prefix of their path, as
        `storage.rewrite_paths` does to the stored ones."""
        node_path = tuple(node_path)
        for key in self.queues.get(tenant, ()):
            entry = self.entries[key[1]]
            if node_id in entry.path and entry.id != node_id:
                path = (*node_path, *entry.path[entry.path.index(node_id) + 1:])
                self.entries[entry.id] = entry._replace(path=self._shared(tuple(map(self._shared, path))))

    def page(self, tenant, matches, size, after=None):
        """The ids of the tenant's first `size` tickets that `matches` accepts, in queue order,
        after the key `after` (queue_due, id) if given."""
        queue = self.queues.get(tenant, [])
        ids = []
        for position in range(bisect_right(queue, after) if after else 0, len(queue)):
            entry = self.entries[queue[position][1]]
            if matches(entry):
                ids.append(entry.id)
                if len(ids) == size:
                    break
        return ids

    def rows(self, tenant, matches):
        """Every entry of the tenant that `matches` accepts, in queue order."""
        entries = (self.entries[ticket_id] for _, ticket_id in self.queues.get(tenant, ()))
        return [entry for entry in entries if matches(entry)]

    def every(self):
        return self.entries.values()

    def watched(self, moment):
        """The ids of the tickets the deadline scan may have to act on at `moment` (milliseconds)."""
        return [entry.id for entry in self.entries.values()
                if entry.watch_time is not None and entry.watch_time <= moment]


def open_counts(entries):
    """Open tickets by state."""
    counts = {}
    for entry in entries:
        if entry.state in OPEN_STATES:
            counts[entry.state] = counts.get(entry.state, 0) + 1
    return counts


def overdue_count(entries, moment):
    due = millis(moment)
    return sum(1 for entry in entries if entry.state in OPEN_STATES and entry.queue_due <= due)
