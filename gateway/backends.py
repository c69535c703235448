"""Reaching the Nameko services: a pool of standalone RPC clients and a view of which
services are up.

A Nameko standalone client is single-threaded, so each gRPC worker thread borrows
its own from the pool: concurrent calls never queue behind one client.
"""
import logging
import queue
import threading

from amqp.exceptions import ChannelError
from kombu import Connection
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from services.tracing import REQUEST_ID, new_request_id

log = logging.getLogger(__name__)
BACKENDS = ("residents", "grids", "tickets", "notifications", "volunteers")


class BackendUnavailable(Exception):
    pass


class BackendTimeout(Exception):
    pass


class RpcPool:
    def __init__(self, amqp_uri, size):
        self.config = {"AMQP_URI": amqp_uri, "serializer": "json"}
        self.idle = queue.LifoQueue()
        self.slots = threading.BoundedSemaphore(size)

    def call(self, service, method, timeout, *args, request_id=None):
        if not self.slots.acquire(timeout=timeout):
            raise BackendTimeout("no RPC client free before the deadline")
        client = self._borrow()
        healthy = True
        try:
            # The standalone client applies its timeout per socket read; set per call so
            # that the caller's gRPC deadline is the RPC's deadline.
            client._reply_listener.queue_consumer.timeout = timeout
            # Context data travels as AMQP headers to the service and on to its RPCs and events.
            client.proxy._worker_ctx.data[REQUEST_ID] = request_id or new_request_id()
            return getattr(getattr(client.cluster, service), method)(*args)
        except UnknownService:
            raise BackendUnavailable(f"{service} is not running") from None
        except RpcTimeout:
            raise BackendTimeout(f"{service} did not answer in {timeout:.1f}s") from None
        except (OSError, ConnectionError) as exc:
            healthy = False
            raise BackendUnavailable(f"message broker unreachable: {exc}") from None
        finally:
            self._give_back(client, healthy)
            self.slots.release()

    def _borrow(self):
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            return PooledClient(self.config)

    def _give_back(self, client, healthy):
        if healthy:
            self.idle.put(client)
        else:
            client.close()

    def close(self):
        while not self.idle.empty():
            self.idle.get_nowait().close()


class PooledClient:
    def __init__(self, config):
        self.proxy = ClusterRpcProxy(config)
        self.cluster = self.proxy.start()
        self._reply_listener = self.proxy._reply_listener

    def close(self):
        try:
            self.proxy.stop()
        except Exception:  # closing a broken connection may fail again; nothing to recover
            log.debug("closing a broken RPC client failed", exc_info=True)


class BackendMonitor:
    """Knows, every `interval` seconds, which services have consumers on their RPC queue."""

    def __init__(self, amqp_uri, on_change, interval=2.0):
        self.amqp_uri = amqp_uri
        self.on_change = on_change
        self.interval = interval
        self.up = {name: False for name in BACKENDS}
        self.stopped = threading.Event()

    def is_up(self, service):
        return self.up.get(service, False)

    def check(self):
        try:
            with Connection(self.amqp_uri, connect_timeout=2) as connection:
                for service in BACKENDS:
                    self.up[service] = self._consumers(connection, service) > 0
        except (OSError, ConnectionError) as exc:
            log.warning("broker unreachable: %s", exc)
            self.up = {name: False for name in BACKENDS}
        self.on_change(dict(self.up))

    @staticmethod
    def _consumers(connection, service):
        channel = connection.channel()
        try:
            return channel.queue_declare(queue=f"rpc-{service}", passive=True).consumer_count
        except ChannelError:  # no such queue: the service never started on this broker
            return 0
        finally:
            if channel.is_open:
                channel.close()

    def run(self):
        while not self.stopped.is_set():
            self.check()
            self.stopped.wait(self.interval)

    def start(self):
        threading.Thread(target=self.run, name="backend-monitor", daemon=True).start()

    def stop(self):
        self.stopped.set()
