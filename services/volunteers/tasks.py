"""A task's life from draft to completion: what each step requires of the task as stored and what
it writes, an update operation and its events. Free of storage and RPC, so that a write that lost
the task's version to another judges the task again as it now is (`store.change_task`)."""
from services.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from services.storage import new_id, now, public, timestamp
from services.volunteers import matching, staffing
from services.volunteers.events import (TaskCheckedIn, TaskCheckedOut, TaskCompleted, TaskCreated, TaskDispatched,
                                        TaskFeedbackGiven, TaskOffered, TaskPublished, TaskUnfilled, record_event)


def event(contract_model, task, **extra):
    """The event of a step of a stored task."""
    return record_event(contract_model, task["tenant"], "tasks", public(task), **extra)


def new_task(tenant, command, path):
    """The fields of a draft task from `command`, placed at `path`, and its event. Offers close at
    the start unless the command says earlier."""
    fields = command.model_dump(exclude={"request_id"}) | {
        "id": new_id(), "path": path, "state": "DRAFT",
        "offer_deadline": command.offer_deadline or command.start_time,
        "required_skills": [r.model_dump() for r in command.required_skills],
        "offers": [], "assignments": [], "feedback": [], "people_dispatched": 0, "version": 0}
    created = record_event(TaskCreated, tenant, "tasks", fields, start_time=timestamp(command.start_time),
                           end_time=timestamp(command.end_time))
    return fields, created


def publish(task):
    if task["state"] != "DRAFT":
        raise FailedPrecondition(f"task is already {task['state']}")
    return {"$set": {"state": "PUBLISHED"}}, [event(TaskPublished, task)]


def offer(task, volunteer):
    """The write of `volunteer` offering to serve, or None if they have already offered. An offer for
    a task that dispatches automatically and has room dispatches them at once. Only a published task
    is open to offers; any other is not found, as a volunteer never sees it."""
    if task["state"] != "PUBLISHED":
        raise NotFound("task not found")
    unfit = matching.unfit(volunteer, task)
    if unfit:
        raise FailedPrecondition(f"you do not qualify for this task: {unfit}")
    if volunteer["_id"] in task["offers"]:
        return None
    events = [event(TaskOffered, task, volunteer_id=volunteer["_id"])]
    operation = {"$addToSet": {"offers": volunteer["_id"]}}
    if staffing.dispatched_on_offer(task, volunteer["_id"]):
        add_assignments(operation, [volunteer["_id"]])
        events.append(event(TaskDispatched, task, volunteer_ids=[volunteer["_id"]],
                            volunteer_subjects=[volunteer["subject"]], automatic=True,
                            people_dispatched=task["people_dispatched"] + 1))
    return operation, events


def refuse_undispatchable(task, volunteer_ids, found):
    """Raises unless every volunteer chosen exists (in `found`, by id) and holds the task's
    certification; what changes with the task itself is `staffing.refuse_dispatch`'s to judge."""
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


def dispatch(task, volunteers):
    """The write dispatching `volunteers` (their records, in the order chosen) by hand."""
    chosen = [volunteer["_id"] for volunteer in volunteers]
    staffing.refuse_dispatch(task, chosen)
    operation = add_assignments({}, chosen)
    dispatched = event(TaskDispatched, task, volunteer_ids=chosen,
                       volunteer_subjects=[volunteer["subject"] for volunteer in volunteers], automatic=False,
                       people_dispatched=task["people_dispatched"] + len(chosen))
    return operation, [dispatched]


def add_assignments(operation, volunteer_ids):
    moment = now()
    operation.setdefault("$push", {})["assignments"] = {
        "$each": [{"volunteer_id": v, "dispatch_time": moment} for v in volunteer_ids]}
    operation["$inc"] = {"people_dispatched": len(volunteer_ids)}
    return operation


# Attendance

def refuse_own_attendance(command, me):
    """A volunteer checks in and out only themselves, and only as it happens."""
    if command.volunteer_id not in ("", me["_id"]):
        raise PermissionDenied("a volunteer checks in and out only themselves")
    if command.time:
        raise InvalidArgument.field("time", "only staff record attendance after the fact")


def refuse_undispatched(task, volunteer):
    if volunteer["_id"] not in staffing.dispatched(task):
        raise FailedPrecondition(f"volunteer {volunteer['display_name']} is not dispatched to this task")


def shift_id(task, volunteer):
    """One shift per volunteer and task, so that a second check-in finds the first."""
    return f"{task['_id']}-{volunteer['_id']}"


def check_in(task, volunteer, moment, team_ids):
    """The open shift of `volunteer` on `task` from `moment`, counted for their teams, and its event."""
    fields = {"id": shift_id(task, volunteer), "task_id": task["_id"], "volunteer_id": volunteer["_id"],
              "start_time": moment, "end_time": None, "hours": 0.0, "path": task["path"], "team_ids": team_ids,
              "version": 0}
    return fields, event(TaskCheckedIn, task, volunteer_id=volunteer["_id"], time=timestamp(moment))


def check_out(task, shift, moment):
    """The write closing `shift` at `moment`, with the hours it logs."""
    if shift is None:
        raise FailedPrecondition("check in before checking out")
    if shift["end_time"] is not None:
        raise FailedPrecondition("already checked out of this task")
    if moment <= shift["start_time"]:
        raise InvalidArgument.field("time", "must be after the check-in time")
    hours = round((moment - shift["start_time"]).total_seconds() / 3600, 2)
    checked_out = event(TaskCheckedOut, task, volunteer_id=shift["volunteer_id"], time=timestamp(moment), hours=hours)
    return {"$set": {"end_time": moment, "hours": hours}}, [checked_out]


def refuse_overlap(other):
    """Refuses hours that overlap `other`, another shift of the same volunteer (None: none does)."""
    if other is not None:
        until = timestamp(other["end_time"]) if other["end_time"] else "now (still checked in)"
        raise FailedPrecondition(
            f"hours overlap the volunteer's shift on task {other['task_id']} "
            f"from {timestamp(other['start_time'])} to {until}")


def complete(task, shifts):
    """The write marking a fully staffed task COMPLETED once every dispatched volunteer has checked
    out (`shifts` by volunteer id), or None while it is not."""
    if task["state"] != "PUBLISHED" or staffing.room(task):
        return None
    closed = [shifts.get(a["volunteer_id"]) for a in task["assignments"]]
    if any(shift is None or shift["end_time"] is None for shift in closed):
        return None
    completed = event(TaskCompleted, task, hours=round(sum(shift["hours"] for shift in closed), 2))
    return {"$set": {"state": "COMPLETED"}}, [completed]


# Feedback and deadlines

def refuse_stranger_feedback(task, subject):
    """A resident rates only the tasks that served them; any other is not found."""
    if task.get("served_subject") != subject:
        raise NotFound("task not found")


def refuse_feedback_before_service(served):
    if not served:
        raise FailedPrecondition("nobody has checked out of this task yet; give feedback after the service")


def new_feedback(subject, command):
    return {"subject": subject, "rating": command.rating, "comment": command.comment, "time": now()}


def give_feedback(task, given):
    """The write adding `given` (a `new_feedback`) to the task."""
    rated = event(TaskFeedbackGiven, task, subject=given["subject"], rating=given["rating"])
    return {"$push": {"feedback": given}}, [rated]


def unfilled(task, coordinators):
    """The write marking a task past its offer deadline as raised, raising it to the coordinators of
    its team if it is still short of people."""
    events = []
    if staffing.room(task):
        events.append(event(TaskUnfilled, task, people_dispatched=task["people_dispatched"],
                            offer_deadline=timestamp(task["offer_deadline"]), coordinators=coordinators))
    return {"$set": {"unfilled_raised": True}}, events


def shown(task, shifts):
    """A task as the service returns it, each assignment with its shift (`shifts` by volunteer id)."""
    view = public(task)
    view["assignments"] = [_assignment(a, shifts.get(a["volunteer_id"])) for a in task["assignments"]]
    view["feedback"] = [{**f, "time": timestamp(f["time"])} for f in task["feedback"]]
    return view


def _assignment(assignment, shift):
    view = {"volunteer_id": assignment["volunteer_id"], "dispatch_time": timestamp(assignment["dispatch_time"])}
    if shift:
        view["check_in_time"] = timestamp(shift["start_time"])
        view["check_out_time"] = timestamp(shift["end_time"])
        view["hours"] = shift["hours"]
    return view
