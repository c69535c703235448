"""Waiting for what the platform does asynchronously."""
import time


def eventually(condition, timeout=15, interval=0.2):
    """The value of `condition()` once it is truthy, or its last (falsy) value after `timeout`
    seconds: callers assert on it, or use what it found."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(interval)
    return condition()
