"""Working-hours calendars: the due times a planner can check by hand, DST, the clock's laws for
every calendar, and the calendar errors an operator sees."""
from __future__ import annotations

import datetime as dt
import json
import re
import time

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gis.errors import InputError
from planning.workorders.calendar import Calendar

SH = "Asia/Shanghai"
HOUR = 3600
OFFICE = {"tz": SH, "hours": {str(d): [["09:00", "18:00"]] for d in range(5)}}   # Mon-Fri 09:00-18:00


def local(text: str, tz: str = SH) -> pd.Timestamp:
    return pd.Timestamp(text, tz=tz)


def cal(**changes) -> Calendar:
    return Calendar.from_dict({**OFFICE, **changes})


# -- due times worked out by hand ------------------------------------------------------------------

def test_friday_evening_ticket_with_a_two_hour_clock_is_due_monday_ten():
    due = cal().add(local("2026-03-06 17:00"), 2 * HOUR)   # 2026-03-06 is a Friday
    assert due == local("2026-03-09 10:00")
    assert str(due.tz) == "UTC"


def test_a_holiday_monday_moves_the_due_time_to_tuesday():
    assert cal(holidays=["2026-03-09"]).add(local("2026-03-06 17:00"), 2 * HOUR) == local("2026-03-10 10:00")


def test_a_make_up_saturday_is_worked_with_the_weekday_hours():
    c = cal(workdays=["2026-03-07"])
    assert c.add(local("2026-03-06 17:00"), 2 * HOUR) == local("2026-03-07 10:00")
    assert c.is_open(local("2026-03-07 12:00")) and not c.is_open(local("2026-03-14 12:00"))


def test_a_make_up_day_can_have_its_own_hours():
    c = cal(workdays=["2026-03-07"], workday_hours=[["13:00", "15:00"]])
    assert c.add(local("2026-03-06 17:00"), 2 * HOUR) == local("2026-03-07 14:00")
    assert c.between(local("2026-03-07 00:00"), local("2026-03-08 00:00")) == 2 * HOUR


def test_the_lunch_break_is_skipped():
    c = Calendar.from_dict({"tz": SH, "hours": {"0": [["14:00", "17:30"], ["08:30", "12:00"]]}})
    monday = "2026-03-09"
    assert c.add(local(f"{monday} 11:00"), 2 * HOUR) == local(f"{monday} 15:00")
    assert c.between(local(f"{monday} 00:00"), local(f"{monday} 23:59")) == 7 * HOUR
    assert not c.is_open(local(f"{monday} 13:00"))


def test_a_ticket_reported_before_opening_starts_its_clock_at_the_opening():
    assert cal().add(local("2026-03-09 07:00"), HOUR) == local("2026-03-09 10:00")
    assert cal().between(local("2026-03-09 07:00"), local("2026-03-09 09:00")) == 0


def test_a_clock_that_runs_out_at_closing_is_due_at_closing_not_the_next_morning():
    assert cal().add(local("2026-03-06 17:00"), HOUR) == local("2026-03-06 18:00")


def test_zero_seconds_is_the_start_itself_even_when_closed():
    sunday = local("2026-03-08 12:00")
    assert cal().add(sunday, 0) == sunday


def test_a_span_is_open_at_its_start_and_closed_at_its_end():
    c = cal()
    assert c.is_open(local("2026-03-09 09:00")) and not c.is_open(local("2026-03-09 18:00"))


def test_thirty_working_days_on_a_one_hour_week_end_years_later_and_quickly():
    sparse = Calendar.from_dict({"tz": SH, "hours": {"2": [["10:00", "11:00"]]}})
    start = local("2026-01-01 00:00")
    t0 = time.perf_counter()
    due = sparse.add(start, 30 * 24 * HOUR)                # 720 weekly hours: 720 Wednesdays on
    assert time.perf_counter() - t0 < 2.0
    assert due == local("2026-01-07 11:00") + pd.Timedelta(weeks=719)
    assert sparse.between(start, due) == 30 * 24 * HOUR


# -- DST: spans are wall-clock times ---------------------------------------------------------------

BERLIN = "Europe/Berlin"
NIGHT = Calendar.from_dict({"tz": BERLIN, "hours": {str(d): [["00:00", "06:00"]] for d in range(7)}})


def test_the_spring_forward_night_is_an_hour_short_and_the_autumn_one_an_hour_long():
    assert NIGHT.between(local("2026-03-29 00:00", BERLIN), local("2026-03-29 12:00", BERLIN)) == 5 * HOUR
    assert NIGHT.between(local("2026-10-25 00:00", BERLIN), local("2026-10-25 12:00", BERLIN)) == 7 * HOUR
    assert NIGHT.add(local("2026-03-29 00:00", BERLIN), 5 * HOUR) == local("2026-03-29 06:00", BERLIN)


def test_office_hours_keep_their_wall_clock_times_across_the_change():
    office = Calendar.from_dict({**OFFICE, "tz": BERLIN})
    friday = local("2026-03-27 17:00", BERLIN)                      # clocks go forward on Sunday the 29th
    due = office.add(friday, 2 * HOUR)
    assert due == local("2026-03-30 10:00", BERLIN)
    assert due - friday == pd.Timedelta(hours=64)                   # 65 wall hours, one of them skipped


def test_a_span_starting_in_the_skipped_hour_opens_when_the_clocks_jump():
    c = Calendar.from_dict({"tz": BERLIN, "hours": {"6": [["02:30", "04:00"]]}})    # Sunday
    day = (local("2026-03-29 00:00", BERLIN), local("2026-03-30 00:00", BERLIN))
    assert c.between(*day) == HOUR
    assert c.add(day[0], 1) == local("2026-03-29 03:00:01", BERLIN)


# -- the 24x7 calendar ------------------------------------------------------------------------------

INSTANTS = st.integers(min_value=-2 * 365 * 86400, max_value=2 * 365 * 86400).map(
    lambda s: pd.Timestamp("2026-06-01", tz="UTC") + pd.Timedelta(seconds=s))
SECONDS = st.integers(min_value=0, max_value=60 * 86400)


@given(INSTANTS, SECONDS, st.sampled_from(["UTC", SH, BERLIN]))
def test_around_the_clock_working_time_is_elapsed_time(a, s, tz):
    always = Calendar.always(tz)
    assert always.add(a, s) == a + pd.Timedelta(seconds=s)
    assert always.between(a, a + pd.Timedelta(seconds=s)) == s
    assert always.is_open(a)


def test_a_week_of_full_days_counts_like_the_always_calendar_across_dst():
    full = Calendar.from_dict({"tz": BERLIN, "hours": {str(d): [["00:00", "12:00"], ["12:00", "24:00"]]
                                                       for d in range(7)}})
    a, b = local("2026-03-20", BERLIN), local("2026-11-20", BERLIN)
    assert full.between(a, b) == (b - a).total_seconds()


# -- the clock's laws, for every calendar --------------------------------------------------------

@st.composite
def calendars(draw):
    """A valid calendar: per weekday, sorted distinct quarter-hours paired into spans."""
    week = {}
    for d in range(7):
        points = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
        points = points[: len(points) // 2 * 2]
        spans = [[_hhmm(points[i] * 15), _hhmm(points[i + 1] * 15)] for i in range(0, len(points), 2)]
        if spans:
            week[str(d)] = spans
    if not week:
        week["0"] = [["09:00", "18:00"]]
    dates = st.dates(dt.date(2025, 12, 1), dt.date(2026, 12, 31))
    holidays = draw(st.sets(dates, max_size=8))
    workdays = draw(st.sets(dates, max_size=4)) - holidays
    return {"tz": draw(st.sampled_from([SH, BERLIN, "America/New_York"])), "hours": week,
            "holidays": sorted(x.isoformat() for x in holidays),
            "workdays": sorted(x.isoformat() for x in workdays)}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


# Three years, so the index is grown backwards as well as forwards between examples.
NEAR = st.integers(min_value=-365 * 86400, max_value=2 * 365 * 86400).map(
    lambda s: pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(seconds=s))


@settings(max_examples=300, deadline=None)
@given(calendars(), NEAR, SECONDS)
def test_the_time_added_is_the_working_time_between(d, a, s):
    c = Calendar.from_dict(d)
    due = c.add(a, s)
    assert due >= a
    assert c.between(a, due) == s
    if s > 0:
        # The first such instant: a second earlier, less than s has run.
        assert c.between(a, due - pd.Timedelta(seconds=1)) < s


@settings(max_examples=300, deadline=None)
@given(calendars(), NEAR, NEAR, NEAR)
def test_working_time_adds_up_and_never_overshoots(d, a, b, m):
    c = Calendar.from_dict(d)
    assert c.add(a, c.between(a, b)) <= max(a, b)
    lo, mid, hi = sorted([a, b, m])
    assert c.between(lo, mid) + c.between(mid, hi) == c.between(lo, hi)
    assert c.between(hi, lo) == 0


@settings(max_examples=150, deadline=None)
@given(calendars(), NEAR, st.integers(0, 10 * 86400))
def test_working_time_matches_a_day_by_day_count(d, a, length):
    c, b = Calendar.from_dict(d), a + pd.Timedelta(seconds=length)
    assert c.between(a, b) == _count_by_day(d, a, b)


def _count_by_day(d: dict, a: pd.Timestamp, b: pd.Timestamp) -> float:
    """The overlap of [a, b) with each local day's spans, one day and one span at a time."""
    tz = d["tz"]
    first = a.tz_convert(tz).normalize().tz_localize(None) - pd.Timedelta(days=1)
    last = b.tz_convert(tz).normalize().tz_localize(None) + pd.Timedelta(days=1)
    total = 0.0
    for day in pd.date_range(first, last, freq="D"):
        iso = day.date().isoformat()
        if iso in d["holidays"]:
            continue
        if iso in d["workdays"]:                      # a make-up day keeps the first open weekday's hours
            spans = d["hours"][min(d["hours"], key=int)]
        else:
            spans = d["hours"].get(str(day.weekday()), [])
        for s, e in spans:
            start = _wall(day, s, tz)
            end = _wall(day, e, tz)
            total += max(0.0, (min(b, end) - max(a, start)).total_seconds())
    return total


def _wall(day: pd.Timestamp, hhmm: str, tz: str) -> pd.Timestamp:
    h, m = map(int, hhmm.split(":"))
    return (day + pd.Timedelta(hours=h, minutes=m)).tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


@settings(max_examples=100, deadline=None)
@given(calendars())
def test_a_calendar_survives_its_trip_through_json(d):
    c = Calendar.from_dict(d)
    again = Calendar.from_dict(json.loads(json.dumps(c.to_dict())))
    assert again == c
    assert again.to_dict() == c.to_dict()


def test_a_calendar_without_a_zone_takes_the_city_zone():
    c = Calendar.from_dict({"hours": OFFICE["hours"]}, tz=SH)
    assert c.tz == SH and c.add(local("2026-03-06 17:00"), 2 * HOUR) == local("2026-03-09 10:00")


# -- what an operator is told ---------------------------------------------------------------------

@pytest.mark.parametrize("change, words", [
    ({"tz": "Mars/Olympus"}, "tz 'Mars/Olympus' is not a known time zone"),
    ({"hours": {"1": [["09:00", "25:00"]]}}, "weekday 1 (Tue): '25:00' is not a time of day"),
    ({"hours": {"1": [["9h", "18:00"]]}}, "weekday 1 (Tue): '9h' is not a time HH:MM"),
    ({"hours": {"1": [["24:00", "24:00"]]}}, "24:00 only ends a span"),
    ({"hours": {"2": [["18:00", "09:00"]]}}, "weekday 2 (Wed): span 18:00-09:00 ends before it starts"),
    ({"hours": {"0": [["08:00", "12:30"], ["12:00", "17:00"]]}}, "spans 08:00-12:30 and 12:00-17:00 overlap"),
    ({"hours": {}}, "no open hour in the whole week"),
    ({"hours": {"7": [["09:00", "18:00"]]}}, "'7' is not a weekday 0-6"),
    ({"holidays": ["2026-02-30"]}, "holidays: '2026-02-30' is not a date"),
    ({"holidays": ["2026-03-07"], "workdays": ["2026-03-07"]}, "2026-03-07 is both a holiday and a workday"),
    ({"holiday": ["2026-03-07"]}, "unknown field 'holiday'"),
    ({"workday_hours": [["10:00"]]}, "workday_hours: ['10:00'] is not a [start, end] span"),
])
def test_a_bad_calendar_is_refused_naming_the_field(change, words):
    with pytest.raises(InputError, match="calendar: .*" + _re(words)):
        Calendar.from_dict({**OFFICE, **change})


def _re(words: str) -> str:
    return re.escape(words)


def test_a_calendar_with_no_zone_at_all_is_refused():
    with pytest.raises(InputError, match="names no time zone"):
        Calendar.from_dict({"hours": OFFICE["hours"]})


def test_every_problem_of_a_calendar_is_listed_at_once():
    with pytest.raises(InputError) as e:
        Calendar.from_dict({"tz": "Nowhere", "hours": {"0": [["25:00", "26:00"]]}, "workdays": ["soon"]})
    assert len(e.value.problems) == 4


def test_a_clock_refuses_naive_instants_and_negative_time():
    with pytest.raises(InputError, match="has no time zone"):
        cal().add(pd.Timestamp("2026-03-06 17:00"), HOUR)
    with pytest.raises(InputError, match="has no time zone"):
        Calendar.always().between(pd.Timestamp("2026-03-06"), local("2026-03-07"))
    with pytest.raises(InputError, match="'soon' is not an instant"):
        cal().is_open("soon")
    with pytest.raises(InputError, match="non-negative"):
        cal().add(local("2026-03-06 17:00"), -1)
