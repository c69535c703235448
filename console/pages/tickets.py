"""The ticket queue, a ticket and the steps taken on it, and a new ticket on behalf of a resident."""

import uuid
from datetime import datetime, timedelta, timezone

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from console import presenting, web
from console.tree import children, each, nodes_of_kind
from console.web import blueprint

QUEUE_PAGE = 50
QUEUES = ("MINE", "SCOPE", "ORGANISATION_QUEUE")


@blueprint.get("/tickets")
@web.signed_in
def queue():
    chosen = request.args.get("queue") or ("SCOPE" if g.role in presenting.STAFF_ROLES else "MINE")
    if chosen not in QUEUES:
        abort(400, _("Unknown queue."))
    states = [state for state in request.args.getlist("state") if state in presenting.STATE_NAMES]
    staff = g.role in presenting.STAFF_ROLES
    organisations = organisations_of_my_area() if staff else {}
    organisation_id = request.args.get("organisation_id", "") if chosen == "ORGANISATION_QUEUE" else ""
    if chosen == "ORGANISATION_QUEUE" and organisation_id not in organisations:
        abort(400, _("Pick an organisation."))
    answer = web.call(
        "tickets",
        "ListTickets",
        "ListTicketsRequest",
        queue=chosen,
        organisation_id=organisation_id,
        states=states,
        page_size=QUEUE_PAGE,
        page_token=request.args.get("page", ""),
    )
    known = web.names()
    rows = [presenting.ticket_row(ticket, known, web.zone()) for ticket in answer["tickets"]]
    template = "queue_rows.html" if request.headers.get("HX-Request") else "queue.html"
    return render_template(
        template,
        rows=rows,
        queue=chosen,
        queues=QUEUES if staff else QUEUES[:2],
        organisations=organisations,
        organisation_id=organisation_id,
        states=states,
        staff_roles=presenting.STAFF_ROLES,
        state_names=presenting.STATE_NAMES,
        next_page=answer["next_page_token"],
    )


def organisations_of_my_area():
    """{id: name} of the organisations at and below the person's top nodes."""
    known = web.names()
    tops = children(web.gateway(), g.token, "")
    return {organisation_id: name for top in tops for organisation_id, name in known.organisations_below(top["id"]).items()}


@blueprint.get("/tickets/new")
@web.signed_in
def new_ticket():
    if g.role not in presenting.STAFF_ROLES:
        abort(403)
    categories = web.call("tickets", "ListCategories", "ListCategoriesRequest", page_size=500)["categories"]
    return render_template(
        "new_ticket.html",
        buildings=buildings_in_scope(),
        categories=categories,
        channels=presenting.CHANNEL_NAMES,
        priorities=presenting.PRIORITY_NAMES,
        request_id=uuid.uuid4().hex,
    )


def buildings_in_scope():
    """(grid name, buildings) for every grid the person may see."""
    gateway, token = web.gateway(), g.token  # the calls run on other threads, outside the request
    grids = nodes_of_kind(gateway, token, "GRID")
    return [
        (grid["display_name"], buildings)
        for grid, buildings in zip(grids, each(lambda grid: children(gateway, token, grid["id"]), grids))
        if buildings
    ]


@blueprint.get("/flat-options")
@web.signed_in
def flat_options():
    building_id = request.args.get("building_id", "")
    labels = web.names().flats_of(building_id) if building_id else {}
    return render_template("flat_options.html", flats=sorted(labels.items(), key=lambda item: item[1]))


@blueprint.post("/tickets")
@web.signed_in
def create_ticket():
    form = request.form
    ticket = web.call(
        "tickets",
        "CreateTicket",
        "CreateTicketRequest",
        request_id=form.get("request_id", ""),
        kind="REQUEST",
        channel=form.get("channel", ""),
        category_id=form.get("category_id", ""),
        node_id=form.get("flat_id") or form.get("building_id", ""),
        priority=form.get("priority") or "PRIORITY_UNSPECIFIED",
        description=form.get("description", ""),
        photos=web.photos_sent(),
    )
    return redirect(url_for("console.ticket_page", ticket_id=ticket["id"]))


@blueprint.get("/tickets/<ticket_id>")
@web.signed_in
def ticket_page(ticket_id):
    ticket = web.call("tickets", "GetTicket", "GetTicketRequest", id=ticket_id)
    known = web.names()
    actions = presenting.actions_for(g.role, ticket, g.subject)
    organisations = known.organisations_along(ticket.get("path", [])) if "add_party" in actions else {}
    if not organisations:
        actions = tuple(action for action in actions if action != "add_party")
    return render_template(
        "ticket.html",
        ticket=ticket,
        row=presenting.ticket_row(ticket, known, web.zone()),
        timeline=presenting.timeline_rows(ticket.get("timeline", []), web.zone()),
        crumbs=known.path(ticket.get("path", [])),
        actions=actions,
        organisations=organisations,
        request_id=uuid.uuid4().hex,
        tomorrow=presenting.local_input(datetime.now(timezone.utc) + timedelta(days=1), web.zone()),
    )


@blueprint.get("/tickets/<ticket_id>/photos/<photo_id>")
@web.signed_in
def photo(ticket_id, photo_id):
    return web.photo_answer(web.call("tickets", "GetTicketPhoto", "GetTicketPhotoRequest", ticket_id=ticket_id,
                                     photo_id=photo_id))


@blueprint.post("/tickets/<ticket_id>/<action>")
@web.signed_in
def act(ticket_id, action):
    if action not in ACTIONS:
        abort(404)
    method, request_type, fields = ACTIONS[action](request.form, web.zone())
    web.call("tickets", method, request_type, id=ticket_id, **fields)
    return redirect(url_for("console.ticket_page", ticket_id=ticket_id))


# A form's fields as the tickets service takes them, per action the console offers; times come
# in the tenant's zone.
ACTIONS = {
    "triage": lambda form, zone: (
        "TriageTicket",
        "TriageTicketRequest",
        {"decision": "ACCEPT", "note": form.get("note", "")},
    ),
    "assign": lambda form, zone: ("AssignTicket", "AssignTicketRequest", {"note": form.get("note", "")}),
    "start": lambda form, zone: ("StartTicket", "StartTicketRequest", {"note": form.get("note", "")}),
    "resolve": lambda form, zone: (
        "ResolveTicket", "ResolveTicketRequest", {"resolution": form.get("resolution", "")}),
    "feedback": lambda form, zone: (
        "SubmitTicketFeedback",
        "SubmitTicketFeedbackRequest",
        {"satisfaction": form.get("satisfaction", 0, type=int), "comment": form.get("comment", "")},
    ),
    "escalate": lambda form, zone: ("EscalateTicket", "EscalateTicketRequest", {"reason": form.get("reason", "")}),
    "pause": lambda form, zone: ("PauseTicketClock", "PauseTicketClockRequest", {"reason": form.get("reason", "")}),
    "resume": lambda form, zone: ("ResumeTicketClock", "ResumeTicketClockRequest", {"note": form.get("note", "")}),
    "add_party": lambda form, zone: (
        "AddTicketParty",
        "AddTicketPartyRequest",
        {"organisation_id": form.get("organisation_id", ""), "note": form.get("note", "")},
    ),
    "request_volunteers": lambda form, zone: (
        "RequestVolunteers",
        "RequestVolunteersRequest",
        {"request_id": form.get("request_id", ""), "title": form.get("title", ""),
         "description": form.get("description", ""), "people_needed": form.get("people_needed", 0, type=int),
         "start_time": presenting.moment_of_local(form.get("start", ""), zone),
         "end_time": presenting.moment_of_local(form.get("end", ""), zone)},
    ),
}
