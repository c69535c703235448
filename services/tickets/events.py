"""Contracts of the events the tickets service publishes: one per transition, so that
notifications and partners subscribe to exactly what they act on."""
from pydantic import Field

from services.events import EventData, contract


@contract("civicgrid.tickets.category.created.v1")
class CategoryCreated(EventData):
    """A ticket category was created, with the times it promises and whom its tickets are routed to."""

    id: str
    name: str = Field(description="The category's name.")
    group: str
    assignee_kind: str
    organisation_id: str = Field(description="Id of the organisation the category's tickets are routed to; "
                                             "empty when routed to grid workers.")


class TicketData(EventData):
    """Who is involved and where the ticket stands after the change."""

    id: str
    summary: str = Field("", description="The start of the ticket's description (at most 40 characters): what "
                                         "a message names the ticket by.")
    kind: str = Field(description="Kind of ticket: REQUEST, SUGGESTION, DISPUTE or HAZARD.")
    category_id: str
    node_id: str = Field(description="Id of the flat or node the ticket is about.")
    path: list[str]
    priority: str
    state: str
    previous_state: str
    level: str
    assignee_subject: str
    assignee_organisation_id: str
    reporter_subject: str
    household_ids: list[str]
    organisation_ids: list[str]
    followers: list[str]
    actor: str
    note: str


def ticket_contract(action):
    def register(model):
        return contract(f"civicgrid.tickets.ticket.{action}.v1")(model)
    return register


@ticket_contract("created")
class TicketCreated(TicketData):
    """A request, suggestion, dispute or hazard was collected as a ticket (at a station, on the
    hotline, on patrol or by a resident themselves), SUBMITTED at grid level."""


@ticket_contract("triaged")
class TicketTriaged(TicketData):
    """Staff accepted the ticket at triage; its resolution clock starts."""


@ticket_contract("rejected")
class TicketRejected(TicketData):
    """Staff rejected the ticket at triage."""

    reason: str = Field(description="Why the ticket was rejected.")


@ticket_contract("marked_duplicate")
class TicketMarkedDuplicate(TicketData):
    """Staff found at triage that the ticket repeats an earlier one."""

    duplicate_of: str


@ticket_contract("assigned")
class TicketAssigned(TicketData):
    """The ticket was assigned, or reassigned, to a worker or an organisation to handle."""


@ticket_contract("started")
class TicketStarted(TicketData):
    """The assignee started handling the ticket."""


@ticket_contract("resolved")
class TicketResolved(TicketData):
    """The assignee resolved the ticket; the reporter is asked for feedback."""

    resolution: str


@ticket_contract("feedback_given")
class TicketFeedbackGiven(TicketData):
    """The reporter scored how the resolved ticket was handled."""

    satisfaction: int
    comment: str = Field(description="The reporter's words with the score; may be empty.")


@ticket_contract("reopened")
class TicketReopened(TicketData):
    """A resolved or closed ticket was reopened, by hand or by the reporter's low satisfaction score."""

    callback_requested: bool


@ticket_contract("closed")
class TicketClosed(TicketData):
    """The ticket was closed after feedback, resolution, rejection or as a duplicate."""

    closing_reason: str
    referred_to: str


@ticket_contract("escalated")
class TicketEscalated(TicketData):
    """The ticket went up a level (grid to community, community to street), by hand or on a missed
    deadline."""

    previous_level: str


@ticket_contract("clock_paused")
class TicketClockPaused(TicketData):
    """The ticket's deadline clock was paused, the reason in `note`."""


@ticket_contract("clock_resumed")
class TicketClockResumed(TicketData):
    """The ticket's deadline clock runs again with the time it had left."""


@ticket_contract("followed")
class TicketFollowed(TicketData):
    """Someone who sees the ticket, or a resident of its building, started following it."""

    follower: str


@ticket_contract("party_added")
class TicketPartyAdded(TicketData):
    """Staff named a further household or organisation on the ticket (`household_ids`,
    `organisation_ids`)."""


class DeadlineData(TicketData):
    stage: str
    due_at: str


@ticket_contract("deadline_approaching")
class TicketDeadlineApproaching(DeadlineData):
    """The running stage of an open ticket entered the last quarter of its promised time."""


@ticket_contract("deadline_missed")
class TicketDeadlineMissed(DeadlineData):
    """An open ticket missed its stage's deadline; below street level, ticket.escalated follows."""


@ticket_contract("volunteer_task_updated")
class TicketVolunteerTaskUpdated(TicketData):
    """A step of a volunteer task created for the ticket, now on the ticket's timeline."""

    task_id: str
    task_step: str


@ticket_contract("deliberated")
class TicketDeliberated(TicketData):
    """A deliberation meeting decided the suggestion: ADOPTED, REJECTED (with `reason`) or
    REFERRED_UPWARD to the meeting of the level above."""

    meeting_id: str = Field(description="Id of the meeting that decided.")
    meeting_node_id: str = Field(description="The grid or community the meeting was of.")
    decision: str = Field(description="ADOPTED, REJECTED or REFERRED_UPWARD.")
    reason: str = Field(description="Why it was rejected or referred; may be empty.")


class MeetingData(EventData):
    """Where a deliberation meeting (四议两公开) stands after the change."""

    id: str
    title: str = Field(description="The meeting's title.")
    node_id: str = Field(description="Id of the grid or community the meeting is of.")
    path: list[str]
    held_at: str = Field(description="When the meeting is held (RFC 3339).")
    place_station_id: str = Field(description="Id of the service station it is held at; may be empty.")
    convenor: str = Field(description="Sign-in subject of the staff member who convenes it.")
    state: str = Field(description="PROPOSED, COMMITTEE_REVIEW, DELIBERATION, RESOLVED, DECISION_PUBLISHED or "
                                   "OUTCOME_PUBLISHED.")
    previous_state: str
    actor: str


@contract("civicgrid.tickets.meeting.created.v1")
class MeetingCreated(MeetingData):
    """A grid or community deliberation meeting was called, PROPOSED."""


@contract("civicgrid.tickets.meeting.advanced.v1")
class MeetingAdvanced(MeetingData):
    """The meeting went one step on in its procedure; DECISION_PUBLISHED and OUTCOME_PUBLISHED are
    the two publications."""

    note: str


class AgendaItemData(MeetingData):
    """A meeting and one item of its agenda, with the meeting's decision on it."""

    ticket_id: str
    summary: str = Field(description="The start of the suggestion's description (at most 40 characters).")
    decision: str = Field(description="ADOPTED, REJECTED or REFERRED_UPWARD.")
    reason: str = Field(description="Why it was rejected or referred; may be empty.")


@contract("civicgrid.tickets.meeting.item_decided.v1")
class MeetingItemDecided(AgendaItemData):
    """The meeting decided one suggestion on its agenda; the decision is also on the suggestion's
    timeline (ticket.deliberated)."""


@contract("civicgrid.tickets.meeting.decision_published.v1")
class MeetingDecisionPublished(AgendaItemData):
    """The meeting published its decision on one item (one event per agenda item, with the
    advance to DECISION_PUBLISHED); the suggestion's reporter and followers are told."""

    reporter_subject: str
    followers: list[str]


class ProjectData(EventData):
    """A project carrying out an adopted suggestion, and the residents who raised or followed it."""

    id: str
    title: str = Field(description="The project's title.")
    ticket_id: str = Field(description="Id of the adopted suggestion.")
    meeting_id: str = Field(description="Id of the meeting that adopted it.")
    node_id: str
    path: list[str]
    owner: str = Field(description="Sign-in subject of who answers for the project.")
    state: str = Field(description="ACTIVE or COMPLETED.")
    reporter_subject: str
    followers: list[str]
    actor: str


@contract("civicgrid.tickets.project.created.v1")
class ProjectCreated(ProjectData):
    """A project was set up for a suggestion a meeting adopted and published."""

    budget_line: str = Field(description="The budget line that pays for it; may be empty.")
    milestones: list[str] = Field(description="The titles of its milestones, in order.")


@contract("civicgrid.tickets.project.milestone_updated.v1")
class ProjectMilestoneUpdated(ProjectData):
    """A milestone of the project made progress; the suggestion's reporter and followers are told."""

    milestone_index: int = Field(description="Position of the milestone in the project, from 0.")
    milestone_title: str = Field(description="The milestone's title.")
    progress_percent: int = Field(description="How far the milestone is, 0 to 100.")
    note: str
    photo_count: int = Field(description="Photos of the work this update added; read them on the project.")


@contract("civicgrid.tickets.project.completed.v1")
class ProjectCompleted(ProjectData):
    """The project was completed; its suggestion is resolved, which asks the reporter for feedback,
    and its reporter and followers are asked to rate it."""

    outcome: str = Field(description="What the project achieved, in the words of who completed it; may be empty.")


@contract("civicgrid.tickets.project.feedback_given.v1")
class ProjectFeedbackGiven(ProjectData):
    """A resident who raised or followed the suggestion rated its completed project (the comment
    stays on the project)."""

    satisfaction: int = Field(description="1 (very dissatisfied) to 5 (very satisfied).")
