"""A ticket as the API shows it."""
from datetime import datetime, timezone

from services.storage import INTERNAL_FIELDS, public, timestamp

TICKET_INTERNAL_FIELDS = (*INTERNAL_FIELDS, "version", "involved", "queue_due", "promise", "task_events_applied")


def shown(document):
    """A ticket as the API returns it: internal fields dropped, every time as RFC 3339."""
    return jsonable({key: value for key, value in public(document).items() if key not in TICKET_INTERNAL_FIELDS})


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
