"""The places people are responsible for: the overview, a community's or grid's dashboard, a
building's flats, work lists by tag (and their CSV), the care list and visit quotas."""

import csv
from datetime import datetime, timedelta, timezone
import io
from zoneinfo import ZoneInfo

from flask import Response, g, redirect, render_template, request, stream_with_context, url_for
from flask_babel import lazy_gettext as _l
from google.protobuf.timestamp_pb2 import Timestamp

from console import presenting, web
from console.naming import Names
from console.tree import children, each, nodes_of_kind, post_holders
from console.web import blueprint

FIGURES_DAYS = 30
# A card's figures take two calls: past this many nodes below, the rest are named only (a grid
# of a benchmark city with 100 buildings took 16 s to show all their cards).
CARDS_WITH_FIGURES = 12
WORK_LIST_PAGE = 50
EXPORT_PAGE = 500
# More people than live in any one flat.
FLAT_PEOPLE = 100
CARE_DAYS = 30
CARE_LIST_LENGTH = 100
# Households a party member visits a month (field reports: three).
VISIT_QUOTA = 3
CSV_HEADINGS = {
    "name": _l("Name"),
    "gender": _l("Gender"),
    "age": _l("Age"),
    "address": _l("Address"),
    "phone": _l("Phone"),
    "tags": _l("Tags"),
}


def same_site(path):
    """`path` if it leads back into the console, never elsewhere."""
    return path if path and path.startswith("/") and not path.startswith("//") else None


def csv_line(values):
    line = io.StringIO()
    csv.writer(line).writerow(["" if value is None else value for value in values])
    return line.getvalue()


@blueprint.get("/")
@web.signed_in
def overview():
    if g.role == "resident":
        return redirect(url_for("console.home"))
    places = nodes_of_kind(web.gateway(), g.token, "COMMUNITY") or children(web.gateway(), g.token, "")
    return render_template("overview.html", cards=node_cards(places))


def node_cards(nodes):
    """A card per node with its headline figures, their calls made at once (as this person)."""
    gateway, token = web.gateway(), g.token  # the calls run on other threads, outside the request
    fetched = each(
        lambda node: (
            gateway.call(token, "grids", "GetNodeFigures", "GetNodeFiguresRequest", node_id=node["id"]),
            ticket_figures(gateway, token, node["id"]),
        ),
        nodes,
    )
    return [
        {
            "node": node,
            "kind": presenting.KIND_NAMES.get(node["kind"], node["kind"]),
            "figures": presenting.headline(figures),
            "tickets": presenting.ticket_headline(tickets),
        }
        for node, (figures, tickets) in zip(nodes, fetched)
    ]


def ticket_figures(gateway, token, node_id):
    end = datetime.now(timezone.utc)
    start_time, end_time = Timestamp(), Timestamp()
    start_time.FromDatetime(end - timedelta(days=FIGURES_DAYS))
    end_time.FromDatetime(end)
    return gateway.call(
        token,
        "tickets",
        "GetTicketFigures",
        "GetTicketFiguresRequest",
        node_id=node_id,
        start_time=start_time,
        end_time=end_time,
    )


@blueprint.get("/nodes/<node_id>")
@web.signed_in
def node_page(node_id):
    node = web.call("grids", "GetNode", "GetNodeRequest", id=node_id)
    crumbs = web.names().path(node["path"][:-1])
    if node["kind"] == "BUILDING":
        return building_page(node, crumbs)
    figures = web.call("grids", "GetNodeFigures", "GetNodeFiguresRequest", node_id=node_id)
    below = children(web.gateway(), g.token, node_id)
    return render_template(
        "node.html",
        node=node,
        crumbs=crumbs,
        kind=presenting.KIND_NAMES.get(node["kind"], node["kind"]),
        figures=presenting.headline(figures),
        tags=presenting.tag_bars(figures),
        tickets=presenting.ticket_headline(ticket_figures(web.gateway(), g.token, node_id)),
        cards=node_cards(below[:CARDS_WITH_FIGURES]),
        more=below[CARDS_WITH_FIGURES:],
    )


def building_page(building, crumbs):
    view = web.call("grids", "GetBuildingView", "GetBuildingViewRequest", building_id=building["id"])
    occupancy = view.get("occupancy") or {}
    return render_template(
        "building.html",
        node=building,
        crumbs=crumbs,
        floors=presenting.floors_of(view["flats"]),
        occupancy_names=presenting.OCCUPANCY_NAMES,
        counts={key: int(occupancy.get(key.lower(), 0)) for key in presenting.OCCUPANCY_NAMES},
    )


@blueprint.get("/flats/<flat_id>")
@web.signed_in
def flat_page(flat_id):
    """A flat with its households and their members, masked as the reader's role requires."""
    flat = web.call("grids", "GetFlat", "GetFlatRequest", id=flat_id)
    gateway, token = web.gateway(), g.token
    households, residents = each(lambda call: call(), [
        lambda: gateway.call(token, "residents", "ListHouseholds", "ListHouseholdsRequest", node_id=flat_id,
                             page_size=FLAT_PEOPLE)["households"],
        lambda: gateway.call(token, "residents", "ListResidents", "ListResidentsRequest", node_id=flat_id,
                             page_size=FLAT_PEOPLE)["residents"]])
    known = web.names()
    return render_template(
        "flat.html",
        flat=flat,
        address=known.address(flat["building_id"], flat_id),
        crumbs=known.path(flat["path"][:-1]),
        occupancy=presenting.OCCUPANCY_NAMES.get(flat.get("occupancy"), ""),
        households=presenting.households_of_flat(households, residents, datetime.now(ZoneInfo(web.zone())).date()),
    )


@blueprint.get("/nodes/<node_id>/residents")
@web.signed_in
def work_list(node_id):
    tag = request.args.get("tag", "")
    answer = residents_page(node_id, tag, request.args.get("page", ""), WORK_LIST_PAGE)
    return render_template(
        "work_list.html",
        node=web.call("grids", "GetNode", "GetNodeRequest", id=node_id),
        tag=tag,
        tag_name=presenting.TAG_NAMES.get(tag, tag),
        rows=answer["rows"],
        next_page=answer["next_page_token"],
        tag_names=presenting.TAG_NAMES,
    )


@blueprint.get("/nodes/<node_id>/residents.csv")
@web.signed_in
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
    return Response(
        stream_with_context(lines(rows)),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )


def residents_page(node_id, tag, page_token, page_size, token=None):
    answer = web.gateway().call(
        token or g.token,
        "residents",
        "ListResidents",
        "ListResidentsRequest",
        node_id=node_id,
        tags=[tag] if tag else [],
        page_size=page_size,
        page_token=page_token,
    )
    known = Names(web.gateway(), token or g.token, web.settings().tenant)
    known.learn_buildings(resident["path"][-2] for resident in answer["residents"] if len(resident["path"]) >= 2)
    today = datetime.now(ZoneInfo(web.zone())).date()
    return {
        "rows": [presenting.resident_row(resident, known, today) for resident in answer["residents"]],
        "next_page_token": answer["next_page_token"],
    }


@blueprint.get("/nodes/<node_id>/care")
@web.signed_in
def care_list(node_id):
    days = request.args.get("days", CARE_DAYS, type=int)
    answer = web.call(
        "residents",
        "ListUnvisitedHouseholds",
        "ListUnvisitedHouseholdsRequest",
        node_id=node_id,
        days=days,
        limit=CARE_LIST_LENGTH,
    )
    known = web.names()
    each(lambda household: known.flat_address(household["flat_id"]), answer["households"])
    return render_template(
        "care.html",
        node=web.call("grids", "GetNode", "GetNodeRequest", id=node_id),
        days=days,
        rows=[presenting.care_row(household, known) for household in answer["households"]],
        today=datetime.now(ZoneInfo(web.zone())).date().isoformat(),
    )


@blueprint.get("/nodes/<node_id>/visit-quotas")
@web.signed_in
def visit_quotas(node_id):
    """This month's home visits per visitor against a quota; the holders of the posts below the
    place are listed even if they visited nobody, by name."""
    quota = request.args.get("quota", VISIT_QUOTA, type=int)
    today = datetime.now(ZoneInfo(web.zone())).date()
    start, end = presenting.this_month(today)[0], today  # the service counts no day yet to come
    holders = post_holders(web.gateway(), g.token, node_id)
    names_of = {holder["subject"]: holder.get("display_name", "") for holder in holders.values()}
    report = web.call(
        "residents",
        "VisitQuotaReport",
        "VisitQuotaReportRequest",
        node_id=node_id,
        period_start=start.isoformat(),
        period_end=end.isoformat(),
        quota=quota,
        visitors=sorted(names_of),
    )
    return render_template(
        "visit_quotas.html",
        node=web.call("grids", "GetNode", "GetNodeRequest", id=node_id),
        rows=report["visitors"],
        names_of=names_of,
        quota=quota,
        start=start,
        end=end,
    )


@blueprint.post("/households/<household_id>/visits")
@web.signed_in
def log_visit(household_id):
    web.call(
        "residents",
        "LogVisit",
        "LogVisitRequest",
        request_id=request.form.get("request_id", ""),
        household_id=household_id,
        visit_date=request.form.get("visit_date", ""),
        findings=request.form.get("findings", ""),
    )
    return redirect(same_site(request.form.get("back")) or url_for("console.overview"))
