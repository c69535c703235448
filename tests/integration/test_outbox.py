"""Events are never lost between a write and its publication."""
import time
from datetime import timedelta

import pytest

from services.events import envelope
from services.grids.events import NodeCreated
from services.storage import now, timestamp
from tests.integration.test_foundation_slice import EventTap

pytestmark = pytest.mark.integration


def wait_for(condition, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_published_events_leave_the_outbox(platform, unique):
    city = platform.client(tenant=f"outbox-{unique}").call(
        "civicgrid.grids.v1.Grids/CreateNode", {"kind": "CITY", "display_name": "Outbox City"})
    nodes = platform.database("grids").nodes
    # Published at once, and removed from the record by the relay's next round.
    assert wait_for(lambda: nodes.find_one({"_id": city["id"]})["outbox"] == [], timeout=40)


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
            "parent_id": "", "path": [unique], "create_time": now(), "update_time": now(), "outbox": [event]})
        published = tap.drain(tenant, {"civicgrid.grids.node.created.v1": 1})
        assert [e["id"] for e in published] == [event["id"]]
        assert wait_for(lambda: platform.database("grids").nodes.find_one({"_id": unique})["outbox"] == [],
                        timeout=40)
    finally:
        tap.close()
