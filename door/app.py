"""The door's Flask application: the GeoReport v2 endpoints under /open311/v2/, each in .json and
.xml, and the probes. Every answer that is not a success is the standard's error list."""
import logging
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from door import georeport, keys, metrics
from door.formats import rendered
from door.gateway_client import Refused, gateway_client
from door.georeport import BadParameter
from door.lookups import Lookups

log = logging.getLogger(__name__)
PREFIX = "/open311/v2"


class Door:
    """What the endpoints share: the settings, the gateway, the api keys and the names kept."""

    def __init__(self, settings):
        self.settings = settings
        self.gateway = gateway_client(settings)
        self.credentials = keys.load(settings.api_keys_file)
        self.lookups = Lookups(self.gateway)
        self.zone = ZoneInfo(settings.time_zone)


def door():
    return current_app.extensions["door"]


def create_app(settings):
    app = Flask(__name__)
    # A report is text and a few fields; photos come as links.
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024)
    # Behind the ingress: the scheme and host partners used, for the discovery document's url.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.extensions["door"] = Door(settings)
    app.register_error_handler(Refused, lambda error: error_answer(error.status, error.message))
    app.register_error_handler(BadParameter, lambda error: error_answer(400, str(error)))
    app.register_error_handler(HTTPException, lambda error: error_answer(error.code, error.description))
    app.register_error_handler(Exception, unexpected)
    register_routes(app)
    metrics.instrument(app)
    return app


def register_routes(app):
    app.get("/healthz")(health)
    app.get("/readyz")(ready)
    app.get(f"{PREFIX}/discovery.<fmt>")(discovery)
    app.get(f"{PREFIX}/services.<fmt>")(services)
    app.get(f"{PREFIX}/services/<service_code>.<fmt>")(service_definition)
    app.post(f"{PREFIX}/requests.<fmt>")(create_request)
    app.get(f"{PREFIX}/requests.<fmt>")(list_requests)
    app.get(f"{PREFIX}/requests/<request_id>.<fmt>")(one_request)


# Answers

def answer(kind, payload, fmt, status=200):
    body, content_type = rendered(kind, payload, fmt)
    return body, status, {"Content-Type": content_type}


def error_answer(status, description):
    """The standard's error list, in the format the path asked for (JSON when it named none)."""
    return answer("errors", georeport.error_list(status, description), asked_format(), status)


def unexpected(error):
    log.exception("the door failed on %s %s", request.method, request.path)
    return error_answer(500, "internal error")


def asked_format():
    fmt = (request.view_args or {}).get("fmt")
    return fmt if fmt in georeport.FORMATS else "json"


def checked_format(fmt):
    if fmt not in georeport.FORMATS:
        raise Refused(404, f"format {fmt!r} is not served: use .json or .xml")
    return fmt


# Credentials

def caller_credential(required=False):
    """The token the caller's api_key maps to; without one, the public read-only token if any."""
    api_key = request.values.get("api_key", "")
    if api_key:
        found = keys.lookup(door().credentials, api_key)
        if found is None:
            raise Refused(403, "api_key is not valid")
        return found
    if required or not door().settings.public_token:
        raise Refused(401, "api_key is required")
    return keys.Credential(door().settings.public_token)


def call(credential, service, method, request_type, **fields):
    return door().gateway.call(credential.token, service, method, request_type, **fields)


# Probes

def health():
    return {"status": "ok"}


def ready():
    if door().gateway.serving():
        return {"status": "ready"}
    return {"status": "the gateway does not answer"}, 503


# Endpoints

def discovery(fmt):
    settings = door().settings
    payload = georeport.discovery(f"{request.url_root}{PREFIX.lstrip('/')}/", settings.changeset, settings.contact)
    return answer("discovery", payload, checked_format(fmt))


def services(fmt):
    checked_format(fmt)
    categories = door().lookups.categories(caller_credential().token)
    return answer("services", [georeport.service_of(category) for category in categories], fmt)


def service_definition(service_code, fmt):
    checked_format(fmt)
    category = call(caller_credential(), "tickets", "GetCategory", "GetCategoryRequest", id=service_code)
    return answer("definition", georeport.definition_of(category), fmt)


def create_request(fmt):
    checked_format(fmt)
    credential = caller_credential(required=True)
    form = request.form
    category = category_to_report(credential, form.get("service_code", ""))
    location = georeport.location_of(form)
    ticket = call(credential, "tickets", "CreateTicket", "CreateTicketRequest",
                  request_id=str(uuid.uuid4()), kind="REQUEST", channel=credential.channel,
                  category_id=category["id"], node_id=place_of(credential, form, location),
                  reporter_subject=form.get("account_id", ""),
                  description=georeport.description_with(form.get("description", ""), form.get("media_url")),
                  extra=georeport.extra_from(georeport.attributes_in(form), category),
                  **({"location": location} if location else {}))
    return answer("requests", georeport.created(ticket), fmt, 201)


def category_to_report(credential, service_code):
    if not service_code:
        raise BadParameter("service_code", "is required")
    try:
        return call(credential, "tickets", "GetCategory", "GetCategoryRequest", id=service_code)
    except Refused as refusal:
        if refusal.status == 404:
            raise BadParameter("service_code", "is not a service of this city") from None
        raise


def place_of(credential, form, location):
    """The node a report is filed at: its address_id (a flat or building), or for lat/long only
    the node the api_key files such reports at (keys.py)."""
    if form.get("address_id"):
        return form["address_id"]
    if not location:
        raise BadParameter("address_id", "give address_id, or lat and long")
    if not credential.node_id:
        raise BadParameter("address_id", "is required: this api_key has no area for reports given by lat/long")
    return credential.node_id


def list_requests(fmt):
    checked_format(fmt)
    credential = caller_credential()
    args = request.args
    if args.get("service_request_id"):
        tickets = found_tickets(credential, georeport.request_ids(args["service_request_id"]))
    else:
        tickets = listed_tickets(credential, args)
    return answer("requests", shown_requests(credential, tickets), fmt)


def one_request(request_id, fmt):
    checked_format(fmt)
    credential = caller_credential()
    ticket = call(credential, "tickets", "GetTicket", "GetTicketRequest", id=request_id)
    return answer("requests", shown_requests(credential, [ticket]), fmt)


def found_tickets(credential, ids):
    """The tickets of the ids the caller may read; the standard ignores the other filters then."""
    tickets = []
    for ticket_id in ids:
        try:
            tickets.append(call(credential, "tickets", "GetTicket", "GetTicketRequest", id=ticket_id))
        except Refused as refusal:
            if refusal.status != 404:
                raise
    return tickets


def listed_tickets(credential, args):
    """The page asked for of the caller's tickets, filtered as asked: keyset pages of the same
    size read in turn up to it."""
    settings = door().settings
    number, size = georeport.page_of(args.get("page", ""), args.get("page_size", ""), settings.default_page_size,
                                     settings.max_page_size, settings.max_page)
    after, before = georeport.date_span(args.get("start_date"), args.get("end_date"), door().zone,
                                        datetime.now(timezone.utc))
    filters = {"states": georeport.states_for(args.get("status", "")), "category_id": args.get("service_code", ""),
               **({"created_after": after.isoformat()} if after else {}),
               **({"created_before": before.isoformat()} if before else {})}
    page = {"next_page_token": ""}
    for read in range(1, number + 1):
        page = call(credential, "tickets", "ListTickets", "ListTicketsRequest", page_size=size,
                    page_token=page["next_page_token"], **filters)
        if read < number and not page["next_page_token"]:
            return []  # there are fewer pages than the one asked for
    return page["tickets"]


def shown_requests(credential, tickets):
    lookups, zone = door().lookups, door().zone
    names = {category["id"]: category["name"] for category in lookups.categories(credential.token)}
    return [georeport.request_of(ticket, names.get(ticket["category_id"]), zone,
                                 agency=lookups.agency(credential.token, ticket),
                                 address=lookups.address(credential.token, ticket))
            for ticket in tickets]
