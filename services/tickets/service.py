"""The tickets service: the category catalogue and the closed loop of a ticket —
collect, triage, dispatch, handle, feedback — with promised times and a timeline; its
deliberation meetings and projects are entrypoints of their own (`meetings`)."""
import logging
import time

from nameko.timer import timer

from services import base
from services.commands import command
from services.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.events import consume_once
from services.messaging import RpcProxy, broadcast_handler, event_handler
from services.reference import GridsReference
from services.storage import STORE_UNREACHABLE, MongoStore, now, public
# The module, not its class: `nameko run` takes every class of this module with entrypoints for a service.
from services.tickets import catalogue, figures, lifecycle, meetings, metrics, parties, schemas, tasks, transitions
from services.tickets.store import TicketsRepository
from services.tickets.timeline import SYSTEM
from services.tickets.views import shown, summary

log = logging.getLogger(__name__)

# Promised times are minutes long; a scan every few seconds is prompt and keeps the database load low.
DEADLINE_SCAN_SECONDS = 5
# Concurrent writers to one ticket (an RPC and the volunteer task events about the same task)
# lose the version claim to each other; an append waits for the winner's write, re-reads and
# tries again, up to this many times (about ten seconds in all).
APPEND_ATTEMPTS = 20
APPEND_BACKOFF_SECONDS = 0.05
# Events a process misses (published while it was not connected to the broker) leave its queue
# index behind until it reloads, this often.
QUEUE_RELOAD_SECONDS = 600


class TicketsService(base.CivicService, meetings.DeliberationEntrypoints):
    name = "tickets"
    store = MongoStore(TicketsRepository)
    grids = GridsReference()
    residents = RpcProxy("residents")
    volunteers = RpcProxy("volunteers")

    # Category catalogue

    @command(schemas.CreateCategory)
    def create_category(self, caller, command):
        fields, event = catalogue.new_category(command, caller.tenant)
        return public(self.store.create_category(caller.tenant, command.request_id, fields, [event]))

    @command(schemas.GetById)
    def get_category(self, caller, command):
        return public(self.store.categories.get({"tenant": caller.tenant, "_id": command.id}))

    @command(schemas.ListPage)
    def list_categories(self, caller, command):
        documents, token = self.store.categories.page(
            {"tenant": caller.tenant}, command.page_size, command.page_token)
        return {"categories": [public(d) for d in documents], "next_page_token": token}

    # Collect

    @command(schemas.CreateTicket)
    def create_ticket(self, caller, command):
        category = self._category(caller, command.category_id)
        extra = lifecycle.checked_extra(category, command.extra)
        reporter_subject = parties.reporter_of(caller, command)
        place = self._place(caller, command.node_id)
        tags = self._resident_tags(caller, command.reporter_resident_id)
        for household_id in command.household_ids:
            self._household(caller, household_id, "household_ids")
        command = parties.with_own_household(self._party(caller), command)
        fields, event = transitions.opened(caller, command, category, extra, reporter_subject, place, tags, now())
        photos = [(photo.content_type, photo.raw) for photo in command.photos]
        return self._shown_to(caller, self.store.create_ticket(caller.tenant, command.request_id, fields, [event],
                                                               photos))

    @command(schemas.GetTicketPhoto)
    def get_ticket_photo(self, caller, command):
        ticket = self._ticket(caller, command.ticket_id, field_name="ticket_id")
        return self.store.photo(caller.tenant, ticket.get("photos", []), command.photo_id)

    @command(schemas.GetById)
    def get_ticket(self, caller, command):
        return self._shown_to(caller, self._ticket(caller, command.id))

    @command(schemas.GetById)
    def list_ticket_timeline(self, caller, command):
        return {"entries": self._shown_to(caller, self._ticket(caller, command.id))["timeline"]}

    @command(schemas.ListTickets)
    def list_tickets(self, caller, command):
        tickets, token = self.store.queue_page(
            caller.tenant, parties.listed(self._party(caller), command), command.page_size, command.page_token)
        return {"tickets": [parties.as_seen_by(caller, ticket) for ticket in tickets], "next_page_token": token}

    @command(schemas.ListSimilar)
    def list_similar_tickets(self, caller, command):
        """Open tickets of the same building and category, offered to follow instead of a new report."""
        self._category(caller, command.category_id)
        place = self._place(caller, command.node_id)
        if not place["building_id"]:
            raise InvalidArgument.field("node_id", "name a flat or building to look for the same problem")
        documents = self.store.similar_open(caller.tenant, place["building_id"], command.category_id)
        return {"tickets": [summary(d) for d in documents]}

    # Triage and dispatch

    @command(schemas.Triage)
    def triage_ticket(self, caller, command):
        ticket = self._staff_ticket(caller, command.id)
        lifecycle.require_state("triage", ticket)
        moment = now()
        original = (self._ticket(caller, command.duplicate_of, field_name="duplicate_of")
                    if command.decision == "MARK_DUPLICATE" else None)
        return self._transition(caller, ticket, *transitions.triaged(ticket, command, original, moment), moment)

    @command(schemas.Assign)
    def assign_ticket(self, caller, command):
        ticket = self._staff_ticket(caller, command.id)
        lifecycle.require_state("assign", ticket)
        return self._transition(caller, ticket, *transitions.assigned(ticket, command, caller))

    # Handle

    @command(schemas.WithNote)
    def start_ticket(self, caller, command):
        ticket = self._assigned_ticket(caller, command.id)
        lifecycle.require_state("start", ticket)
        return self._transition(caller, ticket, *transitions.started(command))

    @command(schemas.Resolve)
    def resolve_ticket(self, caller, command):
        ticket = self._assigned_ticket(caller, command.id)
        lifecycle.require_state("resolve", ticket)
        moment = now()
        return self._transition(caller, ticket, *transitions.resolved(command, moment), moment)

    @command(schemas.WithReason)
    def pause_ticket_clock(self, caller, command):
        ticket = self._assigned_ticket(caller, command.id)
        moment = now()
        return self._transition(caller, ticket, *transitions.clock_paused(ticket, command, moment), moment)

    @command(schemas.WithNote)
    def resume_ticket_clock(self, caller, command):
        ticket = self._assigned_ticket(caller, command.id)
        moment = now()
        return self._transition(caller, ticket, *transitions.clock_resumed(ticket, command, moment), moment)

    @command(schemas.WithReason)
    def escalate_ticket(self, caller, command):
        ticket = self._staff_ticket(caller, command.id)
        moment = now()
        return self._transition(caller, ticket, *transitions.escalated(ticket, command, moment), moment)

    # Feedback and closing

    @command(schemas.Feedback)
    def submit_ticket_feedback(self, caller, command):
        ticket = self._ticket(caller, command.id)
        parties.require_reporter(caller, ticket)
        lifecycle.require_state("feedback", ticket)
        moment = now()
        return self._transition(caller, ticket, *transitions.feedback_given(ticket, command, moment), moment)

    @command(schemas.Close)
    def close_ticket(self, caller, command):
        ticket = self._staff_ticket(caller, command.id)
        lifecycle.require_state("close", ticket)
        moment = now()
        return self._transition(caller, ticket, *transitions.closed(ticket, command, moment), moment)

    @command(schemas.WithReason)
    def reopen_ticket(self, caller, command):
        ticket = self._ticket(caller, command.id)
        parties.require_reporter_or_staff(caller, ticket)
        lifecycle.require_state("reopen", ticket)
        moment = now()
        return self._transition(caller, ticket, *transitions.reopened(ticket, command, moment), moment)

    # Several parties and followers

    @command(schemas.GetById)
    def follow_ticket(self, caller, command):
        ticket = self._followable_ticket(caller, command.id)
        following = transitions.followed(ticket, caller.subject)
        return self._transition(caller, ticket, *following) if following else self._shown_to(caller, ticket)

    @command(schemas.AddParty)
    def add_ticket_party(self, caller, command):
        ticket = self._staff_ticket(caller, command.id)
        if command.household_id:
            self._household(caller, command.household_id, "household_id")
        added = transitions.party_added(ticket, command)
        return self._transition(caller, ticket, *added) if added else self._shown_to(caller, ticket)

    # Volunteers

    @command(schemas.RequestVolunteers)
    def request_volunteers(self, caller, command):
        """Creates a volunteer task for the ticket and records the task on the ticket."""
        ticket = self._staff_ticket(caller, command.id)
        tasks.require_hands_needed(ticket)
        task = self.volunteers.create_task(caller.model_dump(), tasks.task_request(ticket, command))
        return shown(self._record_task_step(ticket["tenant"], ticket["_id"], task["id"], tasks.REQUESTED,
                                            tasks.requested_note(task), tasks.details(task), caller.subject,
                                            caller.role))

    @event_handler("volunteers", "civicgrid.volunteers.task.created.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.dispatched.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.checked_in.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.checked_out.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.completed.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.feedback_given.v1")
    def on_volunteer_task(self, event):
        if event["data"]["ticket_id"]:
            consume_once(self.store, self.name, event, self._record_task_event)

    def _record_task_event(self, event):
        tenant, data = event["tenant"], event["data"]
        if self.store.has_ticket(tenant, data["ticket_id"]):
            self._record_task_step(tenant, data["ticket_id"], data["id"], tasks.STEPS[event["type"]],
                                   tasks.note(data), tasks.details(data), SYSTEM, SYSTEM, event_id=event["id"])

    def _record_task_step(self, tenant, ticket_id, task_id, action, note, details, actor, actor_role,
                          event_id=None):
        """Appends a volunteer task's step to the ticket's timeline (see `tasks.task_step` for why
        each step is recorded once)."""
        return self._append_steps(tenant, ticket_id, actor, actor_role,
                                  lambda ticket: tasks.task_step(ticket, task_id, action, note, details, event_id))

    def _append_steps(self, tenant, ticket_id, actor, actor_role, step_of):
        """Writes what `step_of(ticket)` says on the ticket (None: nothing to write) through the
        version claim every transition takes, retrying when another write to the ticket (an RPC,
        a volunteer task's event) won the claim; returns the ticket as written, or as found."""
        for attempt in range(APPEND_ATTEMPTS):
            time.sleep(APPEND_BACKOFF_SECONDS * attempt)
            ticket = self.store.find_ticket(tenant, ticket_id)
            if ticket is None:
                raise parties.no_such_ticket("ticket_id")
            step = step_of(ticket)
            if step is None:
                return ticket
            document = self._write(ticket, *step, now(), actor, actor_role)
            if document is not None:
                return document
        raise FailedPrecondition("the ticket kept changing; repeat the request to record the step on it")

    # Figures

    @command(schemas.Figures)
    def get_ticket_figures(self, caller, command):
        """Figures of the tickets created under a node in a period: one pass over the tenant's
        entries in the queue index, no store read; percentiles are computed here, exactly."""
        if command.node_id:
            self._place(caller, command.node_id)
        rows = self.store.index_entries(caller.tenant, figures.counted(caller, command))
        return {"node_id": command.node_id, **figures.figures_of(rows, now())}

    # The queue index of this process (`queue_index`, `store.TicketQueue`)

    @broadcast_handler("tickets", "civicgrid.tickets.ticket.#")
    def mirror_ticket(self, event):
        """Every process reads back the ticket another one wrote, as its event comes round."""
        self.store.mirror_ticket(event["data"]["id"], event["id"])

    @broadcast_handler("grids", "civicgrid.grids.node.moved.v1")
    def move_queue_below(self, event):
        """Every process moves the tickets below a moved node in its queue index, once they are
        moved in the store (`follow_node_move` moves them there once; doing it again changes nothing)."""
        self.store.rewrite_paths_below(event["tenant"], event["data"]["id"], event["data"]["path"])

    @timer(interval=QUEUE_RELOAD_SECONDS)
    def reload_queue(self):
        """Takes every ticket again, for the events a process misses while it is not connected."""
        try:
            self.store.reload_queue()
        except STORE_UNREACHABLE as error:
            log.warning("the queue index waits for the store: %s", error)

    # Promised times

    @timer(interval=DEADLINE_SCAN_SECONDS)
    def watch_deadlines(self):
        """Announces approaching deadlines, marks missed ones and escalates them a level with a new
        clock; each once, as the conditional write lets only one scan win."""
        moment = now()
        warnings, missed = self.store.deadlines_due(moment)
        for ticket in warnings:
            self._write(ticket, *transitions.approaching_deadline(ticket), moment, SYSTEM, SYSTEM)
        for ticket in missed:
            self._write(ticket, *transitions.missed_deadline(ticket, moment), moment, SYSTEM, SYSTEM)
        self.store.release_stale_claims()
        metrics.update_gauges(self.store.open_counts(), self.store.overdue_count(moment))

    # Writing a transition

    def _transition(self, caller, ticket, changes, steps, moment=None):
        document = self._write(ticket, changes, steps, moment or now(), caller.subject, caller.role)
        if document is None:
            raise FailedPrecondition("the ticket changed while this request ran; read it again and retry")
        return self._shown_to(caller, document)

    @staticmethod
    def _shown_to(caller, document):
        return parties.as_seen_by(caller, shown(document))

    def _write(self, ticket, changes, steps, moment, actor, actor_role):
        """The ticket as written, or None if another write moved it on since it was read."""
        return self.store.transition(ticket, *transitions.written(ticket, changes, steps, moment, actor, actor_role))

    # Reading a ticket for who may act on it

    def _ticket(self, caller, ticket_id, field_name="id"):
        return parties.seen(self._party(caller), self.store.find_ticket(caller.tenant, ticket_id), field_name)

    def _party(self, caller):
        """The caller, once the household their sign-in claims is the one the registry places
        them in (PERMISSION_DENIED otherwise): the household's tickets then reach them."""
        if caller.household_id and caller.household_id != self._registered_household(caller):
            raise PermissionDenied("your sign-in names a household the registry does not place you in")
        return caller

    def _registered_household(self, caller):
        return self._account(caller)["household_id"]

    def _account(self, caller):
        """The household and home path the registry gives the resident the caller signs in as
        (empty when none), remembered a short while."""
        remembered = self.store.resident_accounts.recall(caller.tenant, caller.subject)
        if remembered is None:
            found = self.residents.account_household(caller.model_dump(), {})
            account = {"household_id": found["household_id"], "path": found["path"]}
            self.store.resident_accounts.remember(caller.tenant, caller.subject, "account", account)
            return account
        return remembered[1]

    def _staff_ticket(self, caller, ticket_id):
        ticket = self._ticket(caller, ticket_id)
        parties.require_staff(caller, ticket)
        return ticket

    def _assigned_ticket(self, caller, ticket_id):
        ticket = self._ticket(caller, ticket_id)
        parties.require_assignee(caller, ticket)
        return ticket

    def _followable_ticket(self, caller, ticket_id):
        """Anyone who sees the ticket, and residents of the ticket's building, may follow it."""
        ticket = self.store.find_ticket(caller.tenant, ticket_id)
        if ticket is None:
            raise NotFound("ticket not found")
        if parties.sees(caller, ticket) or self._lives_in(caller, ticket["building_id"]):
            return ticket
        raise parties.no_such_ticket()

    def _lives_in(self, caller, building_id):
        """Whether one of the caller's first scope nodes (a resident's flats) lies in the building."""
        return bool(building_id) and building_id in self._caller_buildings(caller)

    def _caller_buildings(self, caller):
        buildings = set()
        for node_id in caller.scope[:5]:
            try:
                buildings.add(self._place(caller, node_id)["building_id"])
            except NotFound:
                continue
        return buildings

    # Other services

    def _category(self, caller, category_id):
        try:
            return self.store.category(caller.tenant, category_id)
        except NotFound:
            raise InvalidArgument.field("category_id", "is not a category of this tenant") from None

    def _place(self, caller, node_id):
        """The flat or node a ticket is about: its id, path and building (if any)."""
        try:
            return self.grids.place(caller, node_id)
        except NotFound:
            raise NotFound("node not found", [{"field": "node_id", "description": "no such flat or node in scope"}]) \
                from None

    def _resident_tags(self, caller, resident_id):
        if not resident_id:
            return []
        try:
            return self.residents.get_resident(caller.model_dump(), {"id": resident_id}).get("tags", [])
        except NotFound:
            raise InvalidArgument.field("reporter_resident_id", "is not a resident in this tenant and scope") \
                from None

    def _household(self, caller, household_id, field_name):
        try:
            return self.residents.get_household(caller.model_dump(), {"id": household_id})
        except NotFound:
            raise InvalidArgument.field(field_name, f"{household_id} is not a household in this tenant and scope") \
                from None
