"""services/readiness.py without a broker or a store: what /ready makes of the RPC consumer's
state and of the store's ping, and that every other path still answers the metrics."""
from types import SimpleNamespace
from wsgiref.util import setup_testing_defaults

import pytest
from kombu import Queue
from nameko.rpc import RpcConsumer

import services.metrics  # noqa: F401 - registers the metrics /metrics must answer
from services.readiness import consumes, metrics_and_readiness, readiness
from services.storage import MongoStore

QUEUE = Queue("rpc-grids")


UP = SimpleNamespace(connected=True)


def kombu_consumer(tags=(QUEUE.name,), channel_open=True, connection=UP):
    channel = SimpleNamespace(is_open=channel_open, connection=connection)
    return SimpleNamespace(channel=channel, consuming_from=lambda queue: queue.name in tags)


def rpc_consumer(consumer=None):
    rpc = RpcConsumer()
    rpc.queue = QUEUE
    rpc.queue_consumer = SimpleNamespace(_consumers={rpc: consumer} if consumer else {})
    return rpc


def store(answers):
    dependency = MongoStore(repository_class=None)
    dependency.repository = SimpleNamespace(answers=lambda: answers)
    return dependency


def test_a_process_consumes_on_an_open_channel_with_its_consumer_tag():
    assert consumes(rpc_consumer(kombu_consumer()))


@pytest.mark.parametrize("consumer", [
    None,                                    # not connected yet: no consumer made
    kombu_consumer(tags=()),                 # the queue is not consumed (cancelled, or not yet)
    kombu_consumer(channel_open=False),      # the broker went: the old consumer's channel closed
    kombu_consumer(connection=None),         # ... and was collected
    kombu_consumer(connection=SimpleNamespace(connected=False)),  # the socket broke, unnoticed yet
], ids=["no consumer", "no tag", "channel closed", "channel collected", "connection broken"])
def test_a_process_does_not_consume_without(consumer):
    assert not consumes(rpc_consumer(consumer))


def container(rpc, dependency):
    return SimpleNamespace(subextensions={rpc} if rpc else set(), dependencies={dependency} if dependency else set())


def test_ready_takes_both_checks():
    assert readiness(container(rpc_consumer(kombu_consumer()), store(True))) == {
        "consumes its RPC queue": True, "store answers": True}
    assert readiness(container(rpc_consumer(kombu_consumer()), store(False)))["store answers"] is False
    assert readiness(container(rpc_consumer(None), store(True)))["consumes its RPC queue"] is False


def test_a_service_without_an_rpc_queue_or_a_store_is_not_ready():
    assert readiness(container(None, None)) == {"consumes its RPC queue": False, "store answers": False}
    assert readiness(container(rpc_consumer(kombu_consumer()), store(None)))["store answers"] is False
    unset = store(True)
    unset.repository = None
    assert readiness(container(rpc_consumer(kombu_consumer()), unset))["store answers"] is False


def request(app, path):
    environ = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    answer = {}
    body = b"".join(app(environ, lambda status, headers: answer.update(status=status, headers=headers)))
    return answer["status"], body.decode()


def test_ready_answers_200_only_when_every_check_passes():
    checks = {"consumes its RPC queue": True, "store answers": True}
    app = metrics_and_readiness(lambda: checks)
    assert request(app, "/ready") == ("200 OK", "consumes its RPC queue: yes\nstore answers: yes\n")
    checks["consumes its RPC queue"] = False
    assert request(app, "/ready") == ("503 Service Unavailable", "consumes its RPC queue: no\nstore answers: yes\n")


def test_metrics_are_served_as_before_and_never_wait_on_the_checks():
    app = metrics_and_readiness(lambda: pytest.fail("/metrics must not run the readiness checks"))
    status, body = request(app, "/metrics")
    assert status == "200 OK"
    assert "# TYPE civicgrid_rpc_requests_total counter" in body
