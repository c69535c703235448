"""The scoring rules of volunteer ranking, on known data."""
import time
from datetime import date, datetime, timedelta, timezone

from services.volunteers import matching

MONDAY_NINE = datetime(2030, 1, 7, 9, tzinfo=timezone.utc)  # 2030-01-07 is a Monday
TASK = {"required_skills": [{"name": "first_aid", "min_level": 3}], "required_certification": "first_aid",
        "start_time": MONDAY_NINE, "end_time": MONDAY_NINE + timedelta(hours=2), "path": ["c", "s", "m", "g", "b"]}
VALID = [{"name": "first_aid", "expires_on": "2031-01-01"}]


def person(pid, level=5, certifications=VALID, availability=(), path=("c", "s", "m", "g", "b")):
    return {"_id": pid, "display_name": pid, "skills": [{"name": "first_aid", "level": level}],
            "certifications": list(certifications), "availability": list(availability), "path": list(path)}


def test_availability_counts_only_the_covered_part_of_the_window():
    slots = [{"weekday": "MONDAY", "start": "08:00", "end": "10:00"},
             {"weekday": "MONDAY", "start": "09:30", "end": "10:30"}]
    assert matching.availability_overlap(slots, MONDAY_NINE, MONDAY_NINE + timedelta(hours=2)) == 0.75
    tuesday = [{"weekday": "TUESDAY", "start": "00:00", "end": "23:59"}]
    assert matching.availability_overlap(tuesday, MONDAY_NINE, MONDAY_NINE + timedelta(hours=2)) == 0


def test_window_across_midnight_uses_both_days():
    late = datetime(2030, 1, 7, 23, tzinfo=timezone.utc)
    slots = [{"weekday": "TUESDAY", "start": "00:00", "end": "01:00"}]
    assert matching.availability_overlap(slots, late, late + timedelta(hours=2)) == 0.5


def test_skill_fit_is_partial_below_the_level():
    fit, meets_all, reasons = matching.skill_fit([{"name": "first_aid", "level": 2}], TASK["required_skills"])
    assert (round(fit, 3), meets_all, reasons) == (0.667, False, ["first_aid level 2 below required 3"])


def test_certification_expiring_before_the_task_ends_does_not_qualify():
    expiring = [{"name": "first_aid", "expires_on": (date.today() + timedelta(days=1)).isoformat()}]
    later = datetime.now(timezone.utc) + timedelta(days=10)
    assert "before the task ends" in matching.certification_problem(expiring, "first_aid", later)
    assert matching.certification_problem([], "first_aid", later) == "has no first_aid certification"
    assert matching.certification_problem(VALID, "", later) is None


def test_rank_orders_by_eligibility_score_then_fairness():
    morning = [{"weekday": "MONDAY", "start": "08:00", "end": "12:00"}]
    volunteers = [
        person("expired", certifications=[{"name": "first_aid", "expires_on": "2020-01-01"}], availability=morning),
        person("asked_often", availability=morning),
        person("asked_never", availability=morning),
        person("elsewhere", availability=morning, path=("c", "s", "other")),
        person("weak", level=1, availability=morning),
    ]
    ranked = matching.rank(TASK, volunteers, {"asked_often": 3})
    assert [r["volunteer_id"] for r in ranked] == ["asked_never", "asked_often", "elsewhere", "expired", "weak"]
    assert ranked[0]["score"] == 100
    assert ranked[1]["score"] == 96.25 and "dispatched 3 times in the last 30 days" in ranked[1]["reasons"]
    assert "shares 2 of 5 hierarchy levels with the task's place" in ranked[2]["reasons"]
    assert [r["eligible"] for r in ranked] == [True, True, True, False, False]


def test_long_windows_count_whole_weeks_without_walking_them():
    slots = [{"weekday": "MONDAY", "start": "08:00", "end": "20:00"},
             {"weekday": "SATURDAY", "start": "09:00", "end": "11:00"}]
    start = MONDAY_NINE - timedelta(hours=3)
    three_weeks_and_a_day = matching.availability_overlap(slots, start, start + timedelta(days=22))
    assert three_weeks_and_a_day == (3 * 14 + 12) / (22 * 24)
    centuries = datetime(1900, 1, 1, tzinfo=timezone.utc), datetime(2199, 12, 31, tzinfo=timezone.utc)
    started = time.perf_counter()
    assert round(matching.availability_overlap(slots, *centuries), 4) == round(14 / (7 * 24), 4)
    assert time.perf_counter() - started < 0.01
