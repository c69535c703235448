"""A resident's own pages, phone-sized: their household's requests, reporting a problem, polls, notices."""

import uuid

from flask import redirect, render_template, request, session, url_for

from console import presenting, web
from console.web import blueprint

QUEUE_PAGE = 50
INBOX_SHOWN = 10


@blueprint.get("/me")
@web.signed_in
def home():
    """A resident's page: their household's tickets, the polls addressed to them and their notices."""
    tickets = web.call("tickets", "ListTickets", "ListTicketsRequest", queue="MINE", page_size=QUEUE_PAGE)["tickets"]
    inbox = web.call("notifications", "ListInbox", "ListInboxRequest", page_size=INBOX_SHOWN)
    polls = web.call("notifications", "ListPolls", "ListPollsRequest")["polls"]
    known = web.names()
    return render_template(
        "home.html",
        rows=[presenting.ticket_row(ticket, known, web.zone()) for ticket in tickets],
        messages=[presenting.message_row(message, web.zone()) for message in inbox["messages"]],
        unread=presenting.unread_text(inbox["unread_count"]),
        polls=[presenting.poll_row(poll, web.zone()) for poll in polls],
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
