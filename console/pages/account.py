"""Signing in and out (development demo people, or the city's OIDC provider), and the probes."""

from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from console import oidc, signin, web
from console.web import blueprint


@blueprint.get("/healthz")
def health():
    return {"status": "ok"}


@blueprint.get("/ready")
def ready():
    if web.gateway().serving():
        return {"status": "ready"}
    return {"status": "the gateway does not answer"}, 503


@blueprint.get("/signin")
def signin_page():
    if web.settings().dev_signin:
        return render_template("signin.html", personas=signin.personas(web.gateway(), web.settings()))
    if web.provider() is None:
        abort(404)
    return web.provider().authorize_redirect(url_for("console.signed_in_by_provider", _external=True))


@blueprint.get("/signin/callback")
def signed_in_by_provider():
    if web.provider() is None:
        abort(404)
    session.update(oidc.signed_in_person(web.provider().authorize_access_token()))
    return redirect(url_for("console.overview"))


@blueprint.post("/signin")
def sign_in():
    if not web.settings().dev_signin:
        abort(404)
    chosen = {persona.key: persona for persona in signin.personas(web.gateway(), web.settings())}.get(
        request.form.get("persona")
    )
    if chosen is None:
        abort(400, _("Pick someone to sign in as."))
    if chosen.household_id:
        signin.bind_account(web.gateway(), web.settings(), chosen)
    session.update(
        token=signin.token_for(chosen, web.settings()), role=chosen.role, who=chosen.label, place=chosen.scope[0],
        subject=chosen.subject,
    )
    return redirect(url_for("console.overview"))


@blueprint.post("/signout")
def sign_out():
    session.clear()
    return redirect(url_for("console.signin_page"))
