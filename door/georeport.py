"""GeoReport v2 from and to what the gateway speaks, free of HTTP and gRPC: categories as
services, tickets as service requests, the request's parameters as the gateway's fields.
Every function here is pure (tests/unit/test_open311_mapping.py)."""
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = {"json": "application/json", "xml": "text/xml"}

# Our states a request is "open" in; every other one (rejected, duplicate, resolved, feedback,
# closed) is done as far as the reporter is concerned: services/tickets/lifecycle.OPEN_STATES.
OPEN_STATES = ("SUBMITTED", "TRIAGED", "ASSIGNED", "IN_PROGRESS")
CLOSED_STATES = ("REJECTED", "DUPLICATE", "RESOLVED", "FEEDBACK", "CLOSED")
STATES_OF = {"open": OPEN_STATES, "closed": CLOSED_STATES}
# Timeline steps whose note tells the outcome, the ones the tickets service shows to parties
# outside the ticket's staff (services/tickets/views.PUBLIC_NOTES): status_notes is public.
PUBLIC_ACTIONS = frozenset({"resolved", "rejected", "clock_paused", "marked_duplicate", "closed", "reopened"})
# An ExtraField's type as an Open311 attribute's datatype; a yes/no field is a list of two.
DATATYPES = {"STRING": "string", "NUMBER": "number", "BOOLEAN": "singlevaluelist"}
YES_NO = [{"key": "true", "name": "是"}, {"key": "false", "name": "否"}]
# The gateway's names of fields at fault, as the request named them.
PARAMETER_OF = {"category_id": "service_code", "node_id": "address_id", "description": "description",
                "reporter_subject": "account_id", "id": "service_request_id",
                "created_after": "start_date", "created_before": "end_date"}
# With no dates, a list covers the last 90 days, as the standard says.
DEFAULT_SPAN = timedelta(days=90)
NOTICE = "已收到您的反映，社区将按承诺时限处理。"


@dataclass
class BadParameter(Exception):
    """A parameter the door refuses before asking the gateway: answered 400."""

    parameter: str
    problem: str

    def __str__(self):
        return f"{self.parameter}: {self.problem}"


def status_of(state):
    return "open" if state in OPEN_STATES else "closed"


def states_for(status):
    """The ticket states of a `status` filter ("open", "closed" or both, comma-separated)."""
    states = []
    for name in filter(None, (part.strip().lower() for part in status.split(","))):
        if name not in STATES_OF:
            raise BadParameter("status", "must be open or closed")
        states += STATES_OF[name]
    return states


def service_of(category):
    """A category as an Open311 service; `metadata` says it has typed extra fields to fill in."""
    return {"service_code": category["id"], "service_name": category["name"],
            "description": category.get("group") or category["name"],
            "metadata": bool(category.get("extra_fields")), "type": "realtime",
            "keywords": category.get("group", ""), "group": category.get("group", "")}


def definition_of(category):
    return {"service_code": category["id"],
            "attributes": [attribute_of(field, order) for order, field in enumerate(category.get("extra_fields", []), 1)]}


def attribute_of(field, order):
    attribute = {"variable": True, "code": field["name"], "datatype": DATATYPES.get(field["type"], "string"),
                 "required": bool(field.get("required")), "datatype_description": "",
                 "order": order, "description": field.get("description") or field["name"]}
    if field["type"] == "BOOLEAN":
        attribute["values"] = YES_NO
    return attribute


def extra_from(attributes, category):
    """`attribute[code]=value` pairs as the ticket's typed extra fields; codes the category does
    not declare go on as text, for the tickets service to name."""
    types = {field["name"]: field["type"] for field in category.get("extra_fields", [])}
    return {code: typed(code, value, types.get(code, "STRING")) for code, value in attributes.items()}


def typed(code, value, field_type):
    if field_type == "NUMBER":
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise BadParameter(f"attribute[{code}]", "must be a number")
        return int(number) if number.is_integer() else number
    if field_type == "BOOLEAN":
        if value.lower() not in ("true", "false"):
            raise BadParameter(f"attribute[{code}]", "must be true or false")
        return value.lower() == "true"
    return value


def attributes_in(form):
    """The `attribute[code]` parameters of a form, by code."""
    return {key[len("attribute["):-1]: value for key, value in form.items()
            if key.startswith("attribute[") and key.endswith("]")}


def description_with(description, media_url):
    """What the reporter wrote, with the link they gave: a ticket keeps photos, not links, so the
    handler reads it in the description."""
    lines = [description.strip()]
    if media_url:
        lines.append(f"图片: {media_url}")
    return "\n".join(line for line in lines if line)


def location_of(form):
    """The ticket's location from a report's lat and long, or None when it gave neither."""
    if not form.get("lat") and not form.get("long"):
        return None
    return {"latitude": coordinate(form.get("lat", ""), "lat", 90),
            "longitude": coordinate(form.get("long", ""), "long", 180)}


def coordinate(text, parameter, limit):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not -limit <= value <= limit:
        raise BadParameter(parameter, f"must be a number from -{limit} to {limit}")
    return value


def parsed_datetime(text, parameter, zone):
    """A W3C datetime; one without an offset is in the tenant's time zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadParameter(parameter, "must be a W3C datetime, e.g. 2024-05-01T08:00:00+08:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def date_span(start, end, zone, now):
    """The creation times a list covers: the dates given, or the last 90 days."""
    after = parsed_datetime(start, "start_date", zone) if start else None
    before = parsed_datetime(end, "end_date", zone) if end else None
    if after is None and before is None:
        after = now - DEFAULT_SPAN
    if after and before and after >= before:
        raise BadParameter("end_date", "must be after start_date")
    return after, before


def page_of(page, page_size, default_size, max_size, max_page):
    """The 1-based page and its size. The gateway lists tickets in keyset pages (a token leads to
    the next), so page n is reached by reading the n - 1 pages of the same size before it."""
    number = whole(page, "page", 1, max_page) if page else 1
    size = whole(page_size, "page_size", 1, max_size) if page_size else default_size
    return number, size


def whole(text, parameter, lowest, highest):
    if not text.strip().isdigit() or not lowest <= int(text) <= highest:
        raise BadParameter(parameter, f"must be a whole number from {lowest} to {highest}")
    return int(text)


def request_ids(text):
    return [part.strip() for part in text.split(",") if part.strip()]


def local_time(rfc3339, zone):
    """An RFC 3339 time from the gateway in the tenant's offset (ISO 8601), or None."""
    if not rfc3339:
        return None
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).astimezone(zone).isoformat(timespec="seconds")


def status_notes(timeline):
    """The latest note that tells the outcome, or None."""
    for entry in reversed(timeline):
        if entry.get("action") in PUBLIC_ACTIONS and entry.get("note"):
            return entry["note"]
    return None


def expected_time(ticket):
    """When the running stage is promised by; a paused clock promises nothing."""
    clock = ticket.get("clock") or {}
    if ticket["state"] not in OPEN_STATES or clock.get("paused"):
        return None
    return clock.get("due_at")


def request_of(ticket, service_name, zone, agency=None, address=None):
    """A ticket as an Open311 service request; what is not known is left out."""
    request = {
        "service_request_id": ticket["id"], "status": status_of(ticket["state"]),
        "status_notes": status_notes(ticket.get("timeline", [])), "service_name": service_name,
        "service_code": ticket["category_id"], "description": ticket.get("description") or None,
        "agency_responsible": agency, "service_notice": None,
        "requested_datetime": local_time(ticket.get("create_time"), zone),
        "updated_datetime": local_time(ticket.get("update_time"), zone),
        "expected_datetime": local_time(expected_time(ticket), zone),
        "address": address, "address_id": ticket.get("node_id") or None,
        "lat": (ticket.get("location") or {}).get("latitude"), "long": (ticket.get("location") or {}).get("longitude"),
    }
    return {key: value for key, value in request.items() if value is not None}


def created(ticket):
    """The answer to a POST: the new request's id and a notice for the reporter."""
    return [{"service_request_id": ticket["id"], "service_notice": NOTICE,
             "account_id": ticket.get("reporter_subject") or None}]


def parameter_named(field):
    """The request's name for a field the gateway found at fault (extra.x is attribute[x])."""
    if field.startswith("extra."):
        return f"attribute[{field[len('extra.'):]}]"
    return PARAMETER_OF.get(field, field)


def error_list(code, description):
    return [{"code": code, "description": description}]


def discovery(url, changeset, contact):
    return {"changeset": changeset, "contact": contact, "key_service": contact,
            "endpoints": [{"specification": SPECIFICATION, "url": url, "changeset": changeset,
                           "type": "production", "formats": list(FORMATS.values())}]}
