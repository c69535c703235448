"""Storage of the tickets service: the category catalogue and tickets.

A ticket is one document holding its clock, parties and timeline, so a transition, its
timeline entry and its events are a single write. Only one transition may leave a given
version (a claimed update, `storage.claims`): it writes conditionally on the state and version it read.

Queues and figures are read from the process's queue index (`queue_index`, `TicketQueue`), not
by a query: FerretDB would read every matching ticket to sort it.
"""
import base64
import binascii
import copy
import json
import threading
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import NamedTuple

import bson
from bson import Binary
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from services.errors import AlreadyExists, InvalidArgument, NotFound
from services.reference import REFERENCE, ReferenceMemory
from services.storage import (LIVE, OUTBOX, ClaimedUpdates, Records, Repository, new_id, now, page_size_of,
                              read_each)
from services.tickets import lifecycle, queue_index
from services.tickets import photos as photo_rules
from services.tickets.lifecycle import OPEN_STATES
from services.tickets.queue_index import ENTRY_FIELDS, QueueIndex, millis
from services.tickets.views import shown

# Fields a queue page does not need; GetTicket and ListTicketTimeline return them.
QUEUE_HIDDEN = ("timeline", OUTBOX)
QUEUE_PROJECTION = dict.fromkeys(QUEUE_HIDDEN, 0)
# A page whose tickets keep changing while it is read is read again, at most this many times.
PAGE_READS = 3
# A resident moved to another household keeps seeing the old one's tickets this long at most.
ACCOUNT_HOUSEHOLD_TTL_SECONDS = 30
# Events this process wrote, which it need not read back when they come round to it.
OWN_EVENTS_KEPT = 10_000
# Tickets whose page row a process keeps, about 2 KB each: the most recently shown.
PAGE_TICKETS_KEPT = 10_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class TicketsRepository(Repository):
    record_collections = ("categories", "tickets", "meetings", "projects")

    def __init__(self, database):
        super().__init__(database)
        self.categories = Records(database.categories, "category")
        # Shared by every worker's copy of the repository: one memory per process.
        self.remembered_categories = ReferenceMemory(REFERENCE.max_entries, REFERENCE.ttl_seconds)
        # (tenant, a resident's subject) -> the household the registry places them in ("" if none)
        # and its path, which decides the tickets and published meetings they read
        self.resident_accounts = ReferenceMemory(REFERENCE.max_entries, ACCOUNT_HOUSEHOLD_TTL_SECONDS)
        self.tickets = Records(database.tickets, "ticket",
                               claims=ClaimedUpdates(database.tickets, database.transition_claims))
        self.queue = TicketQueue(self.tickets)
        self.photos = database.ticket_photos
        # Deliberation meetings and their projects: each write claims the version it read, as two
        # staff may decide items of one meeting, or update milestones of one project, at once.
        self.meetings = Records(database.meetings, "meeting",
                                claims=ClaimedUpdates(database.meetings, database.meeting_claims))
        self.projects = Records(database.projects, "project",
                                claims=ClaimedUpdates(database.projects, database.project_claims))

    def ensure_indexes(self):
        super().ensure_indexes()
        self.categories.collection.create_index(
            [("tenant", ASCENDING), ("name", ASCENDING)], unique=True, name="category_name")
        tickets = self.tickets.collection
        tickets.create_index([("tenant", ASCENDING), ("path", ASCENDING), ("queue_due", ASCENDING),
                              ("_id", ASCENDING)], name="queue")
        tickets.create_index([("tenant", ASCENDING), ("assignee_subject", ASCENDING)], name="assignee")
        tickets.create_index([("tenant", ASCENDING), ("involved", ASCENDING)], name="involved")
        tickets.create_index([("tenant", ASCENDING), ("building_id", ASCENDING), ("category_id", ASCENDING),
                              ("state", ASCENDING)], name="similar")
        tickets.create_index([("tenant", ASCENDING), ("path", ASCENDING), ("create_time", ASCENDING)],
                             name="figures")
        tickets.create_index([("clock.warn_at", ASCENDING)], name="deadline_warnings")
        tickets.create_index([("queue_due", ASCENDING)], name="deadlines")
        # One project per adopted suggestion.
        self.projects.collection.create_index([("tenant", ASCENDING), ("ticket_id", ASCENDING)], unique=True,
                                              name="project_of_ticket")

    def create_category(self, tenant, request_id, fields, events):
        """A new category (or the one this request created before); names are unique per tenant."""
        try:
            document, _ = self.categories.create(tenant, request_id, fields, events)
        except DuplicateKeyError:
            raise AlreadyExists(f"a category named {fields['name']!r} exists",
                                [{"field": "name", "description": "already used in this tenant"}]) from None
        return document

    def create_ticket(self, tenant, request_id, fields, events, photos=()):
        """A new ticket (or the one this request created before), as written, with its photos
        ([(content type, bytes)]). The photos are stored first, under ids the request fixes: a
        ticket never names a photo that is not there, and a repeat stores none twice (one whose
        ticket was never written is left unnamed)."""
        request_id = request_id or new_id()
        kept = [self._keep_photo(tenant, photo_rules.photo_id(tenant, request_id, index), *photo)
                for index, photo in enumerate(photos)]
        document, _ = self.tickets.create(tenant, request_id, fields | {"photos": kept}, events)
        return self.queue.wrote(document)

    def keep_project_photos(self, tenant, project_id, photos):
        """A milestone update's photos ([(content type, bytes)]), stored before the project names
        them, under ids their bytes fix: a repeated update stores none twice."""
        return [self._keep_photo(tenant, photo_rules.content_photo_id(tenant, project_id, raw), content_type, raw)
                for content_type, raw in photos]

    def _keep_photo(self, tenant, photo_id, content_type, raw):
        """The photo as first stored under its id: a repeat, whatever it carries, keeps it."""
        photo = {"_id": photo_id, "tenant": tenant, "content_type": content_type, "size": len(raw),
                 "data": Binary(raw), "create_time": now()}
        try:
            self.photos.insert_one(photo)
        except DuplicateKeyError:
            photo = self.photos.find_one({"_id": photo["_id"]}, {"data": 0})
        return photo_rules.reference(photo)

    def photo(self, tenant, references, photo_id, holder="ticket"):
        """A photo among the `references` a ticket or project holds, or NotFound."""
        named = photo_id in {photo["id"] for photo in references}
        found = self.photos.find_one({"_id": photo_id, "tenant": tenant}) if named else None
        if found is None:
            raise NotFound("photo not found", [{"field": "photo_id", "description": f"no such photo of the {holder}"}])
        return {"id": found["_id"], "content_type": found["content_type"],
                "data": base64.b64encode(found["data"]).decode()}

    def category(self, tenant, category_id):
        """The tenant's category (NotFound if none), remembered by this process: no call changes or
        deletes a category once created, so a remembered one is never stale. Should a call ever
        change them, it must make every process forget the category; until then the time-to-live
        (REFERENCE_TTL_SECONDS) bounds how long the old one is used."""
        remembered = self.remembered_categories.recall(tenant, category_id)
        if remembered is None:
            category = self.categories.get({"tenant": tenant, "_id": category_id})
            self.remembered_categories.remember(tenant, category_id, "category", category)
            return copy.deepcopy(category)
        return copy.deepcopy(remembered[1])

    def find_ticket(self, tenant, ticket_id):
        """The tenant's ticket, or None; what is read keeps the queue index up to date."""
        return self.queue.seen(self.tickets.first({"tenant": tenant, "_id": ticket_id}))

    def has_ticket(self, tenant, ticket_id):
        return self.tickets.count({"tenant": tenant, "_id": ticket_id}) > 0

    def transition(self, ticket, changes, timeline_entries, events):
        """Applies a change only if the ticket is still as it was read; None if it moved on."""
        operation = {"$set": dict(changes), "$push": {"timeline": {"$each": list(timeline_entries)}}}
        return self.queue.wrote(self.tickets.claimed_update(
            ticket, operation, events, {"tenant": ticket["tenant"], "state": ticket["state"]}))

    def release_stale_claims(self):
        for records in (self.tickets, self.meetings, self.projects):
            records.claims.release_stale()

    # Deliberation meetings and projects

    def create_meeting(self, tenant, request_id, fields, events):
        """A new meeting, or the one this request created before."""
        document, _ = self.meetings.create(tenant, request_id, fields, events)
        return document

    def create_project(self, tenant, request_id, fields, events):
        """A new project, or the one this request created before; a suggestion has one project."""
        try:
            document, _ = self.projects.create(tenant, request_id, fields, events)
        except DuplicateKeyError:
            raise AlreadyExists("the suggestion has a project already",
                                [{"field": "ticket_id", "description": "already carried out by a project"}]) from None
        return document

    def open_suggestions(self, tenant, node_id, limit=500):
        """Open suggestions below `node_id` as a page shows them, from the queue index: a query
        by kind and state would read every ticket of the tenant on FerretDB."""
        def matches(entry):
            return (entry.tenant == tenant and entry.kind == "SUGGESTION" and entry.state in OPEN_STATES
                    and node_id in entry.path)
        return [row.shown for row in self.queue.page(tenant, matches, limit, None)]

    def queue_page(self, tenant, matches, page_size, page_token):
        """Keyset pages ordered by (queue_due, _id): overdue first, then soonest due. `matches`
        is a predicate over queue index entries (`parties.listed`)."""
        size = page_size_of(page_size)
        after = decode_queue_token(page_token)
        rows = self.queue.page(tenant, matches, size + 1, after and (millis(after[0]), after[1]))
        token = encode_queue_token(rows[size - 1].entry.key) if len(rows) > size else ""
        return [row.shown for row in rows[:size]], token

    def similar_open(self, tenant, building_id, category_id, limit=20):
        return list(self.tickets.collection.find(
            {"tenant": tenant, "building_id": building_id, "category_id": category_id,
             "state": {"$in": list(OPEN_STATES)}, **LIVE}, QUEUE_PROJECTION).sort("create_time", ASCENDING)
            .limit(limit))

    def deadlines_due(self, moment):
        """(tickets whose approaching deadline is due to be announced, tickets whose deadline is
        due to be marked missed), as stored now. The queue index names the candidates: a query
        on the clock's fields would make FerretDB read every ticket, timelines and all."""
        candidates = read_each(lambda ticket_id: self.tickets.first({"_id": ticket_id}),
                               self.queue.loaded().watched(millis(moment)))
        tickets = [ticket for ticket in candidates.values() if ticket]
        return ([ticket for ticket in tickets if lifecycle.warning_due(ticket, moment)],
                [ticket for ticket in tickets if lifecycle.deadline_missed(ticket, moment)])

    def open_counts(self):
        """Open tickets by state over all tenants, for the ops gauges."""
        return queue_index.open_counts(self.queue.loaded().every())

    def overdue_count(self, moment):
        return queue_index.overdue_count(self.queue.loaded().every(), moment)

    def agenda_records(self, tenant, ticket_ids):
        """ticket id -> what an agenda reads of it (its description and any meeting's decision), or
        None when gone; each read by `_id`."""
        def read(ticket_id):
            return self.tickets.first({"tenant": tenant, "_id": ticket_id}, {"description": 1, "deliberation": 1})
        return read_each(read, ticket_ids)

    def index_entries(self, tenant, matches):
        """The queue index entries of the tenant's tickets that `matches` accepts (`figures.counted`,
        `deliberation.recurring_below`): no store read."""
        return self.queue.loaded().rows(tenant, matches)

    def mirror_ticket(self, ticket_id, event_id):
        """Brings the queue index up to the ticket as stored, after an event about it."""
        self.queue.mirror(ticket_id, event_id)

    def reload_queue(self):
        self.queue.load()

    def rewrite_paths_below(self, tenant, node_id, node_path):
        """As every repository does, and the queue index follows the tickets' new paths."""
        changed = super().rewrite_paths_below(tenant, node_id, node_path)
        self.queue.index.move_below(tenant, node_id, node_path)
        return changed


class Row(NamedTuple):
    """A ticket as a page shows it (`views.shown`; shared, never to be changed), with the entry
    it was made with."""

    entry: queue_index.Entry
    shown: dict


class TicketQueue:
    """The process's queue index, and what a page shows of the tickets it lists, kept as close to
    the store as they can be without reading it for every page:

    - loaded from the store once, when first asked for (every live ticket, `ENTRY_FIELDS` only),
      and again by `load` from time to time, which a process that missed events needs;
    - given every ticket the process writes, as written;
    - given every ticket another process writes, read by `_id` when its event comes round
      (`mirror`; the service consumes its own events, one queue per process);
    - given every ticket read by `_id` (`seen`: GetTicket and every action read one).

    A page is a walk of the index, and shows each ticket as kept with the entry the index holds
    now; it reads from the store by `_id` only the tickets not kept with that entry. Pages read
    every ticket from the store once: 50 reads a page kept FerretDB busy at 9 pages a second. So
    a page is as fresh as the events this process has taken (milliseconds behind another
    replica's write; its own writes at once), as the queue's order always was.

    Versions keep a late read from undoing a later write: the index never takes an older version
    of a ticket than it holds."""

    def __init__(self, tickets):
        self.tickets = tickets
        self.index = QueueIndex()
        self.is_loaded = False
        self.loading = threading.Lock()
        self.own_events = OrderedDict()
        # ticket id -> its Row, the least recently shown first
        self.rows = OrderedDict()

    def loaded(self):
        if not self.is_loaded:
            with self.loading:
                if not self.is_loaded:
                    self.load()
        return self.index

    def load(self):
        """Takes every live ticket as stored; entries of tickets written meanwhile stay, as the
        versions decide."""
        for document in self.tickets.collection.find(LIVE, ENTRY_FIELDS):
            self.index.put(document)
        self.is_loaded = True

    def wrote(self, document):
        """A ticket this process wrote (None if the write did not happen), noted and returned."""
        if document is not None:
            self.seen(self._as_stored(document))
            for event in document.get(OUTBOX, ()):
                self.own_events[event["id"]] = None
            while len(self.own_events) > OWN_EVENTS_KEPT:
                self.own_events.popitem(last=False)
        return document

    def seen(self, document):
        """A ticket as stored now (None if none was found), noted and returned."""
        if document is not None:
            self.index.put(document)
            self._keep(document)
        return document

    def mirror(self, ticket_id, event_id):
        if event_id in self.own_events:
            return
        document = self._queue_document(ticket_id)
        if document is None:
            self.index.remove(ticket_id)
        else:
            self.seen(document)

    def page(self, tenant, matches, size, after):
        """Up to `size` of the tenant's tickets `matches` accepts, after the key `after`, in queue
        order, as `Row`s."""
        index = self.loaded()
        for _ in range(PAGE_READS):
            ids = index.page(tenant, matches, size, after)
            kept = [self._kept(ticket_id) for ticket_id in ids]
            if None not in kept:
                return kept
            stored = read_each(self._queue_document, [ticket_id for ticket_id, row in zip(ids, kept) if row is None])
            for ticket_id, document in stored.items():
                if document is None:
                    index.remove(ticket_id)
                else:
                    self.seen(document)
        # Still changing: each ticket as kept, or as read last.
        rows = [row or self._row(index.entry_of(stored[ticket_id]), stored[ticket_id])
                for ticket_id, row in zip(ids, kept) if row or stored[ticket_id]]
        return sorted((row for row in rows if matches(row.entry) and (after is None or row.entry.key > after)),
                      key=lambda row: row.entry.key)

    def _kept(self, ticket_id):
        """The ticket's row, if kept with the entry the index holds now."""
        row = self.rows.get(ticket_id)
        if row is None or row.entry != self.index.get(ticket_id):
            return None
        self.rows.move_to_end(ticket_id)
        return row

    def _keep(self, document):
        entry = self.index.get(document["_id"])
        if entry is None or entry != self.index.entry_of(document):
            return
        self.rows[entry.id] = self._row(entry, document)
        self.rows.move_to_end(entry.id)
        while len(self.rows) > PAGE_TICKETS_KEPT:
            self.rows.popitem(last=False)

    @staticmethod
    def _row(entry, document):
        return Row(entry, shown({key: value for key, value in document.items() if key not in QUEUE_HIDDEN}))

    def _as_stored(self, document):
        """A written ticket as the store gives it back (times to the millisecond, zone as read)."""
        return bson.decode(bson.encode(document), codec_options=self.tickets.collection.codec_options)

    def _queue_document(self, ticket_id):
        return self.tickets.first({"_id": ticket_id}, QUEUE_PROJECTION)


def encode_queue_token(queue_key):
    due, last_id = queue_key
    key = json.dumps([(EPOCH + timedelta(milliseconds=due)).isoformat(), last_id])
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_queue_token(token):
    if not token:
        return None
    try:
        due, last_id = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        return datetime.fromisoformat(due), str(last_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise InvalidArgument.field("page_token", "is not a token this API returned") from None

