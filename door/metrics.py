"""The door's Prometheus metrics, on its own port's /metrics: requests by endpoint and HTTP
status, and how long each took (gateway calls included)."""
import time

from flask import g, request
from prometheus_client import Counter, Histogram, make_wsgi_app
from werkzeug.middleware.dispatcher import DispatcherMiddleware

REQUESTS = Counter("civicgrid_door_requests_total", "Open311 requests answered, by endpoint and HTTP status",
                   ["endpoint", "status"])
REQUEST_SECONDS = Histogram(
    "civicgrid_door_request_seconds", "Time to answer an Open311 request, gateway calls included",
    ["endpoint", "status"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))


def instrument(app):
    """Counts and times every request and serves /metrics beside them."""
    @app.before_request
    def started():
        g.started = time.perf_counter()

    @app.after_request
    def finished(response):
        labels = (request.endpoint or "unknown", str(response.status_code))
        REQUESTS.labels(*labels).inc()
        REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        return response

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": make_wsgi_app()})
