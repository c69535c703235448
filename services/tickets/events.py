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
