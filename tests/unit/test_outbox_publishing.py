"""The store publishes what a worker wrote once the worker has succeeded (services/storage/provider.py,
services/outbox.py), without a broker: the publish function and the repository are stand-ins."""
from unittest import mock

import pytest
from kombu.exceptions import OperationalError

from services.outbox import OutboxPublisher
from services.storage.provider import MongoStore
from services.storage.records import WorkerWrites


def event(event_id):
    return {"id": event_id, "type": "civicgrid.test.v1", "time": "2026-12-01T00:00:00.000Z"}


class Written:
    """A repository bound to a worker that wrote `documents` (with their records) and `batches`."""

    def __init__(self, publish_all, documents=(), batches=()):
        self.writes = WorkerWrites(OutboxPublisher(publish_all, "test"))
        self.records = mock.Mock()
        self.writes.records = [(self.records, document) for document in documents]
        self.writes.batches = list(batches)
        self.mark_published = mock.Mock()
        self.release_events = mock.Mock()


def test_a_workers_records_are_published_marked_and_a_retired_one_removed():
    published = []
    kept, retired = {"_id": "a", "outbox": [event("e1")]}, {"_id": "b", "outbox": [event("e2")], "retire_time": 1}
    repository = Written(published.extend, [kept, retired])
    repository.writes.outbox.publish_written(repository)
    assert [e["id"] for e in published] == ["e1", "e2"]
    repository.mark_published.assert_called_once_with(["e1", "e2"])
    repository.records.remove_retired.assert_called_once_with(retired)


def test_a_held_import_batch_is_published_unmarked_then_released():
    published = []
    repository = Written(published.extend, batches=[("batch-1", [event("e1"), event("e2")])])
    repository.writes.outbox.publish_written(repository)
    assert [e["id"] for e in published] == ["e1", "e2"]
    repository.mark_published.assert_not_called()
    repository.release_events.assert_called_once_with("batch-1")


def test_a_broker_that_refuses_leaves_everything_pending_for_the_relay():
    refuse = mock.Mock(side_effect=OperationalError("broker gone"))
    retired = {"_id": "b", "outbox": [event("e2")], "retire_time": 1}
    repository = Written(refuse, [retired], batches=[("batch-1", [event("e3")])])
    repository.writes.outbox.publish_written(repository)
    repository.mark_published.assert_not_called()
    repository.records.remove_retired.assert_not_called()
    repository.release_events.assert_not_called()


@pytest.fixture
def store():
    provider = MongoStore(repository_class=None)
    provider.bound = {}
    return provider


def worker(store):
    worker_ctx = mock.Mock()
    repository = mock.Mock()
    store.bound[worker_ctx] = repository
    return worker_ctx, repository


def test_the_store_publishes_after_a_worker_that_succeeded(store):
    worker_ctx, repository = worker(store)
    store.worker_result(worker_ctx, result={"ok": True})
    repository.writes.outbox.publish_written.assert_called_once_with(repository)
    assert worker_ctx not in store.bound


def test_a_worker_that_failed_leaves_its_events_to_the_relay(store):
    worker_ctx, repository = worker(store)
    store.worker_result(worker_ctx, exc_info=(ValueError, ValueError("no"), None))
    repository.writes.outbox.publish_written.assert_not_called()
    assert worker_ctx not in store.bound


def test_a_failure_to_publish_never_reaches_the_container(store):
    worker_ctx, repository = worker(store)
    repository.writes.outbox.publish_written.side_effect = RuntimeError("store gone mid-publish")
    store.worker_result(worker_ctx, result={})
