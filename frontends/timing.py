"""A web front's Prometheus metrics, on its own port's /metrics: how long each request took."""
import time

from flask import g, request
from prometheus_client import make_wsgi_app
from werkzeug.middleware.dispatcher import DispatcherMiddleware


def time_requests(app, seconds, counted=None, unmeasured=()):
    """Times every request but those of `unmeasured` endpoints in `seconds` (a Histogram labelled
    by endpoint and HTTP status), counts it in `counted` (a Counter labelled alike) if given, and
    serves /metrics beside them."""
    @app.before_request
    def started():
        g.started = time.perf_counter()

    @app.after_request
    def finished(response):
        if request.endpoint in unmeasured:
            return response
        labels = (request.endpoint or "unknown", str(response.status_code))
        seconds.labels(*labels).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        if counted is not None:
            counted.labels(*labels).inc()
        return response

    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/metrics": make_wsgi_app()})
