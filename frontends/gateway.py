"""The gateway as a web front calls it: the caller's token on every call, answers as dicts with
every field present (enums by name), and a refusal as the HTTP status the front answers with."""
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


class Refused(Exception):
    """The gateway did not do what was asked: `status` is the HTTP status to answer with."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def from_fields(message_class, fields):
    """A request from keyword fields, as Python values (messages, enums, Timestamps)."""
    return message_class(**fields)


def from_json(message_class, fields):
    """A request from fields as JSON values (nested objects, enums by name, RFC 3339 times)."""
    return json_format.ParseDict(fields, message_class())


class GatewayClient:
    def __init__(self, address, timeout, refusal_of, build=from_fields):
        """`refusal_of(grpc error)` is the front's Refused for it; `build(message class, fields)`
        makes a request."""
        self.channel = grpc.insecure_channel(address)
        self.stubs = {service: stub(self.channel) for service, stub in STUBS.items()}
        self.timeout = timeout
        self.health = health_pb2_grpc.HealthStub(self.channel)
        self.refusal_of = refusal_of
        self.build = build

    def serving(self, timeout=2):
        """Whether the gateway says it serves: a front is ready only while it can reach it."""
        try:
            answer = self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError:
            return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING

    def call(self, token, service, method, request_type, **fields):
        """`service`.`method` of a `request_type` made of `fields`, as the holder of `token`."""
        request = self.build(getattr(MESSAGES[service], request_type), fields)
        try:
            answer = getattr(self.stubs[service], method)(
                request, metadata=(("authorization", f"Bearer {token}"),), timeout=self.timeout)
        except grpc.RpcError as error:
            raise self.refusal_of(error) from None
        return json_format.MessageToDict(answer, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True,
                                         unquote_int64_if_possible=True)
