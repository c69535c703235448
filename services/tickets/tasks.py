"""Volunteer tasks of a ticket: what the volunteers service is asked for, and how each step of a
task shows on the ticket's timeline."""
from services.errors import FailedPrecondition
from services.tickets import events as contracts
from services.tickets.lifecycle import OPEN_STATES
from services.tickets.timeline import Step

REQUESTED = "volunteers_requested"
STEPS = {
    "civicgrid.volunteers.task.created.v1": REQUESTED,
    "civicgrid.volunteers.task.dispatched.v1": "volunteers_dispatched",
    "civicgrid.volunteers.task.checked_in.v1": "volunteer_checked_in",
    "civicgrid.volunteers.task.checked_out.v1": "volunteer_checked_out",
    "civicgrid.volunteers.task.completed.v1": "volunteer_task_completed",
    "civicgrid.volunteers.task.feedback_given.v1": "volunteer_feedback_given",
}
# Fields of a task (or its event) that its steps' wording needs; never who the volunteers are.
DETAIL_FIELDS = ("title", "people_needed", "people_dispatched", "hours", "rating")


def require_hands_needed(ticket):
    if ticket["state"] not in OPEN_STATES:
        raise FailedPrecondition(f"a {ticket['state']} ticket needs no more hands; reopen it first")


def task_request(ticket, command):
    """CreateTask for the ticket at its place (its building if it has one); the resident who
    reported it is the person served, who gives feedback. A repeated request names the same task."""
    return {
        **command.model_dump(exclude={"id", "request_id"}),
        "request_id": f"ticket-{ticket['_id']}-{command.request_id}" if command.request_id else "",
        "node_id": ticket["building_id"] or ticket["node_id"], "ticket_id": ticket["_id"],
        "served_subject": ticket["reporter_subject"],
    }


def requested_note(task):
    return f"{task['title']}: {task['people_needed']} people"


def note(data):
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


def details(data):
    """What a task's step tells a client to word on the ticket's timeline."""
    told = {name: data[name] for name in DETAIL_FIELDS if name in data}
    if "volunteer_ids" in data:
        told["dispatched"] = len(data["volunteer_ids"])
    return told


def task_step(ticket, task_id, action, step_note, step_details, event_id=None):
    """The changes and step that put a task's step on the ticket, or None if it is there already:
    a task's creation is recorded once, whether the RPC or the task's created event comes first,
    and a step from an event once per event id (kept in the same write as the step)."""
    task_ids = ticket.get("volunteer_task_ids", [])
    applied = ticket.get("task_events_applied", [])
    if (action == REQUESTED and task_id in task_ids) or event_id in applied:
        return None
    changes = {} if task_id in task_ids else {"volunteer_task_ids": [*task_ids, task_id]}
    if event_id:
        changes["task_events_applied"] = [*applied, event_id]
    step = Step(action, contracts.TicketVolunteerTaskUpdated, ticket["state"], step_note,
                {"task_id": task_id, "task_step": action}, details=step_details)
    return changes, [step]
