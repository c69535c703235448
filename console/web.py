"""What every page shares: the one blueprint the pages register on, the signed-in person, and
calls to the gateway as that person (the app keeps the gateway client, the settings and the
identity provider in `app.extensions["console"]`)."""

import base64
from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, Response, current_app, g, redirect, request, session, url_for

from console.naming import Names

blueprint = Blueprint("console", __name__)


@dataclass(frozen=True)
class Context:
    settings: object
    gateway: object
    provider: object


def context():
    return current_app.extensions["console"]


def settings():
    return context().settings


def gateway():
    return context().gateway


def provider():
    return context().provider


def zone():
    return settings().time_zone


def signed_in(view):
    """The page for signed-in people only; the others go to the sign-in."""

    @wraps(view)
    def checked(*args, **kwargs):
        if "token" not in session:
            return redirect(url_for("console.signin_page"))
        g.token, g.role, g.who = session["token"], session["role"], session["who"]
        g.subject = session.get("subject", "")
        return view(*args, **kwargs)

    return checked


def photos_sent():
    """The photos a form's file field `photos` carries, as the tickets service takes them."""
    return [{"content_type": sent.mimetype, "data": sent.read()} for sent in request.files.getlist("photos")
            if sent.filename]


def photo_answer(shown):
    """A photo as the gateway gives it (TicketPhoto), as the browser takes it."""
    answer = Response(base64.b64decode(shown["data"]), mimetype=shown["content_type"])
    answer.headers["Cache-Control"] = "private, max-age=3600"  # a photo never changes
    return answer


def call(service, method, request_type, **fields):
    """`service`.`method` at the gateway, as the signed-in person."""
    return gateway().call(g.token, service, method, request_type, **fields)


def names():
    return Names(gateway(), g.token, settings().tenant)
