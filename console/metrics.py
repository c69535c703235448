"""The console's Prometheus metrics, on its own port's /metrics: how long each page took and how
often the gateway refused or was unreachable, per page."""
from flask import request
from prometheus_client import Counter, Histogram

from frontends.timing import time_requests

PAGE_SECONDS = Histogram(
    "civicgrid_console_page_seconds", "Time to answer a console page, gateway calls included",
    ["page", "status"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
GATEWAY_REFUSALS = Counter(
    "civicgrid_console_gateway_refusals_total", "Gateway calls a page made that did not succeed, by HTTP status shown",
    ["page", "status"])


def instrument(app):
    """Times every page (not its static files) and serves /metrics beside them."""
    time_requests(app, PAGE_SECONDS, unmeasured=("static",))


def refused(status):
    GATEWAY_REFUSALS.labels(request.endpoint or "unknown", str(status)).inc()
