"""The gateway as the console calls it (frontends.gateway), and what a page answers when the
gateway refuses; anything else is the gateway being unreachable."""
import grpc

from frontends.gateway import GatewayClient, Refused

HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409, grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403, grpc.StatusCode.NOT_FOUND: 404,
}

__all__ = ["Refused", "gateway_client"]


def refusal_of(error):
    return Refused(HTTP_STATUS.get(error.code(), 503), error.details() or error.code().name)


def gateway_client(settings):
    return GatewayClient(settings.gateway, settings.call_timeout_seconds, refusal_of)
