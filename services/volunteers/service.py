"""The volunteers service: profiles, teams, and the loop of asking for, taking and dispatching
orders (询单 · 接单 · 派单), through check-in, check-out, logged hours and feedback."""
from datetime import date, datetime, time, timezone

from eventlet import sleep
from nameko.timer import timer
from pymongo.errors import DuplicateKeyError

from services import base
from services.access import Caller
from services.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.events import envelope
from services.messaging import RpcProxy, rpc
from services.storage import LIVE, OUTBOX, MongoStore, new_id, now, public, timestamp
from services.validation import masked_changes, parse
from services.volunteers import matching, rotation, schemas, staffing
from services.volunteers.events import (ActivityRecorded, RotationCreated, TaskCheckedIn, TaskCheckedOut,
                                        TaskCompleted, TaskCreated, TaskDispatched, TaskFeedbackGiven, TaskOffered,
                                        TaskPublished, TaskUnfilled, TeamCreated, TeamUpdated, VolunteerRegistered,
                                        VolunteerUpdated)
from services.volunteers.store import VolunteersRepository

UNFILLED_CHECK_SECONDS = 2
CLAIM_RELEASE_SECONDS = 10
# Concurrent writers to one task (dispatches, offers, feedback, completion) lose its version to
# each other; the loser waits for the winner's write, reads the task again, checks it again and
# retries, up to this many times (about ten seconds in all).
WRITE_ATTEMPTS = 20
WRITE_BACKOFF_SECONDS = 0.05
DEFAULT_RANKING_LIMIT = 50
DEFAULT_ACTIVE_HOURS_PER_MONTH = 8.0
OPEN_TASKS_SCANNED = 500
VOLUNTEER_EVENT_FIELDS = ("id", "subject", "display_name", "home_node_id", "path")
TEAM_EVENT_FIELDS = ("id", "display_name", "purpose", "node_id", "coordinators", "member_ids", "path")
TASK_EVENT_FIELDS = ("id", "title", "node_id", "ticket_id", "team_id", "people_needed", "path")
ROTATION_EVENT_FIELDS = ("id", "organisation_id", "node_id", "grid_ids", "period", "start_date", "path")
ACTIVITY_EVENT_FIELDS = ("id", "organisation_id", "grid_id", "date", "title", "path")


class VolunteersService(base.CivicService):
    name = "volunteers"
    store = MongoStore(VolunteersRepository)
    grids = RpcProxy("grids")
    residents = RpcProxy("residents")
    tickets = RpcProxy("tickets")

    # Volunteers

    @rpc
    def create_volunteer(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateVolunteer, request)
        node = self._node(caller, command.home_node_id, "home_node_id")
        if command.resident_id:
            self._check_resident(caller, command.resident_id, "resident_id")
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": node["path"]}
        event = self._event(VolunteerRegistered, caller.tenant, "volunteers", fields, VOLUNTEER_EVENT_FIELDS)
        try:
            document, _ = self.store.volunteers.create(caller.tenant, command.request_id, dict(fields), [event])
        except DuplicateKeyError:
            raise AlreadyExists(f"a volunteer already signs in as {command.subject}",
                                [{"field": "subject", "description": "already registered"}]) from None
        return public(document)

    @rpc
    def get_volunteer(self, caller, request):
        caller = Caller.of(caller)
        return public(self._volunteer(caller, parse(schemas.GetById, request).id))

    @rpc
    def list_volunteers(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListVolunteers, request)
        conditions = {}
        if command.node_id:
            conditions["path"] = command.node_id
        if command.skill:
            conditions["skills.name"] = command.skill
        documents, token = self.store.volunteers.page(
            caller.scoped(conditions or None), command.page_size, command.page_token)
        return {"volunteers": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def update_volunteer(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateVolunteer, request)
        volunteer_id, changes = masked_changes(
            schemas.VolunteerChanges, command.volunteer, command.update_mask, "volunteer")
        volunteer = self._volunteer(caller, volunteer_id)
        if changes.get("resident_id"):
            self._check_resident(caller, changes["resident_id"], "volunteer.resident_id")
        event = self._event(VolunteerUpdated, caller.tenant, "volunteers", public(volunteer) | changes,
                            VOLUNTEER_EVENT_FIELDS, changed=sorted(changes))
        document = self.store.volunteers.update({"tenant": caller.tenant, "_id": volunteer_id}, changes, [event])
        return public(document)

    # Teams

    @rpc
    def create_team(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateTeam, request)
        node = self._node(caller, command.node_id, "node_id")
        self._check_members(caller, command.member_ids, "member_ids")
        fields = command.model_dump(exclude={"request_id"}) | {
            "id": new_id(), "path": node["path"], "member_ids": sorted(set(command.member_ids))}
        event = self._event(TeamCreated, caller.tenant, "teams", fields, TEAM_EVENT_FIELDS)
        document, _ = self.store.teams.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @rpc
    def get_team(self, caller, request):
        caller = Caller.of(caller)
        return public(self._team(caller, parse(schemas.GetById, request).id))

    @rpc
    def list_teams(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListTeams, request)
        documents, token = self.store.teams.page(
            caller.scoped({"member_ids": command.member_id} if command.member_id else None),
            command.page_size, command.page_token)
        return {"teams": [public(d) for d in documents], "next_page_token": token}

    @rpc
    def update_team(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.UpdateTeam, request)
        team_id, changes = masked_changes(schemas.TeamChanges, command.team, command.update_mask, "team")
        team = self._team(caller, team_id)
        if "member_ids" in changes:
            self._check_members(caller, changes["member_ids"], "team.member_ids")
            changes["member_ids"] = sorted(set(changes["member_ids"]))
        event = self._event(TeamUpdated, caller.tenant, "teams", public(team) | changes, TEAM_EVENT_FIELDS,
                            changed=sorted(changes))
        document = self.store.teams.update({"tenant": caller.tenant, "_id": team_id}, changes, [event])
        return public(document)

    # Tasks

    @rpc
    def create_task(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateTask, request)
        node = self._node(caller, command.node_id, "node_id")
        if command.team_id:
            self._team(caller, command.team_id, "team_id")
        if command.ticket_id:
            self._check_ticket(caller, command.ticket_id)
        fields = command.model_dump(exclude={"request_id"}) | {
            "id": new_id(), "path": node["path"], "state": "DRAFT",
            "offer_deadline": command.offer_deadline or command.start_time,
            "required_skills": [r.model_dump() for r in command.required_skills],
            "offers": [], "assignments": [], "feedback": [], "people_dispatched": 0, "version": 0}
        event = self._task_event(TaskCreated, caller.tenant, fields, start_time=timestamp(command.start_time),
                                 end_time=timestamp(command.end_time))
        document, _ = self.store.tasks.create(caller.tenant, command.request_id, dict(fields), [event])
        return self._shown_task(caller.tenant, document)

    @rpc
    def get_task(self, caller, request):
        caller = Caller.of(caller)
        return self._shown_task(caller.tenant, self._visible_task(caller, parse(schemas.GetById, request).id))

    @rpc
    def list_tasks(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListTasks, request)
        if caller.role == "volunteer":
            query = {"tenant": caller.tenant, "$or": self._own_task_conditions(caller)}
        else:
            query = caller.scoped({"path": command.node_id} if command.node_id else None)
        documents, token = self.store.tasks.page(query, command.page_size, command.page_token)
        return {"tasks": [self._shown_task(caller.tenant, d) for d in documents], "next_page_token": token}

    @rpc
    def publish_task(self, caller, request):
        caller = Caller.of(caller)
        task = self._task(caller, parse(schemas.GetById, request).id)

        def change(task):
            if task["state"] != "DRAFT":
                raise FailedPrecondition(f"task is already {task['state']}")
            return {"$set": {"state": "PUBLISHED"}}, [self._task_event(TaskPublished, caller.tenant, public(task))]
        return self._shown_task(caller.tenant, self._change_task(task, change))

    @rpc
    def list_open_tasks(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.ListOpenTasks, request)
        me = self._me(caller)
        limit = command.page_size or 50
        fitting = []
        for task in self.store.tasks.collection.find(
                {"tenant": caller.tenant, "state": "PUBLISHED", "end_time": {"$gt": now()}},
                {OUTBOX: 0}).sort("start_time", 1).limit(OPEN_TASKS_SCANNED):
            if staffing.room(task) and not self._unfit(me, task):
                fitting.append(self._shown_task(caller.tenant, task))
            if len(fitting) == limit:
                break
        return {"tasks": fitting}

    @rpc
    def offer_task(self, caller, request):
        caller = Caller.of(caller)
        me = self._me(caller)
        task = self.store.tasks.get({"tenant": caller.tenant, "_id": parse(schemas.GetById, request).id})

        def change(task):
            if task["state"] != "PUBLISHED":
                raise NotFound("task not found")
            unfit = self._unfit(me, task)
            if unfit:
                raise FailedPrecondition(f"you do not qualify for this task: {unfit}")
            if me["_id"] in task["offers"]:
                return None
            events = [self._task_event(TaskOffered, caller.tenant, public(task), volunteer_id=me["_id"])]
            operation = {"$addToSet": {"offers": me["_id"]}}
            if staffing.dispatched_on_offer(task, me["_id"]):
                self._add_assignments(operation, [me["_id"]])
                events.append(self._task_event(
                    TaskDispatched, caller.tenant, public(task), volunteer_ids=[me["_id"]],
                    volunteer_subjects=[me["subject"]], automatic=True,
                    people_dispatched=task["people_dispatched"] + 1))
            return operation, events
        return self._shown_task(caller.tenant, self._change_task(task, change))

    @rpc
    def dispatch_task(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.DispatchTask, request)
        task = self._coordinated_task(caller, command.id)
        chosen = list(dict.fromkeys(command.volunteer_ids))
        found = self._check_dispatchable(caller, task, chosen)

        def change(task):
            staffing.refuse_dispatch(task, chosen)
            operation = {}
            self._add_assignments(operation, chosen)
            event = self._task_event(TaskDispatched, caller.tenant, public(task), volunteer_ids=chosen,
                                     volunteer_subjects=[found[v]["subject"] for v in chosen], automatic=False,
                                     people_dispatched=task["people_dispatched"] + len(chosen))
            return operation, [event]
        return self._shown_task(caller.tenant, self._change_task(task, change))

    @rpc
    def check_in(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.Attendance, request)
        task, volunteer = self._attendance(caller, command)
        moment = command.time or now()
        shift_id = f"{task['_id']}-{volunteer['_id']}"
        if self.store.shifts.collection.find_one({"_id": shift_id}, {"_id": 1}):
            raise FailedPrecondition("already checked in to this task")
        self._refuse_overlap(caller.tenant, volunteer["_id"], moment, None, shift_id)
        teams = self.store.teams.collection.find({"tenant": caller.tenant, "member_ids": volunteer["_id"]},
                                                 {"_id": 1})
        fields = {"id": shift_id, "task_id": task["_id"], "volunteer_id": volunteer["_id"], "start_time": moment,
                  "end_time": None, "hours": 0.0, "path": task["path"], "team_ids": [t["_id"] for t in teams],
                  "version": 0}
        event = self._task_event(TaskCheckedIn, caller.tenant, public(task), volunteer_id=volunteer["_id"],
                                 time=timestamp(moment))
        document, _ = self.store.shifts.create(caller.tenant, shift_id, dict(fields), [event])
        return public(document)

    @rpc
    def check_out(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.Attendance, request)
        task, volunteer = self._attendance(caller, command)
        moment = command.time or now()
        shift = self.store.shifts.collection.find_one(
            {"tenant": caller.tenant, "_id": f"{task['_id']}-{volunteer['_id']}"})
        if shift is None:
            raise FailedPrecondition("check in before checking out")
        if shift["end_time"] is not None:
            raise FailedPrecondition("already checked out of this task")
        if moment <= shift["start_time"]:
            raise InvalidArgument.field("time", "must be after the check-in time")
        self._refuse_overlap(caller.tenant, volunteer["_id"], shift["start_time"], moment, shift["_id"])
        hours = round((moment - shift["start_time"]).total_seconds() / 3600, 2)
        event = self._task_event(TaskCheckedOut, caller.tenant, public(task), volunteer_id=volunteer["_id"],
                                 time=timestamp(moment), hours=hours)
        document = self.store.write_shift(shift, {"$set": {"end_time": moment, "hours": hours}}, [event])
        if document is None:
            raise FailedPrecondition("already checked out of this task")
        self._complete_if_served(caller.tenant, task["_id"])
        return public(document)

    @rpc
    def give_feedback(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GiveFeedback, request)
        if caller.role == "resident":
            task = self.store.tasks.get({"tenant": caller.tenant, "_id": command.task_id})
            if task.get("served_subject") != caller.subject:
                raise NotFound("task not found")
        else:
            task = self._task(caller, command.task_id)
        served = self.store.shifts.collection.find_one(
            {"tenant": caller.tenant, "task_id": task["_id"], "end_time": {"$ne": None}}, {"_id": 1})
        if served is None:
            raise FailedPrecondition("nobody has checked out of this task yet; give feedback after the service")
        feedback = {"subject": caller.subject, "rating": command.rating, "comment": command.comment, "time": now()}

        def change(task):
            event = self._task_event(TaskFeedbackGiven, caller.tenant, public(task), subject=caller.subject,
                                     rating=command.rating)
            return {"$push": {"feedback": feedback}}, [event]
        return self._shown_task(caller.tenant, self._change_task(task, change))

    # Matching

    @rpc
    def rank_volunteers(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.RankVolunteers, request)
        task = self._coordinated_task(caller, command.task_id, "task_id")
        dispatched = {a["volunteer_id"] for a in task["assignments"]}
        candidates = [v for v in self.store.candidates(caller.tenant, [r["name"] for r in task["required_skills"]])
                      if v["_id"] not in dispatched]
        recent = self.store.recent_dispatch_counts(caller.tenant, now() - matching.FAIRNESS_WINDOW)
        rankings = matching.rank(task, candidates, recent)[:command.limit or DEFAULT_RANKING_LIMIT]
        return {"rankings": rankings, "candidates": len(candidates)}

    # Hours

    @rpc
    def get_hours_ledger(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.GetHoursLedger, request)
        if command.team_id and not command.volunteer_id:
            query = {"tenant": caller.tenant, "team_ids": self._team_of_hours(caller, command.team_id)["_id"]}
        elif caller.role == "volunteer":
            if command.team_id:
                raise InvalidArgument.field("volunteer_id", "give exactly one of volunteer_id and team_id")
            me = self._me(caller)
            if command.volunteer_id not in ("", me["_id"]):
                raise NotFound("volunteer not found")
            query = {"tenant": caller.tenant, "volunteer_id": me["_id"]}
        elif bool(command.volunteer_id) == bool(command.team_id):
            raise InvalidArgument.field("volunteer_id", "give exactly one of volunteer_id and team_id")
        elif command.volunteer_id:
            query = {"tenant": caller.tenant, "volunteer_id": self._volunteer(caller, command.volunteer_id)["_id"]}
        shifts = self.store.closed_shifts(query, *_period(command))
        by_month = {}
        for shift in shifts:
            month = shift["end_time"].strftime("%Y-%m")
            by_month[month] = by_month.get(month, 0.0) + shift["hours"]
        return {"periods": [{"period": m, "hours": round(h, 2)} for m, h in sorted(by_month.items())],
                "total_hours": round(sum(s["hours"] for s in shifts), 2),
                "shifts": [public(s) for s in shifts]}

    @rpc
    def summarize_hours(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.SummarizeHours, request)
        totals = {}
        for shift in self.store.closed_shifts(caller.scoped(), *_period(command)):
            keys = [shift["volunteer_id"]] if command.group_by == "BY_VOLUNTEER" else shift.get("team_ids", [])
            for key in keys:
                totals[key] = totals.get(key, 0.0) + shift["hours"]
        records = self.store.volunteers if command.group_by == "BY_VOLUNTEER" else self.store.teams
        names = {d["_id"]: d["display_name"] for d in records.collection.find(
            {"tenant": caller.tenant, "_id": {"$in": list(totals)}}, {"display_name": 1})}
        months = _months_touched(command.start_date, command.end_date)
        threshold = command.active_hours_per_month or DEFAULT_ACTIVE_HOURS_PER_MONTH
        ordered = sorted(totals.items(), key=lambda item: (-item[1], names.get(item[0], ""), item[0]))
        ordered = ordered[:command.limit] if command.limit else ordered
        return {"totals": [
            {"id": key, "display_name": names.get(key, ""), "hours": round(hours, 2),
             "average_hours_per_month": round(hours / months, 2), "active": hours / months >= threshold,
             "rank": place}
            for place, (key, hours) in enumerate(ordered, start=1)]}

    # Rotation of social organisations across grids

    @rpc
    def create_rotation(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.CreateRotation, request)
        community = self._node(caller, command.node_id, "node_id")
        for grid_id in command.grid_ids:
            grid = self._node(caller, grid_id, "grid_ids")
            if grid["kind"] != "GRID" or community["id"] not in grid["path"]:
                raise InvalidArgument.field("grid_ids", f"{grid_id} is not a grid under node {community['id']}")
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": community["path"]}
        event = self._event(RotationCreated, caller.tenant, "rotations", fields, ROTATION_EVENT_FIELDS)
        document, _ = self.store.rotations.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @rpc
    def get_rotation_assignment(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.RotationOn, request)
        rotation_record = self._rotation(caller, command.rotation_id)
        return self._assignment_shown(rotation_record, command.date)

    @rpc
    def record_activity(self, caller, request):
        caller = Caller.of(caller)
        command = parse(schemas.RecordActivity, request)
        grid = self._node(caller, command.grid_id, "grid_id")
        if grid["kind"] != "GRID":
            raise InvalidArgument.field("grid_id", "must be a grid")
        fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": grid["path"]}
        event = self._event(ActivityRecorded, caller.tenant, "activities", fields, ACTIVITY_EVENT_FIELDS)
        document, _ = self.store.activities.create(caller.tenant, command.request_id, dict(fields), [event])
        return public(document)

    @rpc
    def report_rotation(self, caller, request):
        """For each rotation in scope, the grid it is assigned this period and whether it is behind:
        no activity recorded there yet in the period."""
        caller = Caller.of(caller)
        command = parse(schemas.RotationReport, request)
        conditions = {"path": command.node_id} if command.node_id else None
        entries = []
        for record in self.store.rotations.collection.find(caller.scoped(conditions), {OUTBOX: 0}).sort("_id", 1):
            if "retire_time" in record or not rotation.started(record, command.date):
                continue
            shown = self._assignment_shown(record, command.date)
            shown["activities"] = self.store.activities_in(
                caller.tenant, record["organisation_id"], shown["grid_id"], shown["period_start"],
                shown["period_end"])
            shown["behind"] = shown["activities"] == 0
            entries.append(shown)
        if command.behind_only:
            entries = [entry for entry in entries if entry["behind"]]
        return {"entries": entries}

    # Deadlines

    @timer(interval=UNFILLED_CHECK_SECONDS)
    def raise_unfilled_tasks(self):
        """Raises, once, each published task still short of people when its offer deadline passes. A
        task another write moved on meanwhile is left to the next scan, which reads it again."""
        for task in self.store.unfilled_past_deadline(now()):
            events = []
            if staffing.room(task):
                coordinators = []
                if task.get("team_id"):
                    team = self.store.teams.collection.find_one({"_id": task["team_id"]}, {"coordinators": 1})
                    coordinators = team["coordinators"] if team else []
                events.append(self._task_event(
                    TaskUnfilled, task["tenant"], public(task), people_dispatched=task["people_dispatched"],
                    offer_deadline=timestamp(task["offer_deadline"]), coordinators=coordinators))
            self.store.write_task(task, {"$set": {"unfilled_raised": True}}, events)

    @timer(interval=CLAIM_RELEASE_SECONDS)
    def release_stale_claims(self):
        """Frees the versions of tasks and shifts whose claiming write never came (a crash in between)."""
        self.store.release_stale_claims()

    # Helpers

    def _check_ticket(self, caller, ticket_id):
        try:
            self.tickets.get_ticket(caller.model_dump(), {"id": ticket_id})
        except NotFound:
            raise NotFound("ticket not found",
                           [{"field": "ticket_id", "description": "no such ticket in scope"}]) from None

    def _coordinates(self, caller, team_id):
        """True when the caller is a coordinator of the team, whatever their role."""
        return bool(team_id) and self.store.teams.collection.find_one(
            {"tenant": caller.tenant, "_id": team_id, "coordinators": caller.subject, **LIVE}, {"_id": 1}) is not None

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
                return self._task(caller, task_id)
            except NotFound:
                pass
        query = {"$or": self._own_task_conditions(caller, need_profile=False)}
        task = self.store.tasks.collection.find_one({"tenant": caller.tenant, "_id": task_id, **LIVE, **query})
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

    def _team_of_hours(self, caller, team_id):
        """A team whose hours the caller may read: staff in scope, or its coordinators."""
        if self._coordinates(caller, team_id):
            return self.store.teams.get({"tenant": caller.tenant, "_id": team_id})
        if caller.role == "volunteer":
            raise PermissionDenied("a volunteer sees only their own hours and those of teams they coordinate")
        return self._team(caller, team_id, "team_id")

    def _complete_if_served(self, tenant, task_id):
        """Marks a fully staffed task COMPLETED once every dispatched volunteer has checked out."""
        def change(task):
            if task["state"] != "PUBLISHED" or staffing.room(task):
                return None
            shifts = self.store.shifts_of_task(tenant, task_id)
            closed = [shifts.get(a["volunteer_id"]) for a in task["assignments"]]
            if any(shift is None or shift["end_time"] is None for shift in closed):
                return None
            event = self._task_event(TaskCompleted, tenant, public(task),
                                     hours=round(sum(shift["hours"] for shift in closed), 2))
            return {"$set": {"state": "COMPLETED"}}, [event]
        self._change_task(self.store.tasks.get({"tenant": tenant, "_id": task_id}), change)

    def _rotation(self, caller, rotation_id):
        try:
            record = self.store.rotations.get({"tenant": caller.tenant, "_id": rotation_id})
        except NotFound:
            raise NotFound("rotation not found",
                           [{"field": "rotation_id", "description": "no such rotation"}]) from None
        caller.require(record["path"], "rotation")
        return record

    @staticmethod
    def _assignment_shown(record, on):
        if not rotation.started(record, on):
            raise FailedPrecondition(f"the rotation starts on {record['start_date']}",
                                     [{"field": "date", "description": f"before {record['start_date']}"}])
        index, start, end = rotation.period_of(record, on)
        return {"rotation_id": record["_id"], "organisation_id": record["organisation_id"],
                "grid_id": record["grid_ids"][index % len(record["grid_ids"])], "period_index": index,
                "period_start": start.isoformat(), "period_end": end.isoformat()}

    def _node(self, caller, node_id, field):
        try:
            return self.grids.get_node(caller.model_dump(), {"id": node_id})
        except NotFound:
            raise NotFound("node not found", [{"field": field, "description": "no such node in scope"}]) from None

    def _check_resident(self, caller, resident_id, field):
        try:
            self.residents.get_resident(caller.model_dump(), {"id": resident_id})
        except NotFound:
            raise NotFound("resident not found",
                           [{"field": field, "description": "no such resident in scope"}]) from None

    def _check_members(self, caller, member_ids, field):
        missing = sorted(set(member_ids) - set(self.store.volunteers_by_id(caller.tenant, member_ids)))
        if missing:
            raise NotFound(f"volunteers not found: {', '.join(missing)}",
                           [{"field": field, "description": f"no such volunteers: {', '.join(missing)}"}])

    def _volunteer(self, caller, volunteer_id, field="id"):
        try:
            volunteer = self.store.volunteers.get({"tenant": caller.tenant, "_id": volunteer_id})
        except NotFound:
            raise NotFound("volunteer not found", [{"field": field, "description": "no such volunteer"}]) from None
        if caller.role == "volunteer":
            if volunteer["subject"] != caller.subject:
                raise NotFound("volunteer not found")
        else:
            caller.require(volunteer["path"], "volunteer")
        return volunteer

    def _me(self, caller):
        volunteer = self.store.volunteer_of_subject(caller.tenant, caller.subject)
        if volunteer is None:
            raise FailedPrecondition(f"no volunteer profile signs in as {caller.subject}; ask staff to register you")
        return volunteer

    def _team(self, caller, team_id, field="id"):
        try:
            team = self.store.teams.get({"tenant": caller.tenant, "_id": team_id})
        except NotFound:
            raise NotFound("team not found", [{"field": field, "description": "no such team"}]) from None
        caller.require(team["path"], "team")
        return team

    def _task(self, caller, task_id, field="id"):
        try:
            task = self.store.tasks.get({"tenant": caller.tenant, "_id": task_id})
        except NotFound:
            raise NotFound("task not found", [{"field": field, "description": "no such task"}]) from None
        caller.require(task["path"], "task")
        return task

    def _attendance(self, caller, command):
        """The task and the volunteer a check-in or check-out is about."""
        if caller.role == "volunteer":
            volunteer = self._me(caller)
            if command.volunteer_id not in ("", volunteer["_id"]):
                raise PermissionDenied("a volunteer checks in and out only themselves")
            if command.time:
                raise InvalidArgument.field("time", "only staff record attendance after the fact")
            task = self.store.tasks.get({"tenant": caller.tenant, "_id": command.task_id})
        else:
            if not command.volunteer_id:
                raise InvalidArgument.field("volunteer_id", "is required")
            task = self._task(caller, command.task_id, "task_id")
            volunteer = self._volunteer(caller, command.volunteer_id, "volunteer_id")
        if volunteer["_id"] not in {a["volunteer_id"] for a in task["assignments"]}:
            raise FailedPrecondition(f"volunteer {volunteer['display_name']} is not dispatched to this task")
        return task, volunteer

    def _refuse_overlap(self, tenant, volunteer_id, start, end, shift_id):
        other = self.store.overlapping_shift(tenant, volunteer_id, start, end, shift_id)
        if other is not None:
            until = timestamp(other["end_time"]) if other["end_time"] else "now (still checked in)"
            raise FailedPrecondition(
                f"hours overlap the volunteer's shift on task {other['task_id']} "
                f"from {timestamp(other['start_time'])} to {until}")

    def _unfit(self, volunteer, task):
        """Why a volunteer does not qualify for a task, or "" when they do."""
        _, meets_all, reasons = matching.skill_fit(volunteer.get("skills", []), task["required_skills"])
        problems = [] if meets_all else [r for r in reasons if "below" in r or "lacks" in r]
        problem = matching.certification_problem(
            volunteer.get("certifications", []), task["required_certification"], task["end_time"])
        return "; ".join(problems + ([problem] if problem else []))

    def _check_dispatchable(self, caller, task, volunteer_ids):
        """The volunteers, if they all exist and hold the task's certification; what changes with the
        task itself is `staffing.refuse_dispatch`'s to judge."""
        found = self.store.volunteers_by_id(caller.tenant, volunteer_ids)
        missing = [v for v in volunteer_ids if v not in found]
        if missing:
            raise NotFound(f"volunteers not found: {', '.join(missing)}",
                           [{"field": "volunteer_ids", "description": f"no such volunteers: {', '.join(missing)}"}])
        for volunteer_id in volunteer_ids:
            problem = matching.certification_problem(
                found[volunteer_id].get("certifications", []), task["required_certification"], task["end_time"])
            if problem:
                raise FailedPrecondition(
                    f"volunteer {found[volunteer_id]['display_name']} cannot be dispatched: {problem}",
                    [{"field": "volunteer_ids", "description": f"{volunteer_id}: {problem}"}])
        return found

    @staticmethod
    def _add_assignments(operation, volunteer_ids):
        moment = now()
        operation.setdefault("$push", {})["assignments"] = {
            "$each": [{"volunteer_id": v, "dispatch_time": moment} for v in volunteer_ids]}
        operation["$inc"] = {"people_dispatched": len(volunteer_ids)}

    def _change_task(self, task, change):
        """Writes what `change(task)` returns — (operation, events), or None for nothing to write —
        if no other write moved the task on since it was read, and publishes the events. Else it
        waits, reads the task again and asks `change` again, which checks its rules on the task as
        it now is and raises when they no longer hold. Returns the task as it stands."""
        for attempt in range(WRITE_ATTEMPTS):
            if attempt:
                sleep(WRITE_BACKOFF_SECONDS * attempt)
                task = self.store.tasks.get({"tenant": task["tenant"], "_id": task["_id"]})
            wanted = change(task)
            if wanted is None:
                return task
            document = self.store.write_task(task, *wanted)
            if document is not None:
                return document
        raise FailedPrecondition("the task kept changing while this request ran; read it again and retry")

    def _shown_task(self, tenant, task):
        shown = public(task)
        shifts = self.store.shifts_of_task(tenant, task["_id"]) if task["assignments"] else {}
        shown["assignments"] = [_assignment(a, shifts.get(a["volunteer_id"])) for a in task["assignments"]]
        shown["feedback"] = [{**f, "time": timestamp(f["time"])} for f in task["feedback"]]
        return shown

    def _event(self, contract_model, tenant, collection, record, fields, **extra):
        data = {key: record[key] for key in fields}
        return envelope(self.name, contract_model.event_type, tenant, f"{collection}/{record['id']}", data | extra)

    def _task_event(self, contract_model, tenant, task, **extra):
        return self._event(contract_model, tenant, "tasks", task, TASK_EVENT_FIELDS, **extra)


def _assignment(assignment, shift):
    shown = {"volunteer_id": assignment["volunteer_id"], "dispatch_time": timestamp(assignment["dispatch_time"])}
    if shift:
        shown["check_in_time"] = timestamp(shift["start_time"])
        shown["check_out_time"] = timestamp(shift["end_time"])
        shown["hours"] = shift["hours"]
    return shown


def _period(command):
    start = datetime.combine(date.fromisoformat(command.start_date), time(), timezone.utc)
    end = datetime.combine(date.fromisoformat(command.end_date), time(), timezone.utc)
    return start, end


def _months_touched(start_date, end_date):
    """Calendar months the half-open range [start, end) reaches into, at least one."""
    start, end = date.fromisoformat(start_date), date.fromisoformat(end_date)
    months = (end.year * 12 + end.month) - (start.year * 12 + start.month) + (1 if end.day > 1 else 0)
    return max(months, 1)
