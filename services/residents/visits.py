"""Home visits' rules, free of storage and RPC: which households wait longest for a visit, and
which visitors are behind their quota."""
from datetime import date, timedelta

from services.errors import InvalidArgument


def unvisited_cutoff(days, today=None):
    """The visit date before which a household counts as not visited in `days` days."""
    return ((today or date.today()) - timedelta(days=days)).isoformat()


def ranked_unvisited(households, vulnerable, limit):
    """The first `limit` households: those with the most vulnerable members (elderly, living alone,
    disabled; `vulnerable` is household id -> how many) first, then the longest unvisited."""
    ranked = sorted(households, key=lambda h: (-vulnerable.get(h["_id"], 0), h.get("last_visit_date", ""), h["_id"]))
    return [{"household_id": h["_id"], "display_name": h["display_name"], "flat_id": h["flat_id"],
             "last_visit_date": h.get("last_visit_date", ""), "vulnerable_members": vulnerable.get(h["_id"], 0)}
            for h in ranked[:limit]]


def check_period(period_start, period_end):
    if period_end < period_start:
        raise InvalidArgument.field("period_end", "is before period_start")


def quota_rows(visited, visitors, quota):
    """Each visitor's distinct households visited against the quota, the furthest behind first;
    `visited` is visitor -> households, `visitors` those reported even with no visit."""
    counts = {**{visitor: 0 for visitor in visitors}, **visited}
    rows = [{"visitor": visitor, "households_visited": count, "quota": quota, "behind": count < quota}
            for visitor, count in counts.items()]
    rows.sort(key=lambda row: (row["households_visited"], row["visitor"]))
    return rows
