"""Which services the gateway counts as up (gateway/backends.py), without a broker."""
import pytest

from gateway.backends import BackendMonitor, BackendTimeout, BackendUnavailable


class Pool:
    def __init__(self, answer):
        self.answer = answer

    def call(self, service, method, timeout):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize("answer, consuming, up", [
    ({"ok": True}, True, True),
    ({"ok": False}, True, False),  # its store does not answer
    (BackendTimeout(), True, True),  # busy: the ping waits behind queued calls
    (BackendUnavailable(), True, False),
    ({"ok": True}, False, False),  # nobody consumes its queue
])
def test_a_service_is_down_when_nothing_consumes_its_queue_or_its_store_is_gone_not_when_busy(
        answer, consuming, up):
    monitor = BackendMonitor("amqp://unused", Pool(answer), on_change=lambda _: None)
    assert monitor._answers("grids", consuming) is up
