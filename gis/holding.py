"""Who holds a district at an instant, as the SQL fragments every reader of the assignments
builds on: one rule, written once.

An assignment (district_assignments) is in force from `valid_from` (included) to `valid_to`
(excluded; NULL: open-ended), so at a hand-over instant the new owner holds the district and the
old one no longer does. Only districts of a city's active plan are held.

    f"... JOIN district_assignments a ON a.district_id = d.id AND {in_force(':at')}"
    f"... WHERE t.district_id IN ({held_by(':mgr', 'now()')})"

Arguments are SQL: a bound parameter in the caller's style (`:at`, `%(t)s`), `now()` or a
column; never a value.
"""
from __future__ import annotations


def in_force(at: str, a: str = "a") -> str:
    """SQL: the assignment row `a` is in force at the instant `at`."""
    return f"{a}.valid_from <= {at} AND ({a}.valid_to IS NULL OR {a}.valid_to > {at})"


def held_by(manager: str, at: str) -> str:
    """SQL: the ids of the districts of active plans that `manager` holds at `at`."""
    return ("SELECT a.district_id FROM district_assignments a JOIN districts d ON d.id = a.district_id "
            "JOIN district_plans p ON p.id = d.plan_id AND p.status = 'active' "
            f"WHERE a.manager_id = {manager} AND {in_force(at)}")
