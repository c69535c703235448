"""Figures of the tickets created under a node in a period: counts by category and state,
completion, response and resolution times, satisfaction and the overdue backlog. They are
counted over queue index entries (`queue_index`), whose times are milliseconds since the epoch."""
from services.tickets import lifecycle
from services.tickets.parties import all_of, in_scope
from services.tickets.queue_index import millis


def counted(caller, command):
    """The tickets a GetTicketFigures request counts (a predicate over queue index entries): in the
    caller's scope, created in the period, under the node if it names one."""
    start, end = millis(command.start_time), millis(command.end_time)
    checks = [in_scope(caller), lambda entry: start <= entry.create_time < end]
    if command.node_id:
        checks.append(lambda entry: command.node_id in entry.path)
    return all_of(*checks)


def figures_of(entries, moment):
    counts, first_response, resolution, scores = {}, [], [], []
    total = done = overdue = 0
    now = millis(moment)
    for entry in entries:
        total += 1
        key = (entry.category_id, entry.state)
        counts[key] = counts.get(key, 0) + 1
        done += entry.state in lifecycle.DONE_STATES
        overdue += entry.state in lifecycle.OPEN_STATES and entry.queue_due <= now
        if entry.first_response_time is not None:
            first_response.append(minutes_between(entry.create_time, entry.first_response_time))
        if entry.resolve_time is not None:
            resolution.append(minutes_between(entry.create_time, entry.resolve_time))
        if entry.satisfaction is not None:
            scores.append(entry.satisfaction)
    return {
        "total": total,
        "counts": [{"category_id": category, "state": state, "count": count}
                   for (category, state), count in sorted(counts.items())],
        "completion_rate": done / total if total else 0.0,
        "first_response": lifecycle.duration_figures(first_response),
        "resolution": lifecycle.duration_figures(resolution),
        "satisfaction_average": sum(scores) / len(scores) if scores else 0.0,
        "satisfaction_count": len(scores),
        "overdue_count": overdue,
    }


def minutes_between(start, end):
    """Minutes between two times in milliseconds, rounded as `timedelta.total_seconds() / 60` is."""
    return (end - start) / 1000 / 60
