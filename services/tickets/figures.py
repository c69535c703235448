"""Figures of the tickets created under a node in a period: counts by category and state,
completion, response and resolution times, satisfaction and the overdue backlog."""
from services.tickets import lifecycle
from services.tickets.views import aware


def period(command):
    """The tickets a GetTicketFigures request counts, before the caller's scope: created in the
    period, under the node if it names one."""
    conditions = {"create_time": {"$gte": command.start_time, "$lt": command.end_time}}
    if command.node_id:
        conditions["path"] = command.node_id
    return conditions


def figures_of(rows, moment):
    counts, first_response, resolution, scores = {}, [], [], []
    total = done = overdue = 0
    for row in rows:
        total += 1
        key = (row["category_id"], row["state"])
        counts[key] = counts.get(key, 0) + 1
        done += row["state"] in lifecycle.DONE_STATES
        overdue += row["state"] in lifecycle.OPEN_STATES and aware(row["queue_due"]) <= moment
        if row.get("first_response_time"):
            first_response.append(minutes_between(row["create_time"], row["first_response_time"]))
        if row.get("resolve_time"):
            resolution.append(minutes_between(row["create_time"], row["resolve_time"]))
        if row.get("feedback"):
            scores.append(row["feedback"]["satisfaction"])
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
    return (aware(end) - aware(start)).total_seconds() / 60
