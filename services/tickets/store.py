"""Storage of the tickets service: the category catalogue and tickets.

A ticket is one document holding its clock, parties and timeline, so a transition, its
timeline entry and its events are a single write. Only one transition may leave a given
version (a claimed update, `storage.claims`): it writes conditionally on the state and version it read.
"""
import base64
import binascii
import copy
import json
from datetime import datetime

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from services.errors import AlreadyExists, InvalidArgument
from services.reference import REFERENCE, ReferenceMemory
from services.storage import LIVE, OUTBOX, ClaimedUpdates, Records, Repository, combined, page_size_of
from services.tickets.lifecycle import OPEN_STATES

# Fields a queue page does not need; GetTicket and ListTicketTimeline return them.
QUEUE_PROJECTION = {"timeline": 0, OUTBOX: 0}
FIGURE_FIELDS = {"category_id": 1, "state": 1, "create_time": 1, "first_response_time": 1,
                 "resolve_time": 1, "feedback": 1, "queue_due": 1}


class TicketsRepository(Repository):
    record_collections = ("categories", "tickets")

    def __init__(self, database):
        super().__init__(database)
        self.categories = Records(database.categories, "category")
        # Shared by every worker's copy of the repository: one memory per process.
        self.remembered_categories = ReferenceMemory(REFERENCE.max_entries, REFERENCE.ttl_seconds)
        self.tickets = Records(database.tickets, "ticket",
                               claims=ClaimedUpdates(database.tickets, database.transition_claims))

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

    def create_category(self, tenant, request_id, fields, events):
        """A new category (or the one this request created before); names are unique per tenant."""
        try:
            document, _ = self.categories.create(tenant, request_id, fields, events)
        except DuplicateKeyError:
            raise AlreadyExists(f"a category named {fields['name']!r} exists",
                                [{"field": "name", "description": "already used in this tenant"}]) from None
        return document

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
        """The tenant's ticket, or None."""
        return self.tickets.first({"tenant": tenant, "_id": ticket_id})

    def has_ticket(self, tenant, ticket_id):
        return self.tickets.count({"tenant": tenant, "_id": ticket_id}) > 0

    def transition(self, ticket, changes, timeline_entries, events):
        """Applies a change only if the ticket is still as it was read; None if it moved on."""
        operation = {"$set": dict(changes), "$push": {"timeline": {"$each": list(timeline_entries)}}}
        return self.tickets.claimed_update(
            ticket, operation, events, {"tenant": ticket["tenant"], "state": ticket["state"]})

    def release_stale_claims(self):
        self.tickets.claims.release_stale()

    def queue_page(self, query, page_size, page_token):
        """Keyset pages ordered by (queue_due, _id): overdue first, then soonest due."""
        size = page_size_of(page_size)
        after = decode_queue_token(page_token)
        conditions = [query, LIVE]
        if after:
            due, last_id = after
            conditions.append({"$or": [{"queue_due": {"$gt": due}},
                                       {"queue_due": due, "_id": {"$gt": last_id}}]})
        documents = list(self.tickets.collection.find(combined(*conditions), QUEUE_PROJECTION)
                         .sort([("queue_due", ASCENDING), ("_id", ASCENDING)]).limit(size + 1))
        more = len(documents) > size
        documents = documents[:size]
        token = encode_queue_token(documents[-1]) if more else ""
        return documents, token

    def similar_open(self, tenant, building_id, category_id, limit=20):
        return list(self.tickets.collection.find(
            {"tenant": tenant, "building_id": building_id, "category_id": category_id,
             "state": {"$in": list(OPEN_STATES)}, **LIVE}, QUEUE_PROJECTION).sort("create_time", ASCENDING)
            .limit(limit))

    def warnings_due(self, moment, limit=200):
        return list(self.tickets.collection.find(
            {"clock.warn_at": {"$lte": moment}, "clock.paused": False, "clock.approaching_notified": False,
             "state": {"$in": list(OPEN_STATES)}, **LIVE}).limit(limit))

    def deadlines_missed(self, moment, limit=200):
        return list(self.tickets.collection.find(
            {"queue_due": {"$lte": moment}, "clock.missed_notified": False,
             "state": {"$in": list(OPEN_STATES)}, **LIVE}).limit(limit))

    def open_counts(self):
        """Open tickets by state over all tenants, for the ops gauges."""
        pipeline = [{"$match": {"state": {"$in": list(OPEN_STATES)}}},
                    {"$group": {"_id": "$state", "count": {"$sum": 1}}}]
        return {row["_id"]: row["count"] for row in self.tickets.collection.aggregate(pipeline)}

    def overdue_count(self, moment):
        return self.tickets.collection.count_documents(
            {"queue_due": {"$lte": moment}, "state": {"$in": list(OPEN_STATES)}})

    def figures_rows(self, query):
        """The few fields figures need, for every ticket of a node and period (index `figures`)."""
        return self.tickets.collection.find(combined(query, LIVE), FIGURE_FIELDS)


def encode_queue_token(document):
    key = json.dumps([document["queue_due"].isoformat(), document["_id"]])
    return base64.urlsafe_b64encode(key.encode()).decode()


def decode_queue_token(token):
    if not token:
        return None
    try:
        due, last_id = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        return datetime.fromisoformat(due), str(last_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise InvalidArgument.field("page_token", "is not a token this API returned") from None

