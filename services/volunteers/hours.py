"""Service hours from closed shifts: one volunteer's or team's ledger by month, and who served most
over a period. Free of storage and RPC: they read the shifts the store found.

Periods are half-open date ranges [start_date, end_date); a shift counts in the month it ended."""
from datetime import date, datetime, time, timezone

from services.errors import InvalidArgument
from services.storage import public

DEFAULT_ACTIVE_HOURS_PER_MONTH = 8.0


def period(command):
    """The command's [start_date, end_date) as moments at midnight UTC."""
    start = datetime.combine(date.fromisoformat(command.start_date), time(), timezone.utc)
    end = datetime.combine(date.fromisoformat(command.end_date), time(), timezone.utc)
    return start, end


def refuse_unless_one_of(volunteer_id, team_id):
    if bool(volunteer_id) == bool(team_id):
        raise InvalidArgument.field("volunteer_id", "give exactly one of volunteer_id and team_id")


def ledger(shifts):
    """Hours by month and in all, with the shifts they come from (ordered by end)."""
    by_month = {}
    for shift in shifts:
        month = shift["end_time"].strftime("%Y-%m")
        by_month[month] = by_month.get(month, 0.0) + shift["hours"]
    return {"periods": [{"period": m, "hours": round(h, 2)} for m, h in sorted(by_month.items())],
            "total_hours": round(sum(s["hours"] for s in shifts), 2),
            "shifts": [public(s) for s in shifts]}


def totals(shifts, group_by):
    """Hours per volunteer, or per team (a shift counts for every team its volunteer was in)."""
    by_key = {}
    for shift in shifts:
        keys = [shift["volunteer_id"]] if group_by == "BY_VOLUNTEER" else shift.get("team_ids", [])
        for key in keys:
            by_key[key] = by_key.get(key, 0.0) + shift["hours"]
    return by_key


def ranked(hours_by_key, names, command):
    """The totals, most hours first, each with its monthly average and whether that makes it active."""
    months = months_touched(command.start_date, command.end_date)
    threshold = command.active_hours_per_month or DEFAULT_ACTIVE_HOURS_PER_MONTH
    ordered = sorted(hours_by_key.items(), key=lambda item: (-item[1], names.get(item[0], ""), item[0]))
    ordered = ordered[:command.limit] if command.limit else ordered
    return [{"id": key, "display_name": names.get(key, ""), "hours": round(hours, 2),
             "average_hours_per_month": round(hours / months, 2), "active": hours / months >= threshold,
             "rank": place}
            for place, (key, hours) in enumerate(ordered, start=1)]


def months_touched(start_date, end_date):
    """Calendar months the half-open range [start, end) reaches into, at least one."""
    start, end = date.fromisoformat(start_date), date.fromisoformat(end_date)
    months = (end.year * 12 + end.month) - (start.year * 12 + start.month) + (1 if end.day > 1 else 0)
    return max(months, 1)
