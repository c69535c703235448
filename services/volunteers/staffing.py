"""Who may still join a task, judged on the task as stored: free of storage and RPC, so that a
dispatch or an offer that lost the task's version to another write judges it again as it now is."""
from services.errors import FailedPrecondition


def dispatched(task):
    return {assignment["volunteer_id"] for assignment in task["assignments"]}


def room(task):
    """How many more people the task needs."""
    return max(task["people_needed"] - task["people_dispatched"], 0)


def refuse_dispatch(task, volunteer_ids):
    """Raises FailedPrecondition unless every one of `volunteer_ids` may be dispatched to the task."""
    if task["state"] != "PUBLISHED":
        raise FailedPrecondition("publish the task before dispatching volunteers to it")
    already = dispatched(task) & set(volunteer_ids)
    if already:
        raise FailedPrecondition(f"already dispatched to this task: {', '.join(sorted(already))}")
    if len(volunteer_ids) > room(task):
        raise FailedPrecondition(
            f"task needs {task['people_needed']} people and has {task['people_dispatched']}; "
            f"cannot dispatch {len(volunteer_ids)} more",
            [{"field": "volunteer_ids", "description": f"at most {room(task)} more"}])


def dispatched_on_offer(task, volunteer_id):
    """Whether an offer dispatches the volunteer at once: the task dispatches automatically and has room."""
    return task["auto_dispatch"] and room(task) > 0 and volunteer_id not in dispatched(task)
