"""The partitioner's one error of its own."""
from __future__ import annotations

from gis.errors import PianquError


class InfeasiblePlan(PianquError):
    """The request cannot be met; the message says which constraint, which units, and what is
    reachable instead."""

    status = 422
