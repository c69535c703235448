"""Notices to a place (and its residents with given tags), and how many read them."""

import uuid

from flask import redirect, render_template, request, url_for

from console import presenting, web
from console.web import blueprint


@blueprint.get("/nodes/<node_id>/notices/new")
@web.signed_in
def new_notice(node_id):
    return render_template(
        "new_notice.html",
        node=web.call("grids", "GetNode", "GetNodeRequest", id=node_id),
        tag_names=presenting.TAG_NAMES,
        request_id=uuid.uuid4().hex,
    )


@blueprint.post("/nodes/<node_id>/notices")
@web.signed_in
def create_notice(node_id):
    form = request.form
    notice = web.call(
        "notifications",
        "CreateNotice",
        "CreateNoticeRequest",
        request_id=form.get("request_id", ""),
        audience={"node_id": node_id, "tags": form.getlist("tag")},
        title=form.get("title", ""),
        body=form.get("body", ""),
        urgent=form.get("urgent") == "on",
    )
    return redirect(url_for("console.notice_page", notice_id=notice["id"]))


@blueprint.get("/notices/<notice_id>")
@web.signed_in
def notice_page(notice_id):
    notice = web.call("notifications", "GetNotice", "GetNoticeRequest", id=notice_id)
    return render_template(
        "notice.html",
        notice=notice,
        created=presenting.local_time(notice["create_time"], web.zone()),
        audience=web.names().node(notice["audience"]["node_id"]),
        tags="、".join(str(presenting.TAG_NAMES.get(tag, tag)) for tag in notice["audience"]["tags"]),
    )
