"""gRPC methods → Nameko RPC, derived from the contracts in protos/.

Every unary method of a `civicgrid.<service>.v1` gRPC service is routed to the
Nameko service `<service>`, method `snake_case(Method)`, as
`method(caller, request_dict)`. Who may call it is the method's
`(civicgrid.api.v1.access)` option: no option, nobody.
"""
import importlib
import logging
import pkgutil
import re
import time

import grpc

from gateway import messages, metrics
from gateway.auth import authorised_caller
from gateway.backends import BackendTimeout, BackendUnavailable
from gateway.errors import Refusal, refusal_for
from services.errors import DomainError
from services.tracing import new_request_id, use_request_id

log = logging.getLogger(__name__)
access_log = logging.getLogger("civicgrid.access")
REQUEST_ID_HEADER = "x-request-id"
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
DEFAULT_DEADLINE_SECONDS = 10.0
MAX_DEADLINE_SECONDS = 30.0


def contract_modules():
    """Every generated *_pb2 module under the `civicgrid` proto package."""
    import civicgrid
    modules = []
    for info in pkgutil.walk_packages(civicgrid.__path__, "civicgrid."):
        if info.name.endswith("_pb2"):
            modules.append(importlib.import_module(info.name))
    return modules


def request_id_of(context):
    """The client's x-request-id when it is a sane token, else a fresh one."""
    for key, value in context.invocation_metadata():
        if key == REQUEST_ID_HEADER and CLIENT_REQUEST_ID.match(value):
            return value
    return new_request_id()


def snake_case(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Route:
    def __init__(self, service_descriptor, method_descriptor, message_classes):
        self.full_name = f"/{service_descriptor.full_name}/{method_descriptor.name}"
        self.backend = service_descriptor.full_name.split(".")[1]
        self.rpc_method = snake_case(method_descriptor.name)
        self.request_class = message_classes[method_descriptor.input_type.full_name]
        self.response_class = message_classes[method_descriptor.output_type.full_name]
        self.roles = frozenset(allowed_roles(method_descriptor))
        self.masks = [field.name for field in method_descriptor.input_type.fields
                      if field.message_type is not None
                      and field.message_type.full_name == "google.protobuf.FieldMask"]

    def request_dict(self, body):
        """The request in `body` as the service takes it, or INVALID_ARGUMENT naming what is wrong."""
        return messages.as_dict(messages.decoded(self.request_class, body), self.masks)

    def response(self, result):
        return messages.built(result, self.response_class)


def allowed_roles(method_descriptor):
    from civicgrid.api.v1 import access_pb2
    options = method_descriptor.GetOptions()
    if not options.HasExtension(access_pb2.access):
        return ()
    return options.Extensions[access_pb2.access].roles


def discover_routes():
    from google.protobuf import symbol_database
    database = symbol_database.Default()
    routes = []
    for module in contract_modules():
        for service in module.DESCRIPTOR.services_by_name.values():
            classes = {}
            for method in service.methods:
                if method.server_streaming or method.client_streaming:
                    continue
                for message in (method.input_type, method.output_type):
                    classes[message.full_name] = database.GetSymbol(message.full_name)
                routes.append(Route(service, method, classes))
    return routes


class Dispatcher:
    """Runs one routed call: authenticate, authorise, translate, call, translate back."""

    def __init__(self, authenticator, pool, monitor):
        self.authenticator = authenticator
        self.pool = pool
        self.monitor = monitor

    def handler(self, route):
        def handle(body, context):
            started = time.perf_counter()
            code = "OK"
            request_id = request_id_of(context)
            use_request_id(request_id)
            context.send_initial_metadata(((REQUEST_ID_HEADER, request_id),))
            try:
                return self._handle(route, body, context, request_id)
            except Refusal as refusal:
                code = refusal.code_name
                context.abort_with_status(refusal.status)
            except Exception:
                log.exception("unexpected failure in %s", route.full_name)
                code = "INTERNAL"
                context.abort_with_status(Refusal(code, "internal error; it has been logged").status)
            finally:
                seconds = time.perf_counter() - started
                metrics.observe(route.full_name, code, seconds)
                access_log.info("answered", extra={"method": route.full_name, "code": code,
                                                   "duration_ms": round(seconds * 1000, 2)})
        # The body is decoded in the handler, where a malformed one is refused as such: grpc would
        # answer a failing request_deserializer with INTERNAL.
        return grpc.unary_unary_rpc_method_handler(
            handle, response_serializer=route.response_class.SerializeToString)

    def _handle(self, route, body, context, request_id):
        caller = authorised_caller(self.authenticator, context, route.roles, route.full_name)
        request = route.request_dict(body)
        if not self.monitor.is_up(route.backend):
            raise Refusal("UNAVAILABLE", f"{route.backend} service is unavailable")
        timeout = self._timeout(context)
        try:
            result = self.pool.call(route.backend, route.rpc_method, timeout,
                                    caller.model_dump(mode="json"), request, request_id=request_id)
        except (DomainError, BackendUnavailable, BackendTimeout) as failure:
            raise refusal_for(failure) from None
        return route.response(result)

    @staticmethod
    def _timeout(context):
        remaining = context.time_remaining()
        if remaining is None:
            return DEFAULT_DEADLINE_SECONDS
        if remaining <= 0:
            raise Refusal("DEADLINE_EXCEEDED", "deadline already passed")
        return min(remaining, MAX_DEADLINE_SECONDS)


def generic_handlers(dispatcher, routes):
    by_service = {}
    for route in routes:
        service, method = route.full_name.strip("/").split("/")
        by_service.setdefault(service, {})[method] = dispatcher.handler(route)
    return [grpc.method_handlers_generic_handler(service, methods) for service, methods in by_service.items()]
