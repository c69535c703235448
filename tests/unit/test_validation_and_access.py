"""Request validation and caller scope, without servers."""
from datetime import date, datetime, timezone

import pytest

from services.access import Caller
from services.errors import InvalidArgument, NotFound
from services.grids import schemas
from services.residents import schemas as resident_schemas
from services.validation import calendar_day, latest_local_day, masked_changes, parse


def test_operator_objects_where_a_string_belongs_are_refused():
    with pytest.raises(InvalidArgument) as raised:
        parse(schemas.CreateNode, {"kind": "CITY", "display_name": {"$gt": ""}})
    assert [v["field"] for v in raised.value.violations] == ["display_name"]


def test_dollar_prefixed_keys_are_refused():
    with pytest.raises(InvalidArgument) as raised:
        parse(schemas.CreateNode, {"kind": "CITY", "display_name": "x", "$where": "1"})
    assert [v["field"] for v in raised.value.violations] == ["$where"]


def test_ids_must_be_plain_tokens():
    with pytest.raises(InvalidArgument) as raised:
        parse(schemas.GetById, {"id": "$ne"})
    assert raised.value.violations[0]["field"] == "id"


def test_update_mask_names_only_updatable_fields():
    with pytest.raises(InvalidArgument) as raised:
        masked_changes(schemas.NodeChanges, {"id": "n1", "kind": "CITY"}, ["kind"], "node")
    assert raised.value.violations[0]["field"] == "update_mask"
    assert masked_changes(schemas.NodeChanges, {"id": "n1", "display_name": "New"}, ["display_name"], "node") == \
        ("n1", {"display_name": "New"})


@pytest.mark.parametrize("mask, description", [
    (["kind"], "cannot update kind; updatable: display_name"),
    (["display_name.first"], "cannot update display_name.first; updatable: display_name"),
    ([""], "names no field to update"),
])
def test_a_mask_outside_the_updatable_fields_is_refused_on_update_mask(mask, description):
    with pytest.raises(InvalidArgument) as raised:
        masked_changes(schemas.NodeChanges, {"id": "n1", "display_name": "New"}, mask, "node")
    assert raised.value.violations == [{"field": "update_mask", "description": description}]


def test_without_a_mask_the_updatable_fields_set_are_changed_and_none_set_is_refused():
    assert masked_changes(schemas.NodeChanges, {"id": "n1", "display_name": "New"}, [], "node") == \
        ("n1", {"display_name": "New"})
    with pytest.raises(InvalidArgument) as raised:
        masked_changes(schemas.NodeChanges, {"id": "n1", "kind": "CITY"}, [], "node")
    assert raised.value.violations == [{"field": "update_mask", "description": "names no field to update"}]


def test_a_mask_is_taken_in_canonical_form_each_path_once_and_absent_fields_cleared():
    resident_id, changes = masked_changes(resident_schemas.ResidentChanges, {"id": "r1", "phone": "13812345678"},
                                          ["phone", "tags", "phone"], "resident")
    assert (resident_id, changes) == ("r1", {"phone": "13812345678", "tags": []})


def test_unknown_paths_are_named_each_once_in_order():
    with pytest.raises(InvalidArgument) as raised:
        masked_changes(schemas.NodeChanges, {"id": "n1"}, ["zeta", "alpha", "zeta"], "node")
    assert raised.value.violations[0]["description"].startswith("cannot update alpha, zeta; ")


def test_a_resource_without_its_id_is_refused_naming_the_id():
    with pytest.raises(InvalidArgument) as raised:
        masked_changes(schemas.NodeChanges, {"display_name": "New"}, ["display_name"], "node")
    assert raised.value.violations == [{"field": "node.id", "description": "is required"}]


def test_clearing_a_required_field_through_the_mask_names_it():
    with pytest.raises(InvalidArgument) as raised:
        masked_changes(schemas.NodeChanges, {"id": "n1"}, ["display_name"], "node")
    assert raised.value.violations[0]["field"] == "node.display_name"


def test_scope_filters_by_tenant_and_path():
    worker = Caller(subject="w", tenant="t1", role="grid_worker", scope=("g1",))
    assert worker.reaches(["c1", "s1", "co1", "g1", "b1"])
    assert not worker.reaches(["c1", "s1", "co1", "g2"])
    # Flat, so FerretDB pushes it down; where keys clash the caller's own condition stays flat.
    # One node in scope is an equality, which FerretDB answers from an index; several, an `$in`.
    assert worker.scoped({"kind": "GRID"}) == {"kind": "GRID", "tenant": "t1", "path": "g1"}
    assert worker.scoped({"path": "co1"}) == {"path": "co1", "tenant": "t1", "$and": [{"path": "g1"}]}
    two_grids = Caller(subject="w", tenant="t1", role="grid_worker", scope=("g1", "g2"))
    assert two_grids.scoped({"kind": "GRID"}) == {"kind": "GRID", "tenant": "t1", "path": {"$in": ["g1", "g2"]}}
    with pytest.raises(NotFound):
        worker.require(["c1", "g2"])
    operator = Caller(subject="o", tenant="t1", role="city_operator", scope=("*",))
    assert operator.scoped() == {"tenant": "t1"}


def test_calendar_days_keep_within_the_accepted_range():
    assert calendar_day("1900-01-01").isoformat() == "1900-01-01"
    assert calendar_day("2199-12-31").isoformat() == "2199-12-31"
    for outside in ("1899-12-31", "2200-01-01", "9999-12-31", "0001-01-01"):
        with pytest.raises(ValueError, match="from 1900-01-01 to before 2200-01-01"):
            calendar_day(outside)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        calendar_day("2024-02-30")


def test_a_day_counts_as_begun_once_it_has_begun_somewhere():
    """A visit made at 07:00 in Shanghai (23:00 UTC the day before) is not "in the future"."""
    late_in_utc = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)
    assert latest_local_day(late_in_utc) == date(2026, 12, 2)
    assert latest_local_day(datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)) == date(2026, 12, 1)
