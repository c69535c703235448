"""Fixtures shared by the suite.

Integration tests run against the real RabbitMQ and MongoDB/FerretDB named by
AMQP_URI and MONGO_URI (`make test` starts them). Each test session gets its own
RabbitMQ vhost and its own database prefix, and starts the real services and
gateway with scripts/devstack.py, so runs never see each other's data or queues.
"""
import os
import signal
import socket
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import requests
from pymongo import MongoClient

from cli.api import Gateway
from gateway.auth import mint
from tests.support import volunteering
from tests.support.events import EventTap

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("residents", "grids", "tickets", "notifications", "volunteers")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def required_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run the suite with `make test`, which starts the servers")
    return value


class Broker:
    """A private vhost on the real RabbitMQ, made through its management API."""

    def __init__(self, amqp_uri):
        self.base = urlsplit(amqp_uri)
        self.api = os.environ.get("RABBITMQ_API", f"http://{self.base.hostname}:15672/api")
        self.auth = (self.base.username or "guest", self.base.password or "guest")
        self.vhost = f"civicgrid-test-{uuid.uuid4().hex[:8]}"

    def create(self):
        user = self.auth[0]
        response = requests.put(f"{self.api}/vhosts/{quote(self.vhost, safe='')}", auth=self.auth, timeout=10)
        response.raise_for_status()
        requests.put(f"{self.api}/permissions/{quote(self.vhost, safe='')}/{user}", auth=self.auth,
                     json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10).raise_for_status()
        return urlunsplit(self.base._replace(path=f"/{quote(self.vhost, safe='')}"))

    def delete(self):
        requests.delete(f"{self.api}/vhosts/{quote(self.vhost, safe='')}", auth=self.auth, timeout=10)


class Platform:
    def __init__(self, tmp, amqp_uri, mongo_uri):
        self.state_dir = tmp
        self.amqp_uri = amqp_uri
        self.mongo_uri = mongo_uri
        self.db_prefix = f"t{uuid.uuid4().hex[:8]}_"
        self.secret = uuid.uuid4().hex
        self.gateway_port = free_port()
        self.gateway_metrics_port = free_port()
        self.console_port = free_port()
        self.metrics_base_port = free_port()
        while any(not port_free(self.metrics_base_port + i) for i in range(len(SERVICES))):
            self.metrics_base_port = free_port()
        self.address = f"127.0.0.1:{self.gateway_port}"
        self.console_url = f"http://127.0.0.1:{self.console_port}"
        self.env = {**os.environ, "AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri,
                    "CIVICGRID_DB_PREFIX": self.db_prefix, "CIVICGRID_JWT_SECRET": self.secret}

    def devstack(self, *args):
        subprocess.run([sys.executable, str(ROOT / "scripts/devstack.py"), *args, "--state-dir",
                        str(self.state_dir)], env=self.env, check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)

    def start(self):
        self.devstack("up", "--gateway-port", str(self.gateway_port), "--gateway-metrics-port",
                      str(self.gateway_metrics_port), "--metrics-base-port", str(self.metrics_base_port),
                      "--console-port", str(self.console_port), "--door-port", "0", "--transcoder-port", "0",
                      "--db-prefix", self.db_prefix)

    def stop(self):
        self.devstack("down")

    def remove(self):
        """Stops the platform and drops its databases."""
        self.stop()
        client = store_client(self.mongo_uri)
        for name in client.list_database_names():
            if name.startswith(self.db_prefix):
                client.drop_database(name)

    def kill(self, process):
        """SIGKILL to `process`, by the pid supervisord runs it under; supervisord starts it again."""
        os.kill(self.pid(process), signal.SIGKILL)

    def pid(self, process):
        """The pid supervisord runs `process` under now."""
        answer = subprocess.run([sys.executable, str(ROOT / "scripts/devstack.py"), "pid", process, "--state-dir",
                                 str(self.state_dir)], env=self.env, cwd=ROOT, capture_output=True, text=True)
        return int(answer.stdout) if answer.returncode == 0 else None

    def token(self, role="city_operator", tenant="t1", scope=("*",), subject="tester", grants=(), household_id=""):
        return mint(self.secret, subject, tenant, role, scope, grants, household_id=household_id)

    def client(self, **claims):
        return Gateway(self.address, self.token(**claims))

    def database(self, service):
        return store_client(self.mongo_uri)[f"{self.db_prefix}{service}"]

    def metrics_url(self, service):
        if service == "gateway":
            return f"http://127.0.0.1:{self.gateway_metrics_port}/metrics"
        return f"http://127.0.0.1:{self.metrics_base_port + SERVICES.index(service)}/metrics"


def store_client(mongo_uri):
    """A client that gives up rather than hang, should a test leave the store stalled."""
    return MongoClient(mongo_uri, serverSelectionTimeoutMS=10000, socketTimeoutMS=30000)


def port_free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@contextmanager
def private_platform(state_dir):
    """The whole platform on its own vhost and database prefix; removed, data and all, on exit.
    The suite and the benchmarks use it."""
    broker = Broker(required_env("AMQP_URI"))
    running = Platform(Path(state_dir), broker.create(), required_env("MONGO_URI"))
    try:
        running.start()
        yield running
    finally:
        running.remove()
        broker.delete()


@pytest.fixture(scope="session")
def platform(tmp_path_factory):
    with private_platform(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture
def unique():
    """A short unique suffix for names and request ids within a shared platform."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def tap(platform):
    """Every event the grids and residents services publish."""
    events = EventTap(platform.amqp_uri, ["grids", "residents"])
    yield events
    events.close()


@pytest.fixture
def volunteers_tap(platform):
    events = EventTap(platform.amqp_uri, ["volunteers"])
    yield events
    events.close()


@pytest.fixture
def world(platform, unique):
    tenant = f"vol-{unique}"
    staff = platform.client(tenant=tenant, subject=f"staff-{unique}")
    return {"tenant": tenant, "staff": staff, "ids": volunteering.hierarchy(staff, unique), "unique": unique,
            "as_volunteer": lambda name: platform.client(tenant=tenant, role="volunteer", scope=(),
                                                         subject=f"{unique}-{name}")}
