"""The volunteers service: profiles, teams, and the loop of asking for, taking and dispatching
orders (询单 · 接单 · 派单), through check-in, check-out, logged hours and feedback.

The rules of each step live beside it, free of storage and RPC: `tasks` (a task's life), `staffing`
(who may still join), `matching` (who fits and how well), `hours` (the ledger and who served most)
and `rotation` (organisations visiting grids in turn)."""
from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from services import base
from services.commands import command
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.messaging import RpcProxy
from services.reference import GridsReference
from services.storage import MongoStore, new_id, now, public
from services.validation import masked_changes
from services.volunteers import hours, matching, rotation, schemas, staffing, tasks
from services.volunteers.events import (ActivityRecorded, RotationCreated, TeamCreated, TeamUpdated,
                                        VolunteerRegistered, VolunteerUpdated, record_event)
from services.volunteers.store import VolunteersRepository

UNFILLED_CHECK_SECONDS = 2
CLAIM_RELEASE_SECONDS = 10
DEFAULT_RANKING_LIMIT = 50
DEFAULT_OPEN_TASKS = 50
OPEN_TASKS_SCANNED = 500


class VolunteersService(base.CivicService):
    name = "volunteers"
    store = MongoStore(VolunteersRepository)
    grids = GridsReference()
    residents = RpcProxy("residents")
    tickets = RpcProxy("tickets")

    # Volunteers

    @command(schemas.CreateVolunteer)
    def create_volunteer(self, caller, command):
        node = self._node(caller, command.home_node_id, "home_node_id")
        if command.resident_id:
            self._check_resident(caller, command.resident_id, "resident_id")
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": node["path"]}
        event = record_event(VolunteerRegistered, caller.tenant, "volunteers", fields)
        try:
            document, _ = self.store.volunteers.create(caller.tenant, command.request_id, dict(fields), [event])
        except DuplicateKeyError:
            raise AlreadyExists(f"a volunteer already signs in as {command.subject}",
                                [{"field": "subject", "description": "already registered"}]) from None
        return public(document)

    @command(schemas.GetById)
    def get_volunteer(self, caller, command):
        return public(self._volunteer(caller, command.id))

    @command(schemas.ListVolunteers)
    def list_volunteers(self, caller, command):
        conditions = {}
        if command.node_id:
            conditions["path"] = command.node_id
        if command.skill:
            conditions["skills.name"] = command.skill
        query = caller.scoped(conditions or None)
        if command.node_id:
            documents, token = self.store.volunteers_page(
                command.node_id, command.skill, query, command.page_size, command.page_token)
        else:
            documents, token = self.store.volunteers.page(query, command.page_size, command.page_token)
        return {"volunteers": [public(d) for d in documents], "next_page_token": token}

    @command(schemas.UpdateVolunteer)
    def update_volunteer(self, caller, command):
        volunteer_id, changes = masked_changes(
            schemas.VolunteerChanges, command.volunteer, command.update_mask, "volunteer")
        volunteer = self._volunteer(caller, volunteer_id)
        if changes.get("resident_id"):
            self._check_resident(caller, changes["resident_id"], "volunteer.resident_id")
        event = record_event(VolunteerUpdated, caller.tenant, "volunteers", public(volunteer) | changes,
                             changed=sorted(changes))
        document = self.store.volunteers.update({"tenant": caller.tenant, "_id": volunteer_id}, changes, [event])
        return public(document)

    # Teams

    @command(schemas.CreateTeam)
    def create_team(self, caller, command):
        node = self._node(caller, command.node_id, "node_id")
        self._check_members(caller, command.member_ids, "member_ids")
        fields = command.model_dump(exclude={"request_id"}) | {
            "id": new_id(), "path": node["path"], "member_ids": sorted(set(command.member_ids))}
        event = record_event(TeamCreated, caller.tenant, "teams", fields)
        document, _ = self.store.teams.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @command(schemas.GetById)
    def get_team(self, caller, command):
        return public(self._in_scope(self.store.teams, caller, command.id))

    @command(schemas.ListTeams)
    def list_teams(self, caller, command):
        documents, token = self.store.teams.page(
            caller.scoped({"member_ids": command.member_id} if command.member_id else None),
            command.page_size, command.page_token)
        return {"teams": [public(d) for d in documents], "next_page_token": token}

    @command(schemas.UpdateTeam)
    def update_team(self, caller, command):
        team_id, changes = masked_changes(schemas.TeamChanges, command.team, command.update_mask, "team")
        team = self._in_scope(self.store.teams, caller, team_id)
        if "member_ids" in changes:
            self._check_members(caller, changes["member_ids"], "team.member_ids")
            changes["member_ids"] = sorted(set(changes["member_ids"]))
        event = record_event(TeamUpdated, caller.tenant, "teams", public(team) | changes, changed=sorted(changes))
        document = self.store.teams.update({"tenant": caller.tenant, "_id": team_id}, changes, [event])
        return public(document)

    # Tasks

    @command(schemas.CreateTask)
    def create_task(self, caller, command):
        node = self._node(caller, command.node_id, "node_id")
        if command.team_id:
            self._in_scope(self.store.teams, caller, command.team_id, "team_id")
        if command.ticket_id:
            self._check_ticket(caller, command.ticket_id)
        fields, event = tasks.new_task(caller.tenant, command, node["path"])
        document, _ = self.store.tasks.create(caller.tenant, command.request_id, fields, [event])
        return self._shown_task(document)

    @command(schemas.GetById)
    def get_task(self, caller, command):
        return self._shown_task(self._visible_task(caller, command.id))

    @command(schemas.ListTasks)
    def list_tasks(self, caller, command):
        if caller.role == "volunteer":
            query = {"tenant": caller.tenant, "$or": self._own_task_conditions(caller)}
            documents, token = self.store.tasks.page(query, command.page_size, command.page_token)
        elif command.node_id:
            query = caller.scoped({"path": command.node_id})
            documents, token = self.store.tasks_page(command.node_id, query, command.page_size, command.page_token)
        else:
            documents, token = self.store.tasks.page(caller.scoped(), command.page_size, command.page_token)
        return {"tasks": self._shown_tasks(documents), "next_page_token": token}

    @command(schemas.GetById)
    def publish_task(self, caller, command):
        task = self._in_scope(self.store.tasks, caller, command.id)
        return self._shown_task(self.store.change_task(task, tasks.publish))

    @command(schemas.ListOpenTasks)
    def list_open_tasks(self, caller, command):
        """The published tasks the caller qualifies for and that still need people, soonest first."""
        me = self._me(caller)
        fitting = []
        for task in self.store.open_tasks(caller.tenant, now(), OPEN_TASKS_SCANNED):
            if staffing.room(task) and not matching.unfit(me, task):
                fitting.append(task)
            if len(fitting) == (command.page_size or DEFAULT_OPEN_TASKS):
                break
        return {"tasks": self._shown_tasks(fitting)}

    @command(schemas.GetById)
    def offer_task(self, caller, command):
        me = self._me(caller)
        task = self.store.tasks.get({"tenant": caller.tenant, "_id": command.id})
        return self._shown_task(self.store.change_task(task, lambda task: tasks.offer(task, me)))

    @command(schemas.DispatchTask)
    def dispatch_task(self, caller, command):
        task = self._coordinated_task(caller, command.id)
        chosen = list(dict.fromkeys(command.volunteer_ids))
        found = self.store.volunteers_by_id(caller.tenant, chosen)
        tasks.refuse_undispatchable(task, chosen, found)
        volunteers = [found[volunteer_id] for volunteer_id in chosen]
        return self._shown_task(self.store.change_task(task, lambda task: tasks.dispatch(task, volunteers)))

    @command(schemas.Attendance)
    def check_in(self, caller, command):
        task, volunteer = self._attendance(caller, command)
        moment = command.time or now()
        if self.store.checked_in(tasks.shift_id(task, volunteer)):
            raise FailedPrecondition("already checked in to this task")
        self._refuse_overlap(task, volunteer, moment, None)
        teams = self.store.teams_of_member(caller.tenant, volunteer["_id"])
        fields, event = tasks.check_in(task, volunteer, moment, teams)
        document, _ = self.store.shifts.create(caller.tenant, fields["id"], fields, [event])
        return public(document)

    @command(schemas.Attendance)
    def check_out(self, caller, command):
        task, volunteer = self._attendance(caller, command)
        moment = command.time or now()
        shift = self.store.shift_of(caller.tenant, tasks.shift_id(task, volunteer))
        operation, events = tasks.check_out(task, shift, moment)
        self._refuse_overlap(task, volunteer, shift["start_time"], moment)
        document = self.store.write_shift(shift, operation, events)
        if document is None:
            raise FailedPrecondition("already checked out of this task")
        self._complete_if_served(task)
        return public(document)

    @command(schemas.GiveFeedback)
    def give_feedback(self, caller, command):
        if caller.role == "resident":
            task = self.store.tasks.get({"tenant": caller.tenant, "_id": command.task_id})
            tasks.refuse_stranger_feedback(task, caller.subject)
        else:
            task = self._in_scope(self.store.tasks, caller, command.task_id)
        tasks.refuse_feedback_before_service(self.store.served(caller.tenant, task["_id"]))
        given = tasks.new_feedback(caller.subject, command)
        return self._shown_task(self.store.change_task(task, lambda task: tasks.give_feedback(task, given)))

    # Matching

    @command(schemas.RankVolunteers)
    def rank_volunteers(self, caller, command):
        task = self._coordinated_task(caller, command.task_id, "task_id")
        dispatched = staffing.dispatched(task)
        candidates = [v for v in self.store.candidates(caller.tenant, [r["name"] for r in task["required_skills"]])
                      if v["_id"] not in dispatched]
        recent = self.store.recent_dispatch_counts(caller.tenant, now() - matching.FAIRNESS_WINDOW)
        rankings = matching.rank(task, candidates, recent)[:command.limit or DEFAULT_RANKING_LIMIT]
        return {"rankings": rankings, "candidates": len(candidates)}

    # Hours

    @command(schemas.GetHoursLedger)
    def get_hours_ledger(self, caller, command):
        return hours.ledger(self.store.closed_shifts(self._ledger_filter(caller, command), *hours.period(command)))

    @command(schemas.SummarizeHours)
    def summarize_hours(self, caller, command):
        totals = hours.totals(self.store.closed_shifts(caller.scoped(), *hours.period(command)), command.group_by)
        records_name = "volunteers" if command.group_by == "BY_VOLUNTEER" else "teams"
        names = self.store.display_names(records_name, caller.tenant, totals)
        return {"totals": hours.ranked(totals, names, command)}

    # Rotation of social organisations across grids

    @command(schemas.CreateRotation)
    def create_rotation(self, caller, command):
        community = self._node(caller, command.node_id, "node_id")
        for grid_id in command.grid_ids:
            rotation.refuse_grid_outside(community, self._node(caller, grid_id, "grid_ids"))
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": community["path"]}
        event = record_event(RotationCreated, caller.tenant, "rotations", fields)
        document, _ = self.store.rotations.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @command(schemas.RotationOn)
    def get_rotation_assignment(self, caller, command):
        record = self._in_scope(self.store.rotations, caller, command.rotation_id, "rotation_id")
        return rotation.assignment(record, command.date)

    @command(schemas.RecordActivity)
    def record_activity(self, caller, command):
        grid = self._node(caller, command.grid_id, "grid_id")
        rotation.refuse_unless_grid(grid)
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": grid["path"]}
        event = record_event(ActivityRecorded, caller.tenant, "activities", fields)
        document, _ = self.store.activities.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @command(schemas.RotationReport)
    def report_rotation(self, caller, command):
        """For each rotation in scope, the grid it is assigned this period and whether it is behind:
        no activity recorded there yet in the period."""
        records = self.store.rotations_in(caller.scoped({"path": command.node_id} if command.node_id else None))
        entries = [self._rotation_progress(caller, record, command.date) for record in records
                   if rotation.started(record, command.date)]
        return {"entries": [entry for entry in entries if entry["behind"] or not command.behind_only]}

    # Deadlines

    @timer(interval=UNFILLED_CHECK_SECONDS)
    def raise_unfilled_tasks(self):
        """Raises, once, each published task still short of people when its offer deadline passes. A
        task another write moved on meanwhile is left to the next scan, which reads it again."""
        for task in self.store.unfilled_past_deadline(now()):
            coordinators = self.store.coordinators_of(task["team_id"]) if task.get("team_id") else []
            self.store.write_task(task, *tasks.unfilled(task, coordinators))

    @timer(interval=CLAIM_RELEASE_SECONDS)
    def release_stale_claims(self):
        """Frees the versions of tasks and shifts whose claiming write never came (a crash in between)."""
        self.store.release_stale_claims()

    # Who may see and act on what

    def _in_scope(self, records, caller, record_id, field="id"):
        """The caller's record, if in their scope; NOT_FOUND naming `field` if there is none."""
        try:
            record = records.get({"tenant": caller.tenant, "_id": record_id})
        except NotFound:
            raise NotFound(f"{records.what} not found",
                           [{"field": field, "description": f"no such {records.what}"}]) from None
        caller.require(record["path"], records.what)
        return record

    def _volunteer(self, caller, volunteer_id, field="id"):
        """A volunteer sees only their own profile; staff those in scope."""
        if caller.role != "volunteer":
            return self._in_scope(self.store.volunteers, caller, volunteer_id, field)
        try:
            volunteer = self.store.volunteers.get({"tenant": caller.tenant, "_id": volunteer_id})
        except NotFound:
            raise NotFound("volunteer not found", [{"field": field, "description": "no such volunteer"}]) from None
        if volunteer["subject"] != caller.subject:
            raise NotFound("volunteer not found")
        return volunteer

    def _me(self, caller):
        volunteer = self.store.volunteer_of_subject(caller.tenant, caller.subject)
        if volunteer is None:
            raise FailedPrecondition(f"no volunteer profile signs in as {caller.subject}; ask staff to register you")
        return volunteer

    def _coordinates(self, caller, team_id):
        """True when the caller is a coordinator of the team, whatever their role."""
        return bool(team_id) and self.store.coordinates(caller.tenant, team_id, caller.subject)

    def _coordinated_task(self, caller, task_id, field="id"):
        """A task the caller may dispatch and rank for: as a coordinator of its team, or as staff in scope."""
        try:
            task = self.store.tasks.get({"tenant": caller.tenant, "_id": task_id})
        except NotFound:
            raise NotFound("task not found", [{"field": field, "description": "no such task"}]) from None
        if self._coordinates(caller, task.get("team_id")):
            return task
        if caller.role == "volunteer":
            raise PermissionDenied("only staff or a coordinator of the task's team dispatch it")
        caller.require(task["path"], "task")
        return task

    def _visible_task(self, caller, task_id):
        """Staff see tasks in scope; anyone sees the tasks of teams they coordinate; a volunteer those they
        offered for or were dispatched to."""
        if caller.role != "volunteer":
            try:
                return self._in_scope(self.store.tasks, caller, task_id)
            except NotFound:
                pass
        task = self.store.tasks.first({"tenant": caller.tenant, "_id": task_id,
                                       "$or": self._own_task_conditions(caller, need_profile=False)})
        if task is None:
            raise NotFound("task not found", [{"field": "id", "description": "no such task"}])
        return task

    def _own_task_conditions(self, caller, need_profile=True):
        """Task filters for what a volunteer follows: their offers and dispatches, their coordinated teams."""
        conditions = []
        coordinated = self.store.teams_coordinated_by(caller.tenant, caller.subject)
        if coordinated:
            conditions.append({"team_id": {"$in": coordinated}})
        me = self.store.volunteer_of_subject(caller.tenant, caller.subject)
        if me is not None:
            conditions += [{"assignments.volunteer_id": me["_id"]}, {"offers": me["_id"]}]
        if not conditions:
            if need_profile:
                self._me(caller)
            conditions.append({"_id": None})
        return conditions

    def _attendance(self, caller, command):
        """The task and the volunteer a check-in or check-out is about."""
        if caller.role == "volunteer":
            volunteer = self._me(caller)
            tasks.refuse_own_attendance(command, volunteer)
            task = self.store.tasks.get({"tenant": caller.tenant, "_id": command.task_id})
        else:
            if not command.volunteer_id:
                raise InvalidArgument.field("volunteer_id", "is required")
            task = self._in_scope(self.store.tasks, caller, command.task_id, "task_id")
            volunteer = self._volunteer(caller, command.volunteer_id, "volunteer_id")
        tasks.refuse_undispatched(task, volunteer)
        return task, volunteer

    def _ledger_filter(self, caller, command):
        """Whose hours a ledger reads: one volunteer's (a volunteer's own, by default) or one team's."""
        if command.team_id and not command.volunteer_id:
            return {"tenant": caller.tenant, "team_ids": self._team_of_hours(caller, command.team_id)["_id"]}
        if caller.role == "volunteer":
            if command.team_id:
                hours.refuse_unless_one_of(command.volunteer_id, command.team_id)
            me = self._me(caller)
            if command.volunteer_id not in ("", me["_id"]):
                raise NotFound("volunteer not found")
            return {"tenant": caller.tenant, "volunteer_id": me["_id"]}
        hours.refuse_unless_one_of(command.volunteer_id, command.team_id)
        return {"tenant": caller.tenant, "volunteer_id": self._volunteer(caller, command.volunteer_id)["_id"]}

    def _team_of_hours(self, caller, team_id):
        """A team whose hours the caller may read: staff in scope, or its coordinators."""
        if self._coordinates(caller, team_id):
            return self.store.teams.get({"tenant": caller.tenant, "_id": team_id})
        if caller.role == "volunteer":
            raise PermissionDenied("a volunteer sees only their own hours and those of teams they coordinate")
        return self._in_scope(self.store.teams, caller, team_id, "team_id")

    # Steps that read beyond the task

    def _refuse_overlap(self, task, volunteer, start, end):
        tasks.refuse_overlap(self.store.overlapping_shift(
            task["tenant"], volunteer["_id"], start, end, tasks.shift_id(task, volunteer)))

    def _complete_if_served(self, task):
        """Marks a fully staffed task COMPLETED once every dispatched volunteer has checked out."""
        def complete(task):
            return tasks.complete(task, self.store.shifts_of_task(task["tenant"], task["_id"]))
        self.store.change_task(self.store.tasks.get({"tenant": task["tenant"], "_id": task["_id"]}), complete)

    def _rotation_progress(self, caller, record, on):
        entry = rotation.assignment(record, on)
        activities = self.store.activities_in(caller.tenant, record["organisation_id"], entry["grid_id"],
                                              entry["period_start"], entry["period_end"])
        return entry | {"activities": activities, "behind": activities == 0}

    def _shown_task(self, task):
        return self._shown_tasks([task])[0]

    def _shown_tasks(self, documents):
        """A page of tasks with their shifts, read for every staffed task at once."""
        staffed = [task for task in documents if task["assignments"]]
        shifts = self.store.shifts_of_tasks(staffed[0]["tenant"], [task["_id"] for task in staffed]) if staffed else {}
        return [tasks.shown(task, shifts.get(task["_id"], {})) for task in documents]

    # Other services

    def _node(self, caller, node_id, field):
        try:
            return self.grids.node(caller, node_id)
        except NotFound:
            raise NotFound("node not found", [{"field": field, "description": "no such node in scope"}]) from None

    def _check_resident(self, caller, resident_id, field):
        try:
            self.residents.get_resident(caller.model_dump(), {"id": resident_id})
        except NotFound:
            raise NotFound("resident not found",
                           [{"field": field, "description": "no such resident in scope"}]) from None

    def _check_ticket(self, caller, ticket_id):
        try:
            self.tickets.get_ticket(caller.model_dump(), {"id": ticket_id})
        except NotFound:
            raise NotFound("ticket not found",
                           [{"field": "ticket_id", "description": "no such ticket in scope"}]) from None

    def _check_members(self, caller, member_ids, field):
        missing = sorted(set(member_ids) - set(self.store.volunteers_by_id(caller.tenant, member_ids)))
        if missing:
            raise NotFound(f"volunteers not found: {', '.join(missing)}",
                           [{"field": field, "description": f"no such volunteers: {', '.join(missing)}"}])
