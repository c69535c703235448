"""A store's health as the gateway's pings and the readiness probes see it
(services/storage/repository.py): busy is up, gone is down."""
from unittest.mock import MagicMock

import pytest
from pymongo.errors import AutoReconnect, ExecutionTimeout, NetworkTimeout, ServerSelectionTimeoutError, \
    WaitQueueTimeoutError

from services.storage.repository import Repository


def repository_whose_ping(outcome):
    repository = Repository.__new__(Repository)
    repository.database = MagicMock()
    repository.database.command.side_effect = outcome
    return repository


def test_a_store_that_answers_is_up():
    assert repository_whose_ping(None).answers()


@pytest.mark.parametrize("slow", [NetworkTimeout("timed out"), WaitQueueTimeoutError("no connection free"),
                                  ExecutionTimeout("operation exceeded time limit")])
def test_a_store_too_busy_to_answer_the_ping_in_time_is_up(slow):
    assert repository_whose_ping(slow).answers()


@pytest.mark.parametrize("gone", [ServerSelectionTimeoutError("no servers"), AutoReconnect("connection refused")])
def test_a_store_that_cannot_be_reached_is_down(gone):
    assert not repository_whose_ping(gone).answers()
