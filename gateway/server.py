"""Starts the gateway: routed services, health checking, reflection and /metrics."""
import logging
import signal
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from gateway.auth import Authenticator
from gateway.backends import BackendMonitor, RpcPool
from gateway.descriptors import MethodResolvingPool
from gateway.routes import Dispatcher, discover_routes, generic_handlers
from gateway.settings import GatewaySettings
from gateway.streaming import EventWatch
from services.tracing import RequestIdFilter, json_formatter

log = logging.getLogger("gateway")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def health_reporter(health_servicer, routes):
    """Health entries: one per backing service (by its name and by each gRPC service it backs),
    and "" for the whole gateway, which is SERVING only when every backing service is."""
    grpc_services_of = {}
    for route in routes:
        grpc_services_of.setdefault(route.backend, set()).add(route.full_name.split("/")[1])

    def report(up):
        for backend, is_up in up.items():
            status = SERVING if is_up else NOT_SERVING
            for name in {backend, *grpc_services_of.get(backend, ())}:
                health_servicer.set(name, status)
        health_servicer.set("", SERVING if all(up.values()) else NOT_SERVING)
    return report


def build_server(config):
    routes = discover_routes()
    health_servicer = health.HealthServicer()
    pool = RpcPool(config.amqp_uri, size=config.workers)
    monitor = BackendMonitor(config.amqp_uri, pool, health_reporter(health_servicer, routes))
    authenticator = Authenticator(secret=config.jwt_secret, public_key=config.jwt_public_key(),
                                  jwks_url=config.jwt_jwks_url, issuer=config.jwt_issuer, audience=config.jwt_audience)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.workers),
                         handlers=[*generic_handlers(Dispatcher(authenticator, pool, monitor), routes),
                                   EventWatch(authenticator, pool, monitor).handler()])
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    service_names = sorted({route.full_name.split("/")[1] for route in routes})
    reflection.enable_server_reflection(
        [*service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server, pool=MethodResolvingPool())
    server.add_insecure_port(f"[::]:{config.port}")
    monitor.check()
    monitor.start()
    return server, monitor, pool


def main():
    handler = logging.StreamHandler()
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    config = GatewaySettings()
    logging.basicConfig(level=config.log_level, handlers=[handler])
    server, monitor, pool = build_server(config)
    if config.metrics_port:
        start_http_server(config.metrics_port)
    server.start()
    log.info("gateway listening on :%s, metrics on :%s", config.port, config.metrics_port)

    def shutdown(*_):
        monitor.stop()
        server.stop(grace=5).wait()
        pool.close()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    server.wait_for_termination()
