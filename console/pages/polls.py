"""Polls: staff put one to a place (and its residents with given tags) and watch the answers come
in; residents answer the polls addressed to them and read the results once a poll has closed."""

import uuid
from datetime import datetime, timedelta, timezone

from flask import redirect, render_template, request, url_for

from console import presenting, web
from console.web import blueprint

QUESTIONS_OFFERED = 3
OPEN_DAYS_OFFERED = 7


def questions_of(form):
    """The questions a poll form holds: each filled-in question block, its choices one per line."""
    questions = []
    for number in range(1, QUESTIONS_OFFERED + 1):
        text = form.get(f"question-{number}", "").strip()
        if text:
            choices = [line.strip() for line in form.get(f"choices-{number}", "").splitlines() if line.strip()]
            questions.append({"text": text, "kind": form.get(f"kind-{number}", "SINGLE_CHOICE"),
                              "choices": [{"label": label} for label in choices]})
    return questions


def answers_of(form, poll):
    """A resident's answer form as the poll takes it: the choices ticked for each question."""
    return [{"question_id": question["id"], "choice_ids": form.getlist(question["id"])}
            for question in poll["questions"]]


@blueprint.get("/nodes/<node_id>/polls")
@web.signed_in
def polls_of_node(node_id):
    polls = web.call("notifications", "ListPolls", "ListPollsRequest", node_id=node_id, page_size=100)["polls"]
    return render_template(
        "polls.html",
        node=web.call("grids", "GetNode", "GetNodeRequest", id=node_id),
        rows=[presenting.poll_row(poll, web.zone()) for poll in polls],
    )


@blueprint.get("/nodes/<node_id>/polls/new")
@web.signed_in
def new_poll(node_id):
    return render_template(
        "new_poll.html",
        node=web.call("grids", "GetNode", "GetNodeRequest", id=node_id),
        tag_names=presenting.TAG_NAMES,
        request_id=uuid.uuid4().hex,
        questions=range(1, QUESTIONS_OFFERED + 1),
        closes=presenting.local_input(datetime.now(timezone.utc) + timedelta(days=OPEN_DAYS_OFFERED), web.zone()),
    )


@blueprint.post("/nodes/<node_id>/polls")
@web.signed_in
def create_poll(node_id):
    form = request.form
    poll = web.call(
        "notifications",
        "CreatePoll",
        "CreatePollRequest",
        request_id=form.get("request_id", ""),
        audience={"node_id": node_id, "tags": form.getlist("tag")},
        title=form.get("title", ""),
        description=form.get("description", ""),
        questions=questions_of(form),
        per=form.get("per", "HOUSEHOLD"),
        closes_at=presenting.moment_of_local(form.get("closes_at", ""), web.zone()),
        public=form.get("public") == "on",
    )
    return redirect(url_for("console.poll_page", poll_id=poll["id"]))


@blueprint.get("/polls/<poll_id>")
@web.signed_in
def poll_page(poll_id):
    poll = web.call("notifications", "GetPoll", "GetPollRequest", id=poll_id)
    results = web.call("notifications", "GetPollResults", "GetPollResultsRequest", id=poll_id)
    return render_template(
        "poll.html",
        poll=poll,
        row=presenting.poll_row(poll, web.zone()),
        audience=web.names().node(poll["audience"]["node_id"]),
        results=presenting.poll_results(results),
    )


@blueprint.post("/polls/<poll_id>/close")
@web.signed_in
def close_poll(poll_id):
    web.call("notifications", "ClosePoll", "ClosePollRequest", id=poll_id)
    return redirect(url_for("console.poll_page", poll_id=poll_id))


@blueprint.get("/me/polls/<poll_id>")
@web.signed_in
def my_poll(poll_id):
    poll = web.call("notifications", "GetPoll", "GetPollRequest", id=poll_id)
    closed = poll["state"] == "CLOSED"
    results = web.call("notifications", "GetPollResults", "GetPollResultsRequest", id=poll_id) if closed else None
    return render_template(
        "my_poll.html",
        poll=poll,
        row=presenting.poll_row(poll, web.zone()),
        results=presenting.poll_results(results) if results else None,
    )


@blueprint.post("/me/polls/<poll_id>")
@web.signed_in
def answer_poll(poll_id):
    poll = web.call("notifications", "GetPoll", "GetPollRequest", id=poll_id)
    web.call("notifications", "AnswerPoll", "AnswerPollRequest", id=poll_id, answers=answers_of(request.form, poll))
    return redirect(url_for("console.my_poll", poll_id=poll_id))
