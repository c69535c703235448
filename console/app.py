"""The console's Flask application: sign-in, then pages that each ask the gateway, as the
signed-in person, for what they show."""
import csv
from datetime import datetime, timedelta, timezone
from functools import wraps
import io
import uuid
from zoneinfo import ZoneInfo

from flask import (Blueprint, Flask, Response, abort, g, redirect, render_template, request, session,
                   stream_with_context, url_for)
from flask_babel import Babel, gettext as _, lazy_gettext as _l
from google.protobuf.timestamp_pb2 import Timestamp
from werkzeug.middleware.proxy_fix import ProxyFix

from console import metrics, oidc, presenting, signin
from console.gateway_client import GatewayClient, Refused
from console.naming import Names
from console.tree import children, each, nodes_of_kind, post_holders

LOCALES = ("zh_CN", "en")
FIGURES_DAYS = 30
QUEUE_PAGE = 50
QUEUES = ("MINE", "SCOPE")
WORK_LIST_PAGE = 50
INBOX_SHOWN = 10
BOARD_TASKS = 200
HOURS_DAYS = 90
HOURS_SHOWN = 10
RANKED_SHOWN = 10
EXPORT_PAGE = 500
CARE_DAYS = 30
# Households a party member visits a month (field reports: three).
VISIT_QUOTA = 3
CARE_LIST_LENGTH = 100
CSV_HEADINGS = {"name": _l("Name"), "gender": _l("Gender"), "age": _l("Age"), "address": _l("Address"),
                "phone": _l("Phone"), "tags": _l("Tags")}


def same_site(path):
    """`path` if it leads back into the console, never elsewhere."""
    return path if path and path.startswith("/") and not path.startswith("//") else None


def csv_line(values):
    line = io.StringIO()
    csv.writer(line).writerow(["" if value is None else value for value in values])
    return line.getvalue()


def create_app(settings):
    app = Flask(__name__)
    app.config.update(SECRET_KEY=settings.session_secret, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", BABEL_DEFAULT_LOCALE="zh_CN")
    Babel(app, locale_selector=chosen_locale)
    # Behind the ingress: the scheme and host people used, for the sign-in's return address.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    gateway = GatewayClient(settings.gateway, settings.call_timeout_seconds)
    provider = oidc.provider_of(app, settings)

    @app.errorhandler(Refused)
    def refused(error):
        metrics.refused(error.status)
        if error.status == 401:  # the token expired or was revoked: sign in again
            session.clear()
            return redirect(url_for("console.signin_page"))
        return render_template("refused.html", error=error), error.status

    app.register_blueprint(pages(settings, gateway, provider))
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


def pages(settings, gateway, provider):
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
        if settings.dev_signin:
            return render_template("signin.html", personas=signin.personas(gateway, settings))
        if provider is None:
            abort(404)
        return provider.authorize_redirect(url_for("console.signed_in_by_provider", _external=True))

    @blueprint.get("/signin/callback")
    def signed_in_by_provider():
        if provider is None:
            abort(404)
        session.update(oidc.signed_in_person(provider.authorize_access_token()))
        return redirect(url_for("console.overview"))

    @blueprint.post("/signin")
    def sign_in():
        if not settings.dev_signin:
            abort(404)
        chosen = {persona.key: persona for persona in signin.personas(gateway, settings)}.get(request.form.get("persona"))
        if chosen is None:
            abort(400, _("Pick someone to sign in as."))
        if chosen.household_id:
            signin.bind_account(gateway, settings, chosen)
        session.update(token=signin.token_for(chosen, settings), role=chosen.role, who=chosen.label,
                       place=chosen.scope[0])
        return redirect(url_for("console.overview"))

    @blueprint.post("/signout")
    def sign_out():
        session.clear()
        return redirect(url_for("console.signin_page"))

    @blueprint.get("/")
    @signed_in
    def overview():
        if g.role == "resident":
            return redirect(url_for("console.home"))
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

    @blueprint.get("/nodes/<node_id>/residents")
    @signed_in
    def work_list(node_id):
        tag = request.args.get("tag", "")
        answer = residents_page(node_id, tag, request.args.get("page", ""), WORK_LIST_PAGE)
        return render_template("work_list.html", node=call("grids", "GetNode", "GetNodeRequest", id=node_id),
                               tag=tag, tag_name=presenting.TAG_NAMES.get(tag, tag), rows=answer["rows"],
                               next_page=answer["next_page_token"], tag_names=presenting.TAG_NAMES)

    @blueprint.get("/nodes/<node_id>/residents.csv")
    @signed_in
    def work_list_csv(node_id):
        tag, token = request.args.get("tag", ""), g.token
        rows = residents_page(node_id, tag, "", EXPORT_PAGE)
        headings = [str(heading) for heading in CSV_HEADINGS.values()]

        def lines(first):
            # Excel opens UTF-8 as such only after a byte-order mark.
            yield "\ufeff" + csv_line(headings)
            page = first
            while True:
                yield from (csv_line([row[key] for key in CSV_HEADINGS]) for row in page["rows"])
                if not page["next_page_token"]:
                    return
                page = residents_page(node_id, tag, page["next_page_token"], EXPORT_PAGE, token)
        name = f"{node_id}-{tag or 'residents'}.csv"
        return Response(stream_with_context(lines(rows)), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename={name}"})

    def residents_page(node_id, tag, page_token, page_size, token=None):
        answer = gateway.call(token or g.token, "residents", "ListResidents", "ListResidentsRequest",
                              node_id=node_id, tags=[tag] if tag else [], page_size=page_size, page_token=page_token)
        known = Names(gateway, token or g.token, settings.tenant)
        known.learn_buildings(resident["path"][-2] for resident in answer["residents"] if len(resident["path"]) >= 2)
        today = datetime.now(ZoneInfo(zone)).date()
        return {"rows": [presenting.resident_row(resident, known, today) for resident in answer["residents"]],
                "next_page_token": answer["next_page_token"]}

    @blueprint.get("/nodes/<node_id>/care")
    @signed_in
    def care_list(node_id):
        days = request.args.get("days", CARE_DAYS, type=int)
        answer = call("residents", "ListUnvisitedHouseholds", "ListUnvisitedHouseholdsRequest", node_id=node_id,
                      days=days, limit=CARE_LIST_LENGTH)
        known = names()
        each(lambda household: known.flat_address(household["flat_id"]), answer["households"])
        return render_template("care.html", node=call("grids", "GetNode", "GetNodeRequest", id=node_id), days=days,
                               rows=[presenting.care_row(household, known) for household in answer["households"]],
                               today=datetime.now(ZoneInfo(zone)).date().isoformat())

    @blueprint.get("/nodes/<node_id>/visit-quotas")
    @signed_in
    def visit_quotas(node_id):
        """This month's home visits per visitor against a quota; the holders of the posts below the
        place are listed even if they visited nobody, by name."""
        quota = request.args.get("quota", VISIT_QUOTA, type=int)
        today = datetime.now(ZoneInfo(zone)).date()
        start, end = presenting.this_month(today)[0], today  # the service counts no day yet to come
        holders = post_holders(gateway, g.token, node_id)
        names_of = {holder["subject"]: holder.get("display_name", "") for holder in holders.values()}
        report = call("residents", "VisitQuotaReport", "VisitQuotaReportRequest", node_id=node_id,
                      period_start=start.isoformat(), period_end=end.isoformat(), quota=quota,
                      visitors=sorted(names_of))
        return render_template("visit_quotas.html", node=call("grids", "GetNode", "GetNodeRequest", id=node_id),
                               rows=report["visitors"], names_of=names_of, quota=quota, start=start, end=end)

    @blueprint.post("/households/<household_id>/visits")
    @signed_in
    def log_visit(household_id):
        call("residents", "LogVisit", "LogVisitRequest", request_id=request.form.get("request_id", ""),
             household_id=household_id, visit_date=request.form.get("visit_date", ""),
             findings=request.form.get("findings", ""))
        return redirect(same_site(request.form.get("back")) or url_for("console.overview"))

    @blueprint.get("/me")
    @signed_in
    def home():
        """A resident's page: their household's tickets and their notices."""
        tickets = call("tickets", "ListTickets", "ListTicketsRequest", queue="MINE", page_size=QUEUE_PAGE)["tickets"]
        inbox = call("notifications", "ListInbox", "ListInboxRequest", page_size=INBOX_SHOWN)
        known = names()
        return render_template("home.html", rows=[presenting.ticket_row(ticket, known, zone) for ticket in tickets],
                               messages=[presenting.message_row(message, zone) for message in inbox["messages"]],
                               unread=presenting.unread_text(inbox["unread_count"]))

    @blueprint.get("/me/report")
    @signed_in
    def report_page():
        categories = call("tickets", "ListCategories", "ListCategoriesRequest", page_size=500)["categories"]
        return render_template("report.html", categories=categories, request_id=uuid.uuid4().hex)

    @blueprint.post("/me/report")
    @signed_in
    def report():
        ticket = call("tickets", "CreateTicket", "CreateTicketRequest", request_id=request.form.get("request_id", ""),
                      kind="REQUEST", channel="SELF_SERVICE", category_id=request.form.get("category_id", ""),
                      node_id=session.get("place", ""), description=request.form.get("description", ""))
        return redirect(url_for("console.ticket_page", ticket_id=ticket["id"]))

    @blueprint.post("/me/messages/<message_id>/read")
    @signed_in
    def read_message(message_id):
        call("notifications", "MarkRead", "MarkReadRequest", message_ids=[message_id])
        return redirect(url_for("console.home"))

    @blueprint.get("/nodes/<node_id>/notices/new")
    @signed_in
    def new_notice(node_id):
        return render_template("new_notice.html", node=call("grids", "GetNode", "GetNodeRequest", id=node_id),
                               tag_names=presenting.TAG_NAMES, request_id=uuid.uuid4().hex)

    @blueprint.post("/nodes/<node_id>/notices")
    @signed_in
    def create_notice(node_id):
        form = request.form
        notice = call("notifications", "CreateNotice", "CreateNoticeRequest", request_id=form.get("request_id", ""),
                      audience={"node_id": node_id, "tags": form.getlist("tag")}, title=form.get("title", ""),
                      body=form.get("body", ""), urgent=form.get("urgent") == "on")
        return redirect(url_for("console.notice_page", notice_id=notice["id"]))

    @blueprint.get("/notices/<notice_id>")
    @signed_in
    def notice_page(notice_id):
        notice = call("notifications", "GetNotice", "GetNoticeRequest", id=notice_id)
        return render_template("notice.html", notice=notice, created=presenting.local_time(notice["create_time"], zone),
                               audience=names().node(notice["audience"]["node_id"]),
                               tags="、".join(str(presenting.TAG_NAMES.get(tag, tag)) for tag in notice["audience"]["tags"]))

    @blueprint.get("/nodes/<node_id>/volunteers")
    @signed_in
    def volunteers_board(node_id):
        tasks = call("volunteers", "ListTasks", "ListTasksRequest", node_id=node_id, page_size=BOARD_TASKS)["tasks"]
        today = datetime.now(ZoneInfo(zone)).date()
        since = (today - timedelta(days=HOURS_DAYS)).isoformat()

        def hours(group):
            return call("volunteers", "SummarizeHours", "SummarizeHoursRequest", group_by=group, start_date=since,
                        end_date=today.isoformat(), limit=HOURS_SHOWN)["totals"]
        return render_template("volunteers.html", node=call("grids", "GetNode", "GetNodeRequest", id=node_id),
                               board=presenting.board(tasks, zone), columns=presenting.BOARD_COLUMNS,
                               teams=hours("BY_TEAM"), volunteers=hours("BY_VOLUNTEER"), days=HOURS_DAYS)

    @blueprint.get("/tasks/<task_id>")
    @signed_in
    def task_page(task_id):
        task = call("volunteers", "GetTask", "GetTaskRequest", id=task_id)
        rankings = call("volunteers", "RankVolunteers", "RankVolunteersRequest", task_id=task_id,
                        limit=RANKED_SHOWN)["rankings"]
        dispatched = {assignment["volunteer_id"] for assignment in task.get("assignments", [])}
        return render_template("task.html", task=task, card=presenting.task_card(task, zone), rankings=rankings,
                               dispatched=dispatched, columns=presenting.BOARD_COLUMNS)

    @blueprint.post("/tasks/<task_id>/dispatch")
    @signed_in
    def dispatch(task_id):
        call("volunteers", "DispatchTask", "DispatchTaskRequest", id=task_id,
             volunteer_ids=request.form.getlist("volunteer_id"))
        return redirect(url_for("console.task_page", task_id=task_id))

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
                               staff_roles=presenting.STAFF_ROLES,
                               state_names=presenting.STATE_NAMES, next_page=answer["next_page_token"])

    @blueprint.get("/tickets/new")
    @signed_in
    def new_ticket():
        if g.role not in presenting.STAFF_ROLES:
            abort(403)
        categories = call("tickets", "ListCategories", "ListCategoriesRequest", page_size=500)["categories"]
        return render_template("new_ticket.html", buildings=buildings_in_scope(), categories=categories,
                               channels=presenting.CHANNEL_NAMES, priorities=presenting.PRIORITY_NAMES,
                               request_id=uuid.uuid4().hex)

    def buildings_in_scope():
        """(grid name, buildings) for every grid the person may see."""
        grids = nodes_of_kind(gateway, g.token, "GRID")
        token = g.token
        return [(grid["display_name"], buildings) for grid, buildings in
                zip(grids, each(lambda grid: children(gateway, token, grid["id"]), grids)) if buildings]

    @blueprint.get("/flat-options")
    @signed_in
    def flat_options():
        building_id = request.args.get("building_id", "")
        labels = names().flats_of(building_id) if building_id else {}
        return render_template("flat_options.html", flats=sorted(labels.items(), key=lambda item: item[1]))

    @blueprint.post("/tickets")
    @signed_in
    def create_ticket():
        form = request.form
        ticket = call("tickets", "CreateTicket", "CreateTicketRequest", request_id=form.get("request_id", ""),
                      kind="REQUEST", channel=form.get("channel", ""), category_id=form.get("category_id", ""),
                      node_id=form.get("flat_id") or form.get("building_id", ""),
                      priority=form.get("priority") or "PRIORITY_UNSPECIFIED",
                      description=form.get("description", ""))
        return redirect(url_for("console.ticket_page", ticket_id=ticket["id"]))

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
    "feedback": lambda form: ("SubmitTicketFeedback", "SubmitTicketFeedbackRequest", {
        "satisfaction": form.get("satisfaction", 0, type=int), "comment": form.get("comment", "")}),
}
