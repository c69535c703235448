"""A resident's own pages, phone-sized: their household's requests, reporting a problem, polls, notices."""

import uuid

from flask import g, redirect, render_template, request, session, url_for

from console import presenting, web
from console.tree import each
from console.web import blueprint

QUEUE_PAGE = 50
INBOX_SHOWN = 10
# The latest published meetings of the resident's grid and community, and their projects.
DELIBERATION_SHOWN = 5


@blueprint.get("/me")
@web.signed_in
def home():
    """A resident's page: their household's tickets, the polls addressed to them, what their grid's
    and community's meetings published (两公开) and their notices."""
    gateway, token = web.gateway(), g.token  # the calls run on other threads, outside the request

    def asked(service, method, request_type, **fields):
        return lambda: gateway.call(token, service, method, request_type, **fields)
    tickets, inbox, polls, meetings, projects = each(lambda ask: ask(), [
        asked("tickets", "ListTickets", "ListTicketsRequest", queue="MINE", page_size=QUEUE_PAGE),
        asked("notifications", "ListInbox", "ListInboxRequest", page_size=INBOX_SHOWN),
        asked("notifications", "ListPolls", "ListPollsRequest"),
        asked("tickets", "ListMeetings", "ListMeetingsRequest", page_size=100),
        asked("tickets", "ListProjects", "ListProjectsRequest", page_size=100)])
    tickets, polls = tickets["tickets"], polls["polls"]
    meetings, projects = meetings.get("meetings", []), projects.get("projects", [])
    known = web.names()
    return render_template(
        "home.html",
        rows=[presenting.ticket_row(ticket, known, web.zone()) for ticket in tickets],
        messages=[presenting.message_row(message, web.zone()) for message in inbox["messages"]],
        unread=presenting.unread_text(inbox["unread_count"]),
        polls=[presenting.poll_row(poll, web.zone()) for poll in polls],
        meetings=[presenting.meeting_row(meeting, web.zone()) for meeting in sorted(
            meetings, key=lambda meeting: meeting.get("held_at", ""), reverse=True)[:DELIBERATION_SHOWN]],
        projects=[presenting.project_row(project) for project in sorted(
            projects, key=lambda project: project.get("state") != "ACTIVE")[:DELIBERATION_SHOWN]],
    )


@blueprint.get("/me/report")
@web.signed_in
def report_page():
    categories = web.call("tickets", "ListCategories", "ListCategoriesRequest", page_size=500)["categories"]
    return render_template("report.html", categories=categories, request_id=uuid.uuid4().hex)


@blueprint.post("/me/report")
@web.signed_in
def report():
    ticket = web.call(
        "tickets",
        "CreateTicket",
        "CreateTicketRequest",
        request_id=request.form.get("request_id", ""),
        kind="REQUEST",
        channel="SELF_SERVICE",
        category_id=request.form.get("category_id", ""),
        node_id=session.get("place", ""),
        description=request.form.get("description", ""),
        photos=web.photos_sent(),
    )
    return redirect(url_for("console.ticket_page", ticket_id=ticket["id"]))


@blueprint.post("/me/messages/<message_id>/read")
@web.signed_in
def read_message(message_id):
    web.call("notifications", "MarkRead", "MarkReadRequest", message_ids=[message_id])
    return redirect(url_for("console.home"))
