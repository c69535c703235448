"""The gateway's own rules: tokens, routes from the contracts, and the error table."""
import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.rpc import error_details_pb2

from gateway.auth import Authenticator, Unauthenticated, mint
from gateway.errors import STATUS_BY_CODE, rich_status
from gateway.routes import discover_routes, snake_case
from services import errors

SECRET = "unit-test-secret"


def bearer(token):
    return (("authorization", f"Bearer {token}"),)


def test_valid_hs256_token_gives_the_caller():
    caller = Authenticator(secret=SECRET).caller(bearer(mint(SECRET, "u1", "t1", "grid_worker", ["g1"])))
    assert (caller.subject, caller.tenant, caller.role, caller.scope) == ("u1", "t1", "grid_worker", ("g1",))


@pytest.mark.parametrize("metadata", [
    (),
    (("authorization", "Basic abc"),),
    bearer("not.a.jwt"),
    bearer(mint("another-secret", "u1", "t1", "grid_worker", ["g1"])),
    bearer(mint(SECRET, "u1", "t1", "grid_worker", ["g1"], ttl_seconds=-10)),
    bearer(mint(SECRET, "u1", "t1", "emperor", ["g1"])),
    bearer(jwt.encode({"sub": "u1", "exp": int(time.time()) + 60, "role": "grid_worker"}, SECRET)),
])
def test_bad_tokens_are_unauthenticated(metadata):
    with pytest.raises(Unauthenticated):
        Authenticator(secret=SECRET).caller(metadata)


def test_rs256_tokens_verify_with_the_public_key_and_hs256_is_refused_then():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    claims = {"sub": "u1", "tenant": "t1", "role": "city_operator", "scope": ["*"], "exp": int(time.time()) + 60}
    authenticator = Authenticator(public_key=public_pem)
    assert authenticator.caller(bearer(jwt.encode(claims, key, algorithm="RS256"))).tenant == "t1"
    with pytest.raises(Unauthenticated):
        authenticator.caller(bearer(jwt.encode(claims, SECRET, algorithm="HS256")))


def test_every_unary_method_is_routed_with_roles_from_its_contract():
    routes = {route.full_name: route for route in discover_routes()}
    create = routes["/civicgrid.grids.v1.Grids/CreateNode"]
    assert (create.backend, create.rpc_method) == ("grids", "create_node")
    assert create.roles == {"city_operator", "community_staff"}
    assert routes["/civicgrid.grids.v1.Grids/UpdateNode"].masks == ["update_mask"]
    assert all(route.roles for route in routes.values()), "a method without an access option is unreachable"


def test_snake_case():
    assert snake_case("ListResidents") == "list_residents"
    assert snake_case("GetNodeFigures") == "get_node_figures"


def test_every_domain_error_code_has_a_grpc_status():
    for error_class in errors.DomainError.__subclasses__():
        assert error_class.code in STATUS_BY_CODE


def test_rich_status_carries_field_violations():
    status = rich_status("INVALID_ARGUMENT", "bad", [{"field": "display_name", "description": "too long"}])
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    from google.rpc import status_pb2
    details = status_pb2.Status.FromString(status.trailing_metadata[0][1]).details
    bad_request = error_details_pb2.BadRequest()
    assert details[0].Unpack(bad_request)
    assert bad_request.field_violations[0].field == "display_name"
