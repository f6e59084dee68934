"""Districts from planning units: balanced, contiguous, compact, exactly as many as asked.

    part = DistrictPartitioner(n_districts=148, tolerance=0.01, random_state=0).fit(units)
    part.labels_            # district of each unit (0 .. k-1), aligned with `units`
    part.districts_         # GeoDataFrame: one dissolved polygon per district with its totals
    part.report_            # max/mean deviation, contiguity, Polsby-Popper, cut edges, runtime

How (each step keeps every district contiguous), module by module:
- estimator: the parameters, their validation (first, always) and a short `fit`;
  layer: `partition_units`, the whole job on any polygon layer;
- inputs: the workload, the limits, the seeds, the quotas per parent, the previous plan;
  layout: parent areas, locked districts, the region a growth re-plan redraws;
- graph: the unit graph (shared borders, from gis.units.adjacency unless given); islands are
  joined to their nearest unit across an explicit, reported link, or refused;
- first_cut: a power diagram whose offsets balance the workload (recursive bisection as the
  fallback), then a repair that makes every district connected;
- search: the schedule: balance, constraints and compaction at each tolerance step, down to the
  one asked; the best of several starts;
- state: the labels and per-district totals, the one batch of boundary moves and the one swap
  step (a move is applied only if the donor district stays connected);
- balance: moves and swaps lowering the squared deviation, and diffusion on the district graph;
- compact: moves, swaps and merge-and-resplit along the roundest straight cut, under the
  tolerance as a hard bound (which undoes shapes local moves cannot);
- constraints: further attributes within limits, a largest radius from a district's centre;
- replan: starting from a previous plan, the growth region, code matching, churn;
- report: the measures, and the dissolved districts.
"""
from __future__ import annotations

from .errors import InfeasiblePlan
from .estimator import DistrictPartitioner
from .layer import partition_units
from .search import TOLERANCE_STEPS

__all__ = ["TOLERANCE_STEPS", "DistrictPartitioner", "InfeasiblePlan", "partition_units"]
