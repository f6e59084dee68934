"""Which boxes come due for inspection on a day (planning.rounds), without a database."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from gis.errors import InputError
from planning.rounds import due_on

DAY = dt.date(2026, 12, 2)


def boxes(n=90, **cols):
    df = pd.DataFrame({"id": [f"B{i:03d}" for i in range(n)], "last_inspected": pd.NaT, "recent_faults": 0,
                       "utilisation": 0.3})
    for k, v in cols.items():
        df[k] = v
    return df


def test_a_first_cycle_spreads_never_inspected_boxes_over_its_days():
    o = boxes(300)
    per_day = [len(due_on(o, DAY + dt.timedelta(days=d), since=DAY)) for d in range(30)]
    # Day d has every box due by then: the counts grow by about a thirtieth a day, to all of them.
    assert per_day[-1] == 300 and 0 < per_day[0] < 30
    assert all(b >= a for a, b in zip(per_day, per_day[1:]))
    assert len(due_on(o, DAY - dt.timedelta(days=1), since=DAY)) == 0


def test_a_box_inspected_recently_is_not_due_and_an_overdue_one_comes_first():
    o = boxes(3)
    o["last_inspected"] = pd.to_datetime([DAY - dt.timedelta(days=5), DAY - dt.timedelta(days=30),
                                          DAY - dt.timedelta(days=41)])
    due = due_on(o, DAY)
    assert list(due["id"]) == ["B002", "B001"] and list(due["overdue_days"]) == [11, 0]
    assert "11 days overdue" in due["reason"].iat[0]


def test_faulty_or_busy_boxes_are_inspected_three_times_as_often():
    o = boxes(3, last_inspected=pd.Timestamp(DAY - dt.timedelta(days=10)))
    o.loc[0, "recent_faults"] = 2
    o.loc[1, "utilisation"] = 0.9
    due = due_on(o, DAY).set_index("id")
    assert set(due.index) == {"B000", "B001"} and set(due["interval_days"]) == {10}
    assert "2 faults in 30 days: every 10 days" in due.loc["B000", "reason"]
    assert "90% used" in due.loc["B001", "reason"]


def test_a_box_among_the_riskiest_tenth_is_inspected_sooner_though_quiet_now():
    o = boxes(3, last_inspected=pd.Timestamp(DAY - dt.timedelta(days=10)), risk_of=200.0)
    o["risk_rank"] = [5.0, 20.0, 21.0]          # the riskiest tenth of 200 boxes: ranks 1 to 20
    due = due_on(o, DAY).set_index("id")
    assert set(due.index) == {"B000", "B001"}
    assert "fault risk rank 5 of 200: every 10 days" in due.loc["B000", "reason"]
    assert due_on(o.drop(columns=["risk_rank", "risk_of"]), DAY).empty      # without the risk: not yet


@pytest.mark.parametrize("kw, words", [({"cycle_days": 0}, "cycle_days"), ({"cycle_days": 2.5}, "cycle_days"),
                                       ({"busy": 1.5}, "busy")])
def test_absurd_cycles_are_refused(kw, words):
    with pytest.raises(InputError, match=words):
        due_on(boxes(3), DAY, **kw)
    with pytest.raises(InputError, match="recent_faults"):
        due_on(boxes(3).drop(columns="recent_faults"), DAY)
