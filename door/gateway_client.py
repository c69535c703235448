"""Calls the gateway with the caller's credential: answers as dicts, and a refusal as the HTTP
status and words the Open311 error list carries."""
import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from civicgrid.grids.v1 import grids_pb2, grids_pb2_grpc
from civicgrid.tickets.v1 import tickets_pb2, tickets_pb2_grpc
from door.georeport import parameter_named

MESSAGES = {"grids": grids_pb2, "tickets": tickets_pb2}
STUBS = {"grids": grids_pb2_grpc.GridsStub, "tickets": tickets_pb2_grpc.TicketsStub}
# The HTTP status of a refusal; what is not here (FAILED_PRECONDITION, ALREADY_EXISTS) is the
# caller's request meeting the ticket's state, so a 400 too. Out of reach is 503.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ALREADY_EXISTS: 400, grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DEADLINE_EXCEEDED: 503,
}


class Refused(Exception):
    """The gateway did not do what was asked: `status` is the HTTP status to answer with."""

    def __init__(self, status, description):
        super().__init__(description)
        self.status = status
        self.description = description


class GatewayClient:
    def __init__(self, address, timeout):
        self.channel = grpc.insecure_channel(address)
        self.stubs = {service: stub(self.channel) for service, stub in STUBS.items()}
        self.timeout = timeout
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def serving(self, timeout=2):
        """Whether the gateway says it serves: the door is ready only while it can reach it."""
        try:
            answer = self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout)
        except grpc.RpcError:
            return False
        return answer.status == health_pb2.HealthCheckResponse.SERVING

    def call(self, token, service, method, request_type, **fields):
        """`service`.`method`(request_type(**fields)) as the holder of `token`, as a dict with
        every field present (enums by name)."""
        request = json_format.ParseDict(fields, getattr(MESSAGES[service], request_type)())
        try:
            answer = getattr(self.stubs[service], method)(
                request, metadata=(("authorization", f"Bearer {token}"),), timeout=self.timeout)
        except grpc.RpcError as error:
            raise refusal_of(error) from None
        return json_format.MessageToDict(answer, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True,
                                         unquote_int64_if_possible=True)


def refusal_of(error):
    """A gRPC error as a Refused: the fields at fault named as the request named them."""
    status = HTTP_STATUS.get(error.code(), 503)
    violations = field_violations(error)
    if status == 400 and violations:
        return Refused(status, "; ".join(f"{parameter_named(field)}: {text}" for field, text in violations))
    if status == 503:
        return Refused(status, "the service is unavailable, try again later")
    return Refused(status, error.details() or error.code().name)


def field_violations(error):
    status = rpc_status.from_call(error)
    violations = []
    for detail in status.details if status else ():
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations += [(violation.field, violation.description) for violation in bad_request.field_violations]
    return violations
