"""Which grid a rotating organisation is assigned in a period, on known dates."""
from datetime import date

from services.volunteers import rotation

MONTHLY = {"start_date": "2026-11-01", "period": "MONTH", "grid_ids": ["g1", "g2", "g3"]}


def test_monthly_periods_are_calendar_months_counted_from_the_start():
    assert rotation.period_of(MONTHLY, "2026-11-30") == (0, date(2026, 11, 1), date(2026, 12, 1))
    assert rotation.period_of(MONTHLY, "2026-12-01") == (1, date(2026, 12, 1), date(2027, 1, 1))
    assert rotation.period_of(MONTHLY, "2027-02-14") == (3, date(2027, 2, 1), date(2027, 3, 1))


def test_quarterly_and_weekly_periods():
    quarterly = {**MONTHLY, "period": "QUARTER"}
    assert rotation.period_of(quarterly, "2027-01-31") == (0, date(2026, 11, 1), date(2027, 2, 1))
    assert rotation.period_of(quarterly, "2027-02-01") == (1, date(2027, 2, 1), date(2027, 5, 1))
    weekly = {**MONTHLY, "period": "WEEK", "start_date": "2026-11-04"}
    assert rotation.period_of(weekly, "2026-11-18") == (2, date(2026, 11, 18), date(2026, 11, 25))


def test_a_rotation_has_not_started_before_its_start_date():
    assert not rotation.started(MONTHLY, "2026-10-31")
    assert rotation.started(MONTHLY, "2026-11-01")
