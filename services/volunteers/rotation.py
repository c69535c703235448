"""Which grid a social organisation is rotated to in a period: free of storage and RPC.

A rotation names an organisation, the grids it visits in order, a period length and a start
date; period k (counted from the start) sends it to grid k modulo the number of grids.
Monthly and quarterly rotations start on the first of a month, so periods are calendar months
or quarters and every operator counts them the same way."""
from datetime import date, timedelta

from services.errors import FailedPrecondition, InvalidArgument

MONTHS_PER_PERIOD = {"MONTH": 1, "QUARTER": 3}
WEEK = timedelta(days=7)


def started(rotation, on):
    return date.fromisoformat(on) >= date.fromisoformat(rotation["start_date"])


def period_of(rotation, on):
    """(period index, first day, first day after) of the period holding date `on`."""
    start, day = date.fromisoformat(rotation["start_date"]), date.fromisoformat(on)
    if rotation["period"] == "WEEK":
        index = (day - start).days // 7
        first = start + index * WEEK
        return index, first, first + WEEK
    months = MONTHS_PER_PERIOD[rotation["period"]]
    index = ((day.year - start.year) * 12 + day.month - start.month) // months
    return index, add_months(start, index * months), add_months(start, (index + 1) * months)


def assignment(rotation, on):
    """Where the rotation sends its organisation in the period holding date `on`."""
    if not started(rotation, on):
        raise FailedPrecondition(f"the rotation starts on {rotation['start_date']}",
                                 [{"field": "date", "description": f"before {rotation['start_date']}"}])
    index, start, end = period_of(rotation, on)
    return {"rotation_id": rotation["_id"], "organisation_id": rotation["organisation_id"],
            "grid_id": rotation["grid_ids"][index % len(rotation["grid_ids"])], "period_index": index,
            "period_start": start.isoformat(), "period_end": end.isoformat()}


def refuse_grid_outside(community, grid):
    """A rotation visits grids below its community, and only grids."""
    if grid["kind"] != "GRID" or community["id"] not in grid["path"]:
        raise InvalidArgument.field("grid_ids", f"{grid['id']} is not a grid under node {community['id']}")


def refuse_unless_grid(node):
    if node["kind"] != "GRID":
        raise InvalidArgument.field("grid_id", "must be a grid")


def add_months(first_of_month, months):
    total = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)
