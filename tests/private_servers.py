"""A RabbitMQ node and a FerretDB process of their own, on ports of their own, for fault tests and
the chaos bench to break. scripts/servers.sh starts them as it starts the shared ones; they are
stopped, killed and restarted by the pids recorded when they started, never by name, and the
shared servers are never touched."""
import os
import re
from abc import ABC, abstractmethod
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVERS = ROOT / "scripts/servers.sh"
RUN_DIR = ROOT / ".run/servers"
GONE_WITHIN_SECONDS = 60


def port_free(port):
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_port(*offsets, start=20000):
    """A port free together with port + each offset (RabbitMQ also takes +10000 and +20000)."""
    for port in range(start, start + 5000, 7):
        if all(port_free(port + offset) for offset in (0, *offsets)):
            return port
    raise RuntimeError("no free port")


def wait_gone(pid, seconds=GONE_WITHIN_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    raise TimeoutError(f"pid {pid} still alive after {seconds}s")


class PrivateServer(ABC):
    """One server started through scripts/servers.sh with ports of its own."""

    kind = ""

    def __init__(self, port_env):
        self.env = {key: value for key, value in os.environ.items() if key not in ("MONGO_URI", "AMQP_URI")}
        self.env.update(port_env)
        self.uri = None

    def start(self):
        """Starts it (again) and waits until it answers; returns its URI."""
        exports = subprocess.run(["bash", str(SERVERS), "up", self.kind], env=self.env, check=True,
                                 capture_output=True, text=True).stdout
        self.uri = re.search(r"export \w+_URI=(\S+)", exports).group(1).strip("'")
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
        self.port = free_port(10000, 20000)
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
        self.port = free_port(start=28000)
        super().__init__({"CIVICGRID_MONGO_PORT": str(self.port)})

    def pid(self):
        return int((RUN_DIR / f"ferretdb-{self.port}.pid").read_text().strip())
