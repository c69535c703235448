"""Contracts of the events the tickets service publishes: one per transition, so that
notifications and partners subscribe to exactly what they act on."""
from services.events import EventData, contract


@contract("civicgrid.tickets.category.created.v1")
class CategoryCreated(EventData):
    id: str
    name: str
    group: str
    assignee_kind: str
    organisation_id: str


class TicketData(EventData):
    """Who is involved and where the ticket stands after the change."""

    id: str
    kind: str
    category_id: str
    node_id: str
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
    pass


@ticket_contract("triaged")
class TicketTriaged(TicketData):
    pass


@ticket_contract("rejected")
class TicketRejected(TicketData):
    reason: str


@ticket_contract("marked_duplicate")
class TicketMarkedDuplicate(TicketData):
    duplicate_of: str


@ticket_contract("assigned")
class TicketAssigned(TicketData):
    pass


@ticket_contract("started")
class TicketStarted(TicketData):
    pass


@ticket_contract("resolved")
class TicketResolved(TicketData):
    resolution: str


@ticket_contract("feedback_given")
class TicketFeedbackGiven(TicketData):
    satisfaction: int
    comment: str


@ticket_contract("reopened")
class TicketReopened(TicketData):
    callback_requested: bool


@ticket_contract("closed")
class TicketClosed(TicketData):
    closing_reason: str
    referred_to: str


@ticket_contract("escalated")
class TicketEscalated(TicketData):
    previous_level: str


@ticket_contract("clock_paused")
class TicketClockPaused(TicketData):
    pass


@ticket_contract("clock_resumed")
class TicketClockResumed(TicketData):
    pass


@ticket_contract("followed")
class TicketFollowed(TicketData):
    follower: str


@ticket_contract("party_added")
class TicketPartyAdded(TicketData):
    pass


class DeadlineData(TicketData):
    stage: str
    due_at: str


@ticket_contract("deadline_approaching")
class TicketDeadlineApproaching(DeadlineData):
    pass


@ticket_contract("deadline_missed")
class TicketDeadlineMissed(DeadlineData):
    pass


@ticket_contract("volunteer_task_updated")
class TicketVolunteerTaskUpdated(TicketData):
    """A step of a volunteer task created for the ticket, now on the ticket's timeline."""

    task_id: str
    task_step: str
