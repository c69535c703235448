"""A platform on a RabbitMQ node and a FerretDB process of its own, on ports of its own, for fault
tests and the chaos bench to break, and the write load they break it under. scripts/servers.sh
starts the servers as it starts the shared ones; they are stopped, killed and restarted by the pids
recorded when they started, never by name, and the shared servers are never touched."""
import os
import re
import signal
import socket
import subprocess
import threading
import time
from abc import ABC, abstractmethod
from contextlib import contextmanager
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.conftest import Platform
from tests.support.polling import eventually

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ROOT / "scripts/servers.sh"
RUN_DIR = ROOT / ".run/servers"
GONE_WITHIN_SECONDS = 60


def port_free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


# Private servers take ports below the kernel's ephemeral range (32768 up): the platform's own
# processes are given ephemeral ports, and a broker whose management port landed there collided
# with a service's metrics port the platform had picked before the broker listened on it.
EPHEMERAL_PORTS_START = 32768


def free_port(*offsets, start=20000):
    """A port free together with port + each offset (RabbitMQ also takes +10000 and +20000), all
    of them below the ephemeral range."""
    for port in range(start, EPHEMERAL_PORTS_START - max(offsets, default=0), 7):
        if all(port_free(port + offset) for offset in (0, *offsets)):
            return port
    raise RuntimeError("no free port")


def wait_gone(pid, seconds=GONE_WITHIN_SECONDS):
    if not eventually(lambda: not alive(pid), seconds):
        raise TimeoutError(f"pid {pid} still alive after {seconds}s")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class PrivateServer(ABC):
    """One server started through scripts/servers.sh with ports of its own."""

    kind = ""

    def __init__(self, port_env):
        self.env = {key: value for key, value in os.environ.items() if key not in ("MONGO_URI", "AMQP_URI")}
        self.env.update(port_env)
        self.uri = None

    def start(self):
        """Starts it (again) and waits until it answers; returns its URI."""
        started = subprocess.run(["bash", str(SERVERS), "up", self.kind], env=self.env, capture_output=True, text=True)
        if started.returncode:
            raise RuntimeError(f"servers.sh up {self.kind} failed:\n{started.stderr}")
        self.uri = re.search(r"export \w+_URI=(\S+)", started.stdout).group(1).strip("'")
        return self.uri

    def stop(self):
        subprocess.run(["bash", str(SERVERS), "down", self.kind], env=self.env, check=False,
                       capture_output=True)

    def kill(self):
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid)

    def stall(self):
        os.kill(self.pid(), signal.SIGSTOP)

    def resume(self):
        os.kill(self.pid(), signal.SIGCONT)

    @abstractmethod
    def pid(self):
        """The pid it was started under, from the file servers.sh recorded it in."""


class PrivateBroker(PrivateServer):
    kind = "rabbitmq"

    def __init__(self):
        self.port = free_port(10000, 20000, start=10000)
        super().__init__({"CIVICGRID_AMQP_PORT": str(self.port), "CIVICGRID_AMQP_MGMT_PORT": str(self.port + 10000)})

    @property
    def api(self):
        return f"http://127.0.0.1:{self.port + 10000}/api"

    def pid(self):
        marker = (RUN_DIR / f"rabbitmq-{self.port}.started").read_text()
        return int(Path(re.search(r"^PIDFILE=(.+)$", marker, re.M).group(1)).read_text().strip())

    def restart(self):
        """A clean stop (SIGTERM to the node's VM), then a start: queues and messages that are
        durable survive, connections do not."""
        pid = self.pid()
        os.kill(pid, signal.SIGTERM)
        wait_gone(pid)
        self.start()


class PrivateStore(PrivateServer):
    kind = "mongo"

    def __init__(self):
        self.port = free_port(start=24000)
        super().__init__({"CIVICGRID_MONGO_PORT": str(self.port)})

    def pid(self):
        return int((RUN_DIR / f"ferretdb-{self.port}.pid").read_text().strip())


@contextmanager
def breakable_platform(state_dir):
    """(platform, broker, store): the whole platform on a broker and a store of its own."""
    broker, store = PrivateBroker(), PrivateStore()
    try:
        running = Platform(Path(state_dir), broker.start(), store.start())
        running.env["RABBITMQ_API"] = broker.api
        running.start()
        try:
            yield running, broker, store
        finally:
            running.remove()
    finally:
        broker.stop()
        store.stop()


def serving(platform):
    with grpc.insecure_channel(platform.address) as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            return answer.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False


class CreateLoad:
    """Creates buildings below a grid from `writers` threads, each retried by its request_id until
    it is acknowledged or `patience` runs out, and keeps the code and duration of every attempt."""

    def __init__(self, client, grid_id, prefix, writers=1, deadline=5, patience=120):
        self.client, self.grid_id, self.prefix = client, grid_id, prefix
        self.deadline, self.patience = deadline, patience
        self.sent, self.attempts, self.acknowledged = [], [], []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(writer,), daemon=True) for writer in range(writers)]

    def run(self, writer):
        count = 0
        while not self.stopped.is_set():
            self.create(f"{self.prefix}-{writer}-{count}")
            count += 1

    def create(self, request_id):
        self.sent.append(request_id)
        give_up = time.monotonic() + self.patience
        while time.monotonic() < give_up:
            started = time.monotonic()
            try:
                node = self.client.call("civicgrid.grids.v1.Grids/CreateNode", {
                    "request_id": request_id, "kind": "BUILDING", "display_name": request_id,
                    "parent_id": self.grid_id}, timeout=self.deadline)
                self.attempts.append(("OK", time.monotonic() - started))
                self.acknowledged.append((request_id, node["id"]))
                return
            except grpc.RpcError as error:
                self.attempts.append((error.code().name, time.monotonic() - started))
                time.sleep(0.2)

    def hung(self):
        """Attempts that took longer than their deadline allows."""
        return sum(1 for _, seconds in self.attempts if seconds > self.deadline + 1)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_):
        self.stopped.set()
        for thread in self.threads:
            thread.join(self.patience + self.deadline)
