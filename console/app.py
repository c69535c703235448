"""The console's Flask application: sign-in, then pages (console/pages/) that each ask the
gateway, as the signed-in person, for what they show."""

from flask import Flask, redirect, render_template, request, session, url_for
from flask_babel import Babel, gettext as _
from werkzeug.middleware.proxy_fix import ProxyFix

from console import metrics, oidc, web
from console.gateway_client import Refused, gateway_client
from console.pages import account, deliberation, notices, places, polls, residents, tickets, volunteers  # noqa: F401  (they register their routes)

LOCALES = ("zh_CN", "en")


def create_app(settings):
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.session_secret,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        BABEL_DEFAULT_LOCALE="zh_CN",
        # A report's photos (the tickets service takes 3 MB in all) and its form.
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
    )
    Babel(app, locale_selector=chosen_locale)
    # Behind the ingress: the scheme and host people used, for the sign-in's return address.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.extensions["console"] = web.Context(
        settings, gateway_client(settings), oidc.provider_of(app, settings)
    )
    app.register_error_handler(Refused, refused)
    app.register_error_handler(413, too_large)
    app.register_blueprint(web.blueprint)
    metrics.instrument(app)
    return app


def refused(error):
    """What a page shows when the gateway refused it; an expired or revoked token signs in again."""
    metrics.refused(error.status)
    if error.status == 401:
        session.clear()
        return redirect(url_for("console.signin_page"))
    return render_template("refused.html", error=error), error.status


def too_large(error):
    return refused(Refused(413, _("Photos may be at most 3 MB in all.")))


def chosen_locale():
    """zh-CN unless the person picked English (?lang=en, remembered in the session)."""
    if request.args.get("lang") in LOCALES:
        session["lang"] = request.args["lang"]
    return session.get("lang", "zh_CN")
