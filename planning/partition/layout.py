"""How the units divide before the search: parent areas (districts nest in them), locked
districts kept as they are, and the region a growth re-plan redraws (the rest kept)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components

from gis.errors import InputError

from . import replan
from .errors import InfeasiblePlan
from .graph import join_islands


@dataclass
class Layout:
    """How the units divide before the search: the group of each unit (a parent area, or a
    free part the locks leave), which units are free, and the districts kept as they are."""
    groups: np.ndarray                 # group name per unit
    free: np.ndarray                   # planned here (not locked, not kept by a growth re-plan)
    kept_codes: list                   # locked codes, or the previous labels a growth re-plan keeps
    kept_column: pd.Series | None      # the code per unit those come from
    regrow: bool                       # a growth re-plan: only the region round the growth is planned


def plan_layout(units, adjacency, w, prev, previous_codes, k, *, parent, locked, seeds, tolerance,
                islands) -> Layout:
    """Nesting, locks and growth re-plans: which units are planned, in which groups."""
    # Nesting: each parent area gets its own districts, as many as its share of the workload.
    if parent is not None:
        if parent not in units.columns:
            raise InputError(f"units have no parent column {parent!r}")
        groups = units[parent].astype("string").fillna("(none)").to_numpy()
    else:
        groups = np.full(len(units), "", dtype=object)
    # A re-plan that adds districts (growth somewhere) re-plans only the region around the
    # districts out of tolerance, grown until its workload divides into whole districts
    # within it; every other district is kept as it was.
    regrow = (prev is not None and locked is None and parent is None and seeds is None
              and k > len(previous_codes))
    if regrow:
        keep = replan.growth_region(adjacency, w, prev, k, tolerance)
        column = pd.Series(np.where(keep, prev, -1)).replace(-1, np.nan)
        free = ~keep
        kept = list(pd.unique(column[keep]))
    elif locked is not None:
        # Locked districts are kept exactly; the free units are planned around them, each
        # free part the locks leave (within a parent) getting districts by its workload.
        if locked not in units.columns:
            raise InputError(f"units have no locked-district column {locked!r}")
        column = units[locked]
        free = column.isna().to_numpy()
        kept = list(pd.unique(column[~free]))
        if free.any() and k - len(kept) < 1:
            raise InfeasiblePlan(f"{len(kept)} locked districts leave none of the {k} districts for the "
                                 f"{int(free.sum())} free units; ask for more districts")
    else:
        return Layout(groups, np.ones(len(units), bool), [], None, False)
    if free.any():
        joined, _ = join_islands(units, adjacency, islands)
        _, part = connected_components(joined[free][:, free], directed=False)
        groups = groups.astype(object)
        groups[free] = ([f"#{c}" for c in part] if regrow
                        else [f"{p}#{c}" for p, c in zip(groups[free], part)])
    return Layout(groups, free, kept, column, regrow)
