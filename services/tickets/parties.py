"""Who a ticket involves and who may do what with it: staff of its place, its assignee, its
reporter, its followers and parties, and the queues each of them reads."""
from services.errors import InvalidArgument, NotFound, PermissionDenied
from services.queries import combined
from services.tickets.lifecycle import STAFF_ROLES


def identities(caller):
    """The subject and the organisations (grant "org:<id>") a caller acts for."""
    organisations = {grant[4:] for grant in caller.grants if grant.startswith("org:")}
    return {caller.subject} | organisations


def involved(ticket):
    """Everyone whose MINE queue shows the ticket."""
    people = [ticket["reporter_subject"], ticket["assignee_subject"], ticket["assignee_organisation_id"],
              *ticket["followers"], *ticket["organisation_ids"]]
    return sorted({person for person in people if person})


def sees(caller, ticket):
    """Staff and workers whose scope holds the ticket's place, and everyone it involves."""
    return caller.reaches(ticket["path"]) or bool(identities(caller) & set(ticket.get("involved", [])))


def no_such_ticket(field_name="id"):
    return NotFound("ticket not found", [{"field": field_name, "description": "no such ticket"}])


def seen(caller, ticket, field_name="id"):
    """The ticket (None if there is none) if the caller sees it; NOT_FOUND otherwise, so that
    the existence of another place's ticket does not leak."""
    if ticket is None or not sees(caller, ticket):
        raise no_such_ticket(field_name)
    return ticket


def is_staff_for(caller, ticket):
    return caller.role in STAFF_ROLES and caller.reaches(ticket["path"])


def is_reporter(caller, ticket):
    return bool(ticket["reporter_subject"]) and ticket["reporter_subject"] == caller.subject


def is_assignee(caller, ticket):
    """The assigned worker, or anyone acting for the assigned organisation."""
    return bool((ticket["assignee_subject"] and ticket["assignee_subject"] == caller.subject)
                or (ticket["assignee_organisation_id"]
                    and ticket["assignee_organisation_id"] in identities(caller)))


def require_staff(caller, ticket):
    if not is_staff_for(caller, ticket):
        raise PermissionDenied("only staff responsible for the ticket's place may do this")


def require_assignee(caller, ticket):
    if not is_assignee(caller, ticket):
        raise PermissionDenied("only the assignee of the ticket may do this")


def require_reporter(caller, ticket):
    if not is_reporter(caller, ticket):
        raise PermissionDenied("only the resident who reported the ticket gives feedback on it")


def require_reporter_or_staff(caller, ticket):
    if not is_reporter(caller, ticket) and not is_staff_for(caller, ticket):
        raise PermissionDenied("only the reporter or staff responsible for the ticket reopen it")


def reporter_of(caller, command):
    """Who reports a new ticket: staff name the reporter; a resident reports only as themselves,
    through self-service."""
    if caller.role != "resident":
        return command.reporter_subject
    if command.channel != "SELF_SERVICE":
        raise InvalidArgument.field("channel", "a resident's own report comes through SELF_SERVICE")
    if command.reporter_subject and command.reporter_subject != caller.subject:
        raise InvalidArgument.field("reporter_subject", "a resident reports only as themselves")
    return caller.subject


def party_of(command):
    """The list of the ticket a new party goes on, and the party: a household or an organisation."""
    if command.household_id:
        return "household_ids", command.household_id
    return "organisation_ids", command.organisation_id


def queue_filter(caller, command):
    """The tickets of the queue asked for: the caller's own (MINE), an organisation's (for staff or
    the organisation itself), or by default every ticket in the caller's scope."""
    if command.queue == "MINE":
        return {"tenant": caller.tenant, "involved": {"$in": sorted(identities(caller))}}
    if command.queue == "ORGANISATION_QUEUE":
        query = {"organisation_ids": command.organisation_id}
        if command.organisation_id in identities(caller):
            return {"tenant": caller.tenant, **query}
        if caller.role in STAFF_ROLES:
            return caller.scoped(query)
        raise PermissionDenied("only staff or the organisation itself read its queue")
    return caller.scoped()


def listed(caller, command):
    """The query of ListTickets: the queue, narrowed by every filter the request sets."""
    conditions = [queue_filter(caller, command)]
    if command.node_id:
        conditions.append({"path": command.node_id})
    if command.states:
        conditions.append({"state": {"$in": command.states}})
    for name in ("category_id", "kind", "priority"):
        if getattr(command, name):
            conditions.append({name: getattr(command, name)})
    if command.created_after:
        conditions.append({"create_time": {"$gte": command.created_after}})
    if command.created_before:
        conditions.append({"create_time": {"$lt": command.created_before}})
    return combined(*conditions)
