"""The gateway's own rules: tokens, routes from the contracts, and the error table."""
import time

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from civicgrid.grids.v1 import grids_pb2
from civicgrid.tickets.v1 import tickets_pb2
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

from gateway.auth import Authenticator, Unauthenticated, authorised_caller, mint
from gateway.errors import STATUS_BY_CODE, Refusal, clipped, rich_status
from gateway.messages import EARLIEST, LATEST, as_dict, built, decoded, problems
from gateway.routes import discover_routes, snake_case
from services import errors
from tests.support.identity_provider import IdentityProvider

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
    details = status_pb2.Status.FromString(status.trailing_metadata[0][1]).details
    bad_request = error_details_pb2.BadRequest()
    assert details[0].Unpack(bad_request)
    assert bad_request.field_violations[0].field == "display_name"


def test_nul_characters_are_refused_wherever_they_are_with_their_path():
    request = grids_pb2.CreateOrganisationRequest(display_name="Clinic\x00", contacts=[
        grids_pb2.Contact(display_name="Dr Wu"), grids_pb2.Contact(display_name="Nurse", phone="\x00")])
    assert [field for field, _ in problems(request)] == ["display_name", "contacts.1.phone"]
    mask = grids_pb2.UpdateNodeRequest(update_mask={"paths": ["display\x00name"]})
    assert [field for field, _ in problems(mask)] == ["update_mask.paths.0"]


def test_times_outside_the_accepted_range_are_refused():
    def at(seconds, nanos=0):
        return tickets_pb2.GetTicketFiguresRequest(start_time={"seconds": seconds, "nanos": nanos})
    assert list(problems(at(int(EARLIEST.timestamp())))) == []
    assert list(problems(at(int(LATEST.timestamp()) - 1, 999_999_999))) == []
    for seconds, nanos in [(-62135596800, 0), (253402300799, 0), (int(LATEST.timestamp()), 0), (0, -1),
                           (0, 1_000_000_000)]:
        assert [field for field, _ in problems(at(seconds, nanos))] == ["start_time"], (seconds, nanos)


def test_struct_values_must_be_finite_and_free_of_nul():
    request = tickets_pb2.CreateTicketRequest()
    request.extra.update({"room": "kitchen", "temperature": float("nan"),
                          "notes": ["ok", {"deep": "a\x00b"}], "bad\x00key": 1})
    assert sorted(field for field, _ in problems(request)) == ["extra", "extra.notes.1.deep", "extra.temperature"]


def test_a_body_that_is_not_protobuf_is_invalid_argument():
    for body in (b"\xff", b"\x0a\x05ab", b"\x1a\x02\xc3\x28"):
        with pytest.raises(Refusal) as refused:
            decoded(grids_pb2.CreateNodeRequest, body)
        assert refused.value.code_name == "INVALID_ARGUMENT"
        assert "civicgrid.grids.v1.CreateNodeRequest" in str(refused.value)


def test_a_refused_request_names_its_fields_in_bad_request_details():
    request = grids_pb2.CreateNodeRequest(display_name="\x00", parent_id="\x00")
    with pytest.raises(Refusal) as refused:
        decoded(grids_pb2.CreateNodeRequest, request.SerializeToString())
    details = status_pb2.Status.FromString(refused.value.status.trailing_metadata[0][1]).details
    bad_request = error_details_pb2.BadRequest()
    assert details[0].Unpack(bad_request)
    assert [v.field for v in bad_request.field_violations] == ["display_name", "parent_id"]


def test_masks_reach_the_services_as_sent_even_when_not_snake_case():
    request = grids_pb2.UpdateNodeRequest(node={"id": "n1", "display_name": "Grid 3"},
                                          update_mask={"paths": ["displayName", "Abc"]})
    assert as_dict(request, ["update_mask"]) == {"node": {"id": "n1", "display_name": "Grid 3"},
                                                 "update_mask": ["displayName", "Abc"]}


def test_statuses_stay_small_enough_for_grpc_trailers():
    many = [{"field": f"visitors.{n}.{'x' * 1000}", "description": "must not contain NUL characters" * 50}
            for n in range(5000)]
    status = rich_status("INVALID_ARGUMENT", "界" * 100_000, many)
    assert sum(len(key) + len(value) for key, value in status.trailing_metadata) < 8192
    assert clipped("界界界", 7) == "界…" and clipped("short", 10) == "short"


def a_ticket_page():
    ticket = {"id": "t1", "create_time": "2026-03-01T08:00:00.123456Z", "clock": {"due_at": "2026-03-01T09:00:00Z",
              "started_at": "2026-03-01T16:00:00.5+08:00"}, "timeline": [
                  {"action": "created", "time": "2026-03-01T08:00:00.123456Z"},
                  {"action": "triaged", "time": "2026-03-01T08:05:00.000001Z"}],
              "feedback": {"satisfaction": 5, "time": "2026-03-02T00:00:00Z"}, "unknown_field": "kept out"}
    return {"tickets": [ticket, {"id": "t2", "resolve_time": None}], "next_page_token": "x"}


def test_answers_are_built_as_parse_dict_builds_them():
    expected = json_format.ParseDict(a_ticket_page(), tickets_pb2.ListTicketsResponse(), ignore_unknown_fields=True)
    assert built(a_ticket_page(), tickets_pb2.ListTicketsResponse) == expected
    assert built(a_ticket_page(), tickets_pb2.ListTicketsResponse).tickets[0].clock.started_at.nanos == 500_000_000


def test_a_time_that_is_not_rfc_3339_fails_as_parse_dict_fails():
    page = a_ticket_page()
    page["tickets"][0]["timeline"][1]["time"] = "yesterday"
    with pytest.raises(json_format.ParseError, match=r"tickets\[0\]\.timeline\[1\]\.time"):
        built(page, tickets_pb2.ListTicketsResponse)


def test_an_identity_providers_tokens_verify_by_its_published_keys():
    people = {"wang": {"tenant": "t1", "role": "grid_worker", "scope": ["g1"], "name": "王芳"}}
    with IdentityProvider(people) as provider:
        authenticator = Authenticator(jwks_url=provider.jwks_url, issuer=provider.issuer,
                                      audience=provider.client_id)
        caller = authenticator.caller(bearer(provider.token("wang")))
        assert (caller.subject, caller.role, caller.scope) == ("wang", "grid_worker", ("g1",))
        with pytest.raises(Unauthenticated):  # signed by another key under the same kid
            other = IdentityProvider(people)
            other.kid = provider.kid
            authenticator.caller(bearer(other.token("wang")))
        with pytest.raises(Unauthenticated):  # for another client
            authenticator.caller(bearer(provider.token("wang", audience="someone-else")))
        with pytest.raises(Unauthenticated):
            authenticator.caller(bearer(mint(SECRET, "u1", "t1", "grid_worker", ["g1"])))


def test_a_provider_that_does_not_answer_makes_calls_unavailable_not_unauthenticated():
    people = {"wang": {"tenant": "t1", "role": "grid_worker", "scope": ["g1"]}}
    with IdentityProvider(people) as provider:
        token = provider.token("wang")
    authenticator = Authenticator(jwks_url=provider.jwks_url)
    context = type("Context", (), {"invocation_metadata": lambda self: bearer(token)})()
    with pytest.raises(Refusal) as refusal:
        authorised_caller(authenticator, context, {"grid_worker"}, "/civicgrid.grids.v1.Grids/GetNode")
    assert refusal.value.code_name == "UNAVAILABLE"
