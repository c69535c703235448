"""Ranks volunteers for a task and says why: pure functions over stored documents, so that one
indexed query feeds them and thousands of candidates score in well under a second.

Weights (out of 100): skill fit 40, valid certification 20, availability over the task's time
window 20, nearness in the hierarchy 15, fairness (asked least lately) 5."""
from datetime import date, datetime, time, timedelta, timezone

from services.volunteers.schemas import WEEKDAYS

SKILL_WEIGHT = 40
CERTIFICATION_WEIGHT = 20
AVAILABILITY_WEIGHT = 20
NEARNESS_WEIGHT = 15
FAIRNESS_WEIGHT = 5
# Dispatches this recent count against a volunteer's fairness score.
FAIRNESS_WINDOW = timedelta(days=30)
WEEK = timedelta(days=7)


def skill_fit(skills, requirements):
    """(fraction of the required levels met, every level met, reasons)."""
    if not requirements:
        return 1.0, True, ["no skills required"]
    levels = {skill["name"]: skill["level"] for skill in skills}
    total, meets_all, reasons = 0.0, True, []
    for requirement in requirements:
        name, needed = requirement["name"], requirement["min_level"]
        level = levels.get(name, 0)
        total += min(level / needed, 1.0)
        if level >= needed:
            reasons.append(f"{name} level {level} meets {needed}")
        else:
            meets_all = False
            reasons.append(f"{name} level {level} below required {needed}" if level else f"lacks skill {name}")
    return total / len(requirements), meets_all, reasons


def certification_problem(certifications, name, task_end):
    """Why a volunteer's certification does not qualify for a task ending at `task_end`, or None."""
    if not name:
        return None
    held = next((c for c in certifications if c["name"] == name), None)
    if held is None:
        return f"has no {name} certification"
    expires_on = date.fromisoformat(held["expires_on"])
    if expires_on < datetime.now(timezone.utc).date():
        return f"{name} certification expired on {held['expires_on']}"
    if expires_on < task_end.date():
        return f"{name} certification expires on {held['expires_on']}, before the task ends"
    return None


def unfit(volunteer, task):
    """Why a volunteer does not qualify for a task, or "" when they do."""
    _, meets_all, reasons = skill_fit(volunteer.get("skills", []), task["required_skills"])
    problems = [] if meets_all else [r for r in reasons if "below" in r or "lacks" in r]
    problem = certification_problem(volunteer.get("certifications", []), task["required_certification"],
                                    task["end_time"])
    return "; ".join(problems + ([problem] if problem else []))


def availability_overlap(slots, start, end):
    """Fraction of [start, end) covered by weekly slots (UTC "HH:MM" times). Any seven days hold
    each slot once, so only the days after the window's whole weeks are walked: a task lasting
    years ranks as fast as one lasting hours."""
    by_weekday = {}
    for slot in slots:
        by_weekday.setdefault(slot["weekday"], []).append((_clock(slot["start"]), _clock(slot["end"])))
    by_weekday = {weekday: _merged(intervals) for weekday, intervals in by_weekday.items()}
    weekly = sum((slot_end - slot_start for intervals in by_weekday.values() for slot_start, slot_end in intervals),
                 timedelta())
    weeks = (end - start) // WEEK
    return (weeks * weekly + _covered(by_weekday, start + weeks * WEEK, end)) / (end - start)


def _covered(by_weekday, start, end):
    """How much of [start, end) the merged slots of each weekday cover, walked day by day."""
    covered = timedelta()
    day = start.date()
    while datetime.combine(day, time(), start.tzinfo) < end:
        midnight = datetime.combine(day, time(), start.tzinfo)
        for slot_start, slot_end in by_weekday.get(WEEKDAYS[day.weekday()], []):
            overlap = min(end, midnight + slot_end) - max(start, midnight + slot_start)
            if overlap > timedelta():
                covered += overlap
        day += timedelta(days=1)
    return covered


def shared_levels(home_path, task_path):
    shared = 0
    for home, place in zip(home_path, task_path):
        if home != place:
            break
        shared += 1
    return shared


def rank(task, volunteers, recent_dispatches):
    """Rankings best first: eligible volunteers before the others, then by score."""
    rankings = [score(task, volunteer, recent_dispatches.get(volunteer["_id"], 0)) for volunteer in volunteers]
    rankings.sort(key=lambda r: (not r["eligible"], -r["score"], r["recent_dispatches"], r["display_name"],
                                 r["volunteer_id"]))
    return rankings


def score(task, volunteer, recent):
    fit, meets_all, reasons = skill_fit(volunteer.get("skills", []), task.get("required_skills", []))
    total = SKILL_WEIGHT * fit

    problem = certification_problem(volunteer.get("certifications", []), task.get("required_certification"),
                                    task["end_time"])
    if task.get("required_certification"):
        if problem:
            reasons.append(problem)
        else:
            total += CERTIFICATION_WEIGHT
            reasons.append(f"{task['required_certification']} certification valid")
    else:
        total += CERTIFICATION_WEIGHT

    available = availability_overlap(volunteer.get("availability", []), task["start_time"], task["end_time"])
    total += AVAILABILITY_WEIGHT * available
    reasons.append(f"available for {round(available * 100)}% of the time window")

    shared = shared_levels(volunteer.get("path", []), task["path"])
    total += NEARNESS_WEIGHT * shared / len(task["path"])
    reasons.append(_nearness_reason(shared, len(task["path"])))

    total += FAIRNESS_WEIGHT / (1 + recent)
    reasons.append(f"dispatched {recent} times in the last {FAIRNESS_WINDOW.days} days")
    return {"volunteer_id": volunteer["_id"], "display_name": volunteer.get("display_name", ""),
            "score": round(total, 2), "eligible": meets_all and problem is None, "reasons": reasons,
            "recent_dispatches": recent}


def _nearness_reason(shared, depth):
    if shared == depth:
        return "lives at the task's place"
    if shared == 0:
        return "lives outside the task's hierarchy"
    return f"shares {shared} of {depth} hierarchy levels with the task's place"


def _clock(text):
    hours, minutes = text.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))


def _merged(intervals):
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
