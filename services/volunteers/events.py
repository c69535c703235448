"""Contracts of the events the volunteers service publishes, one per step of the loop.

Task events carry `ticket_id` so that the tickets service can show a task's progress and
outcome on the ticket that asked for hands, and notifications can tell the people involved."""
from pydantic import Field

from services.events import EventData, contract, envelope

SERVICE = "volunteers"


class VolunteerData(EventData):
    id: str
    subject: str = Field(description="The volunteer's sign-in subject.")
    display_name: str
    home_node_id: str
    path: list[str]


@contract("civicgrid.volunteers.volunteer.registered.v1")
class VolunteerRegistered(VolunteerData):
    """A person was registered as a volunteer, with the node they serve from."""


@contract("civicgrid.volunteers.volunteer.updated.v1")
class VolunteerUpdated(VolunteerData):
    """A volunteer's profile changed: name, resident record, skills, certifications or availability."""

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
    """A volunteer team was formed at a node, e.g. a medical or veterans' team."""


@contract("civicgrid.volunteers.team.updated.v1")
class TeamUpdated(TeamData):
    """A team's name, speciality, coordinators or members changed."""

    changed: list[str]


class TaskData(EventData):
    id: str
    title: str = Field(description="The task's title.")
    node_id: str
    ticket_id: str
    team_id: str
    people_needed: int
    skills: list[str] = Field(default=[], description=(
        "Names of the skills the task asks for (e.g. first_aid, escort), sorted; a partner subscription "
        "naming skills receives the tasks that ask for one of them."))
    path: list[str]


@contract("civicgrid.volunteers.task.created.v1")
class TaskCreated(TaskData):
    """A volunteer task was drafted, on its own or for a ticket that asked for hands."""

    start_time: str = Field(description="When the task starts (RFC 3339, UTC).")
    end_time: str = Field(description="When the task ends (RFC 3339, UTC).")


@contract("civicgrid.volunteers.task.published.v1")
class TaskPublished(TaskData):
    """A task was published: volunteers who qualify may now offer to serve."""


@contract("civicgrid.volunteers.task.offered.v1")
class TaskOffered(TaskData):
    """A volunteer offered to serve on a published task."""

    volunteer_id: str


@contract("civicgrid.volunteers.task.dispatched.v1")
class TaskDispatched(TaskData):
    """Volunteers were dispatched to a task, chosen by a coordinator or taken on their offer."""

    volunteer_ids: list[str]
    # Who to tell: the volunteers' own subjects, as their inboxes are keyed.
    volunteer_subjects: list[str]
    automatic: bool = Field(description="True when the volunteer was taken on their offer, as the task "
                                        "dispatches automatically; false when a coordinator chose.")
    people_dispatched: int


@contract("civicgrid.volunteers.task.checked_in.v1")
class TaskCheckedIn(TaskData):
    """A dispatched volunteer checked in to a task."""

    volunteer_id: str
    time: str = Field(description="When the volunteer checked in (RFC 3339, UTC).")


@contract("civicgrid.volunteers.task.checked_out.v1")
class TaskCheckedOut(TaskData):
    """A volunteer checked out of a task, logging the hours served."""

    volunteer_id: str
    time: str = Field(description="When the volunteer checked out (RFC 3339, UTC).")
    hours: float = Field(description="Hours between the volunteer's check-in and check-out.")


@contract("civicgrid.volunteers.task.feedback_given.v1")
class TaskFeedbackGiven(TaskData):
    """The person the task served rated the volunteers' service."""

    subject: str = Field(description="Sign-in subject of the person served, who gave the rating.")
    rating: int = Field(description="The score, from 1 (worst) to 5.")


@contract("civicgrid.volunteers.task.unfilled.v1")
class TaskUnfilled(TaskData):
    """Raised once to the coordinator when the offer deadline passes short of people."""

    people_dispatched: int
    offer_deadline: str
    coordinators: list[str] = Field(description="Sign-in subjects of the coordinators of the task's team, "
                                                "who are told; empty if the task has no team.")


@contract("civicgrid.volunteers.task.completed.v1")
class TaskCompleted(TaskData):
    """Every dispatched volunteer of a fully staffed task has checked out."""

    hours: float = Field(description="Hours served on the task, all volunteers together.")


@contract("civicgrid.volunteers.rotation.created.v1")
class RotationCreated(EventData):
    """A social organisation was put on a rotation that sends it to grids of a community in turn, one
    per period."""

    id: str
    organisation_id: str = Field(description="Id of the social organisation the rotation sends.")
    node_id: str = Field(description="Id of the community (or other node) the rotated grids lie under.")
    grid_ids: list[str]
    period: str
    start_date: str = Field(description="First day of the first period, YYYY-MM-DD; the first of a month "
                                        "for MONTH and QUARTER.")
    path: list[str]


@contract("civicgrid.volunteers.activity.recorded.v1")
class ActivityRecorded(EventData):
    """An organisation's activity in a grid was recorded, e.g. a rotation's visit."""

    id: str
    organisation_id: str = Field(description="Id of the organisation that held the activity.")
    grid_id: str
    date: str = Field(description="Day of the activity, YYYY-MM-DD.")
    title: str = Field(description="What the activity was.")
    path: list[str]


# What each kind of record's events carry of it, beside what the step itself adds.
EVENT_FIELDS = {
    "volunteers": ("id", "subject", "display_name", "home_node_id", "path"),
    "teams": ("id", "display_name", "purpose", "node_id", "coordinators", "member_ids", "path"),
    "tasks": ("id", "title", "node_id", "ticket_id", "team_id", "people_needed", "path"),
    "rotations": ("id", "organisation_id", "node_id", "grid_ids", "period", "start_date", "path"),
    "activities": ("id", "organisation_id", "grid_id", "date", "title", "path"),
}


# What some kinds of record's events carry derived from it.
DERIVED_FIELDS = {
    "tasks": lambda task: {"skills": sorted(skill["name"] for skill in task.get("required_skills", []))},
}


def record_event(contract_model, tenant, collection, record, **extra):
    """The event of `contract_model` about `record` (shown, with its `id`) of `collection`."""
    data = {key: record[key] for key in EVENT_FIELDS[collection]}
    data |= DERIVED_FIELDS.get(collection, lambda _: {})(record)
    return envelope(SERVICE, contract_model.event_type, tenant, f"{collection}/{record['id']}", data | extra)
