"""What keeps a service alive and an event handled through outages, without a broker."""
import sys

import pytest
from pymongo.errors import AutoReconnect, ServerSelectionTimeoutError

from services import messaging
from services.errors import NotFound, Unavailable
from services.events import consume_once
from services.settings import RpcSettings


class Marks:
    """A repository's handled-event marks, in memory."""

    def __init__(self):
        self.handled = set()

    def was_handled(self, event_id):
        return event_id in self.handled

    def mark_handled(self, event_id):
        self.handled.add(event_id)


EVENT = {"id": "e1", "type": "civicgrid.grids.node.moved.v1", "tenant": "t1", "data": {}}


def raised(error):
    try:
        raise error
    except type(error):
        return sys.exc_info()


def test_a_store_or_broker_that_does_not_answer_becomes_unavailable():
    for error in (ServerSelectionTimeoutError("no server"), ConnectionResetError(), AutoReconnect("gone")):
        kind, value, _ = messaging.as_unavailable(raised(error))
        assert kind is Unavailable and value.code == "UNAVAILABLE"


def test_domain_errors_and_success_pass_through_unchanged():
    not_found = raised(NotFound("node not found"))
    assert messaging.as_unavailable(not_found) is not_found
    assert messaging.as_unavailable(None) is None


def test_the_mark_is_written_only_after_the_handler_succeeds():
    marks, calls = Marks(), []

    def failing(event):
        calls.append(event["id"])
        raise KeyError("path")

    with pytest.raises(KeyError):
        consume_once(marks, "residents", EVENT, failing)
    assert marks.handled == set()
    consume_once(marks, "residents", EVENT, calls.append)
    consume_once(marks, "residents", EVENT, calls.append)
    assert calls == ["e1", EVENT] and marks.handled == {"e1"}


def test_a_handler_waits_out_an_outage_in_place(monkeypatch):
    pauses, attempts = [], []
    monkeypatch.setattr(messaging.eventlet, "sleep", pauses.append)

    def handler(event):
        attempts.append(event)
        if len(attempts) < 4:
            raise AutoReconnect("store restarting")
        return "done"

    assert messaging.waiting_out_outages(handler)(EVENT) == "done"
    assert len(attempts) == 4 and pauses == list(messaging.OUTAGE_BACKOFF_SECONDS[:3])


def test_other_failures_are_not_retried_in_place(monkeypatch):
    monkeypatch.setattr(messaging.eventlet, "sleep", lambda _: pytest.fail("must not wait"))

    def handler(event):
        raise KeyError("path")

    with pytest.raises(KeyError):
        messaging.waiting_out_outages(handler)(EVENT)


def test_stacked_handlers_wrap_the_method_once():
    def handler(event):
        return event

    once = messaging.waiting_out_outages(handler)
    assert messaging.waiting_out_outages(once) is once


def test_work_queues_are_quorum_queues_that_dead_letter():
    queue = messaging.work_queue(messaging.Queue("evt-grids-x--residents.follow", routing_key="x"))
    assert queue.queue_arguments == {"x-queue-type": "quorum", "x-delivery-limit": messaging.EVENT_HANDLING.delivery_limit,
                                     "x-dead-letter-exchange": "civicgrid.dead-letter"}
    assert queue.durable and not queue.auto_delete and not queue.exclusive


def test_a_call_to_another_service_gives_up_as_unavailable(monkeypatch):
    class SilentReply:
        def result(self):
            messaging.eventlet.sleep(5)

    class MethodProxy:
        def call_async(self, *args, **kwargs):
            return SilentReply()

    class ServiceProxy:
        count_people = MethodProxy()

    monkeypatch.setattr(messaging, "RPC", RpcSettings(call_timeout_seconds=0.05))
    residents = messaging.TimedServiceProxy(ServiceProxy(), "residents")
    with pytest.raises(Unavailable):
        residents.count_people({}, {})
    with pytest.raises(Unavailable):
        residents.count_people.call_async({}, {}).result()
