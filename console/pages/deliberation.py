"""A place's deliberation meetings (四议两公开), the latest first, with their agendas and
decisions, and the projects they adopted with the progress of each milestone; staff convene a
meeting there, run it step by step on its own page (agenda from the suggested one, decisions,
minutes), start a project from each adopted item and carry it to completion on the project's page.
The console offers what the tickets service allows at each step; the gateway still decides, and a
refusal (a stale page, a rejection without a reason) is shown as every console form shows one."""

import uuid
from datetime import datetime, timedelta, timezone

from flask import g, redirect, render_template, request, url_for

from console import presenting, web
from console.tree import each
from console.web import blueprint

# A year of monthly meetings and then some.
MEETINGS_SHOWN = 50
PROJECTS_SHOWN = 50


@blueprint.get("/nodes/<node_id>/meetings")
@web.signed_in
def meetings(node_id):
    node = web.call("grids", "GetNode", "GetNodeRequest", id=node_id)
    held = web.call("tickets", "ListMeetings", "ListMeetingsRequest", node_id=node_id,
                    page_size=MEETINGS_SHOWN).get("meetings", [])
    projects = web.call("tickets", "ListProjects", "ListProjectsRequest", node_id=node_id,
                        page_size=PROJECTS_SHOWN).get("projects", [])
    staff = g.role in presenting.STAFF_ROLES
    known = web.names()
    return render_template(
        "meetings.html",
        node=node,
        meetings=[presenting.meeting_row(meeting, web.zone()) for meeting in
                  sorted(held, key=lambda meeting: meeting.get("held_at", ""), reverse=True)],
        projects=[presenting.project_row(project) for project in projects],
        staff=staff,
        people=people_invited(known, node) if staff else {},
        organisations=known.organisations_along(node.get("path") or [node_id]) if staff else {},
        stations=known.stations_along(node.get("path") or [node_id]) if staff else {},
        request_id=uuid.uuid4().hex,
        held_at=presenting.local_input(datetime.now(timezone.utc) + timedelta(days=1), web.zone()),
    )


def people_invited(known, node):
    """{subject: name} of the post holders at the node, above and below it: who a meeting may invite."""
    return {subject: name for subject, name in known.people_along(node.get("path") or [node["id"]]).items()
            if subject != g.subject}


def attendees_of(form, known, node):
    """The attendees a convening form ticks: post holders as STAFF, organisations as themselves,
    each with the name the page showed."""
    people = people_invited(known, node)
    organisations = known.organisations_along(node.get("path") or [node["id"]])
    return ([{"kind": "STAFF", "person_id": subject, "name": people[subject]}
             for subject in form.getlist("person") if subject in people]
            + [{"kind": "ORGANISATION", "organisation_id": organisation_id, "name": organisations[organisation_id]}
               for organisation_id in form.getlist("organisation") if organisation_id in organisations])


@blueprint.post("/nodes/<node_id>/meetings")
@web.signed_in
def convene(node_id):
    form = request.form
    node = web.call("grids", "GetNode", "GetNodeRequest", id=node_id)
    meeting = web.call(
        "tickets",
        "CreateMeeting",
        "CreateMeetingRequest",
        request_id=form.get("request_id", ""),
        node_id=node_id,
        title=form.get("title", "").strip(),
        held_at=presenting.moment_of_local(form.get("held_at", ""), web.zone()),
        place_station_id=form.get("place_station_id", ""),
        attendees=attendees_of(form, web.names(), node),
    )
    return redirect(url_for("console.meeting_page", meeting_id=meeting["id"]))


@blueprint.get("/meetings/<meeting_id>")
@web.signed_in
def meeting_page(meeting_id):
    meeting = web.call("tickets", "GetMeeting", "GetMeetingRequest", id=meeting_id)
    actions = presenting.meeting_actions(meeting, g.role, g.subject)
    gateway, token = web.gateway(), g.token  # the calls run on other threads, outside the request
    suggested, projects = each(lambda ask: ask(), [
        lambda: gateway.call(token, "tickets", "SuggestAgenda", "SuggestAgendaRequest",
                             node_id=meeting["node_id"]) if "add_item" in actions else {},
        lambda: gateway.call(token, "tickets", "ListProjects", "ListProjectsRequest", node_id=meeting["node_id"],
                             page_size=PROJECTS_SHOWN)["projects"]])
    known = web.names()
    people = people_of(known, meeting.get("path", []))
    on_agenda = {item["ticket_id"] for item in meeting.get("agenda", [])}
    return render_template(
        "meeting.html",
        meeting=meeting,
        row=presenting.meeting_row(meeting, web.zone()),
        place=known.node(meeting["node_id"]),
        crumbs=known.path(meeting.get("path", [])),
        convenor=presenting.person_named(meeting.get("convenor", ""), people),
        station=known.stations_along(meeting.get("path", [])).get(meeting.get("place_station_id", ""), "")
        if meeting.get("place_station_id") else "",
        steps=presenting.procedure_steps(meeting, people, web.zone()),
        following=presenting.next_step(meeting),
        state_names=presenting.MEETING_STATES,
        agenda=presenting.agenda_rows(meeting, people, web.zone(), projects),
        suggested=presenting.suggestion_rows([item for item in suggested.get("items", [])
                                              if item["ticket_id"] not in on_agenda], known, web.zone()),
        recurring=presenting.recurring_rows([problem for problem in suggested.get("recurring", [])
                                             if problem["ticket_id"] not in on_agenda], known, web.zone()),
        projects=[presenting.project_row(project) for project in projects
                  if project.get("meeting_id") == meeting["id"]],
        actions=actions,
        request_id=uuid.uuid4().hex,
    )


def people_of(known, path):
    """{subject: name} of the post holders along a path, and the signed-in person by their own name."""
    return {**known.people_along(path), g.subject: g.who.split(" · ")[0]}


@blueprint.post("/meetings/<meeting_id>/agenda")
@web.signed_in
def add_agenda_item(meeting_id):
    web.call("tickets", "AddAgendaItem", "AddAgendaItemRequest", id=meeting_id,
             ticket_id=request.form.get("ticket_id", ""))
    return back_to(meeting_id)


@blueprint.post("/meetings/<meeting_id>/advance")
@web.signed_in
def advance(meeting_id):
    form = request.form
    # The step the page showed: a meeting moved on since is refused, not moved twice.
    from_state = form.get("from_state", "")
    web.call("tickets", "AdvanceMeeting", "AdvanceMeetingRequest", id=meeting_id,
             from_state=from_state if from_state in presenting.MEETING_STATES else "STATE_UNSPECIFIED",
             note=form.get("note", "").strip())
    return back_to(meeting_id)


@blueprint.post("/meetings/<meeting_id>/decide")
@web.signed_in
def decide(meeting_id):
    form = request.form
    decision = form.get("decision", "")
    web.call("tickets", "DecideAgendaItem", "DecideAgendaItemRequest", id=meeting_id,
             ticket_id=form.get("ticket_id", ""),
             decision=decision if decision in presenting.DECISION_NAMES else "DECISION_UNSPECIFIED",
             reason=form.get("reason", "").strip())
    return back_to(meeting_id)


@blueprint.post("/meetings/<meeting_id>/minutes")
@web.signed_in
def record_minutes(meeting_id):
    web.call("tickets", "RecordMinutes", "RecordMinutesRequest", id=meeting_id,
             minutes=request.form.get("minutes", "").strip())
    return back_to(meeting_id)


@blueprint.post("/meetings/<meeting_id>/projects")
@web.signed_in
def start_project(meeting_id):
    form = request.form
    project = web.call(
        "tickets",
        "CreateProject",
        "CreateProjectRequest",
        request_id=form.get("request_id", ""),
        meeting_id=meeting_id,
        ticket_id=form.get("ticket_id", ""),
        title=form.get("title", "").strip(),
        budget_line=form.get("budget_line", "").strip(),
        milestone_titles=presenting.milestones_of(form.get("milestones", "")),
    )
    return redirect(url_for("console.project_page", project_id=project["id"]))


def back_to(meeting_id):
    return redirect(url_for("console.meeting_page", meeting_id=meeting_id))


@blueprint.get("/projects/<project_id>")
@web.signed_in
def project_page(project_id):
    project = web.call("tickets", "GetProject", "GetProjectRequest", id=project_id)
    known = web.names()
    return render_template(
        "project.html",
        project=project,
        view=presenting.project_view(project, people_of(known, project.get("path", [])), web.zone()),
        place=known.node(project.get("node_id")),
        crumbs=known.path(project.get("path", [])),
        staff=g.role in presenting.STAFF_ROLES,
        resident=g.role == "resident",
    )


@blueprint.post("/projects/<project_id>/milestones/<int:index>")
@web.signed_in
def update_milestone(project_id, index):
    form = request.form
    web.call("tickets", "UpdateMilestone", "UpdateMilestoneRequest", id=project_id, milestone_index=index,
             progress_percent=form.get("progress_percent", -1, type=int), note=form.get("note", "").strip(),
             photos=web.photos_sent())
    return redirect(url_for("console.project_page", project_id=project_id))


@blueprint.get("/projects/<project_id>/photos/<photo_id>")
@web.signed_in
def project_photo(project_id, photo_id):
    return web.photo_answer(web.call("tickets", "GetProjectPhoto", "GetProjectPhotoRequest", project_id=project_id,
                                     photo_id=photo_id))


@blueprint.post("/projects/<project_id>/feedback")
@web.signed_in
def rate_project(project_id):
    form = request.form
    web.call("tickets", "SubmitProjectFeedback", "SubmitProjectFeedbackRequest", id=project_id,
             satisfaction=form.get("satisfaction", 0, type=int), comment=form.get("comment", "").strip())
    return redirect(url_for("console.project_page", project_id=project_id))


@blueprint.post("/projects/<project_id>/complete")
@web.signed_in
def complete_project(project_id):
    web.call("tickets", "CompleteProject", "CompleteProjectRequest", id=project_id,
             outcome=request.form.get("outcome", "").strip())
    return redirect(url_for("console.project_page", project_id=project_id))
