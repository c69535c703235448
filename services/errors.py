"""Domain errors that cross RPC intact.

Each class is registered with Nameko so that a caller (another service or the
gateway) gets the same exception back instead of a generic RemoteError. The
gateway maps `code` to a gRPC status code.
"""
from nameko.exceptions import deserialize_to_instance


class DomainError(Exception):
    code = "INTERNAL"

    def __init__(self, message, violations=None, reason=None):
        # args must stay JSON-friendly: Nameko rebuilds the error from them.
        super().__init__(message, list(violations or []), reason or self.code)

    @property
    def message(self):
        return self.args[0]

    @property
    def violations(self):
        """[{"field": ..., "description": ...}] for BadRequest details."""
        return self.args[1]

    @property
    def reason(self):
        return self.args[2]

    def __str__(self):
        return self.message


@deserialize_to_instance
class InvalidArgument(DomainError):
    code = "INVALID_ARGUMENT"

    @classmethod
    def field(cls, field, description):
        return cls(f"{field}: {description}", [{"field": field, "description": description}])


@deserialize_to_instance
class NotFound(DomainError):
    code = "NOT_FOUND"


@deserialize_to_instance
class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"


@deserialize_to_instance
class FailedPrecondition(DomainError):
    code = "FAILED_PRECONDITION"


@deserialize_to_instance
class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"


@deserialize_to_instance
class Unavailable(DomainError):
    """A backing server (store, broker, another service) did not answer; the call may be retried."""
    code = "UNAVAILABLE"
