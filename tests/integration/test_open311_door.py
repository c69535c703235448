"""The Open311 door as partners use it: a real HTTP client to the standard against the door,
as its own process, in front of the real gateway and services. Reports go in by api_key, come
back as service requests, and follow the ticket as staff handle it through the gateway."""
import hashlib
import json
import os
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from gateway.auth import mint
from tests.conftest import ROOT, free_port
from tests.support.console import web_process
from tests.support.open311_client import Open311Client
from tests.support.town import TICKETS, Town

pytestmark = pytest.mark.integration

APP_KEY, PARTNER_KEY = "app-311-key-for-tests", "partner-key-for-tests"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# A partner's long-lived credential, as `civicgrid token` would issue it.
MONTH = 30 * 24 * 3600


@pytest.fixture(scope="module")
def town(platform):
    return Town(platform, "door311", prefix="door")


@pytest.fixture(scope="module")
def door(platform, town, tmp_path_factory):
    """The door, its own process, with a keys file of two keys: a city 311 app's (community
    staff, files lat/long reports at the building) and a partner's (reads only)."""
    app_token = mint(platform.secret, "app-311", town.tenant, "community_staff", [town.ids["COMMUNITY"]],
                     ttl_seconds=MONTH)
    partner_token = mint(platform.secret, "partner-1", town.tenant, "partner", [], ttl_seconds=MONTH)
    keys_file = tmp_path_factory.mktemp("door") / "keys.json"
    keys_file.write_text(json.dumps({
        hashlib.sha256(APP_KEY.encode()).hexdigest(): {"token": app_token, "node_id": town.ids["BUILDING"]},
        hashlib.sha256(PARTNER_KEY.encode()).hexdigest(): partner_token}))
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DOOR_PORT": str(port), "DOOR_GATEWAY": platform.address,
           "DOOR_API_KEYS_FILE": str(keys_file)}
    env.pop("DOOR_PUBLIC_TOKEN", None)
    with web_process([sys.executable, "-m", "door"], env, port, "/readyz", cwd=ROOT) as url:
        yield url


def client(door, api_key=APP_KEY, fmt="json"):
    return Open311Client(f"{door}/open311/v2", api_key=api_key, fmt=fmt)


def report(door, town, **fields):
    answer = client(door).post_request(town.category["id"], attributes={"room": "bedroom", "temperature": "12"},
                                       description="暖气不热", **fields)
    assert answer.status == 201, answer.body
    return answer.body[0]


def grpc_ticket(town, ticket_id):
    return town.operator.call(f"{TICKETS}/GetTicket", {"id": ticket_id})


def test_discovery_names_the_standard_and_both_formats(door):
    for fmt in ("json", "xml"):
        answer = client(door, api_key=None, fmt=fmt).discovery()
        assert answer.status == 200
        [endpoint] = answer.body["endpoints"]
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"].endswith("/open311/v2/")
        assert set(endpoint["formats"]) == {"application/json", "text/xml"}


def test_services_and_their_definition_in_json_and_xml(door, town):
    services = client(door).services()
    assert services.status == 200 and services.content_type.startswith("application/json")
    [heating] = services.body
    assert heating == {"service_code": town.category["id"], "service_name": "Heating", "description": "Utilities",
                       "metadata": True, "type": "realtime", "keywords": "Utilities", "group": "Utilities"}
    as_xml = client(door, fmt="xml").services()
    assert as_xml.status == 200 and as_xml.content_type.startswith("text/xml")
    assert as_xml.body == [{**heating, "metadata": "true"}]

    definition = client(door).service_definition(town.category["id"]).body
    assert definition["service_code"] == town.category["id"]
    assert [(a["code"], a["datatype"], a["required"], a["order"]) for a in definition["attributes"]] == [
        ("room", "string", True, 1), ("temperature", "number", False, 2), ("urgent_medical", "singlevaluelist", False, 3)]
    assert [v["key"] for v in definition["attributes"][2]["values"]] == ["true", "false"]
    xml_definition = client(door, fmt="xml").service_definition(town.category["id"]).body
    assert [a["code"] for a in xml_definition["attributes"]] == ["room", "temperature", "urgent_medical"]


def test_a_report_at_a_flat_comes_back_as_the_gateway_has_it(door, town):
    created = report(door, town, address_id=town.ids["FLAT"], account_id="resident-li",
                     email="li@example.com", first_name="丽", last_name="李")
    assert created["service_notice"] and created["account_id"] == "resident-li"
    ticket = grpc_ticket(town, created["service_request_id"])
    assert ticket["extra"] == {"room": "bedroom", "temperature": 12} and ticket["channel"] == "SELF_SERVICE"

    [request] = client(door).request(ticket["id"]).body
    assert request["service_request_id"] == ticket["id"] and request["service_code"] == ticket["category_id"]
    assert request["status"] == "open" and ticket["state"] == "SUBMITTED"
    assert request["service_name"] == "Heating" and request["description"] == "暖气不热"
    assert request["address_id"] == town.ids["FLAT"] and request["address"] == "Building door311 1单元301室"
    created_at = datetime.fromisoformat(ticket["create_time"].replace("Z", "+00:00"))
    assert request["requested_datetime"] == created_at.astimezone(SHANGHAI).isoformat(timespec="seconds")
    assert request["requested_datetime"].endswith("+08:00") and "expected_datetime" in request

    [as_xml] = client(door, fmt="xml").request(ticket["id"]).body
    assert as_xml["service_request_id"] == ticket["id"] and as_xml["status"] == "open"

    today = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    listed = client(door).requests(service_code=town.category["id"], status="open",
                                   start_date=today.isoformat(), end_date=(today + timedelta(days=1)).isoformat())
    assert ticket["id"] in [r["service_request_id"] for r in listed.body]
    by_id = client(door).requests(service_request_id=f"{ticket['id']},no-such-ticket")
    assert [r["service_request_id"] for r in by_id.body] == [ticket["id"]]


def test_a_report_by_lat_long_is_filed_at_the_keys_area(door, town):
    created = report(door, town, lat="31.2304", long="121.4737", media_url="https://example.com/p.jpg")
    ticket = grpc_ticket(town, created["service_request_id"])
    assert ticket["node_id"] == town.ids["BUILDING"]
    assert ticket["location"] == {"latitude": 31.2304, "longitude": 121.4737}
    assert "https://example.com/p.jpg" in ticket["description"]
    [request] = client(door).request(ticket["id"]).body
    assert request["address_id"] == town.ids["BUILDING"] and request["address"] == "Building door311"
    assert (request["lat"], request["long"]) == (31.2304, 121.4737)


def test_pages_of_requests(door, town):
    ids = {report(door, town, address_id=town.ids["FLAT"])["service_request_id"] for _ in range(3)}
    seen, page = [], 1
    while True:
        answer = client(door).requests(service_code=town.category["id"], page=page, page_size=2)
        assert answer.status == 200 and len(answer.body) <= 2
        if not answer.body:
            break
        seen += [r["service_request_id"] for r in answer.body]
        page += 1
    assert len(seen) == len(set(seen)) and ids <= set(seen)


def test_a_resolved_ticket_is_closed_with_its_notes(door, town):
    ticket_id = report(door, town, address_id=town.ids["FLAT"])["service_request_id"]
    for method, body in [("TriageTicket", {"decision": "ACCEPT", "note": "staff only"}), ("AssignTicket", {}),
                         ("StartTicket", {}), ("ResolveTicket", {"resolution": "阀门已更换"})]:
        town.worker.call(f"{TICKETS}/{method}", {"id": ticket_id, **body})
    [request] = client(door).request(ticket_id).body
    assert request["status"] == "closed" and request["status_notes"] == "阀门已更换"
    assert "expected_datetime" not in request
    closed = client(door).requests(service_code=town.category["id"], status="closed").body
    assert ticket_id in [r["service_request_id"] for r in closed]
    still_open = client(door).requests(service_code=town.category["id"], status="open").body
    assert ticket_id not in [r["service_request_id"] for r in still_open]


def assert_error_list(answer, status, words=""):
    assert answer.status == status, answer.body
    [error] = answer.body
    assert int(error["code"]) == status and words in error["description"], error
    assert "Traceback" not in json.dumps(answer.body)


def test_bad_input_gets_the_standards_error_list(door, town):
    category = town.category["id"]
    assert_error_list(client(door, api_key=None).post_request(category, address_id=town.ids["FLAT"]), 401, "api_key")
    assert_error_list(client(door, api_key="not-a-key").post_request(category, address_id=town.ids["FLAT"]), 403)
    assert_error_list(client(door, api_key="not-a-key", fmt="xml").services(), 403)
    assert_error_list(client(door, api_key=None).requests(), 401)
    assert_error_list(client(door, api_key=PARTNER_KEY).post_request(
        category, address_id=town.ids["FLAT"], attributes={"room": "x"}), 403)
    assert_error_list(client(door).post_request("no-such-service", address_id=town.ids["FLAT"]), 400, "service_code")
    assert_error_list(client(door).service_definition("no-such-service"), 404)
    assert_error_list(client(door).post_request(category, address_id=town.ids["FLAT"], attributes={"room": "x"}),
                      400, "description")
    assert_error_list(client(door).post_request(category, address_id=town.ids["FLAT"], description="冷"), 400,
                      "attribute[room]")
    assert_error_list(client(door).post_request(category, address_id=town.ids["FLAT"], description="冷",
                                                attributes={"room": "x", "temperature": "warm"}), 400,
                      "attribute[temperature]")
    assert_error_list(client(door).post_request(category, description="冷", attributes={"room": "x"}), 400,
                      "address_id")
    assert_error_list(client(door).post_request(category, address_id="no-such-flat", description="冷",
                                                attributes={"room": "x"}), 404)
    assert_error_list(client(door).requests(start_date="yesterday"), 400, "start_date")
    assert_error_list(client(door).requests(status="pending"), 400, "status")
    assert_error_list(client(door).requests(page="0"), 400, "page")
    assert_error_list(client(door).request("no-such-ticket"), 404)
    assert_error_list(client(door, fmt="xml").request("no-such-ticket"), 404)
    assert_error_list(client(door, fmt="yaml").services(), 404, "format")


def test_a_partner_reads_only_what_involves_it(door, town):
    partner = client(door, api_key=PARTNER_KEY)
    assert partner.services().status == 200
    listed = partner.requests(service_code=town.category["id"])
    assert listed.status == 200 and listed.body == []


def test_probes_and_metrics(door):
    assert requests.get(f"{door}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{door}/readyz", timeout=5).status_code == 200
    metrics = requests.get(f"{door}/metrics", timeout=5).text
    assert 'civicgrid_door_requests_total{endpoint="one_request",status="200"}' in metrics
    assert "civicgrid_door_request_seconds_bucket" in metrics
