"""Server-streaming methods, which the generic router (gateway/routes.py) leaves out.

WatchEvents: a partner's events from a position of the notifications event log, then new ones
as they arrive. The gateway pages through the notifications service's `list_partner_events`
RPC, which applies the partner's subscriptions, tenant, scope and redaction; a partner that
reconnects passes the last position it saw and misses nothing the log still keeps.
"""
import logging
import time

import grpc
from google.protobuf import json_format

from gateway.auth import Unauthenticated
from gateway.backends import BackendTimeout, BackendUnavailable
from gateway.errors import STATUS_BY_CODE, rich_status
from gateway.routes import allowed_roles
from services.errors import DomainError

log = logging.getLogger(__name__)
SERVICE = "civicgrid.notifications.v1.Notifications"
PAGE_SIZE = 100
POLL_SECONDS = 1.0
CALL_TIMEOUT_SECONDS = 10.0


class EventWatch:
    def __init__(self, authenticator, pool, monitor, poll_seconds=POLL_SECONDS):
        from civicgrid.notifications.v1 import notifications_pb2
        self.messages = notifications_pb2
        method = notifications_pb2.DESCRIPTOR.services_by_name["Notifications"].methods_by_name["WatchEvents"]
        self.roles = frozenset(allowed_roles(method))
        self.authenticator = authenticator
        self.pool = pool
        self.monitor = monitor
        self.poll_seconds = poll_seconds

    def handler(self):
        handler = grpc.unary_stream_rpc_method_handler(
            self.watch, request_deserializer=self.messages.WatchEventsRequest.FromString,
            response_serializer=self.messages.PartnerEvent.SerializeToString)
        return grpc.method_handlers_generic_handler(SERVICE, {"WatchEvents": handler})

    def watch(self, request, context):
        caller = self._authorised(context)
        position = request.from_position
        while context.is_active():
            page = self._page(context, caller, position)
            for event in page.get("events", []):
                yield json_format.ParseDict(event, self.messages.PartnerEvent(), ignore_unknown_fields=True)
            next_position = int(page.get("next_position", position))
            if next_position == position:
                time.sleep(self.poll_seconds)
            position = next_position

    def _authorised(self, context):
        try:
            caller = self.authenticator.caller(context.invocation_metadata())
        except Unauthenticated as exc:
            _abort(context, "UNAUTHENTICATED", str(exc))
        if caller.role not in self.roles:
            _abort(context, "PERMISSION_DENIED", f"role {caller.role} may not call {SERVICE}/WatchEvents")
        return caller.model_dump(mode="json")

    def _page(self, context, caller, position):
        if not self.monitor.is_up("notifications"):
            _abort(context, "UNAVAILABLE", "notifications service is unavailable")
        try:
            return self.pool.call("notifications", "list_partner_events", CALL_TIMEOUT_SECONDS, caller,
                                  {"from_position": position, "page_size": PAGE_SIZE})
        except DomainError as exc:
            _abort(context, exc.code, exc.message, exc.violations)
        except BackendUnavailable as exc:
            _abort(context, "UNAVAILABLE", str(exc))
        except BackendTimeout as exc:
            _abort(context, "DEADLINE_EXCEEDED", str(exc))


def _abort(context, code_name, message, violations=()):
    code_name = code_name if code_name in STATUS_BY_CODE else "INTERNAL"
    context.abort_with_status(rich_status(code_name, message, violations))
