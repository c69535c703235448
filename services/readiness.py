"""The HTTP port of a service (METRICS_PORT): /ready for Kubernetes, the Prometheus metrics on
every other path, as prometheus_client's own server answers them.

/ready answers 200 only while this very process consumes its RPC queue and its store answers a
ping, 503 otherwise. Callers reach a service through RabbitMQ, never through its Kubernetes
Service, so what readiness holds is a rolling update (maxUnavailable: 0) and the
PodDisruptionBudget: an old pod goes only once its replacement takes calls. /metrics, the probe
before, only proved that the metrics thread ran.

An endpoint in the process rather than an exec probe, because what proves consumption (the open
channel and the consumer tag of the process's own RPC consumer) exists only in the process: a
probe process could at best ask the broker whether *some* consumer is on the queue.
"""
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from nameko.extensions import DependencyProvider
from nameko.rpc import RpcConsumer
from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from services.storage import MongoStore

READY_PATH = "/ready"


def consumes(rpc_consumer):
    """Whether the broker delivers this process's RPC queue to it: its consumer on the shared
    connection (nameko 2.14's QueueConsumer keeps one per provider, made anew on each reconnect)
    has a consumer tag for the queue on a channel whose connection is up. After the broker goes,
    the old consumer stays until the reconnect replaces it, but its channel is closed."""
    consumer = rpc_consumer.queue_consumer._consumers.get(rpc_consumer)
    if consumer is None or not consumer.consuming_from(rpc_consumer.queue):
        return False
    channel = consumer.channel
    return bool(channel.is_open and channel.connection and channel.connection.connected)


def readiness(container):
    """Each check by name, True when it passes; ready when all pass."""
    rpc_consumers = [ext for ext in container.subextensions if isinstance(ext, RpcConsumer)]
    repositories = [dep.repository for dep in container.dependencies if isinstance(dep, MongoStore)]
    return {"consumes its RPC queue": bool(rpc_consumers) and all(map(consumes, rpc_consumers)),
            "store answers": bool(repositories) and all(repository is not None and repository.answers()
                                                         for repository in repositories)}


def metrics_and_readiness(checks):
    """The WSGI app of the port: `checks()` decides /ready, the rest is prometheus_client's."""
    metrics = make_wsgi_app()

    def app(environ, start_response):
        if environ["PATH_INFO"] != READY_PATH:
            return metrics(environ, start_response)
        results = checks()
        status = "200 OK" if all(results.values()) else "503 Service Unavailable"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return ["".join(f"{name}: {'yes' if passed else 'no'}\n" for name, passed in results.items()).encode()]

    return app


class QuietRequests(WSGIRequestHandler):
    """Probes and scrapes every few seconds would drown the service's own log lines."""

    def log_message(self, format, *args):
        pass


def serve(port, app):
    """Serves `app` on `port` from a daemon thread, as prometheus_client's start_http_server
    does, which takes no app of its own."""
    server = make_server("0.0.0.0", port, app, ThreadingWSGIServer, handler_class=QuietRequests)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class MetricsPort(DependencyProvider):
    """Serves /ready and the metrics on METRICS_PORT (none when it is 0, as in tests)."""

    def setup(self):
        port = int(self.container.config.get("METRICS_PORT") or 0)
        if port:
            serve(port, metrics_and_readiness(lambda: readiness(self.container)))
