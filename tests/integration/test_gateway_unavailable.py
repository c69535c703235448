"""A backing service that is down gives UNAVAILABLE at once, never a hang."""
import os
import subprocess
import sys
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cli.api import Gateway
from gateway.auth import mint
from tests.conftest import ROOT, Broker, free_port, port_free
from tests.support.errors import rpc_error
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lonely_gateway(platform, tmp_path_factory):
    """A gateway on a broker vhost where no service runs."""
    broker = Broker(platform.amqp_uri)
    amqp_uri = broker.create()
    port = free_port()
    log = open(tmp_path_factory.mktemp("lonely") / "gateway.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "gateway"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "AMQP_URI": amqp_uri, "GATEWAY_PORT": str(port),
                                    "GATEWAY_METRICS_PORT": "0", "CIVICGRID_JWT_SECRET": platform.secret})
    try:
        assert eventually(lambda: not port_free(port), timeout=30)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        broker.delete()


def test_down_service_is_unavailable_quickly_and_health_says_so(platform, lonely_gateway):
    client = Gateway(lonely_gateway, mint(platform.secret, "t", "t1", "city_operator", ["*"]))
    started = time.monotonic()
    error = rpc_error(lambda: client.call("civicgrid.grids.v1.Grids/ListNodes", {}, timeout=20))
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert time.monotonic() - started < 2
    with grpc.insecure_channel(lonely_gateway) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", "grids"):
            assert health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status == \
                health_pb2.HealthCheckResponse.NOT_SERVING
