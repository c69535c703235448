"""One request id per call, from the gateway through RPC and events, in every log line.

Nameko carries a worker's context data to the RPCs and events it sends as AMQP
headers (`nameko.request_id`); `RequestTracing` picks the id up on the way in,
makes it the current one for the worker's log lines, and logs one line per
entrypoint, so `grep <request id> *.log` shows a call's whole path.
"""
import logging
import threading
import time
import uuid

from nameko.extensions import DependencyProvider
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID = "request_id"
log = logging.getLogger("civicgrid.access")
# Under Nameko this is green-thread local (eventlet patches threading); in the gateway, per thread.
current = threading.local()


def current_request_id():
    return getattr(current, "request_id", None)


def use_request_id(request_id):
    current.request_id = request_id


def new_request_id():
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Stamps every record with the request id of the call being handled, if any."""

    def filter(self, record):
        record.request_id = current_request_id()
        return True


def json_formatter():
    return JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                         rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})


class RequestTracing(DependencyProvider):
    def __init__(self):
        self.started = {}

    def worker_setup(self, worker_ctx):
        request_id = worker_ctx.data.get(REQUEST_ID) or new_request_id()
        worker_ctx.data[REQUEST_ID] = request_id
        use_request_id(request_id)
        self.started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self.started.pop(worker_ctx, time.perf_counter())
        use_request_id(worker_ctx.data.get(REQUEST_ID))
        entrypoint = worker_ctx.entrypoint
        if type(entrypoint).__name__ == "Timer":
            return
        log.info("handled", extra={
            "service": self.container.service_name, "entrypoint": entrypoint.method_name,
            "kind": type(entrypoint).__name__.lower(),
            "outcome": "ok" if exc_info is None else type(exc_info[1]).__name__,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2)})
