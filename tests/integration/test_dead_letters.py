"""An event that fails every attempt ends in the dead-letter queue, where ops see it (a gauge,
`civicgrid dead-letters`) and replay it to the queue it came from once the cause is fixed."""
import re

import pytest
import requests
from kombu import Connection, Exchange, Producer

from cli.main import main
from services.events import envelope
from services.grids.events import NodeMoved
from services.messaging import EVENT_HANDLING
from tests.support.polling import eventually

pytestmark = pytest.mark.integration
MOVED = NodeMoved.event_type
# Every service follows moved nodes (services/base.py).
FOLLOWERS = ("residents", "grids", "tickets", "notifications", "volunteers")
# The first delivery and EVENT_DELIVERY_LIMIT more.
ATTEMPTS = EVENT_HANDLING.delivery_limit + 1


def dead_letter_gauge(platform):
    text = requests.get(platform.metrics_url("gateway"), timeout=5).text
    return float(re.search(r"^civicgrid_dead_letter_messages (\S+)$", text, re.M).group(1))


def failed_attempts(platform, service):
    text = requests.get(platform.metrics_url(service), timeout=5).text
    found = re.search(r'^civicgrid_events_consumed_total\{outcome="error",service="%s",type="%s"\} (\S+)$'
                      % (service, re.escape(MOVED)), text, re.M)
    return float(found.group(1)) if found else 0.0


def publish_poison(amqp_uri, unique):
    """A node.moved event whose data lacks the new path: every follower's handler fails on it."""
    event = envelope("grids", MOVED, f"dead-{unique}", f"nodes/{unique}", {
        "id": unique, "kind": "GRID", "display_name": "网格", "previous_parent_id": "a", "parent_id": "b",
        "previous_path": ["a", unique], "path": ["b", unique]})
    del event["data"]["path"]
    with Connection(amqp_uri) as connection:
        Producer(connection.channel(), exchange=Exchange("grids.events", type="topic", durable=True)).publish(
            event, routing_key=MOVED, serializer="json", delivery_mode=2)
    return event


def test_a_poison_event_is_dead_lettered_counted_and_replayed(platform, unique, capsys):
    waiting_before = dead_letter_gauge(platform)
    failed_before = {service: failed_attempts(platform, service) for service in FOLLOWERS}
    publish_poison(platform.amqp_uri, unique)

    assert eventually(lambda: dead_letter_gauge(platform) == waiting_before + len(FOLLOWERS), 30)
    assert all(failed_attempts(platform, service) - failed_before[service] == ATTEMPTS
               for service in FOLLOWERS)
    assert main(["dead-letters", "--amqp-uri", platform.amqp_uri]) == 0
    listing = capsys.readouterr().out
    for service in FOLLOWERS:
        queue = f"evt-grids-{MOVED}--{service}.follow_node_move"
        assert re.search(rf"^\d+\t{re.escape(MOVED)}\t{re.escape(queue)}\tdelivery_limit$", listing, re.M), listing

    assert main(["dead-letters", "replay", "--amqp-uri", platform.amqp_uri]) == 0
    assert re.search(r"replayed (\d+) events", capsys.readouterr().out).group(1) == str(
        int(waiting_before) + len(FOLLOWERS))
    # Each went back to its own queue only: each follower tries it ATTEMPTS times more,
    # then it is back in the dead-letter queue, once per follower.
    assert eventually(lambda: all(failed_attempts(platform, service) - failed_before[service] == 2 * ATTEMPTS
                                for service in FOLLOWERS), 30)
    assert eventually(lambda: dead_letter_gauge(platform) >= waiting_before + len(FOLLOWERS), 30)
