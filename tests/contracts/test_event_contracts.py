"""Pins the shape of every event type: a change to a contract must change this file too."""
import importlib
import json
import pkgutil
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from cloudevents.core.formats.json import JSONFormat

import services
from services import events
from services.events import CONTRACTS, Envelope, envelope

SNAPSHOTS = Path(__file__).parent / "event_schemas"
# Importing every service's events module registers its contracts.
for module in pkgutil.walk_packages(services.__path__, "services."):
    if module.name.endswith(".events"):
        importlib.import_module(module.name)


def test_every_contract_has_a_pinned_schema():
    pinned = {path.stem for path in SNAPSHOTS.glob("*.json")}
    assert pinned == set(CONTRACTS), "add or remove tests/contracts/event_schemas/<type>.json"


@pytest.mark.parametrize("event_type", sorted(CONTRACTS))
def test_contract_matches_its_pinned_schema(event_type):
    pinned = json.loads((SNAPSHOTS / f"{event_type}.json").read_text())
    assert CONTRACTS[event_type].model_json_schema() == pinned


def test_envelope_carries_cloudevents_attributes():
    event_type = "civicgrid.grids.node.created.v1"
    event = envelope("grids", event_type, "t1", "nodes/n1",
                     {"id": "n1", "kind": "CITY", "display_name": "C", "parent_id": "", "path": ["n1"]})
    Envelope.model_validate(event)
    assert set(event) == {"specversion", "id", "source", "type", "time", "subject", "tenant",
                          "datacontenttype", "data"}
    assert event["specversion"] == "1.0" and event["source"] == "/civicgrid/grids"


NODE_CREATED = {"id": "n1", "kind": "CITY", "display_name": "C", "parent_id": "", "path": ["n1"]}


def test_envelope_is_the_structured_json_form_with_civicgrid_times(monkeypatch):
    monkeypatch.setattr(events, "now", lambda: datetime(2026, 3, 1, 8, 30, tzinfo=timezone.utc))
    event = envelope("grids", "civicgrid.grids.node.created.v1", "t1", "nodes/n1", NODE_CREATED)
    assert list(event) == ["specversion", "id", "source", "type", "time", "subject", "tenant",
                           "datacontenttype", "data"]
    assert re.fullmatch(r"[0-9a-f]{32}", event["id"])
    assert {key: value for key, value in event.items() if key != "id"} == {
        "specversion": "1.0", "source": "/civicgrid/grids", "type": "civicgrid.grids.node.created.v1",
        "time": "2026-03-01T08:30:00.000000Z", "subject": "nodes/n1", "tenant": "t1",
        "datacontenttype": "application/json", "data": NODE_CREATED}
    json.dumps(event)  # as the bus carries it


def test_envelope_reads_back_as_a_cloudevent_with_its_tenant_extension():
    event = envelope("grids", "civicgrid.grids.node.created.v1", "t1", "nodes/n1", NODE_CREATED)
    read = JSONFormat().read(None, json.dumps(event))
    assert (read.get_id(), read.get_type(), read.get_subject()) == (event["id"], event["type"], "nodes/n1")
    assert read.get_extension("tenant") == "t1" and read.get_data() == NODE_CREATED
    assert read.get_time() == datetime.fromisoformat(event["time"])


def test_envelope_refuses_data_outside_the_contract():
    with pytest.raises(ValueError):
        envelope("grids", "civicgrid.grids.node.created.v1", "t1", "nodes/n1", {"id": "n1"})
