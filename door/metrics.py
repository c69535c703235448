"""The door's Prometheus metrics, on its own port's /metrics: requests by endpoint and HTTP
status, and how long each took (gateway calls included)."""
from prometheus_client import Counter, Histogram

from frontends.timing import time_requests

REQUESTS = Counter("civicgrid_door_requests_total", "Open311 requests answered, by endpoint and HTTP status",
                   ["endpoint", "status"])
REQUEST_SECONDS = Histogram(
    "civicgrid_door_request_seconds", "Time to answer an Open311 request, gateway calls included",
    ["endpoint", "status"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))


def instrument(app):
    """Counts and times every request and serves /metrics beside them."""
    time_requests(app, REQUEST_SECONDS, counted=REQUESTS)
