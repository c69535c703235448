"""The tickets service: the category catalogue and the closed loop of a ticket —
collect, triage, dispatch, handle, feedback — with promised times and a timeline."""
import logging
import time

from nameko.timer import timer

from services import base
from services.commands import command
from services.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.events import consume_once
from services.messaging import RpcProxy, broadcast_handler, event_handler
from services.queries import combined, one_of
from services.reference import GridsReference
from services.storage import STORE_UNREACHABLE, MongoStore, now, public
from services.tickets import (catalogue, deliberation, figures, lifecycle, metrics, parties, schemas, tasks,
                              transitions)
from services.tickets.queue_index import millis
from services.tickets.store import TicketsRepository
from services.tickets.timeline import SYSTEM
from services.tickets.views import jsonable, shown, summary

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


class TicketsService(base.CivicService):
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

    # Deliberation meetings (四议两公开)

    @command(schemas.CreateMeeting)
    def create_meeting(self, caller, command):
        place = self._place(caller, command.node_id)
        if command.place_station_id:
            deliberation.require_station_near(self._station(caller, command.place_station_id, place), place)
        fields, event = deliberation.new_meeting(caller, command, place, now())
        return shown_record(self.store.create_meeting(caller.tenant, command.request_id, fields, [event]))

    @command(schemas.GetById)
    def get_meeting(self, caller, command):
        return shown_record(deliberation.meeting_as_read(self._readable_meeting(caller, command.id), caller))

    @command(schemas.ListBelowNode)
    def list_meetings(self, caller, command):
        documents, token = self.store.meetings.page(
            self._meetings_readable(caller, command.node_id), command.page_size, command.page_token)
        return {"meetings": [shown_record(deliberation.meeting_as_read(d, caller)) for d in documents],
                "next_page_token": token}

    @command(schemas.SuggestAgenda)
    def suggest_agenda(self, caller, command):
        """Open suggestions, and recurring problems no meeting decided, below the node."""
        place = self._place(caller, command.node_id)
        suggestions = self.store.open_suggestions(caller.tenant, place["id"])
        recurrences = self._recurrences(caller.tenant, place["id"])
        reports = self.store.agenda_records(caller.tenant, {ticket_id for found in recurrences
                                                             for ticket_id in found["ticket_ids"]})
        return {"items": deliberation.suggested(suggestions, place["id"]),
                "recurring": deliberation.undecided_recurrences(recurrences, reports)}

    @command(schemas.AddAgendaItem)
    def add_agenda_item(self, caller, command):
        meeting = self._meeting(caller, command.id)
        ticket = self._ticket(caller, command.ticket_id, field_name="ticket_id")
        item = deliberation.agenda_item(meeting, ticket, self._recurrence_reported(meeting, ticket))
        return shown_record(self._changed(self.store.meetings, meeting, {"agenda": [*meeting["agenda"], item]}, []))

    @command(schemas.AdvanceMeeting)
    def advance_meeting(self, caller, command):
        meeting = self._meeting(caller, command.id)
        unfinished = self._unfinished_work(meeting) if meeting["state"] == "DECISION_PUBLISHED" else ()
        following = deliberation.next_state(meeting, command.from_state, unfinished)
        suggestions = self._agenda_tickets(meeting) if following == "DECISION_PUBLISHED" else ()
        changes, events = deliberation.advanced(meeting, following, caller, command.note, now(), suggestions)
        return shown_record(self._changed(self.store.meetings, meeting, changes, events))

    @command(schemas.DecideAgendaItem)
    def decide_agenda_item(self, caller, command):
        """Records the decision on the meeting, then on the suggestion's timeline. Deciding again
        the same way writes nothing on the meeting and completes the suggestion's record, should
        the first call have stopped between the two writes."""
        meeting = self._meeting(caller, command.id)
        deliberation.require_decider(caller, meeting)
        decision = deliberation.decided(meeting, command.ticket_id, command.decision, command.reason, caller, now())
        if decision is not None:
            meeting = self._changed(self.store.meetings, meeting, *decision)
        item = deliberation.item_of(meeting, command.ticket_id)
        self._append_steps(caller.tenant, command.ticket_id, caller.subject, caller.role,
                           lambda ticket: deliberation.decision_step(ticket, meeting, item))
        return shown_record(meeting)

    @command(schemas.RecordMinutes)
    def record_minutes(self, caller, command):
        meeting = self._meeting(caller, command.id)
        return shown_record(self._changed(self.store.meetings, meeting, {"minutes": command.minutes}, []))

    # Projects from adopted suggestions

    @command(schemas.CreateProject)
    def create_project(self, caller, command):
        meeting = self._meeting(caller, command.meeting_id, field_name="meeting_id")
        ticket = self._ticket(caller, command.ticket_id, field_name="ticket_id")
        for household_id in command.household_ids:
            self._household(caller, household_id, "household_ids")
        fields, event = deliberation.new_project(caller, command, meeting, ticket)
        project = self.store.create_project(caller.tenant, command.request_id, fields, [event])
        return shown_record(deliberation.project_as_read(project, caller))

    @command(schemas.GetById)
    def get_project(self, caller, command):
        return shown_record(deliberation.project_as_read(self._readable_project(caller, command.id), caller))

    @command(schemas.ListBelowNode)
    def list_projects(self, caller, command):
        documents, token = self.store.projects.page(
            self._projects_readable(caller, command.node_id), command.page_size, command.page_token)
        return {"projects": [shown_record(deliberation.project_as_read(d, caller)) for d in documents],
                "next_page_token": token}

    @command(schemas.UpdateMilestone)
    def update_milestone(self, caller, command):
        """Stores the update's photos first, so that the project never names one that is not there."""
        project = self._project(caller, command.id)
        ticket = self._suggestion_of(project)
        deliberation.milestone_of(project, command)
        photos = self.store.keep_project_photos(caller.tenant, project["_id"],
                                                [(photo.content_type, photo.raw) for photo in command.photos])
        changes, event = deliberation.milestone_updated(project, ticket, command, photos, caller, now())
        project = self._changed(self.store.projects, project, changes, [event])
        return shown_record(deliberation.project_as_read(project, caller))

    @command(schemas.GetProjectPhoto)
    def get_project_photo(self, caller, command):
        project = self._readable_project(caller, command.project_id, field_name="project_id")
        references = [photo for milestone in project["milestones"] for photo in milestone.get("photos", [])]
        return self.store.photo(caller.tenant, references, command.photo_id, holder="project")

    @command(schemas.SubmitProjectFeedback)
    def submit_project_feedback(self, caller, command):
        project = self._readable_project(caller, command.id)
        feedback = deliberation.feedback_given(project, self._suggestion_of(project), caller, command, now())
        if feedback is not None:
            changes, event = feedback
            project = self._changed(self.store.projects, project, changes, [event])
        return shown_record(deliberation.project_as_read(project, caller))

    @command(schemas.CompleteProject)
    def complete_project(self, caller, command):
        """Completes the project, then resolves its suggestion, which asks the reporter for
        feedback. Two writes, no transaction: a repeat finds the project completed and only
        resolves the suggestion if a crash left it open, so it finishes what the first call began."""
        project = self._project(caller, command.id)
        if project["state"] != "COMPLETED":
            changes, event = deliberation.completed(project, self._suggestion_of(project), command, caller, now())
            project = self._changed(self.store.projects, project, changes, [event])
        self._append_steps(caller.tenant, project["ticket_id"], caller.subject, caller.role,
                           lambda ticket: deliberation.completion_step(ticket, project, project["complete_time"]))
        return shown_record(deliberation.project_as_read(project, caller))

    def _meeting(self, caller, meeting_id, field_name="id"):
        return self._in_scope(caller, self.store.meetings, meeting_id, field_name)

    def _project(self, caller, project_id):
        return self._in_scope(caller, self.store.projects, project_id, "id")

    def _readable_meeting(self, caller, meeting_id):
        """A meeting in scope, or to a resident one their home's grid or community published."""
        if caller.role != "resident":
            return self._meeting(caller, meeting_id)
        meeting = self.store.meetings.first({"tenant": caller.tenant, "_id": meeting_id})
        if meeting is None or not deliberation.published_to(meeting, self._account(caller)["path"]):
            raise NotFound("meeting not found", [{"field": "id", "description": "no such meeting published to you"}])
        return meeting

    def _readable_project(self, caller, project_id, field_name="id"):
        """A project in scope, or to a resident one adopted by a meeting published to them."""
        if caller.role != "resident":
            return self._in_scope(caller, self.store.projects, project_id, field_name)
        project = self.store.projects.first({"tenant": caller.tenant, "_id": project_id})
        meeting = project and self.store.meetings.first({"tenant": caller.tenant, "_id": project["meeting_id"]})
        if not meeting or not deliberation.published_to(meeting, self._account(caller)["path"]):
            raise NotFound("project not found",
                           [{"field": field_name, "description": "no such project published to you"}])
        return project

    def _meetings_readable(self, caller, node_id):
        """Staff's and partners' meetings at and below a node; a resident's, those their home's
        grid and community published (at `node_id`, one of them, if named)."""
        if caller.role != "resident":
            return self._below(caller, node_id)
        home = self._account(caller)["path"]
        if node_id and node_id not in home:
            raise NotFound("node not found", [{"field": "node_id", "description": "not a grid or community of yours"}])
        return combined({"tenant": caller.tenant}, one_of("node_id", [node_id] if node_id else home),
                        one_of("state", deliberation.PUBLISHED))

    def _projects_readable(self, caller, node_id):
        if caller.role != "resident":
            return self._below(caller, node_id)
        meetings = self.store.meetings.all(self._meetings_readable(caller, node_id), fields={"_id": 1})
        return {"tenant": caller.tenant, **one_of("meeting_id", [meeting["_id"] for meeting in meetings])}

    def _recurrences(self, tenant, node_id):
        entries = self.store.index_entries(tenant, deliberation.recurring_below(node_id, millis(now())))
        return deliberation.recurring(entries)

    def _recurrence_reported(self, meeting, ticket):
        """The recurring problem below the meeting's node that `ticket` reports, or None (a
        suggestion, a lone report); INVALID_ARGUMENT when a meeting decided it already."""
        if ticket["kind"] == "SUGGESTION":
            return None
        found = deliberation.recurrence_holding(self._recurrences(meeting["tenant"], meeting["node_id"]), ticket["_id"])
        if found and not deliberation.undecided_recurrences(
                [found], self.store.agenda_records(meeting["tenant"], found["ticket_ids"])):
            raise InvalidArgument.field("ticket_id", "a meeting adopted or rejected this recurring problem already")
        return found

    def _agenda_tickets(self, meeting, ticket_ids=None):
        """The tickets on the meeting's agenda (or those of `ticket_ids`) that are still there."""
        ids = [item["ticket_id"] for item in meeting["agenda"]] if ticket_ids is None else ticket_ids
        return [ticket for ticket in (self.store.find_ticket(meeting["tenant"], ticket_id) for ticket_id in ids)
                if ticket]

    def _unfinished_work(self, meeting):
        suggestions = self._agenda_tickets(meeting, deliberation.adopted_ids(meeting))
        projects = self.store.projects.all({"tenant": meeting["tenant"], "meeting_id": meeting["_id"]},
                                           fields={"title": 1, "state": 1, "ticket_id": 1})
        return deliberation.unfinished_work(meeting, suggestions, projects)

    @staticmethod
    def _in_scope(caller, records, record_id, field_name):
        """A meeting or project in the caller's scope; NOT_FOUND naming `field_name` otherwise."""
        record = records.first({"tenant": caller.tenant, "_id": record_id})
        if record is None or not caller.reaches(record["path"]):
            raise NotFound(f"{records.what} not found",
                           [{"field": field_name, "description": f"no such {records.what} in scope"}])
        return record

    def _suggestion_of(self, project):
        ticket = self.store.find_ticket(project["tenant"], project["ticket_id"])
        if ticket is None:
            raise FailedPrecondition("the project's suggestion is gone")
        return ticket

    def _below(self, caller, node_id):
        """The caller's records at a node and below it, or anywhere in their scope."""
        if node_id:
            return {"tenant": caller.tenant, "path": self._place(caller, node_id)["id"]}
        return caller.scoped()

    @staticmethod
    def _changed(records, document, changes, events):
        """`changes` to a meeting or project if it is still at the version read, with `events`."""
        written = records.claimed_update(document, {"$set": dict(changes)}, events)
        if written is None:
            raise FailedPrecondition(f"the {records.what} changed while this request ran; read it again and retry")
        return written


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

    def _station(self, caller, station_id, place):
        """The station, read as if the caller's scope held the meeting's node and its ancestors: a
        grid's meeting is often held at its community's station, which a grid worker cannot read.
        Only whether it lies near the meeting is used."""
        meeting_reach = caller.model_copy(update={"scope": tuple(place["path"])})
        try:
            return self.grids.station(meeting_reach, station_id)
        except NotFound:
            raise InvalidArgument.field("place_station_id", "is not a service station in scope") from None

    def _household(self, caller, household_id, field_name):
        try:
            return self.residents.get_household(caller.model_dump(), {"id": household_id})
        except NotFound:
            raise InvalidArgument.field(field_name, f"{household_id} is not a household in this tenant and scope") \
                from None


def shown_record(document):
    """A meeting or project as the API returns it: internal fields dropped, times as RFC 3339."""
    record = jsonable(public(document))
    record.pop("version", None)
    return record
