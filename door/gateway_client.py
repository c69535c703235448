"""The gateway as the door calls it (frontends.gateway, requests from the JSON-like values a form
gives), and a refusal as the HTTP status and words the Open311 error list carries."""
import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from door.georeport import parameter_named
from frontends.gateway import GatewayClient, Refused, from_json

# The HTTP status of a refusal; what is not here (FAILED_PRECONDITION, ALREADY_EXISTS) is the
# caller's request meeting the ticket's state, so a 400 too. Out of reach is 503.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ALREADY_EXISTS: 400, grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.UNAVAILABLE: 503, grpc.StatusCode.DEADLINE_EXCEEDED: 503,
}

__all__ = ["Refused", "gateway_client"]


def gateway_client(settings):
    return GatewayClient(settings.gateway, settings.call_timeout_seconds, refusal_of, build=from_json)


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
