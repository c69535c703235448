"""Prometheus metrics for the services: RED per RPC method, events, outbox backlog.

One prefix (civicgrid_), base units (seconds), bounded labels: service, method,
event type and outcome only, never ids or names.
"""
import time

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge, Histogram

from services.errors import DomainError

RPC_REQUESTS = Counter(
    "civicgrid_rpc_requests", "RPC calls handled by a service, by outcome.",
    ["service", "method", "outcome"])
RPC_DURATION = Histogram(
    "civicgrid_rpc_request_duration_seconds", "Time a service spent handling an RPC call.",
    ["service", "method"], buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
EVENTS_PUBLISHED = Counter(
    "civicgrid_events_published", "Events published to the bus.", ["service", "type"])
EVENTS_CONSUMED = Counter(
    "civicgrid_events_consumed", "Events handled by a consumer, by outcome.", ["service", "type", "outcome"])
REDELIVERIES = Counter(
    "civicgrid_consumer_redeliveries", "Events delivered again after being handled once.", ["service", "type"])
OUTBOX_PENDING = Gauge(
    "civicgrid_outbox_pending_events", "Events written but not yet published.", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "civicgrid_outbox_oldest_pending_age_seconds", "Age of the oldest unpublished event.", ["service"])


def outcome_of(exc_info):
    if exc_info is None:
        return "ok"
    if isinstance(exc_info[1], DomainError):
        return "unavailable" if exc_info[1].code == "UNAVAILABLE" else "client_error"
    return "server_error"


class RpcMetrics(DependencyProvider):
    """Times every entrypoint of the service; `readiness.MetricsPort` serves the metrics."""

    def __init__(self):
        self.started = {}

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self.started.pop(worker_ctx, None)
        if started is None:
            return
        service, method = self.container.service_name, worker_ctx.entrypoint.method_name
        RPC_REQUESTS.labels(service, method, outcome_of(exc_info)).inc()
        RPC_DURATION.labels(service, method).observe(time.perf_counter() - started)
