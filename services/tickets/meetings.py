"""The tickets service's deliberation entrypoints: meetings (四议两公开) and the projects they
adopt, kept beside the tickets they discuss. The rules are in `deliberation`; these read and write
for them through the service's store and dependencies (`TicketsService` takes them in)."""
from services.commands import command
from services.errors import FailedPrecondition, InvalidArgument, NotFound
from services.queries import combined, one_of
from services.storage import now, public
from services.tickets import deliberation, schemas
from services.tickets.queue_index import millis
from services.tickets.views import jsonable


class DeliberationEntrypoints:
    """Meetings and projects, for `TicketsService`, whose store, grids and residents they use, and
    whose tickets (`_ticket`, `_place`, `_household`, `_account`, `_append_steps`) they read and
    write on."""

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

    @command(schemas.Feedback)
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

    def _station(self, caller, station_id, place):
        """The station, read as if the caller's scope held the meeting's node and its ancestors: a
        grid's meeting is often held at its community's station, which a grid worker cannot read.
        Only whether it lies near the meeting is used."""
        meeting_reach = caller.model_copy(update={"scope": tuple(place["path"])})
        try:
            return self.grids.station(meeting_reach, station_id)
        except NotFound:
            raise InvalidArgument.field("place_station_id", "is not a service station in scope") from None



def shown_record(document):
    """A meeting or project as the API returns it: internal fields dropped, times as RFC 3339."""
    record = jsonable(public(document))
    record.pop("version", None)
    return record

