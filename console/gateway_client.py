"""Calls the gateway as the signed-in person: their token on every call, answers as dicts, and a
refusal the pages can show instead of a gRPC error."""
import grpc
from google.protobuf import json_format
from grpc_health.v1 import health_pb2, health_pb2_grpc

from civicgrid.grids.v1 import grids_pb2, grids_pb2_grpc
from civicgrid.notifications.v1 import notifications_pb2, notifications_pb2_grpc
from civicgrid.residents.v1 import residents_pb2, residents_pb2_grpc
from civicgrid.tickets.v1 import tickets_pb2, tickets_pb2_grpc
from civicgrid.volunteers.v1 import volunteers_pb2, volunteers_pb2_grpc

MESSAGES = {"grids": grids_pb2, "residents": residents_pb2, "tickets": tickets_pb2,
            "notifications": notifications_pb2, "volunteers": volunteers_pb2}
STUBS = {"grids": grids_pb2_grpc.GridsStub, "residents": residents_pb2_grpc.ResidentsStub,
         "tickets": tickets_pb2_grpc.TicketsStub, "notifications": notifications_pb2_grpc.NotificationsStub,
         "volunteers": volunteers_pb2_grpc.VolunteersStub}
# What a page answers when the gateway refuses; anything else is the gateway being unreachable.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409, grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.NOT_FOUND: 404,
}


class Refused(Exception):
    """The gateway did not do what a page asked: `status` is the HTTP status to answer with."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class GatewayClient:
    def __init__(self, address, timeout):
        self.channel = grpc.insecure_channel(address)
        self.stubs = {service: stub(self.channel) for service, stub in STUBS.items()}
        self.timeout = timeout
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def serving(self, timeout=2):
        """Whether the gateway says it serves: the console is ready only while it can reach it."""
        try:
            answer = self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError:
            return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING

    def call(self, token, service, method, request_type, **fields):
        """`service`.`method`(request_type(**fields)) as the holder of `token`, as a dict with
        every field present (enums by name)."""
        request = getattr(MESSAGES[service], request_type)(**fields)
        try:
            answer = getattr(self.stubs[service], method)(
                request, metadata=(("authorization", f"Bearer {token}"),), timeout=self.timeout)
        except grpc.RpcError as error:
            raise Refused(HTTP_STATUS.get(error.code(), 503), error.details() or error.code().name) from None
        return json_format.MessageToDict(answer, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True,
                                         unquote_int64_if_possible=True)
