"""One table from domain errors to gRPC status codes, with google.rpc rich details."""
import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from gateway.backends import BackendTimeout, BackendUnavailable
from services.errors import DomainError

DOMAIN = "civicgrid.io"

STATUS_BY_CODE = {
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,
    "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "DEADLINE_EXCEEDED": grpc.StatusCode.DEADLINE_EXCEEDED,
    "INTERNAL": grpc.StatusCode.INTERNAL,
}


# A status travels in trailers, which grpc clients refuse beyond 8 to 16 KB; an error about a
# huge or much-repeated value is cut down to what fits (the message, twice, and the violations).
MAX_MESSAGE_BYTES = 512
MAX_VIOLATIONS = 10
MAX_FIELD_BYTES = 100
MAX_DESCRIPTION_BYTES = 200


def rich_status(code_name, message, violations=(), reason=None, metadata=None):
    """A grpc.Status carrying BadRequest field violations (if any) and an ErrorInfo."""
    details = []
    message = clipped(message, MAX_MESSAGE_BYTES)
    if violations:
        bad_request = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=clipped(v["field"], MAX_FIELD_BYTES),
                                                        description=clipped(v["description"], MAX_DESCRIPTION_BYTES))
            for v in list(violations)[:MAX_VIOLATIONS]])
        details.append(_packed(bad_request))
    details.append(_packed(error_details_pb2.ErrorInfo(
        reason=reason or code_name, domain=DOMAIN, metadata=metadata or {})))
    status = status_pb2.Status(code=getattr(code_pb2, code_name), message=message, details=details)
    return rpc_status.to_status(status)


def clipped(text, limit):
    """`text` cut to at most `limit` UTF-8 bytes, ending in "…" where it was cut."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[:limit - len("…".encode())].decode(errors="ignore") + "…"


def _packed(message):
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


class Refusal(Exception):
    """A call answered with a non-OK status; `status` is ready for context.abort_with_status."""

    def __init__(self, code_name, message, violations=(), reason=None):
        super().__init__(message)
        self.code_name = code_name if code_name in STATUS_BY_CODE else "INTERNAL"
        self.status = rich_status(self.code_name, message, violations, reason)


def refusal_for(failure):
    """The status for what a backend call raised: a domain error, or the backend being out of reach."""
    if isinstance(failure, DomainError):
        return Refusal(failure.code, failure.message, failure.violations, failure.reason)
    if isinstance(failure, BackendUnavailable):
        return Refusal("UNAVAILABLE", str(failure))
    if isinstance(failure, BackendTimeout):
        return Refusal("DEADLINE_EXCEEDED", str(failure))
    raise TypeError(f"no status for {type(failure).__name__}")
