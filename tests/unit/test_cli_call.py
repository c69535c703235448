"""`civicgrid call` refuses what the contracts do not take, clearly and before sending anything."""
import pytest

from cli.main import main


@pytest.mark.parametrize("method, request_text, message", [
    ("civicgrid.grids.v1.Grids/ListNodes", '{"kind": "GRID"}', 'has no field named "kind"'),
    ("civicgrid.grids.v1.Grids/ListNodes", "{not json", "the request is not JSON"),
    ("civicgrid.grids.v1.Grids/ListNodes", "[1]", "must be a JSON object"),
    ("civicgrid.grids.v1.Grids/NoSuchMethod", "{}", "no method 'civicgrid.grids.v1.Grids/NoSuchMethod'"),
    ("civicgrid.nowhere.v1.Nothing/Call", "{}", "no method"),
])
def test_a_request_the_contracts_do_not_take_is_refused_before_sending(capsys, method, request_text, message):
    # No gateway listens at this address: anything actually sent would fail as UNAVAILABLE.
    assert main(["--token", "t", "--gateway", "127.0.0.1:1", "call", method, request_text]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nothing sent:") and message in err
