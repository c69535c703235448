"""Pins the shape of every event type: a change to a contract must change this file too."""
import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import services
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


def test_envelope_refuses_data_outside_the_contract():
    with pytest.raises(ValueError):
        envelope("grids", "civicgrid.grids.node.created.v1", "t1", "nodes/n1", {"id": "n1"})
