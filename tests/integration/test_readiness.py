"""/ready, the readiness probe of every service (services/readiness.py), on one grids process of
the test's own, against a broker node of its own (tests/private_servers.py) that the test stops
and starts again by its recorded pid, and the shared store."""
import os
import subprocess
import sys
import uuid

import pytest
import requests

from tests.conftest import ROOT, free_port, required_env, store_client
from tests.private_servers import PrivateBroker
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
START_SECONDS = 60
# A dead broker is seen when the consumer's read fails, at once for a closed socket; a new one is
# consumed from once the consumer's reconnect, retried every few seconds, gets through.
CHANGE_SECONDS = 60


@pytest.fixture(scope="module")
def broker():
    broker = PrivateBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def grids(broker, tmp_path_factory):
    """(process, its port) for one grids service process, stopped and its database dropped after."""
    mongo_uri, prefix, port = required_env("MONGO_URI"), f"t{uuid.uuid4().hex[:8]}_", free_port()
    env = {**os.environ, "AMQP_URI": broker.uri, "MONGO_URI": mongo_uri, "CIVICGRID_DB_PREFIX": prefix,
           "METRICS_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    log = tmp_path_factory.mktemp("readiness") / "grids.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "nameko", "run", "--config", "services/nameko.yaml", "services.grids.service"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield process, port
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        store_client(mongo_uri).drop_database(f"{prefix}grids")
        print(f"grids log: {log}")


def get(port, path):
    try:
        return requests.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    except requests.ConnectionError:
        return None


def answers(port, status):
    return lambda: (response := get(port, "/ready")) is not None and response.status_code == status


def test_ready_only_while_the_process_consumes_its_rpc_queue(broker, grids):
    process, port = grids
    assert eventually(answers(port, 200), START_SECONDS), get(port, "/ready")
    assert get(port, "/ready").text == "consumes its RPC queue: yes\nstore answers: yes\n"
    metrics = get(port, "/metrics")
    assert metrics.status_code == 200 and "# TYPE civicgrid_rpc_requests_total counter" in metrics.text

    broker.kill()
    assert eventually(answers(port, 503), CHANGE_SECONDS), get(port, "/ready")
    assert get(port, "/ready").text == "consumes its RPC queue: no\nstore answers: yes\n"
    assert get(port, "/metrics").status_code == 200, "liveness must not follow the broker"

    broker.start()
    assert eventually(answers(port, 200), CHANGE_SECONDS), get(port, "/ready")
    assert process.poll() is None, "the process lived through the outage"
