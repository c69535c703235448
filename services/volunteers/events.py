"""Contracts of the events the volunteers service publishes, one per step of the loop.

Task events carry `ticket_id` so that the tickets service can show a task's progress and
outcome on the ticket that asked for hands, and notifications can tell the people involved."""
from services.events import EventData, contract, envelope

SERVICE = "volunteers"


class VolunteerData(EventData):
    id: str
    subject: str
    display_name: str
    home_node_id: str
    path: list[str]


@contract("civicgrid.volunteers.volunteer.registered.v1")
class VolunteerRegistered(VolunteerData):
    pass


@contract("civicgrid.volunteers.volunteer.updated.v1")
class VolunteerUpdated(VolunteerData):
    changed: list[str]


class TeamData(EventData):
    id: str
    display_name: str
    purpose: str
    node_id: str
    coordinators: list[str]
    member_ids: list[str]
    path: list[str]


@contract("civicgrid.volunteers.team.created.v1")
class TeamCreated(TeamData):
    pass


@contract("civicgrid.volunteers.team.updated.v1")
class TeamUpdated(TeamData):
    changed: list[str]


class TaskData(EventData):
    id: str
    title: str
    node_id: str
    ticket_id: str
    team_id: str
    people_needed: int
    path: list[str]


@contract("civicgrid.volunteers.task.created.v1")
class TaskCreated(TaskData):
    start_time: str
    end_time: str


@contract("civicgrid.volunteers.task.published.v1")
class TaskPublished(TaskData):
    pass


@contract("civicgrid.volunteers.task.offered.v1")
class TaskOffered(TaskData):
    volunteer_id: str


@contract("civicgrid.volunteers.task.dispatched.v1")
class TaskDispatched(TaskData):
    volunteer_ids: list[str]
    # Who to tell: the volunteers' own subjects, as their inboxes are keyed.
    volunteer_subjects: list[str]
    automatic: bool
    people_dispatched: int


@contract("civicgrid.volunteers.task.checked_in.v1")
class TaskCheckedIn(TaskData):
    volunteer_id: str
    time: str


@contract("civicgrid.volunteers.task.checked_out.v1")
class TaskCheckedOut(TaskData):
    volunteer_id: str
    time: str
    hours: float


@contract("civicgrid.volunteers.task.feedback_given.v1")
class TaskFeedbackGiven(TaskData):
    subject: str
    rating: int


@contract("civicgrid.volunteers.task.unfilled.v1")
class TaskUnfilled(TaskData):
    """Raised once to the coordinator when the offer deadline passes short of people."""

    people_dispatched: int
    offer_deadline: str
    coordinators: list[str]


@contract("civicgrid.volunteers.task.completed.v1")
class TaskCompleted(TaskData):
    """Every dispatched volunteer of a fully staffed task has checked out."""

    hours: float


@contract("civicgrid.volunteers.rotation.created.v1")
class RotationCreated(EventData):
    id: str
    organisation_id: str
    node_id: str
    grid_ids: list[str]
    period: str
    start_date: str
    path: list[str]


@contract("civicgrid.volunteers.activity.recorded.v1")
class ActivityRecorded(EventData):
    id: str
    organisation_id: str
    grid_id: str
    date: str
    title: str
    path: list[str]


# What each kind of record's events carry of it, beside what the step itself adds.
EVENT_FIELDS = {
    "volunteers": ("id", "subject", "display_name", "home_node_id", "path"),
    "teams": ("id", "display_name", "purpose", "node_id", "coordinators", "member_ids", "path"),
    "tasks": ("id", "title", "node_id", "ticket_id", "team_id", "people_needed", "path"),
    "rotations": ("id", "organisation_id", "node_id", "grid_ids", "period", "start_date", "path"),
    "activities": ("id", "organisation_id", "grid_id", "date", "title", "path"),
}


def record_event(contract_model, tenant, collection, record, **extra):
    """The event of `contract_model` about `record` (shown, with its `id`) of `collection`."""
    data = {key: record[key] for key in EVENT_FIELDS[collection]}
    return envelope(SERVICE, contract_model.event_type, tenant, f"{collection}/{record['id']}", data | extra)
