"""The console's Flask application: sign-in, then pages that each ask the gateway, as the
signed-in person, for what they show."""
from datetime import datetime, timedelta, timezone
from functools import wraps

from flask import Blueprint, Flask, abort, g, redirect, render_template, request, session, url_for
from flask_babel import Babel, gettext as _
from google.protobuf.timestamp_pb2 import Timestamp

from console import metrics, presenting, signin
from console.gateway_client import GatewayClient, Refused
from console.naming import Names
from console.tree import children, each, nodes_of_kind

LOCALES = ("zh_CN", "en")
FIGURES_DAYS = 30
QUEUE_PAGE = 50
QUEUES = ("MINE", "SCOPE")


def create_app(settings):
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.session_secret, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", BABEL_DEFAULT_LOCALE="zh_CN")
    Babel(app, locale_selector=chosen_locale)
    gateway = GatewayClient(settings.gateway, settings.call_timeout_seconds)

    @app.errorhandler(Refused)
    def refused(error):
        metrics.refused(error.status)
        return render_template("refused.html", error=error), error.status

    app.register_blueprint(pages(settings, gateway))
    metrics.instrument(app)
    return app


def chosen_locale():
    """zh-CN unless the person picked English (?lang=en, remembered in the session)."""
    if request.args.get("lang") in LOCALES:
        session["lang"] = request.args["lang"]
    return session.get("lang", "zh_CN")


def signed_in(view):
    @wraps(view)
    def checked(*args, **kwargs):
        if "token" not in session:
            return redirect(url_for("console.signin_page"))
        g.token, g.role, g.who = session["token"], session["role"], session["who"]
        return view(*args, **kwargs)
    return checked


def pages(settings, gateway):
    blueprint = Blueprint("console", __name__)
    zone = settings.time_zone

    def call(service, method, request_type, **fields):
        return gateway.call(g.token, service, method, request_type, **fields)

    def names():
        return Names(gateway, g.token, settings.tenant)

    @blueprint.get("/healthz")
    def health():
        return {"status": "ok"}

    @blueprint.get("/ready")
    def ready():
        if gateway.serving():
            return {"status": "ready"}
        return {"status": "the gateway does not answer"}, 503

    @blueprint.get("/signin")
    def signin_page():
        if not settings.dev_signin:
            abort(404)
        return render_template("signin.html", personas=signin.personas(gateway, settings))

    @blueprint.post("/signin")
    def sign_in():
        if not settings.dev_signin:
            abort(404)
        chosen = {persona.key: persona for persona in signin.personas(gateway, settings)}.get(request.form.get("persona"))
        if chosen is None:
            abort(400, _("Pick someone to sign in as."))
        session.update(token=signin.token_for(chosen, settings), role=chosen.role, who=chosen.label)
        return redirect(url_for("console.overview"))

    @blueprint.post("/signout")
    def sign_out():
        session.clear()
        return redirect(url_for("console.signin_page"))

    @blueprint.get("/")
    @signed_in
    def overview():
        places = nodes_of_kind(gateway, g.token, "COMMUNITY") or children(gateway, g.token, "")
        return render_template("overview.html", cards=node_cards(places))

    def node_cards(nodes):
        """A card per node with its headline figures, their calls made at once (as this person)."""
        token = g.token
        fetched = each(lambda node: (
            gateway.call(token, "grids", "GetNodeFigures", "GetNodeFiguresRequest", node_id=node["id"]),
            ticket_figures(token, node["id"])), nodes)
        return [{"node": node, "kind": presenting.KIND_NAMES.get(node["kind"], node["kind"]),
                 "figures": presenting.headline(figures), "tickets": presenting.ticket_headline(tickets)}
                for node, (figures, tickets) in zip(nodes, fetched)]

    def ticket_figures(token, node_id):
        end = datetime.now(timezone.utc)
        start_time, end_time = Timestamp(), Timestamp()
        start_time.FromDatetime(end - timedelta(days=FIGURES_DAYS))
        end_time.FromDatetime(end)
        return gateway.call(token, "tickets", "GetTicketFigures", "GetTicketFiguresRequest", node_id=node_id,
                            start_time=start_time, end_time=end_time)

    @blueprint.get("/nodes/<node_id>")
    @signed_in
    def node_page(node_id):
        node = call("grids", "GetNode", "GetNodeRequest", id=node_id)
        crumbs = names().path(node["path"][:-1])
        if node["kind"] == "BUILDING":
            return building_page(node, crumbs)
        figures = call("grids", "GetNodeFigures", "GetNodeFiguresRequest", node_id=node_id)
        below = children(gateway, g.token, node_id)
        return render_template(
            "node.html", node=node, crumbs=crumbs, kind=presenting.KIND_NAMES.get(node["kind"], node["kind"]),
            figures=presenting.headline(figures), tags=presenting.tag_bars(figures),
            tickets=presenting.ticket_headline(ticket_figures(g.token, node_id)), cards=node_cards(below))

    def building_page(building, crumbs):
        view = call("grids", "GetBuildingView", "GetBuildingViewRequest", building_id=building["id"])
        occupancy = view.get("occupancy") or {}
        return render_template(
            "building.html", node=building, crumbs=crumbs, floors=presenting.floors_of(view["flats"]),
            occupancy_names=presenting.OCCUPANCY_NAMES,
            counts={key: int(occupancy.get(key.lower(), 0)) for key in presenting.OCCUPANCY_NAMES})

    @blueprint.get("/tickets")
    @signed_in
    def queue():
        chosen = request.args.get("queue") or ("SCOPE" if g.role in presenting.STAFF_ROLES else "MINE")
        if chosen not in QUEUES:
            abort(400, _("Unknown queue."))
        states = [state for state in request.args.getlist("state") if state in presenting.STATE_NAMES]
        answer = call("tickets", "ListTickets", "ListTicketsRequest", queue=chosen, states=states,
                      page_size=QUEUE_PAGE, page_token=request.args.get("page", ""))
        known = names()
        rows = [presenting.ticket_row(ticket, known, zone) for ticket in answer["tickets"]]
        template = "queue_rows.html" if request.headers.get("HX-Request") else "queue.html"
        return render_template(template, rows=rows, queue=chosen, queues=QUEUES, states=states,
                               state_names=presenting.STATE_NAMES, next_page=answer["next_page_token"])

    @blueprint.get("/tickets/<ticket_id>")
    @signed_in
    def ticket_page(ticket_id):
        ticket = call("tickets", "GetTicket", "GetTicketRequest", id=ticket_id)
        known = names()
        return render_template(
            "ticket.html", ticket=ticket, row=presenting.ticket_row(ticket, known, zone),
            timeline=presenting.timeline_rows(ticket.get("timeline", []), zone),
            crumbs=known.path(ticket.get("path", [])), actions=presenting.actions_for(g.role, ticket))

    @blueprint.post("/tickets/<ticket_id>/<action>")
    @signed_in
    def act(ticket_id, action):
        if action not in ACTIONS:
            abort(404)
        method, request_type, fields = ACTIONS[action](request.form)
        call("tickets", method, request_type, id=ticket_id, **fields)
        return redirect(url_for("console.ticket_page", ticket_id=ticket_id))

    return blueprint


# A form's fields as the tickets service takes them, per action the console offers.
ACTIONS = {
    "triage": lambda form: ("TriageTicket", "TriageTicketRequest", {"decision": "ACCEPT", "note": form.get("note", "")}),
    "assign": lambda form: ("AssignTicket", "AssignTicketRequest", {"note": form.get("note", "")}),
    "start": lambda form: ("StartTicket", "StartTicketRequest", {"note": form.get("note", "")}),
    "resolve": lambda form: ("ResolveTicket", "ResolveTicketRequest", {"resolution": form.get("resolution", "")}),
}
