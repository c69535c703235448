"""The rules of a ticket's life, free of storage and RPC: which transition is allowed from
which state, how promised times run per stage and level, how priority is raised, how a
category's extra fields are checked, and the figures' arithmetic."""
import math
import statistics
from datetime import datetime, timedelta, timezone

from services.errors import FailedPrecondition, InvalidArgument

# verb -> states it may start from
ALLOWED_FROM = {
    "triage": {"SUBMITTED"},
    "assign": {"TRIAGED", "ASSIGNED", "IN_PROGRESS"},
    "start": {"ASSIGNED"},
    "resolve": {"IN_PROGRESS"},
    "feedback": {"RESOLVED"},
    "close": {"FEEDBACK", "RESOLVED", "REJECTED", "DUPLICATE"},
    "reopen": {"RESOLVED", "FEEDBACK", "CLOSED"},
}
OPEN_STATES = ("SUBMITTED", "TRIAGED", "ASSIGNED", "IN_PROGRESS")
DONE_STATES = ("RESOLVED", "FEEDBACK", "CLOSED")
# Closing reasons that fit the state a ticket is closed from.
CLOSING_REASONS_FROM = {
    "DUPLICATE": {"DUPLICATE_REPORT"},
    "REJECTED": {"NOT_OUR_RESPONSIBILITY", "NO_ACTION_POSSIBLE"},
    "RESOLVED": {"FIXED", "NOT_OUR_RESPONSIBILITY", "NO_ACTION_POSSIBLE"},
    "FEEDBACK": {"FIXED", "NOT_OUR_RESPONSIBILITY", "NO_ACTION_POSSIBLE"},
}
LEVELS = ("GRID", "COMMUNITY", "STREET")
PRIORITIES = ("LOW", "NORMAL", "HIGH", "URGENT")
VULNERABLE_TAGS = frozenset({"elderly", "living_alone", "disabled"})
LOW_SATISFACTION = 2
# A deadline is "approaching" in the last quarter of its stage's promised time.
APPROACHING_SHARE = 0.25
# Sort key of tickets whose clock is not running: after every real due time.
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=timezone.utc)
STAFF_ROLES = ("city_operator", "community_staff", "grid_worker")


def require_state(verb, ticket):
    if ticket["state"] not in ALLOWED_FROM[verb]:
        raise FailedPrecondition(
            f"cannot {verb} a ticket that is {ticket['state']}; allowed from "
            f"{', '.join(sorted(ALLOWED_FROM[verb]))}")


def require_closing_reason(ticket, reason):
    if reason not in CLOSING_REASONS_FROM[ticket["state"]]:
        raise InvalidArgument.field(
            "closing_reason", f"a {ticket['state']} ticket closes as "
                              f"{' or '.join(sorted(CLOSING_REASONS_FROM[ticket['state']]))}")


def raised_priority(priority, tags):
    """One step up (at most URGENT) for a resident tagged elderly, living alone or disabled."""
    reasons = sorted(VULNERABLE_TAGS & set(tags))
    if not reasons:
        return priority, []
    return PRIORITIES[min(PRIORITIES.index(priority) + 1, len(PRIORITIES) - 1)], reasons


def promise_for(category, priority):
    """The category's promised minutes for a priority, falling back to NORMAL's."""
    by_priority = {promise["priority"]: promise for promise in category["promises"]}
    promise = by_priority.get(priority) or by_priority["NORMAL"]
    return {"first_response_minutes": promise["first_response_minutes"],
            "resolution_minutes": promise["resolution_minutes"]}


def stage_minutes(ticket, stage):
    key = "first_response_minutes" if stage == "FIRST_RESPONSE" else "resolution_minutes"
    return ticket["promise"][key]


def new_clock(promise, stage, level, moment):
    """A fresh clock for `stage` at `level`: each level gets the stage's full promised time."""
    minutes = promise["first_response_minutes" if stage == "FIRST_RESPONSE" else "resolution_minutes"]
    duration = timedelta(minutes=minutes)
    return running_clock(stage, level, moment, moment + duration, duration.total_seconds() * APPROACHING_SHARE)


def running_clock(stage, level, started_at, due_at, warn_seconds, approaching=False):
    return {"stage": stage, "level": level, "started_at": started_at, "due_at": due_at,
            "warn_at": due_at - timedelta(seconds=warn_seconds), "warn_seconds": warn_seconds,
            "paused": False, "pause_reason": "", "remaining_seconds": 0,
            "approaching_notified": approaching, "missed_notified": False}


def paused_clock(clock, reason, moment):
    if clock is None:
        raise FailedPrecondition("the ticket has no running clock to pause")
    if clock["paused"]:
        raise FailedPrecondition("the clock is already paused")
    remaining = max(0, int((clock["due_at"] - moment).total_seconds()))
    return {**clock, "paused": True, "pause_reason": reason, "remaining_seconds": remaining}


def resumed_clock(clock, moment):
    if clock is None or not clock["paused"]:
        raise FailedPrecondition("the clock is not paused")
    due_at = moment + timedelta(seconds=clock["remaining_seconds"])
    resumed = running_clock(clock["stage"], clock["level"], clock["started_at"], due_at, clock["warn_seconds"],
                            approaching=clock["approaching_notified"])
    resumed["missed_notified"] = clock["missed_notified"]
    return resumed


def escalated_clock(ticket, moment):
    """The next level up with a new clock for the same stage."""
    clock = ticket.get("clock")
    if clock is None:
        raise FailedPrecondition(f"a {ticket['state']} ticket has no running stage to escalate")
    if clock["level"] == LEVELS[-1]:
        raise FailedPrecondition("the ticket is already at the highest level (STREET)")
    level = LEVELS[LEVELS.index(clock["level"]) + 1]
    return new_clock(ticket["promise"], clock["stage"], level, moment)


def queue_due(clock):
    """What queues sort on: the running clock's due time; no clock or a paused one sorts last."""
    if clock is None or clock["paused"]:
        return NO_DEADLINE
    return clock["due_at"]


def warning_due(ticket, moment):
    """Whether the deadline scan must now announce the ticket's approaching deadline."""
    clock = ticket.get("clock")
    return bool(ticket["state"] in OPEN_STATES and clock and not clock["paused"] and not clock["approaching_notified"]
                and clock["warn_at"] <= moment)


def deadline_missed(ticket, moment):
    """Whether the deadline scan must now mark the ticket's deadline missed."""
    clock = ticket.get("clock")
    return bool(ticket["state"] in OPEN_STATES and clock and not clock["missed_notified"]
                and ticket["queue_due"] <= moment)


def watch_time(ticket):
    """The first moment at which `warning_due` or `deadline_missed` may hold, as the ticket stands;
    None if neither ever will until it changes."""
    clock = ticket.get("clock")
    if ticket["state"] not in OPEN_STATES or not clock:
        return None
    times = [ticket["queue_due"]] if not clock["missed_notified"] else []
    if not clock["paused"] and not clock["approaching_notified"]:
        times.append(clock["warn_at"])
    return min(times, default=None)


def checked_extra(category, extra):
    """Validates a ticket's extra fields against its category, like an Open311 service definition."""
    declared = {field["name"]: field for field in category.get("extra_fields", [])}
    violations = []
    for name in sorted(set(extra) - set(declared)):
        violations.append((f"extra.{name}", f"is not a field of category {category['name']}"))
    for name, field in declared.items():
        if name not in extra:
            if field.get("required"):
                violations.append((f"extra.{name}", "is required by this category"))
            continue
        if not value_fits(field["type"], extra[name]):
            violations.append((f"extra.{name}", f"must be a {field['type'].lower()}"))
    if violations:
        raise InvalidArgument("; ".join(f"{field}: {text}" for field, text in violations),
                              [{"field": field, "description": text} for field, text in violations])
    return dict(extra)


def value_fits(field_type, value):
    if field_type == "BOOLEAN":
        return isinstance(value, bool)
    if field_type == "NUMBER":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, str) and value.strip() != ""


def percentile(values, share):
    """Nearest-rank percentile of a list of numbers (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return float(ordered[rank - 1])


def median(values):
    return float(statistics.median(values)) if values else 0.0


def duration_figures(minutes):
    return {"count": len(minutes), "median_minutes": median(minutes), "p90_minutes": percentile(minutes, 0.9)}
