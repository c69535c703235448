"""A ticket as the API shows it."""
from datetime import datetime, timezone

from services.storage import INTERNAL_FIELDS, public, timestamp

TICKET_INTERNAL_FIELDS = (*INTERNAL_FIELDS, "version", "involved", "queue_due", "promise", "task_events_applied")


def shown(document):
    """A ticket as the API returns it: internal fields dropped, every time as RFC 3339."""
    return jsonable({key: value for key, value in public(document).items() if key not in TICKET_INTERNAL_FIELDS})


# Notes a party outside the ticket's staff may read: those that tell the outcome. Others are
# written by staff for staff (a raised priority names the reporter's tags).
PUBLIC_NOTES = frozenset({"resolved", "rejected", "clock_paused", "marked_duplicate", "closed", "reopened"})
# Fields about other people, or for the staff's routing, that a party does not read.
NOT_FOR_PARTIES = ("priority_raised_for", "reporter_subject", "reporter_resident_id", "assignee_subject",
                   "routing", "feedback", "volunteer_task_ids", "callback_requested")


def for_party(ticket, identities, households):
    """What a party outside the ticket's staff reads of it (a shown ticket, with or without its
    timeline): of the households and followers only its own (`households`, `identities`), nobody
    else's accounts or tags, and on the timeline what it did itself and the notes of the outcome."""
    seen = {key: value for key, value in ticket.items() if key not in NOT_FOR_PARTIES}
    if "household_ids" in ticket:
        seen["household_ids"] = [household for household in ticket["household_ids"] if household in households]
    if "followers" in ticket:
        seen["followers"] = [follower for follower in ticket["followers"] if follower in identities]
    if "timeline" in ticket:
        seen["timeline"] = [public_entry(entry, identities) for entry in ticket["timeline"]]
    return seen


def public_entry(entry, identities):
    """A timeline entry as a party reads it: who acted only if it was the party itself, the note
    (and the details that say the same) only if theirs or one of the outcome."""
    hidden = set() if entry.get("actor") in identities else {"actor"}
    if entry.get("actor") not in identities and entry["action"] not in PUBLIC_NOTES:
        hidden |= {"note", "details"}
    return {key: value for key, value in entry.items() if key not in hidden}


def summary(document):
    """What anyone in the building may see of a ticket they might follow."""
    ticket = shown(document)
    return {key: ticket[key] for key in ("id", "kind", "category_id", "node_id", "building_id", "state",
                                         "priority", "description", "create_time")}


def jsonable(value):
    if isinstance(value, datetime):
        return timestamp(aware(value))
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value


def aware(moment):
    """A stored time without a zone is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
