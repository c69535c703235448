"""Which grid a social organisation is rotated to in a period: free of storage and RPC.

A rotation names an organisation, the grids it visits in order, a period length and a start
date; period k (counted from the start) sends it to grid k modulo the number of grids.
Monthly and quarterly rotations start on the first of a month, so periods are calendar months
or quarters and every operator counts them the same way."""
from datetime import date, timedelta

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


def add_months(first_of_month, months):
    total = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)
