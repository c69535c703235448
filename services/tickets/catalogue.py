"""The category catalogue: what a new category holds and announces."""
from services.events import envelope
from services.storage import new_id
from services.tickets import events as contracts
from services.tickets.timeline import SERVICE


def new_category(command, tenant):
    """The fields of a category and its created event; it sits at the tenant's root (no path)."""
    fields = command.model_dump(exclude={"request_id"}) | {"id": new_id(), "path": []}
    event = envelope(SERVICE, contracts.CategoryCreated.event_type, tenant, f"categories/{fields['id']}",
                     {"id": fields["id"], "name": command.name, "group": command.group,
                      "assignee_kind": command.routing.assignee_kind,
                      "organisation_id": command.routing.organisation_id})
    return fields, event
