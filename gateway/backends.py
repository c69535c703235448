"""Reaching the Nameko services: a pool of standalone RPC clients and a view of which
services are up.

A Nameko standalone client is single-threaded, so each gRPC worker thread borrows
its own from the pool: concurrent calls never queue behind one client.
"""
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

from amqp.exceptions import ChannelError
from kombu import Connection
from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

from gateway import metrics
from services.errors import DomainError
from services.bus import BROKER_UNREACHABLE, DEAD_LETTER_QUEUE
from services.tracing import REQUEST_ID, new_request_id

log = logging.getLogger(__name__)
BACKENDS = ("residents", "grids", "tickets", "notifications", "volunteers")
PING_TIMEOUT_SECONDS = 3.0


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
        try:
            client = self._borrow()
        except BROKER_UNREACHABLE as exc:
            self.slots.release()
            raise BackendUnavailable(f"message broker unreachable: {exc}") from None
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
        except BROKER_UNREACHABLE as exc:
            # The request may have been taken before the broker went: clients retry UNAVAILABLE
            # with the same request_id, and a repeat writes nothing.
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
    """Knows, every `interval` seconds, which services are up: they consume their RPC queue and
    answer a ping, which also asks their store. Also reports the dead-letter queue's depth."""

    def __init__(self, amqp_uri, pool, on_change, interval=2.0):
        self.amqp_uri = amqp_uri
        self.pool = pool
        self.on_change = on_change
        self.interval = interval
        self.up = {name: False for name in BACKENDS}
        self.stopped = threading.Event()
        self.pings = ThreadPoolExecutor(len(BACKENDS), thread_name_prefix="backend-ping")

    def is_up(self, service):
        return self.up.get(service, False)

    def check(self):
        try:
            with Connection(self.amqp_uri, connect_timeout=2) as connection:
                consuming = [self._consumers(connection, service) > 0 for service in BACKENDS]
                metrics.DEAD_LETTERS.set(self._depth(connection, DEAD_LETTER_QUEUE.name))
            self.up = dict(zip(BACKENDS, self.pings.map(self._answers, BACKENDS, consuming)))
        except BROKER_UNREACHABLE as exc:
            log.warning("broker unreachable: %s", exc)
            self.up = {name: False for name in BACKENDS}
        self.on_change(dict(self.up))

    def _answers(self, service, consuming):
        """A service that consumes its queue but is slow to answer the ping is busy, not down:
        under load the ping waits behind the calls queued before it, and refusing every call
        for it would turn a slow moment into an outage. Calls keep their own deadlines."""
        if not consuming:
            return False
        try:
            return self.pool.call(service, "ping", PING_TIMEOUT_SECONDS)["ok"]
        except BackendTimeout:
            return True
        except (BackendUnavailable, DomainError):
            return False

    @staticmethod
    def _consumers(connection, service):
        queue_state = BackendMonitor._declared(connection, f"rpc-{service}")
        return queue_state.consumer_count if queue_state else 0

    @staticmethod
    def _depth(connection, queue_name):
        queue_state = BackendMonitor._declared(connection, queue_name)
        return queue_state.message_count if queue_state else 0

    @staticmethod
    def _declared(connection, queue_name):
        """The queue's counts, or None when no service has declared it on this broker yet."""
        channel = connection.channel()
        try:
            return channel.queue_declare(queue=queue_name, passive=True)
        except ChannelError:
            return None
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
        self.pings.shutdown(wait=False)
