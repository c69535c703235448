"""A place's deliberation meetings (四议两公开), the latest first, with their agendas and
decisions, and the projects they adopted with the progress of each milestone."""

from flask import render_template

from console import presenting, web
from console.web import blueprint

# A year of monthly meetings and then some.
MEETINGS_SHOWN = 50
PROJECTS_SHOWN = 50


@blueprint.get("/nodes/<node_id>/meetings")
@web.signed_in
def meetings(node_id):
    held = web.call("tickets", "ListMeetings", "ListMeetingsRequest", node_id=node_id,
                    page_size=MEETINGS_SHOWN).get("meetings", [])
    projects = web.call("tickets", "ListProjects", "ListProjectsRequest", node_id=node_id,
                        page_size=PROJECTS_SHOWN).get("projects", [])
    return render_template(
        "meetings.html",
        node=web.call("grids", "GetNode", "GetNodeRequest", id=node_id),
        meetings=[presenting.meeting_row(meeting, web.zone()) for meeting in
                  sorted(held, key=lambda meeting: meeting.get("held_at", ""), reverse=True)],
        projects=[presenting.project_row(project) for project in projects],
    )
