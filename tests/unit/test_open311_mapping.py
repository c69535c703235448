"""The Open311 door's mapping, without servers: states, tickets as requests, XML, error lists,
pages, dates, attributes and api keys."""
import hashlib
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from door import georeport, keys
from door.formats import as_xml, rendered
from door.georeport import BadParameter

SHANGHAI = ZoneInfo("Asia/Shanghai")
CATEGORY = {"id": "cat-1", "name": "暖气", "group": "公用设施",
            "extra_fields": [{"name": "room", "type": "STRING", "required": True, "description": "房间"},
                             {"name": "temperature", "type": "NUMBER"},
                             {"name": "urgent", "type": "BOOLEAN"}]}
TICKET = {"id": "t-1", "state": "IN_PROGRESS", "category_id": "cat-1", "node_id": "flat-1", "description": "冷",
          "create_time": "2025-03-01T02:00:00Z", "update_time": "2025-03-01T03:30:00.500Z",
          "clock": {"stage": "RESOLUTION", "due_at": "2025-03-01T06:00:00Z", "paused": False},
          "timeline": [{"action": "created", "note": ""}, {"action": "triaged", "note": "staff only"},
                       {"action": "clock_paused", "note": "等住户在家"}, {"action": "clock_resumed", "note": "继续"}]}


@pytest.mark.parametrize("state, status", [
    ("SUBMITTED", "open"), ("TRIAGED", "open"), ("ASSIGNED", "open"), ("IN_PROGRESS", "open"),
    ("REJECTED", "closed"), ("DUPLICATE", "closed"), ("RESOLVED", "closed"), ("FEEDBACK", "closed"),
    ("CLOSED", "closed")])
def test_every_state_is_open_or_closed(state, status):
    assert georeport.status_of(state) == status


def test_a_status_filter_is_the_states_it_covers():
    assert georeport.states_for("open") == list(georeport.OPEN_STATES)
    assert set(georeport.states_for("open, closed")) == set(georeport.OPEN_STATES + georeport.CLOSED_STATES)
    assert georeport.states_for("") == []
    with pytest.raises(BadParameter, match="status"):
        georeport.states_for("pending")


def test_a_ticket_as_a_request():
    request = georeport.request_of(TICKET, "暖气", SHANGHAI, agency="物业公司", address="1号楼 1单元301室")
    assert request == {
        "service_request_id": "t-1", "status": "open", "status_notes": "等住户在家", "service_name": "暖气",
        "service_code": "cat-1", "description": "冷", "agency_responsible": "物业公司",
        "requested_datetime": "2025-03-01T10:00:00+08:00", "updated_datetime": "2025-03-01T11:30:00+08:00",
        "expected_datetime": "2025-03-01T14:00:00+08:00", "address": "1号楼 1单元301室", "address_id": "flat-1"}


def test_what_is_not_known_is_left_out():
    resolved = {**TICKET, "state": "RESOLVED", "clock": None, "timeline": [{"action": "triaged", "note": "x"}]}
    request = georeport.request_of(resolved, None, SHANGHAI)
    assert request["status"] == "closed"
    assert not {"status_notes", "expected_datetime", "agency_responsible", "address", "service_name"} & set(request)


def test_a_paused_clock_promises_no_time():
    paused = {**TICKET, "clock": {**TICKET["clock"], "paused": True}}
    assert "expected_datetime" not in georeport.request_of(paused, "暖气", SHANGHAI)


def test_a_category_as_a_service_and_its_definition():
    assert georeport.service_of(CATEGORY) == {
        "service_code": "cat-1", "service_name": "暖气", "description": "公用设施", "metadata": True,
        "type": "realtime", "keywords": "公用设施", "group": "公用设施"}
    assert georeport.service_of({**CATEGORY, "extra_fields": []})["metadata"] is False
    attributes = georeport.definition_of(CATEGORY)["attributes"]
    assert [(a["code"], a["datatype"], a["required"], a["order"]) for a in attributes] == [
        ("room", "string", True, 1), ("temperature", "number", False, 2), ("urgent", "singlevaluelist", False, 3)]
    assert attributes[0]["description"] == "房间" and attributes[2]["values"] == georeport.YES_NO


def test_attributes_are_typed_as_the_category_declares():
    form = {"attribute[room]": "卧室", "attribute[temperature]": "12", "attribute[urgent]": "TRUE",
            "attribute[colour]": "red", "description": "冷"}
    assert georeport.extra_from(georeport.attributes_in(form), CATEGORY) == {
        "room": "卧室", "temperature": 12, "urgent": True, "colour": "red"}
    assert georeport.extra_from({"temperature": "12.5"}, CATEGORY) == {"temperature": 12.5}
    for code, value in [("temperature", "warm"), ("temperature", "nan"), ("urgent", "yes")]:
        with pytest.raises(BadParameter, match=rf"attribute\[{code}\]"):
            georeport.extra_from({code: value}, CATEGORY)


def test_the_description_carries_links_and_coordinates_become_the_location():
    assert georeport.description_with(" 冷 ", "https://x/p.jpg") == "冷\n图片: https://x/p.jpg"
    assert georeport.description_with("冷", None) == "冷"
    assert georeport.location_of({"lat": "31.2", "long": "121.4"}) == {"latitude": 31.2, "longitude": 121.4}
    assert georeport.location_of({}) is None
    for form, parameter in [({"lat": "91", "long": "121"}, "lat"), ({"lat": "31"}, "long"),
                            ({"lat": "x", "long": "121"}, "lat"), ({"lat": "31", "long": "nan"}, "long")]:
        with pytest.raises(BadParameter, match=parameter):
            georeport.location_of(form)


def test_dates_default_to_ninety_days_and_are_checked():
    now = datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert georeport.date_span(None, None, SHANGHAI, now) == (now - georeport.DEFAULT_SPAN, None)
    after, before = georeport.date_span("2025-01-01T00:00:00", "2025-01-02T00:00:00Z", SHANGHAI, now)
    assert after.utcoffset().total_seconds() == 8 * 3600 and before.tzinfo is not None
    for start, end, parameter in [("yesterday", None, "start_date"), (None, "2025-13-01", "end_date"),
                                  ("2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z", "end_date")]:
        with pytest.raises(BadParameter, match=parameter):
            georeport.date_span(start, end, SHANGHAI, now)


def test_pages_are_numbers_within_limits():
    assert georeport.page_of("", "", 50, 200, 50) == (1, 50)
    assert georeport.page_of("3", "20", 50, 200, 50) == (3, 20)
    for page, size, parameter in [("0", "", "page"), ("51", "", "page"), ("x", "", "page"),
                                  ("", "201", "page_size"), ("", "-1", "page_size")]:
        with pytest.raises(BadParameter, match=parameter):
            georeport.page_of(page, size, 50, 200, 50)


def test_fields_at_fault_are_named_as_the_request_named_them():
    assert georeport.parameter_named("extra.room") == "attribute[room]"
    assert georeport.parameter_named("node_id") == "address_id"
    assert georeport.parameter_named("category_id") == "service_code"
    assert georeport.parameter_named("photos") == "photos"


def test_answers_in_xml_use_the_standards_elements():
    requests_xml = ElementTree.fromstring(as_xml("requests", [{"service_request_id": "t-1", "status_notes": None}]))
    assert requests_xml.tag == "service_requests" and requests_xml[0].tag == "request"
    assert [child.tag for child in requests_xml[0]] == ["service_request_id"]
    services_xml = ElementTree.fromstring(as_xml("services", [georeport.service_of(CATEGORY)]))
    assert services_xml.find("service/metadata").text == "true"
    definition = ElementTree.fromstring(as_xml("definition", georeport.definition_of(CATEGORY)))
    assert definition.tag == "service_definition"
    assert [a.findtext("code") for a in definition.findall("attributes/attribute")] == ["room", "temperature", "urgent"]
    assert [v.findtext("key") for v in definition.findall("attributes/attribute/values/value")] == ["true", "false"]
    discovery = ElementTree.fromstring(as_xml("discovery", georeport.discovery("https://x/open311/v2/", "c", "ops")))
    assert discovery.findtext("endpoints/endpoint/specification") == georeport.SPECIFICATION
    assert [f.text for f in discovery.findall("endpoints/endpoint/formats/format")] == ["application/json", "text/xml"]


def test_error_lists_in_both_formats():
    assert rendered("errors", georeport.error_list(404, "无此请求"), "json") == (
        '[{"code": 404, "description": "无此请求"}]', "application/json; charset=utf-8")
    body, content_type = rendered("errors", georeport.error_list(403, "api_key is not valid"), "xml")
    errors = ElementTree.fromstring(body)
    assert content_type.startswith("text/xml") and errors.tag == "errors"
    assert (errors.findtext("error/code"), errors.findtext("error/description")) == ("403", "api_key is not valid")


def test_the_answer_to_a_post():
    [created] = georeport.created({"id": "t-9", "reporter_subject": ""})
    assert created["service_request_id"] == "t-9" and created["account_id"] is None and created["service_notice"]


def test_api_keys_are_looked_up_by_their_digest():
    digest = hashlib.sha256(b"secret-key").hexdigest()
    other = hashlib.sha256(b"other-key").hexdigest()
    credentials = keys.parsed(f"{digest.upper()}: token-a\n{other}: {{token: token-b, node_id: n-1, channel: HOTLINE}}\n")
    assert keys.lookup(credentials, "secret-key") == keys.Credential("token-a")
    assert keys.lookup(credentials, "other-key") == keys.Credential("token-b", "n-1", "HOTLINE")
    assert keys.lookup(credentials, "token-a") is None and keys.lookup(credentials, digest) is None
    assert keys.parsed(f'{{"{digest}": "token-a"}}') == {digest: keys.Credential("token-a")}
    assert keys.load(None) == {}
    with pytest.raises(ValueError):
        keys.parsed("- a list")
