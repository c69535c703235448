"""Events are never lost between a write and its publication."""
import time
from datetime import timedelta

import pytest

from services.events import envelope
from services.grids.events import FlatCreated, NodeCreated
from services.storage import now, timestamp
from tests.support.events import EventTap
from tests.support.polling import eventually

pytestmark = pytest.mark.integration


def test_published_events_leave_the_outbox(platform, unique):
    city = platform.client(tenant=f"outbox-{unique}").call(
        "civicgrid.grids.v1.Grids/CreateNode", {"kind": "CITY", "display_name": "Outbox City"})
    nodes = platform.database("grids").nodes
    # Published at once, and removed from the record by the relay's next round.
    assert eventually(lambda: nodes.find_one({"_id": city["id"]})["outbox"] == [], timeout=40)
    assert eventually(lambda: nodes.find_one({"_id": city["id"]})["outbox_pending"] is False, timeout=20)


def test_relay_publishes_what_a_crash_left_in_the_outbox(platform, unique):
    """A record written with its event, as if the service died before publishing it."""
    tenant = f"crash-{unique}"
    tap = EventTap(platform.amqp_uri, ["grids"])
    try:
        event = envelope("grids", NodeCreated.event_type, tenant, f"nodes/{unique}",
                         {"id": unique, "kind": "CITY", "display_name": "Crashed", "parent_id": "",
                          "path": [unique]})
        event["time"] = timestamp(now() - timedelta(seconds=30))
        platform.database("grids").nodes.insert_one({
            "_id": unique, "tenant": tenant, "request_id": unique, "kind": "CITY", "display_name": "Crashed",
            "parent_id": "", "path": [unique], "create_time": now(), "update_time": now(), "outbox": [event],
            "outbox_pending": True})
        published = tap.drain(tenant, {"civicgrid.grids.node.created.v1": 1})
        assert [e["id"] for e in published] == [event["id"]]
        assert eventually(lambda: platform.database("grids").nodes.find_one({"_id": unique})["outbox"] == [],
                        timeout=40)
    finally:
        tap.close()


def test_relay_publishes_the_events_of_what_a_crashed_import_inserted_and_no_others(platform, unique):
    """An import batch held its events, inserted one of its two flats (the other was there before)
    and died before publishing: only the inserted flat's event goes out, and the batch is released."""
    tenant, grids = f"held-{unique}", platform.database("grids")
    tap = EventTap(platform.amqp_uri, ["grids"])
    try:
        events = {name: flat_created(tenant, f"{unique}-{name}") for name in ("inserted", "there-before")}
        grids.held_events.insert_one({"_id": unique, "time": now() - timedelta(seconds=30), "held": [
            {"records": "flats", "record_id": event["data"]["id"], "event": event} for event in events.values()]})
        for name, batch in (("inserted", unique), ("there-before", "an-earlier-batch")):
            grids.flats.insert_one({"_id": f"{unique}-{name}", "tenant": tenant, "request_id": f"{unique}-{name}",
                                    "outbox": [], "outbox_pending": False, "import_batch": batch})
        assert eventually(lambda: grids.held_events.find_one({"_id": unique}) is None, timeout=40)
        time.sleep(1)  # anything else the relay published has arrived by now
        published = tap.drain(tenant, {"civicgrid.grids.flat.created.v1": 1})
        assert [e["id"] for e in published] == [events["inserted"]["id"]]
    finally:
        tap.close()


def flat_created(tenant, flat_id):
    event = envelope("grids", FlatCreated.event_type, tenant, f"flats/{flat_id}", {
        "id": flat_id, "building_id": "b", "unit": "1", "floor": 1, "number": "101", "occupancy": "VACANT",
        "path": ["b", flat_id]})
    event["time"] = timestamp(now() - timedelta(seconds=30))
    return event
