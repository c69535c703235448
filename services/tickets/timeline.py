"""What a ticket's timeline and events say: every step of a ticket is one timeline entry and one
event, both naming the state the ticket moved from."""
from dataclasses import dataclass, field

from services.events import envelope

SERVICE = "tickets"
# The actor and role of the steps the service takes by itself (deadlines, volunteer task events).
SYSTEM = "system"
SUMMARY_LENGTH = 40


@dataclass
class Step:
    """One entry on the timeline and its event."""

    action: str
    contract: type
    to_state: str
    note: str = ""
    data: dict = field(default_factory=dict)
    # What the service itself says of the step (a deadline, an escalation, a volunteer task), as
    # fields a client words in its reader's language; the note says it in English.
    details: dict = field(default_factory=dict)


def entry(step, from_state, moment, actor, actor_role):
    """The timeline entry of `step`; a new ticket's first one comes from no state (None)."""
    written = {"time": moment, "actor": actor, "actor_role": actor_role, "action": step.action,
               "from_state": from_state, "to_state": step.to_state, "note": step.note}
    if step.details:
        written["details"] = {name: str(value) for name, value in step.details.items()}
    return written


def event(step, ticket, actor, previous_state, tenant):
    """The event of `step`: who is involved and where `ticket` (as it is after the change) stands."""
    data = {
        "id": ticket["id"] if "id" in ticket else ticket["_id"], "summary": summary_of(ticket["description"]),
        "kind": ticket["kind"],
        "category_id": ticket["category_id"], "node_id": ticket["node_id"], "path": ticket["path"],
        "priority": ticket["priority"], "state": step.to_state, "previous_state": previous_state,
        "level": ticket["level"], "assignee_subject": ticket["assignee_subject"],
        "assignee_organisation_id": ticket["assignee_organisation_id"],
        "reporter_subject": ticket["reporter_subject"], "household_ids": ticket["household_ids"],
        "organisation_ids": ticket["organisation_ids"], "followers": ticket["followers"],
        "actor": actor, "note": step.note, **step.data,
    }
    return envelope(SERVICE, step.contract.event_type, tenant, f"tickets/{data['id']}", data)


def summary_of(description):
    """What a message names a ticket by: its description's first line, cut to SUMMARY_LENGTH."""
    first_line = description.strip().split("\n", 1)[0]
    return first_line if len(first_line) <= SUMMARY_LENGTH else first_line[:SUMMARY_LENGTH - 1] + "…"
