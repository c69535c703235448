"""Who a ticket involves and who may do what with it: staff of its place, its assignee, its
reporter, its followers and parties, and the queues each of them reads."""
from services.errors import InvalidArgument, NotFound, PermissionDenied
from services.tickets import views
from services.tickets.lifecycle import STAFF_ROLES
from services.tickets.queue_index import millis


HOUSEHOLD = "household:"


def identities(caller):
    """The subject, the organisations (grant "org:<id>") and the household (once the registry has
    confirmed the claim: `TicketsService._party`) a caller acts for."""
    organisations = {grant[4:] for grant in caller.grants if grant.startswith("org:")}
    household = {HOUSEHOLD + caller.household_id} if caller.household_id else set()
    return {caller.subject} | organisations | household


def involved(ticket):
    """Everyone whose MINE queue shows the ticket: its reporter, assignee, followers, and the
    households and organisations that are its parties."""
    people = [ticket["reporter_subject"], ticket["assignee_subject"], ticket["assignee_organisation_id"],
              *ticket["followers"], *ticket["organisation_ids"],
              *(HOUSEHOLD + household_id for household_id in ticket.get("household_ids") or ())]
    return sorted({person for person in people if person})


def sees(caller, ticket):
    """Staff whose scope holds the ticket's place, and everyone it involves: a resident, a partner
    or a volunteer reads no ticket for being near it."""
    return (caller.role in STAFF_ROLES and caller.reaches(ticket["path"])) or bool(
        identities(caller) & set(involved(ticket)))


def as_seen_by(caller, ticket):
    """A shown ticket as `caller` reads it: whole for its staff, its assignee and its reporter;
    for every other party without what is not theirs (`views.for_party`)."""
    if is_staff_for(caller, ticket) or is_assignee(caller, ticket) or is_reporter(caller, ticket):
        return ticket
    return views.for_party(ticket, identities(caller), {caller.household_id} if caller.household_id else set())


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


def with_own_household(caller, command):
    """A resident's report names their household (once the registry has confirmed their claim),
    so that the whole household follows it."""
    if caller.role != "resident" or not caller.household_id or caller.household_id in command.household_ids:
        return command
    return command.model_copy(update={"household_ids": [*command.household_ids, caller.household_id]})


def party_of(command):
    """The list of the ticket a new party goes on, and the party: a household or an organisation."""
    if command.household_id:
        return "household_ids", command.household_id
    return "organisation_ids", command.organisation_id


def all_of(*checks):
    """One predicate over queue index entries from several: an entry must pass every check."""
    def matches(entry):
        for check in checks:
            if not check(entry):
                return False
        return True
    return matches


def in_scope(caller):
    """The caller's tenant and scope, as `Caller.scoped` asks the store for them."""
    tenant, scope = caller.tenant, frozenset(caller.scope)
    if caller.whole_tenant:
        return lambda entry: entry.tenant == tenant
    return lambda entry: entry.tenant == tenant and not scope.isdisjoint(entry.path)


def in_queue(caller, command):
    """The tickets of the queue asked for: the caller's own (MINE, and always for those who are
    not staff), an organisation's (for staff or the organisation itself), or by default every
    ticket in the caller's scope."""
    tenant = caller.tenant
    if command.queue == "MINE" or (command.queue != "ORGANISATION_QUEUE" and caller.role not in STAFF_ROLES):
        mine = frozenset(identities(caller))
        return lambda entry: entry.tenant == tenant and not mine.isdisjoint(entry.involved)
    if command.queue == "ORGANISATION_QUEUE":
        organisation = command.organisation_id
        if organisation in identities(caller):
            return lambda entry: entry.tenant == tenant and organisation in entry.organisation_ids
        if caller.role in STAFF_ROLES:
            return all_of(in_scope(caller), lambda entry: organisation in entry.organisation_ids)
        raise PermissionDenied("only staff or the organisation itself read its queue")
    return in_scope(caller)


def listed(caller, command):
    """Which tickets ListTickets lists (a predicate over queue index entries): the queue, narrowed
    by every filter the request sets."""
    checks = [in_queue(caller, command)]
    if command.node_id:
        checks.append(lambda entry: command.node_id in entry.path)
    if command.states:
        states = frozenset(command.states)
        checks.append(lambda entry: entry.state in states)
    for name in ("category_id", "kind", "priority"):
        if getattr(command, name):
            checks.append(lambda entry, name=name, value=getattr(command, name): getattr(entry, name) == value)
    if command.created_after:
        after = millis(command.created_after)
        checks.append(lambda entry: entry.create_time >= after)
    if command.created_before:
        before = millis(command.created_before)
        checks.append(lambda entry: entry.create_time < before)
    return all_of(*checks)
