"""The work orders' life cycle and clocks as pure functions over an event log (no database)."""
from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from gis.errors import Conflict, InputError
from planning.workorders import clocks as clk, lifecycle as life
from planning.workorders.calendar import Calendar

T0 = pd.Timestamp("2026-03-02 09:00", tz="Asia/Shanghai")   # a Monday
POLICY = {"contact_s": 20 * 60, "clear_s": 24 * 3600, "tz": "Asia/Shanghai"}


def at(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


def log(*steps) -> list[dict]:
    """[(action, minutes after T0, fields...)] as events; the first is the creation."""
    out = [{"action": "create", "at": T0, "manager_id": "M1", "district_id": "D1"}]
    for s in steps:
        action, minutes, *rest = s
        out.append({"action": action, "at": at(minutes), **(rest[0] if rest else {})})
    return out


def test_the_whole_loop_replays_to_verified_with_its_holder_and_first_responsible():
    s = life.replay(log(("contact", 5), ("arrive", 60), ("clear", 120, {"cause_found": "drop", "work_done": "x"}),
                        ("verify", 300, {"reached": True, "satisfaction": 5})))
    assert (s.status, s.holder, s.first_responsible, s.district) == ("verified", "M1", "M1", "D1")
    assert s.contact_at == at(5) and s.cleared_at == at(120) and s.steps == 5


@pytest.mark.parametrize("steps, action, words", [
    ((), "clear", "is new: 'clear' is not allowed"),
    ((), "arrive", "is new"),
    ((), "verify", "is new"),
    ((("contact", 5),), "contact", "is contacted"),
    ((("contact", 5), ("clear", 9)), "clear", "is cleared"),
    ((("pause", 5, {"reason": "no_one_home"}),), "contact", "is paused"),
    ((), "resume", "is not paused"),
    ((("pause", 5),), "pause", "paused already"),
])
def test_steps_out_of_order_are_refused_with_what_is_allowed(steps, action, words):
    state = life.replay(log(*steps))
    with pytest.raises(Conflict, match=words) as e:
        life.apply(state, {"action": action, "at": at(30)}, "T1")
    assert "allowed now" in str(e.value) and "T1" in str(e.value)


def test_a_reopened_ticket_needs_a_new_contact_and_restarts_both_clocks():
    events = log(("contact", 5), ("clear", 60), ("reopen", 600, {"note": "still no dial tone"}))
    s = life.replay(events)
    assert s.status == "reopened" and s.contact_at is None and s.cleared_at is None
    assert "contact" in life.allowed(s) and "clear" not in life.allowed(s)
    c = clk.clocks(events, POLICY, at(610))
    assert c["contact"].started_at == at(600) and c["contact"].due == at(620)
    assert c["clear"].due == at(600) + pd.Timedelta(hours=24)


def test_contact_clock_breach_is_the_instant_the_20_minutes_ran_out():
    c = clk.clocks(log(("contact", 35)), POLICY, at(40))["contact"]
    assert c.breached_at == at(20) and c.stopped_at == at(35) and c.elapsed_s == 35 * 60
    ok = clk.clocks(log(("contact", 19)), POLICY, at(40))["contact"]
    assert ok.breached_at is None and ok.as_dict()["on_time"] is True


def test_a_pause_stops_the_clock_and_moves_the_due_time_by_its_length():
    events = log(("contact", 5), ("pause", 60, {"reason": "no_one_home"}))
    paused = clk.clocks(events, POLICY, at(200))["clear"]
    assert paused.paused and paused.due is None and paused.elapsed_s == 60 * 60
    events.append({"action": "resume", "at": at(180)})
    resumed = clk.clocks(events, POLICY, at(200))["clear"]
    # Ran 60 minutes, paused 120: due 24 hours of running time after the report, 120 minutes late.
    assert resumed.due == T0 + pd.Timedelta(hours=24, minutes=120) and not resumed.paused
    assert resumed.elapsed_s == (60 + 20) * 60


def test_escalations_are_written_once_each_at_half_three_quarters_and_the_whole_clock():
    events = log()
    due = clk.due_escalations(events, POLICY, at(16))
    assert [(e["clock"], e["level"], e["at"]) for e in due] == [("contact", "manager", at(10)),
                                                                 ("contact", "community", at(15))]
    events += [{**e} for e in due]
    later = clk.due_escalations(events, POLICY, at(25))
    assert [(e["action"], e["clock"], e["level"], e["at"]) for e in later] == [("breach", "contact", "office", at(20))]
    events += later
    assert clk.due_escalations(events, POLICY, at(25)) == []
    assert life.replay(events).escalations[-1] == ("contact", "office")


def test_a_working_hours_calendar_makes_a_friday_evening_ticket_due_on_monday():
    cal = Calendar.from_dict({"tz": "Asia/Shanghai", "hours": {str(d): [["09:00", "18:00"]] for d in range(5)}})
    friday = pd.Timestamp("2026-03-06 17:00", tz="Asia/Shanghai")
    events = [{"action": "create", "at": friday}]
    c = clk.clocks(events, {"contact_s": 7200, "clear_s": 7200}, friday + pd.Timedelta(hours=1), cal)["clear"]
    assert c.due == pd.Timestamp("2026-03-09 10:00", tz="Asia/Shanghai")


def test_step_fields_are_checked_by_name_and_value():
    with pytest.raises(InputError, match="needs 'cause_found', 'work_done'"):
        life.check_fields("clear", {})
    with pytest.raises(InputError, match="takes no field 'satisfaction'"):
        life.check_fields("contact", {"satisfaction": 3})
    with pytest.raises(InputError, match="satisfaction 9"):
        life.check_fields("verify", {"reached": True, "satisfaction": 9})
    with pytest.raises(InputError, match="unknown call-back check 'smile'"):
        life.check_fields("verify", {"reached": True, "satisfaction": 4, "checks": {"smile": True}})
    with pytest.raises(InputError, match="pause reason 'lunch'"):
        life.check_fields("pause", {"reason": "lunch"})
    assert life.check_fields("verify", {"reached": False}) == {"reached": False}


ACTIONS = st.sampled_from(life.ACTIONS)


@settings(max_examples=200, deadline=None)
@given(st.lists(ACTIONS, max_size=12))
def test_any_sequence_either_replays_or_stops_at_the_first_refused_step(actions):
    """The log a service writes only ever holds steps the life cycle allowed, so replaying it
    never fails; and a refused step changes nothing."""
    state, kept = life.replay(log()), log()
    for i, a in enumerate(actions):
        e = {"action": a, "at": at(i + 1)}
        try:
            nxt = life.apply(state, e)
        except Conflict:
            assert life.replay(kept) == state
            continue
        kept.append(e)
        state = nxt
        assert a in life.STEPS and state.status in life.STATUSES
    assert life.replay(kept) == state
    c = clk.clocks(kept, POLICY, at(len(actions) + 5))
    assert c["clear"].elapsed_s >= 0 and (c["clear"].due is None) == (state.paused and state.cleared_at is None)
