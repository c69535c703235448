"""What ops teams rely on: a real Prometheus scraping every process, clean metrics,
health per backing service, and one request id through the logs."""
import json
import subprocess
import time

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import SERVICES, free_port
from tests.support.hierarchy import GRIDS, RESIDENTS, build_hierarchy
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
PROCESSES = (*SERVICES, "gateway")


@pytest.fixture(scope="module")
def prometheus(platform, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("prometheus")
    jobs = [{"job_name": f"civicgrid-{name}", "scrape_interval": "1s",
             "static_configs": [{"targets": [platform.metrics_url(name).split("/")[2]]}]} for name in PROCESSES]
    (workdir / "prometheus.yml").write_text(json.dumps({"global": {"scrape_interval": "1s"},
                                                        "scrape_configs": jobs}))
    port = free_port()
    server = subprocess.Popen(
        ["prometheus", f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(workdir / "prometheus.log", "wb"))
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        yield lambda query, enough=1: query_until(api, query, enough)
    finally:
        server.terminate()
        server.wait(10)


def query_until(api, query, enough, timeout=30):
    """Series for `query` once Prometheus has `enough` of them (scrapes take a second or two)."""
    def series():
        try:
            result = requests.get(f"{api}/query", params={"query": query}, timeout=5).json()["data"]["result"]
        except requests.RequestException:
            return []
        return result if len(result) >= enough else []
    return eventually(series, timeout, interval=0.5)


def test_prometheus_scrapes_every_process(platform, prometheus, unique):
    operator = platform.client(tenant=f"ops-{unique}")
    build_hierarchy(operator, unique)
    up = prometheus('up{job=~"civicgrid-.*"} == 1', enough=len(PROCESSES))
    assert {series["metric"]["job"] for series in up} == {f"civicgrid-{name}" for name in PROCESSES}
    for query in ('civicgrid_rpc_requests_total{service="grids",method="create_node",outcome="ok"}',
                  'civicgrid_rpc_request_duration_seconds_bucket{service="grids"}',
                  'civicgrid_grpc_requests_total{method="/civicgrid.grids.v1.Grids/CreateNode",code="OK"}',
                  'civicgrid_grpc_request_duration_seconds_count',
                  'civicgrid_events_published_total{service="grids",type="civicgrid.grids.node.created.v1"}',
                  'civicgrid_outbox_pending_events{service="grids"}',
                  'civicgrid_outbox_oldest_pending_age_seconds{service="residents"}',
                  'civicgrid_tickets_overdue',
                  'civicgrid_partner_deliveries_unacknowledged'):
        assert prometheus(query), query


@pytest.mark.parametrize("process", PROCESSES)
def test_metrics_pass_promtool_lint(platform, process):
    exposition = requests.get(platform.metrics_url(process), timeout=5).text
    assert "civicgrid_" in exposition
    lint = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert lint.stdout.strip() == "" and lint.stderr.strip() == "", lint.stdout + lint.stderr


def test_health_has_one_entry_per_backing_service(platform):
    with grpc.insecure_channel(platform.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", *SERVICES, "civicgrid.grids.v1.Grids", "civicgrid.residents.v1.Residents"):
            status = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status
            assert status == health_pb2.HealthCheckResponse.SERVING, name


def test_one_request_id_follows_a_call_through_gateway_rpc_and_events(platform, unique):
    operator = platform.client(tenant=f"trace-{unique}")
    ids = build_hierarchy(operator, unique)
    request_id = f"trace-{unique}"
    operator.call(f"{RESIDENTS}/CreateHousehold", {"flat_id": ids["FLAT"], "display_name": "Traced"},
                  metadata=(("x-request-id", request_id),))
    time.sleep(0.5)
    lines = {}
    for process in ("gateway", "residents", "grids"):
        log_lines = (platform.state_dir / f"{process}.log").read_text().splitlines()
        lines[process] = [json.loads(line) for line in log_lines if request_id in line]
    assert any(line.get("method") == f"/{RESIDENTS}/CreateHousehold" for line in lines["gateway"])
    assert any(line.get("entrypoint") == "create_household" for line in lines["residents"])
    assert any(line.get("entrypoint") == "get_flat" for line in lines["grids"]), \
        "the RPC residents made to grids carries the same request id"
    assert all(line["request_id"] == request_id for found in lines.values() for line in found)


def test_unknown_grid_method_is_unimplemented(platform):
    with grpc.insecure_channel(platform.address) as channel:
        call = channel.unary_unary(f"/{GRIDS}/NoSuchMethod")
        with pytest.raises(grpc.RpcError) as raised:
            call(b"", timeout=5)
        assert raised.value.code() == grpc.StatusCode.UNIMPLEMENTED
