"""Server-streaming methods, which the generic router (gateway/routes.py) leaves out.

WatchEvents: a partner's events from a position of the notifications event log, then new ones
as they arrive. The gateway pages through the notifications service's `list_partner_events`
RPC, which applies the partner's subscriptions, tenant, scope and redaction; a partner that
reconnects passes the last position it saw and misses nothing the log still keeps.
"""
import time

import grpc
from google.protobuf import json_format

from gateway.auth import authorised_caller
from gateway.backends import BackendTimeout, BackendUnavailable
from gateway.errors import Refusal, refusal_for
from gateway.messages import decoded
from gateway.routes import allowed_roles
from services.errors import DomainError

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
        # Decoded in `watch`, as routed calls are, so that a malformed body is INVALID_ARGUMENT.
        handler = grpc.unary_stream_rpc_method_handler(
            self.watch, response_serializer=self.messages.PartnerEvent.SerializeToString)
        return grpc.method_handlers_generic_handler(SERVICE, {"WatchEvents": handler})

    def watch(self, body, context):
        caller = self._authorised(context)
        position = self._request(body, context).from_position
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
            return authorised_caller(self.authenticator, context, self.roles, f"{SERVICE}/WatchEvents").model_dump(
                mode="json")
        except Refusal as refusal:
            context.abort_with_status(refusal.status)

    def _request(self, body, context):
        try:
            return decoded(self.messages.WatchEventsRequest, body)
        except Refusal as refusal:
            context.abort_with_status(refusal.status)

    def _page(self, context, caller, position):
        if not self.monitor.is_up("notifications"):
            context.abort_with_status(Refusal("UNAVAILABLE", "notifications service is unavailable").status)
        try:
            return self.pool.call("notifications", "list_partner_events", CALL_TIMEOUT_SECONDS, caller,
                                  {"from_position": position, "page_size": PAGE_SIZE})
        except (DomainError, BackendUnavailable, BackendTimeout) as failure:
            context.abort_with_status(refusal_for(failure).status)
