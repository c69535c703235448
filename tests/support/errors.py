"""Reading the errors the gateway returns."""
import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status


def rpc_error(call):
    """Runs `call` and returns the grpc.RpcError it must raise."""
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def field_violations(error):
    status = rpc_status.from_call(error)
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields += [violation.field for violation in bad_request.field_violations]
    return fields
