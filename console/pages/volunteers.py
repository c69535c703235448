"""The volunteers' board of a place, hours, and a task's ranking to dispatch people from."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import redirect, render_template, request, url_for

from console import presenting, web
from console.web import blueprint

BOARD_TASKS = 200
HOURS_DAYS = 90
HOURS_SHOWN = 10
RANKED_SHOWN = 10


@blueprint.get("/nodes/<node_id>/volunteers")
@web.signed_in
def volunteers_board(node_id):
    tasks = web.call("volunteers", "ListTasks", "ListTasksRequest", node_id=node_id, page_size=BOARD_TASKS)["tasks"]
    today = datetime.now(ZoneInfo(web.zone())).date()
    since = (today - timedelta(days=HOURS_DAYS)).isoformat()

    def hours(group):
        return web.call(
            "volunteers",
            "SummarizeHours",
            "SummarizeHoursRequest",
            group_by=group,
            start_date=since,
            end_date=today.isoformat(),
            limit=HOURS_SHOWN,
        )["totals"]

    return render_template(
        "volunteers.html",
        node=web.call("grids", "GetNode", "GetNodeRequest", id=node_id),
        board=presenting.board(tasks, web.zone()),
        columns=presenting.BOARD_COLUMNS,
        teams=hours("BY_TEAM"),
        volunteers=hours("BY_VOLUNTEER"),
        days=HOURS_DAYS,
    )


@blueprint.get("/tasks/<task_id>")
@web.signed_in
def task_page(task_id):
    task = web.call("volunteers", "GetTask", "GetTaskRequest", id=task_id)
    rankings = web.call("volunteers", "RankVolunteers", "RankVolunteersRequest", task_id=task_id, limit=RANKED_SHOWN)[
        "rankings"
    ]
    dispatched = {assignment["volunteer_id"] for assignment in task.get("assignments", [])}
    return render_template(
        "task.html",
        task=task,
        card=presenting.task_card(task, web.zone()),
        rankings=rankings,
        dispatched=dispatched,
        columns=presenting.BOARD_COLUMNS,
    )


@blueprint.post("/tasks/<task_id>/dispatch")
@web.signed_in
def dispatch(task_id):
    web.call(
        "volunteers",
        "DispatchTask",
        "DispatchTaskRequest",
        id=task_id,
        volunteer_ids=request.form.getlist("volunteer_id"),
    )
    return redirect(url_for("console.task_page", task_id=task_id))
