"""The tickets service: the category catalogue and the closed loop of a ticket —
collect, triage, dispatch, handle, feedback — with promised times and a timeline."""
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from services import base
from services.access import Caller
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.events import consume_once, envelope
from services.messaging import RpcProxy, event_handler, rpc
from services.storage import INTERNAL_FIELDS, MongoStore, combined, new_id, now, public, timestamp
from services.tickets import events as contracts
from services.tickets import lifecycle, metrics, schemas
from services.tickets.schemas import parse_checked
from services.tickets.store import TicketsRepository

# Promised times are minutes long; a scan every few seconds is prompt and keeps the database load low.
DEADLINE_SCAN_SECONDS = 5
SYSTEM = "system"
TICKET_INTERNAL_FIELDS = (*INTERNAL_FIELDS, "version", "involved", "queue_due", "promise", "task_events_applied")
# Concurrent writers to one ticket (an RPC and the volunteer task events about the same task)
# lose the version claim to each other; an append waits for the winner's write, re-reads and
# tries again, up to this many times (about ten seconds in all).
APPEND_ATTEMPTS = 20
APPEND_BACKOFF_SECONDS = 0.05
VOLUNTEER_TASK_STEPS = {
    "civicgrid.volunteers.task.created.v1": "volunteers_requested",
    "civicgrid.volunteers.task.dispatched.v1": "volunteers_dispatched",
    "civicgrid.volunteers.task.checked_in.v1": "volunteer_checked_in",
    "civicgrid.volunteers.task.checked_out.v1": "volunteer_checked_out",
    "civicgrid.volunteers.task.completed.v1": "volunteer_task_completed",
    "civicgrid.volunteers.task.feedback_given.v1": "volunteer_feedback_given",
}


@dataclass
class Step:
    """One entry on the timeline and its event."""

    action: str
    contract: type
    to_state: str
    note: str = ""
    data: dict = field(default_factory=dict)


class TicketsService(base.CivicService):
    name = "tickets"
    store = MongoStore(TicketsRepository)
    grids = RpcProxy("grids")
    residents = RpcProxy("residents")
    volunteers = RpcProxy("volunteers")

    # Category catalogue

    @rpc
    def create_category(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.CreateCategory, request)
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": []}
        event = envelope(self.name, contracts.CategoryCreated.event_type, caller.tenant,
                         f"categories/{fields['id']}",
                         {"id": fields["id"], "name": command.name, "group": command.group,
                          "assignee_kind": command.routing.assignee_kind,
                          "organisation_id": command.routing.organisation_id})
        try:
            document, _ = self.store.categories.create(caller.tenant, command.request_id, dict(fields), [event])
        except DuplicateKeyError:
            raise AlreadyExists(f"a category named {command.name!r} exists",
                                [{"field": "name", "description": "already used in this tenant"}]) from None
        return public(document)

    @rpc
    def get_category(self, caller, request):
        caller = Caller.of(caller)
        return public(self.store.categories.get(
            {"tenant": caller.tenant, "_id": parse_checked(schemas.GetById, request).id}))

    @rpc
    def list_categories(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.ListPage, request)
        documents, token = self.store.categories.page(
            {"tenant": caller.tenant}, command.page_size, command.page_token)
        return {"categories": [public(d) for d in documents], "next_page_token": token}

    # Collect

    @rpc
    def create_ticket(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.CreateTicket, request)
        category = self._category(caller, command.category_id)
        extra = lifecycle.checked_extra(category, command.extra)
        reporter_subject = self._reporter_subject(caller, command)
        place = self._place(caller, command.node_id)
        tags = self._resident_tags(caller, command.reporter_resident_id)
        for household_id in command.household_ids:
            self._household(caller, household_id, "household_ids")
        priority, raised_for = lifecycle.raised_priority(command.priority, tags)
        moment = now()
        promise = lifecycle.promise_for(category, priority)
        clock = lifecycle.new_clock(promise, "FIRST_RESPONSE", "GRID", moment)
        routing = category["routing"]
        organisation_ids = [routing["organisation_id"]] if routing["organisation_id"] else []
        fields = {
            "id": new_id(), "kind": command.kind, "channel": command.channel, "category_id": category["_id"],
            "node_id": place["id"], "path": place["path"], "building_id": place["building_id"],
            "reporter_resident_id": command.reporter_resident_id, "reporter_subject": reporter_subject,
            "description": command.description, "extra": extra, "priority": priority,
            "priority_raised_for": raised_for, "state": "SUBMITTED", "routing": routing,
            "assignee_subject": "", "assignee_organisation_id": "", "promise": promise, "clock": clock,
            "level": "GRID", "queue_due": lifecycle.queue_due(clock), "household_ids": command.household_ids,
            "organisation_ids": organisation_ids, "followers": [], "callback_requested": False,
            "feedback": None, "version": 0, "volunteer_task_ids": [],
        }
        fields["involved"] = involved(fields)
        note = f"priority raised to {priority} for {', '.join(raised_for)}" if raised_for else ""
        step = Step("created", contracts.TicketCreated, "SUBMITTED", note)
        fields["timeline"] = [timeline_entry(caller, step, moment)]
        event = self._event(step, fields, caller.subject, "", caller.tenant)
        document, _ = self.store.tickets.create(caller.tenant, command.request_id, dict(fields), [event])
        return shown(document)

    @rpc
    def get_ticket(self, caller, request):
        caller = Caller.of(caller)
        return shown(self._ticket(caller, parse_checked(schemas.GetById, request).id))

    @rpc
    def list_ticket_timeline(self, caller, request):
        caller = Caller.of(caller)
        ticket = self._ticket(caller, parse_checked(schemas.GetById, request).id)
        return {"entries": shown(ticket)["timeline"]}

    @rpc
    def list_tickets(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.ListTickets, request)
        conditions = [self._queue_filter(caller, command)]
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
        documents, token = self.store.queue_page(combined(*conditions), command.page_size, command.page_token)
        return {"tickets": [shown(d) for d in documents], "next_page_token": token}

    @rpc
    def list_similar_tickets(self, caller, request):
        """Open tickets of the same building and category, offered to follow instead of a new report."""
        caller = Caller.of(caller)
        command = parse_checked(schemas.ListSimilar, request)
        self._category(caller, command.category_id)
        place = self._place(caller, command.node_id)
        if not place["building_id"]:
            raise InvalidArgument.field("node_id", "name a flat or building to look for the same problem")
        documents = self.store.similar_open(caller.tenant, place["building_id"], command.category_id)
        return {"tickets": [summary(d) for d in documents]}

    # Triage and dispatch

    @rpc
    def triage_ticket(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.Triage, request)
        ticket = self._staff_ticket(caller, command.id)
        lifecycle.require_state("triage", ticket)
        moment = now()
        changes = {"first_response_time": moment}
        if command.decision == "ACCEPT":
            changes["clock"] = lifecycle.new_clock(ticket["promise"], "RESOLUTION", ticket["level"], moment)
            step = Step("triaged", contracts.TicketTriaged, "TRIAGED", command.note)
        elif command.decision == "REJECT":
            changes |= {"clock": None, "rejection_reason": command.reason}
            step = Step("rejected", contracts.TicketRejected, "REJECTED", command.reason,
                        {"reason": command.reason})
        else:
            original = self._ticket(caller, command.duplicate_of, field_name="duplicate_of")
            changes |= {"clock": None, "duplicate_of": original["_id"]}
            step = Step("marked_duplicate", contracts.TicketMarkedDuplicate, "DUPLICATE", command.note,
                        {"duplicate_of": original["_id"]})
        return self._transition(caller, ticket, changes, [step], moment)

    @rpc
    def assign_ticket(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.Assign, request)
        ticket = self._staff_ticket(caller, command.id)
        lifecycle.require_state("assign", ticket)
        subject, organisation = command.assignee_subject, command.organisation_id
        if not subject and not organisation:
            organisation = ticket["routing"]["organisation_id"]
            subject = "" if organisation else caller.subject
        changes = {"assignee_subject": subject, "assignee_organisation_id": organisation}
        if organisation and organisation not in ticket["organisation_ids"]:
            changes["organisation_ids"] = [*ticket["organisation_ids"], organisation]
        note = command.note or f"assigned to {subject or organisation}"
        return self._transition(caller, ticket, changes, [Step("assigned", contracts.TicketAssigned, "ASSIGNED",
                                                               note)])

    # Handle

    @rpc
    def start_ticket(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.WithNote, request)
        ticket = self._assigned_ticket(caller, command.id)
        lifecycle.require_state("start", ticket)
        return self._transition(caller, ticket, {}, [Step("started", contracts.TicketStarted, "IN_PROGRESS",
                                                          command.note)])

    @rpc
    def resolve_ticket(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.Resolve, request)
        ticket = self._assigned_ticket(caller, command.id)
        lifecycle.require_state("resolve", ticket)
        moment = now()
        changes = {"resolution": command.resolution, "resolve_time": moment, "clock": None,
                   "callback_requested": False}
        step = Step("resolved", contracts.TicketResolved, "RESOLVED", command.resolution,
                    {"resolution": command.resolution})
        return self._transition(caller, ticket, changes, [step], moment)

    @rpc
    def pause_ticket_clock(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.WithReason, request)
        ticket = self._assigned_ticket(caller, command.id)
        moment = now()
        clock = lifecycle.paused_clock(ticket.get("clock"), command.reason, moment)
        step = Step("clock_paused", contracts.TicketClockPaused, ticket["state"], command.reason)
        return self._transition(caller, ticket, {"clock": clock}, [step], moment)

    @rpc
    def resume_ticket_clock(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.WithNote, request)
        ticket = self._assigned_ticket(caller, command.id)
        moment = now()
        clock = lifecycle.resumed_clock(ticket.get("clock"), moment)
        step = Step("clock_resumed", contracts.TicketClockResumed, ticket["state"], command.note)
        return self._transition(caller, ticket, {"clock": clock}, [step], moment)

    @rpc
    def escalate_ticket(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.WithReason, request)
        ticket = self._staff_ticket(caller, command.id)
        moment = now()
        clock = lifecycle.escalated_clock(ticket, moment)
        step = Step("escalated", contracts.TicketEscalated, ticket["state"], command.reason,
                    {"previous_level": ticket["level"]})
        return self._transition(caller, ticket, {"clock": clock, "level": clock["level"]}, [step], moment)

    # Feedback and closing

    @rpc
    def submit_ticket_feedback(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.Feedback, request)
        ticket = self._ticket(caller, command.id)
        if not ticket["reporter_subject"] or ticket["reporter_subject"] != caller.subject:
            raise PermissionDenied("only the resident who reported the ticket gives feedback on it")
        lifecycle.require_state("feedback", ticket)
        moment = now()
        feedback = {"satisfaction": command.satisfaction, "comment": command.comment, "time": moment}
        steps = [Step("feedback_given", contracts.TicketFeedbackGiven, "FEEDBACK",
                      f"{command.satisfaction}/5 {command.comment}".strip(),
                      {"satisfaction": command.satisfaction, "comment": command.comment})]
        changes = {"feedback": feedback}
        if command.satisfaction <= lifecycle.LOW_SATISFACTION:
            changes |= self._reopening(ticket, moment) | {"callback_requested": True}
            steps.append(Step("reopened", contracts.TicketReopened, changes["state"],
                              "low satisfaction: reopened, call the resident back",
                              {"callback_requested": True}))
        return self._transition(caller, ticket, changes, steps, moment)

    @rpc
    def close_ticket(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.Close, request)
        ticket = self._staff_ticket(caller, command.id)
        lifecycle.require_state("close", ticket)
        lifecycle.require_closing_reason(ticket, command.closing_reason)
        moment = now()
        changes = {"closing_reason": command.closing_reason, "referred_to": command.referred_to,
                   "close_time": moment, "clock": None}
        step = Step("closed", contracts.TicketClosed, "CLOSED", command.note,
                    {"closing_reason": command.closing_reason, "referred_to": command.referred_to})
        return self._transition(caller, ticket, changes, [step], moment)

    @rpc
    def reopen_ticket(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.WithReason, request)
        ticket = self._ticket(caller, command.id)
        is_reporter = bool(ticket["reporter_subject"]) and ticket["reporter_subject"] == caller.subject
        if not is_reporter and not self._is_staff_for(caller, ticket):
            raise PermissionDenied("only the reporter or staff responsible for the ticket reopen it")
        lifecycle.require_state("reopen", ticket)
        moment = now()
        changes = self._reopening(ticket, moment)
        step = Step("reopened", contracts.TicketReopened, changes["state"], command.reason,
                    {"callback_requested": ticket.get("callback_requested", False)})
        return self._transition(caller, ticket, changes, [step], moment)

    # Several parties and followers

    @rpc
    def follow_ticket(self, caller, request):
        caller = Caller.of(caller)
        ticket = self._followable_ticket(caller, parse_checked(schemas.GetById, request).id)
        if caller.subject in ticket["followers"]:
            return shown(ticket)
        step = Step("followed", contracts.TicketFollowed, ticket["state"], "", {"follower": caller.subject})
        return self._transition(caller, ticket, {"followers": [*ticket["followers"], caller.subject]}, [step])

    @rpc
    def add_ticket_party(self, caller, request):
        caller = Caller.of(caller)
        command = parse_checked(schemas.AddParty, request)
        ticket = self._staff_ticket(caller, command.id)
        if command.household_id:
            self._household(caller, command.household_id, "household_id")
            listed, party = "household_ids", command.household_id
        else:
            listed, party = "organisation_ids", command.organisation_id
        if party in ticket[listed]:
            return shown(ticket)
        step = Step("party_added", contracts.TicketPartyAdded, ticket["state"],
                    command.note or f"{listed[:-4]} {party} involved")
        return self._transition(caller, ticket, {listed: [*ticket[listed], party]}, [step])

    # Volunteers

    @rpc
    def request_volunteers(self, caller, request):
        """Creates a volunteer task for the ticket at its place (the resident who reported it is the
        person served, who gives feedback) and records the task on the ticket."""
        caller = Caller.of(caller)
        command = parse_checked(schemas.RequestVolunteers, request)
        ticket = self._staff_ticket(caller, command.id)
        if ticket["state"] not in lifecycle.OPEN_STATES:
            raise FailedPrecondition(f"a {ticket['state']} ticket needs no more hands; reopen it first")
        task = self.volunteers.create_task(caller.model_dump(), {
            **command.model_dump(exclude={"id", "request_id"}),
            "request_id": f"ticket-{ticket['_id']}-{command.request_id}" if command.request_id else "",
            "node_id": ticket["building_id"] or ticket["node_id"], "ticket_id": ticket["_id"],
            "served_subject": ticket["reporter_subject"]})
        return shown(self._record_task_step(ticket["tenant"], ticket["_id"], task["id"], "volunteers_requested",
                                            f"{task['title']}: {task['people_needed']} people",
                                            caller.subject, caller.role))

    @event_handler("volunteers", "civicgrid.volunteers.task.created.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.dispatched.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.checked_in.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.checked_out.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.completed.v1")
    @event_handler("volunteers", "civicgrid.volunteers.task.feedback_given.v1")
    def on_volunteer_task(self, event):
        if not event["data"]["ticket_id"]:
            return

        def handle(event):
            data = event["data"]
            ticket_query = {"tenant": event["tenant"], "_id": data["ticket_id"]}
            if not self.store.tickets.collection.count_documents(ticket_query):
                return
            self._record_task_step(event["tenant"], data["ticket_id"], data["id"],
                                   VOLUNTEER_TASK_STEPS[event["type"]], volunteer_task_note(data), SYSTEM, SYSTEM,
                                   event_id=event["id"])
        consume_once(self.store, self.name, event, handle)

    def _record_task_step(self, tenant, ticket_id, task_id, action, note, actor, actor_role, event_id=None):
        """Appends a volunteer task's step to the ticket's timeline through the version claim every
        transition takes, retrying when another write to the ticket won the claim. The task's
        creation is recorded once, whether the RPC or the task's created event gets there first;
        a step from an event is recorded once per event id, in the same write as the step, so a
        handler run again after a crash adds nothing."""
        for attempt in range(APPEND_ATTEMPTS):
            time.sleep(APPEND_BACKOFF_SECONDS * attempt)
            ticket = self.store.tickets.collection.find_one({"tenant": tenant, "_id": ticket_id})
            if ticket is None:
                raise NotFound("ticket not found", [{"field": "ticket_id", "description": "no such ticket"}])
            task_ids = ticket.get("volunteer_task_ids", [])
            applied = ticket.get("task_events_applied", [])
            if (action == "volunteers_requested" and task_id in task_ids) or event_id in applied:
                return ticket
            changes = {} if task_id in task_ids else {"volunteer_task_ids": [*task_ids, task_id]}
            if event_id:
                changes["task_events_applied"] = [*applied, event_id]
            step = Step(action, contracts.TicketVolunteerTaskUpdated, ticket["state"], note,
                        {"task_id": task_id, "task_step": action})
            document = self._write(ticket, changes, [step], now(), actor, actor_role)
            if document is not None:
                return document
        raise FailedPrecondition("the ticket kept changing; its volunteer task step was not recorded")

    # Figures

    @rpc
    def get_ticket_figures(self, caller, request):
        """Figures of the tickets created under a node in a period. One pass over an index range
        (tenant, path, create_time) reading seven small fields per ticket — no timelines — so the
        cost is linear in the period's tickets; percentiles are computed here, exactly."""
        caller = Caller.of(caller)
        command = parse_checked(schemas.Figures, request)
        conditions = {"create_time": {"$gte": command.start_time, "$lt": command.end_time}}
        if command.node_id:
            self._place(caller, command.node_id)
            conditions["path"] = command.node_id
        rows = self.store.figures_rows(caller.scoped(conditions))
        return {"node_id": command.node_id, **figures_of(rows, now())}

    # Promised times

    @timer(interval=DEADLINE_SCAN_SECONDS)
    def watch_deadlines(self):
        """Announces approaching deadlines, marks missed ones and escalates them a level with a new
        clock; each once, as the conditional write lets only one scan win."""
        moment = now()
        for ticket in self.store.warnings_due(moment):
            clock = {**ticket["clock"], "approaching_notified": True}
            step = Step("deadline_approaching", contracts.TicketDeadlineApproaching, ticket["state"],
                        f"{clock['stage']} due at {timestamp(clock['due_at'])}", deadline_data(clock))
            self._system_transition(ticket, {"clock": clock}, [step], moment)
        for ticket in self.store.deadlines_missed(moment):
            self._system_transition(ticket, *missed_deadline(ticket, moment), moment)
        self.store.release_stale_claims()
        metrics.update_gauges(self.store.open_counts(), self.store.overdue_count(moment))

    # Helpers: transitions

    def _transition(self, caller, ticket, changes, steps, moment=None):
        document = self._write(ticket, changes, steps, moment or now(), caller.subject, caller.role)
        if document is None:
            raise FailedPrecondition("the ticket changed while this request ran; read it again and retry")
        return shown(document)

    def _system_transition(self, ticket, changes, steps, moment):
        self._write(ticket, changes, steps, moment, SYSTEM, SYSTEM)

    def _write(self, ticket, changes, steps, moment, actor, actor_role):
        changes = {"state": steps[-1].to_state, **changes}
        after = {**ticket, **changes}
        changes["involved"] = involved(after)
        changes["queue_due"] = lifecycle.queue_due(after.get("clock"))
        entries, events, state = [], [], ticket["state"]
        for step in steps:
            entries.append({"time": moment, "actor": actor, "actor_role": actor_role, "action": step.action,
                            "from_state": state, "to_state": step.to_state, "note": step.note})
            events.append(self._event(step, after, actor, state, ticket["tenant"]))
            state = step.to_state
        return self.store.transition(ticket, changes, entries, events)

    def _event(self, step, ticket, actor, previous_state, tenant):
        data = {
            "id": ticket["id"] if "id" in ticket else ticket["_id"], "kind": ticket["kind"],
            "category_id": ticket["category_id"], "node_id": ticket["node_id"], "path": ticket["path"],
            "priority": ticket["priority"], "state": step.to_state, "previous_state": previous_state,
            "level": ticket["level"], "assignee_subject": ticket["assignee_subject"],
            "assignee_organisation_id": ticket["assignee_organisation_id"],
            "reporter_subject": ticket["reporter_subject"], "household_ids": ticket["household_ids"],
            "organisation_ids": ticket["organisation_ids"], "followers": ticket["followers"],
            "actor": actor, "note": step.note, **step.data,
        }
        return envelope(self.name, step.contract.event_type, tenant, f"tickets/{data['id']}", data)

    def _reopening(self, ticket, moment):
        """Back to the assignee (or triage, if there was none) with a fresh resolution clock."""
        state = "ASSIGNED" if ticket["assignee_subject"] or ticket["assignee_organisation_id"] else "TRIAGED"
        clock = lifecycle.new_clock(ticket["promise"], "RESOLUTION", ticket["level"], moment)
        return {"state": state, "clock": clock, "closing_reason": None, "referred_to": "", "close_time": None}

    # Helpers: reading and who may act

    def _ticket(self, caller, ticket_id, field_name="id"):
        try:
            ticket = self.store.tickets.get({"tenant": caller.tenant, "_id": ticket_id})
        except NotFound:
            raise NotFound("ticket not found", [{"field": field_name, "description": "no such ticket"}]) from None
        if not (caller.reaches(ticket["path"]) or identities(caller) & set(ticket.get("involved", []))):
            raise NotFound("ticket not found", [{"field": field_name, "description": "no such ticket"}])
        return ticket

    def _is_staff_for(self, caller, ticket):
        return caller.role in lifecycle.STAFF_ROLES and caller.reaches(ticket["path"])

    def _staff_ticket(self, caller, ticket_id):
        ticket = self._ticket(caller, ticket_id)
        if not self._is_staff_for(caller, ticket):
            raise PermissionDenied("only staff responsible for the ticket's place may do this")
        return ticket

    def _assigned_ticket(self, caller, ticket_id):
        ticket = self._ticket(caller, ticket_id)
        assigned = ((ticket["assignee_subject"] and ticket["assignee_subject"] == caller.subject)
                    or (ticket["assignee_organisation_id"]
                        and ticket["assignee_organisation_id"] in identities(caller)))
        if not assigned:
            raise PermissionDenied("only the assignee of the ticket may do this")
        return ticket

    def _followable_ticket(self, caller, ticket_id):
        """Anyone who sees the ticket, and residents of the ticket's building, may follow it."""
        try:
            return self._ticket(caller, ticket_id)
        except NotFound:
            ticket = self.store.tickets.get({"tenant": caller.tenant, "_id": ticket_id})
            if ticket["building_id"] and ticket["building_id"] in self._caller_buildings(caller):
                return ticket
            raise

    def _caller_buildings(self, caller):
        buildings = set()
        for node_id in caller.scope[:5]:
            try:
                buildings.add(self._place(caller, node_id)["building_id"])
            except NotFound:
                continue
        return buildings

    def _queue_filter(self, caller, command):
        if command.queue == "MINE":
            return {"tenant": caller.tenant, "involved": {"$in": sorted(identities(caller))}}
        if command.queue == "ORGANISATION_QUEUE":
            query = {"organisation_ids": command.organisation_id}
            if command.organisation_id in identities(caller):
                return {"tenant": caller.tenant, **query}
            if caller.role in lifecycle.STAFF_ROLES:
                return caller.scoped(query)
            raise PermissionDenied("only staff or the organisation itself read its queue")
        return caller.scoped()

    # Helpers: other services

    def _category(self, caller, category_id):
        try:
            return self.store.categories.get({"tenant": caller.tenant, "_id": category_id})
        except NotFound:
            raise InvalidArgument.field("category_id", "is not a category of this tenant") from None

    def _reporter_subject(self, caller, command):
        if caller.role != "resident":
            return command.reporter_subject
        if command.channel != "SELF_SERVICE":
            raise InvalidArgument.field("channel", "a resident's own report comes through SELF_SERVICE")
        if command.reporter_subject and command.reporter_subject != caller.subject:
            raise InvalidArgument.field("reporter_subject", "a resident reports only as themselves")
        return caller.subject

    def _place(self, caller, node_id):
        """The flat or node a ticket is about: its id, path and building (if any)."""
        context = caller.model_dump()
        try:
            flat = self.grids.get_flat(context, {"id": node_id})
            return {"id": flat["id"], "path": flat["path"], "building_id": flat["building_id"]}
        except NotFound:
            pass
        try:
            node = self.grids.get_node(context, {"id": node_id})
        except NotFound:
            raise NotFound("node not found", [{"field": "node_id", "description": "no such flat or node in scope"}]) \
                from None
        return {"id": node["id"], "path": node["path"],
                "building_id": node["id"] if node["kind"] == "BUILDING" else ""}

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


def volunteer_task_note(data):
    """What a volunteer task event says on the ticket's timeline."""
    if "volunteer_ids" in data:
        return f"{data['title']}: {len(data['volunteer_ids'])} dispatched, {data['people_dispatched']} of " \
               f"{data['people_needed']}"
    if "hours" in data and "volunteer_id" not in data:
        return f"{data['title']}: done, {data['hours']} hours served"
    if "hours" in data:
        return f"{data['title']}: volunteer {data['volunteer_id']} checked out after {data['hours']} hours"
    if "volunteer_id" in data:
        return f"{data['title']}: volunteer {data['volunteer_id']} checked in"
    if "rating" in data:
        return f"{data['title']}: rated {data['rating']}/5 by the person served"
    return f"{data['title']}: {data['people_needed']} people"


def identities(caller):
    """The subject and the organisations (grant "org:<id>") a caller acts for."""
    organisations = {grant[4:] for grant in caller.grants if grant.startswith("org:")}
    return {caller.subject} | organisations


def involved(ticket):
    """Everyone whose MINE queue shows the ticket."""
    people = [ticket["reporter_subject"], ticket["assignee_subject"], ticket["assignee_organisation_id"],
              *ticket["followers"], *ticket["organisation_ids"]]
    return sorted({person for person in people if person})


def deadline_data(clock):
    return {"stage": clock["stage"], "due_at": timestamp(clock["due_at"])}


def missed_deadline(ticket, moment):
    """Marks the missed stage and, below STREET, escalates a level with a new clock."""
    clock = {**ticket["clock"], "missed_notified": True}
    steps = [Step("deadline_missed", contracts.TicketDeadlineMissed, ticket["state"],
                  f"{clock['stage']} was due at {timestamp(clock['due_at'])} at {clock['level']} level",
                  deadline_data(clock))]
    changes = {"clock": clock}
    if clock["level"] != lifecycle.LEVELS[-1]:
        escalated = lifecycle.escalated_clock(ticket, moment)
        changes = {"clock": escalated, "level": escalated["level"]}
        steps.append(Step("escalated", contracts.TicketEscalated, ticket["state"],
                          f"deadline missed: escalated to {escalated['level']}",
                          {"previous_level": clock["level"]}))
    return changes, steps


def figures_of(rows, moment):
    counts, first_response, resolution, scores = {}, [], [], []
    total = done = overdue = 0
    for row in rows:
        total += 1
        key = (row["category_id"], row["state"])
        counts[key] = counts.get(key, 0) + 1
        done += row["state"] in lifecycle.DONE_STATES
        overdue += row["state"] in lifecycle.OPEN_STATES and aware(row["queue_due"]) <= moment
        if row.get("first_response_time"):
            first_response.append(minutes_between(row["create_time"], row["first_response_time"]))
        if row.get("resolve_time"):
            resolution.append(minutes_between(row["create_time"], row["resolve_time"]))
        if row.get("feedback"):
            scores.append(row["feedback"]["satisfaction"])
    return {
        "total": total,
        "counts": [{"category_id": category, "state": state, "count": count}
                   for (category, state), count in sorted(counts.items())],
        "completion_rate": done / total if total else 0.0,
        "first_response": lifecycle.duration_figures(first_response),
        "resolution": lifecycle.duration_figures(resolution),
        "satisfaction_average": sum(scores) / len(scores) if scores else 0.0,
        "satisfaction_count": len(scores),
        "overdue_count": overdue,
    }


def aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def minutes_between(start, end):
    return (aware(end) - aware(start)).total_seconds() / 60


def shown(document):
    """A ticket as the API returns it: internal fields dropped, every time as RFC 3339."""
    return jsonable({key: value for key, value in public(document).items() if key not in TICKET_INTERNAL_FIELDS})


def summary(document):
    """What anyone in the building may see of a ticket they might follow."""
    ticket = shown(document)
    return {key: ticket[key] for key in ("id", "kind", "category_id", "node_id", "building_id", "state",
                                         "priority", "description", "create_time")}


def jsonable(value):
    if isinstance(value, datetime):
        return timestamp(aware(value))
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value


def timeline_entry(caller, step, moment):
    """The first entry of a ticket: it comes from no state."""
    return {"time": moment, "actor": caller.subject, "actor_role": caller.role, "action": step.action,
            "from_state": None, "to_state": step.to_state, "note": step.note}
