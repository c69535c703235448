"""The gateway's RED metrics, per gRPC method and status code."""
from prometheus_client import Counter, Gauge, Histogram

GRPC_REQUESTS = Counter(
    "civicgrid_grpc_requests", "gRPC calls answered by the gateway, by status code.", ["method", "code"])
GRPC_DURATION = Histogram(
    "civicgrid_grpc_request_duration_seconds", "Time the gateway took to answer a gRPC call.", ["method"],
    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30))

DEAD_LETTERS = Gauge(
    "civicgrid_dead_letter_messages",
    "Events that failed every attempt and wait in the dead-letter queue for `civicgrid dead-letters replay`.")


def observe(method, code, seconds):
    GRPC_REQUESTS.labels(method, code).inc()
    GRPC_DURATION.labels(method).observe(seconds)
