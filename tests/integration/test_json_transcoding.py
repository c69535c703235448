"""HTTP/JSON through the transcoder (grpc-gateway, its own process) in front of the real gateway
and services: a town built over HTTP, answers equal to the gRPC answers for the same calls, gRPC
errors as HTTP statuses with the status JSON, and an OpenAPI document naming every method."""
import os

import pytest
import requests
from google.protobuf import json_format
from openapi_spec_validator import OpenAPIV2SpecValidator, validate

from gateway.routes import discover_routes
from tests.conftest import ROOT, free_port
from tests.support.console import web_process
from tests.support.hierarchy import GRIDS, RESIDENTS
from tests.support.town import PROMISES, TICKETS

pytestmark = pytest.mark.integration

TRANSCODER = ROOT / "build/transcoder/civicgrid-transcoder"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


@pytest.fixture(scope="module")
def transcoder(platform):
    if not TRANSCODER.exists():
        pytest.fail(f"{TRANSCODER} is missing: `make install` builds it")
    port = free_port()
    env = {**os.environ, "TRANSCODER_PORT": str(port), "TRANSCODER_GATEWAY": platform.address}
    with web_process([str(TRANSCODER)], env, port, "/readyz") as url:
        yield url


class Http:
    """A JSON client of the transcoder, with a bearer token or none."""

    def __init__(self, url, token=None):
        self.url = url
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def send(self, method, path, body=None, **params):
        return self.session.request(method, f"{self.url}{path}", json=body, params=params, timeout=30)

    def ok(self, method, path, body=None, **params):
        answer = self.send(method, path, body, **params)
        assert answer.status_code == 200, (method, path, answer.status_code, answer.text)
        return answer.json()


def as_grpc_gateway_writes(client, full_method, request):
    """The gRPC answer to `request`, written as grpc-gateway writes JSON: lowerCamelCase names,
    zero scalars and empty lists and maps written out, unset messages left out."""
    reply = client.call(full_method, request)
    method = client.pool.FindMethodByName(full_method.replace("/", "."))
    message = json_format.ParseDict(reply, client.symbols.GetSymbol(method.output_type.full_name)())
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


@pytest.fixture(scope="module")
def town(platform, transcoder):
    """A city down to a flat, a household with two residents and a ticket category, all made
    over HTTP by an operator."""
    tenant = "json-town"
    operator = Http(transcoder, platform.token(tenant=tenant, subject="operator-1"))
    ids, parent = {}, ""
    for kind in ("CITY", "STREET", "COMMUNITY", "GRID", "BUILDING"):
        node = operator.ok("POST", "/v1/nodes", {"requestId": f"json-{kind}", "kind": kind,
                                                 "displayName": f"{kind.title()} JSON", "parentId": parent})
        ids[kind] = parent = node["id"]
    ids["FLAT"] = operator.ok("POST", "/v1/flats", {"requestId": "json-flat", "buildingId": ids["BUILDING"],
                                                    "unit": "1", "floor": 3, "number": "301",
                                                    "occupancy": "OWNER_OCCUPIED"})["id"]
    household = operator.ok("POST", "/v1/households", {"requestId": "json-household", "flatId": ids["FLAT"],
                                                       "displayName": "Li family"})
    residents = [operator.ok("POST", "/v1/residents", {
        "requestId": f"json-resident-{name}", "householdId": household["id"], "displayName": name,
        "birthDate": birth_date, "tags": tags})
        for name, birth_date, tags in (("Grandma Li", "1940-01-01", ["elderly", "living_alone"]),
                                       ("Li Wei", "1990-05-01", []))]
    category = operator.ok("POST", "/v1/categories", {
        "requestId": "json-heating", "name": "Heating", "group": "Utilities", "promises": PROMISES,
        "routing": {"assigneeKind": "GRID_WORKER"}, "extraFields": [{"name": "room", "type": "STRING"}]})
    return {"tenant": tenant, "ids": ids, "operator": operator, "household": household, "residents": residents,
            "category": category, "grpc": platform.client(tenant=tenant, subject="operator-1")}


def test_hierarchy_and_residents_read_back_as_grpc_answers_them(town):
    operator, grpc_operator, ids = town["operator"], town["grpc"], town["ids"]
    for kind in ("CITY", "GRID", "BUILDING"):
        assert operator.ok("GET", f"/v1/nodes/{ids[kind]}") == as_grpc_gateway_writes(
            grpc_operator, f"{GRIDS}/GetNode", {"id": ids[kind]})
    assert operator.ok("GET", f"/v1/flats/{ids['FLAT']}") == as_grpc_gateway_writes(
        grpc_operator, f"{GRIDS}/GetFlat", {"id": ids["FLAT"]})
    elderly = operator.ok("GET", "/v1/residents", nodeId=ids["BUILDING"], tags="elderly")
    assert [resident["displayName"] for resident in elderly["residents"]] == ["Grandma Li"]
    assert elderly == as_grpc_gateway_writes(grpc_operator, f"{RESIDENTS}/ListResidents",
                                             {"node_id": ids["BUILDING"], "tags": ["elderly"]})
    assert len(operator.ok("GET", "/v1/residents", nodeId=ids["BUILDING"])["residents"]) == 2


def test_patch_takes_its_update_mask_from_the_body(town):
    operator, grpc_operator, grid = town["operator"], town["grpc"], town["ids"]["GRID"]
    renamed = operator.ok("PATCH", f"/v1/nodes/{grid}", {"displayName": "Grid Renamed"})
    assert renamed["displayName"] == "Grid Renamed"
    assert renamed == as_grpc_gateway_writes(grpc_operator, f"{GRIDS}/GetNode", {"id": grid})


def test_a_ticket_moves_through_custom_methods(platform, transcoder, town):
    ids, tenant = town["ids"], town["tenant"]
    resident = Http(transcoder, platform.token(tenant=tenant, role="resident", scope=(ids["FLAT"],),
                                               subject="resident-li"))
    worker = Http(transcoder, platform.token(tenant=tenant, role="grid_worker", scope=(ids["GRID"],),
                                             subject="worker-1"))
    ticket = resident.ok("POST", "/v1/tickets", {
        "kind": "REQUEST", "channel": "SELF_SERVICE", "categoryId": town["category"]["id"], "nodeId": ids["FLAT"],
        "description": "The radiator is cold", "extra": {"room": "bedroom"}})
    assert ticket["state"] == "SUBMITTED"
    triaged = worker.ok("POST", f"/v1/tickets/{ticket['id']}:triage", {"decision": "ACCEPT", "note": "on it"})
    assert triaged["state"] == "TRIAGED"
    assigned = worker.ok("POST", f"/v1/tickets/{ticket['id']}:assign", {})
    assert assigned["state"] == "ASSIGNED" and assigned["assigneeSubject"] == "worker-1"
    started = worker.ok("POST", f"/v1/tickets/{ticket['id']}:start", {"note": "on my way"})
    assert started["state"] == "IN_PROGRESS"
    assert worker.ok("GET", f"/v1/tickets/{ticket['id']}") == as_grpc_gateway_writes(
        platform.client(tenant=tenant, role="grid_worker", scope=(ids["GRID"],), subject="worker-1"),
        f"{TICKETS}/GetTicket", {"id": ticket["id"]})


def assert_status_json(answer, http_status, grpc_code):
    assert answer.status_code == http_status, answer.text
    body = answer.json()
    assert body["code"] == grpc_code and body["message"] and isinstance(body["details"], list)
    return body


def test_grpc_errors_are_http_statuses_with_the_status_json(platform, transcoder, town):
    ids, tenant = town["ids"], town["tenant"]
    assert_status_json(Http(transcoder).send("GET", f"/v1/nodes/{ids['CITY']}"), 401, 16)
    assert_status_json(town["operator"].send("GET", "/v1/nodes/no-such-node"), 404, 5)
    resident = Http(transcoder, platform.token(tenant=tenant, role="resident", scope=(ids["FLAT"],)))
    assert_status_json(resident.send("POST", "/v1/nodes", {"kind": "GRID", "displayName": "Mine",
                                                           "parentId": ids["COMMUNITY"]}), 403, 7)

    refused = assert_status_json(town["operator"].send("POST", "/v1/nodes", {
        "kind": "GRID", "displayName": "Grid\u00007", "parentId": ids["COMMUNITY"]}), 400, 3)
    [bad_request] = [detail for detail in refused["details"] if detail["@type"] == BAD_REQUEST]
    assert "display_name" in [violation["field"] for violation in bad_request["fieldViolations"]]


def test_a_misspelt_field_is_refused_before_the_gateway(transcoder, town):
    answer = town["operator"].send("POST", "/v1/nodes", {"kind": "GRID", "displayNme": "Typo",
                                                         "parentId": town["ids"]["COMMUNITY"]})
    assert_status_json(answer, 400, 3)
    assert "displayNme" in answer.json()["message"]


def operation_ids(document):
    return [operation["operationId"] for path in document["paths"].values() for operation in path.values()]


def test_openapi_document_is_valid_swagger_and_names_every_method(transcoder):
    document = requests.get(f"{transcoder}/openapi.json", timeout=10).json()
    validate(document, cls=OpenAPIV2SpecValidator)
    # operationId is Service_Method; the gateway routes every unary method, and serves the one
    # server-streaming method, WatchEvents, apart.
    routed = {"_".join(route.full_name.split(".")[-1].split("/")) for route in discover_routes()}
    assert sorted(operation_ids(document)) == sorted(routed | {"Notifications_WatchEvents"})


def test_health_and_metrics(transcoder, town):
    assert requests.get(f"{transcoder}/healthz", timeout=10).status_code == 200
    metrics = requests.get(f"{transcoder}/metrics", timeout=10).text
    assert 'civicgrid_transcoder_call_seconds_count{code="OK",method="/civicgrid.grids.v1.Grids/CreateNode"}' in metrics
