"""Reflection, as ghz and grpcurl use it without a --proto: every method the gateway routes is
found by its full name, with the file that describes it and every file that file imports."""
import grpc
import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from gateway.routes import discover_routes

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reflection(platform):
    with grpc.insecure_channel(platform.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)

        def ask(**request):
            return next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(**request)]),
                                                  timeout=10))
        yield ask


def files_of(answer):
    return {file.name: file for file in map(descriptor_pb2.FileDescriptorProto.FromString,
                                            answer.file_descriptor_response.file_descriptor_proto)}


def test_every_routed_method_is_found_by_its_full_name_with_the_files_it_needs(reflection):
    routes = discover_routes()
    assert len(routes) > 100
    for route in routes:
        service, method = route.full_name.lstrip("/").split("/")
        answer = reflection(file_containing_symbol=f"{service}.{method}")
        assert answer.WhichOneof("message_response") == "file_descriptor_response", route.full_name
        files = files_of(answer)
        described = next(file for file in files.values() if service.startswith(file.package + "."))
        assert method in [m.name for s in described.service for m in s.method], route.full_name
        assert set(described.dependency) <= set(files), f"{route.full_name}: an import is missing"


def test_an_unknown_symbol_is_reported_not_found(reflection):
    for symbol in ("civicgrid.grids.v1.Grids.NoSuchMethod", "civicgrid.nowhere.v1.Nothing.Get", "nothing"):
        answer = reflection(file_containing_symbol=symbol)
        assert answer.error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0], symbol
