"""The console's Prometheus metrics, on its own port's /metrics: how long each page took and how
often the gateway refused or was unreachable, per page."""
import time

from flask import g, request
from prometheus_client import Counter, Histogram, make_wsgi_app
from werkzeug.middleware.dispatcher import DispatcherMiddleware

PAGE_SECONDS = Histogram(
    "civicgrid_console_page_seconds", "Time to answer a console page, gateway calls included",
    ["page", "status"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
GATEWAY_REFUSALS = Counter(
    "civicgrid_console_gateway_refusals_total", "Gateway calls a page made that did not succeed, by HTTP status shown",
    ["page", "status"])


def instrument(app):
    """Times every page and serves /metrics beside them."""
    @app.before_request
    def started():
        g.started = time.perf_counter()

    @app.after_request
    def finished(response):
        if request.endpoint != "static":
            PAGE_SECONDS.labels(request.endpoint or "unknown", str(response.status_code)).observe(
                time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": make_wsgi_app()})


def refused(status):
    GATEWAY_REFUSALS.labels(request.endpoint or "unknown", str(status)).inc()
