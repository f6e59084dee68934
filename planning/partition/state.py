"""The search state: each unit's district plus per-district totals (workload, area, perimeter,
members), updated move by move, and the two steps every stage is made of: a batch of single
boundary moves, and one swap of two boundary units. Both keep every district connected."""
from __future__ import annotations

import numpy as np

from .graph import UnitGraph, connected_after_swap, connected_without

# A score must improve by more than this to count as a move (float noise is not a gain).
MIN_MOVE_GAIN = 1e-12
# A plan whose largest deviation exceeds the tolerance by no more than float noise meets it.
TOLERANCE_SLACK = 1e-12


def within(load, target, tol):
    """Is a workload (array) within the tolerance of the target? The one check of the tolerance."""
    return np.abs(load / target - 1) <= tol


def meets(max_deviation: float, tol: float) -> bool:
    """Does a plan with this largest deviation meet the tolerance?"""
    return bool(max_deviation <= tol + TOLERANCE_SLACK)


def polsby_popper(area, perimeter):
    """4 pi area / perimeter^2: 1 for a circle, towards 0 for a stretched or ragged shape."""
    return 4 * np.pi * area / np.maximum(perimeter, 1e-9) ** 2


class SearchState:
    """Labels plus per-district totals, updated move by move.

    `limits` (constraints.Limits) and `max_radius` (m) are the further constraints, None when
    not asked; `fixed` units (seeds) never move."""

    def __init__(self, graph: UnitGraph, w, area, perim, labels, k, target, fixed=None, centroid=None):
        self.graph, self.k, self.target = graph, k, target
        self.unit_workload, self.unit_area, self.unit_perimeter = w, area, perim
        self.centroid = centroid
        self.fixed = np.zeros(len(w), bool) if fixed is None else fixed
        self.labels = labels.copy()
        self.workload = np.bincount(labels, weights=w, minlength=k)
        self.area = np.bincount(labels, weights=area, minlength=k)
        internal = labels[graph.source] == labels[graph.indices]
        # Each internal border is counted from both sides; a district's perimeter drops by 2x it.
        self.perimeter = np.bincount(labels, weights=perim, minlength=k) - np.bincount(
            labels[graph.source[internal]], weights=graph.border[internal], minlength=k)
        self.members = [set(np.flatnonzero(labels == d).tolist()) for d in range(k)]
        self.version = np.zeros(k, np.int64)   # bumped on every change of a district
        self.no_cut: set = set()               # (a, b, versions, tol): pairs recombine found no cut for
        self.limits = None                     # further attributes held within limits
        self.max_radius = None                 # largest distance from a district's centre (m)
        self._pos = np.full(len(w), -1)        # scratch: local positions (edges_within)

    # ---- measures ----------------------------------------------------------------------------

    def max_deviation(self) -> float:
        return float(np.max(np.abs(self.workload / self.target - 1)))

    def within_after(self, a, b, transfer, tol):
        """Do districts a and b stay within the tolerance when `transfer` workload goes from a
        to b? (Arrays broadcast: one answer per candidate move or swap.)"""
        return within(self.workload[a] - transfer, self.target, tol) & within(self.workload[b] + transfer,
                                                                              self.target, tol)

    def polsby_popper(self, d):
        return polsby_popper(self.area[d], self.perimeter[d])

    def centres(self) -> np.ndarray:
        """Workload-weighted centre of each district (where its manager's work is)."""
        load = np.maximum(self.workload, 1e-12)
        wx = np.bincount(self.labels, weights=self.unit_workload * self.centroid[:, 0], minlength=self.k)
        wy = np.bincount(self.labels, weights=self.unit_workload * self.centroid[:, 1], minlength=self.k)
        return np.c_[wx / load, wy / load]

    def border(self, u: int, d: int) -> float:
        """Length of u's border with district d."""
        g = self.graph
        nb = g.neighbours(u)
        sel = (self.labels[nb] == d) & (nb != u)
        return float(g.border[g.indptr[u]:g.indptr[u + 1]][sel].sum())

    # ---- where a unit can go -----------------------------------------------------------------

    def candidates(self):
        """Every (unit, destination) move along a cut edge, with the unit's border to the
        destination and to its own district."""
        g, lab = self.graph, self.labels
        key = g.source.astype(np.int64) * self.k + lab[g.indices]
        uk, inv = np.unique(key, return_inverse=True)
        s = np.bincount(inv, weights=g.border)
        u_of, d_of = uk // self.k, uk % self.k
        own = lab[u_of] == d_of
        s_own = np.zeros(len(lab))
        s_own[u_of[own]] = s[own]
        move = ~own & ~self.fixed[u_of]
        return u_of[move], d_of[move], s[move], s_own[u_of[move]]

    def boundary_sets(self) -> dict[tuple[int, int], set]:
        """{(a, b): the movable units of district a that border district b}."""
        g, lab = self.graph, self.labels
        cut = lab[g.source] != lab[g.indices]
        pairs: dict[tuple[int, int], set] = {}
        for u, v in zip(g.source[cut].tolist(), g.indices[cut].tolist()):
            if not self.fixed[u]:
                pairs.setdefault((int(lab[u]), int(lab[v])), set()).add(u)
        return pairs

    def boundary_pair(self, pairs, a, b):
        """The movable units of a along b and of b along a, as sorted arrays."""
        return np.array(sorted(pairs.get((a, b), ()))), np.array(sorted(pairs.get((b, a), ())))

    # ---- changing the plan -------------------------------------------------------------------

    def apply(self, u, b, border_to_b, border_to_own):
        """Move unit u to district b (its borders with b and with its own district given)."""
        a = self.labels[u]
        self.labels[u] = b
        self.workload[a] -= self.unit_workload[u]
        self.workload[b] += self.unit_workload[u]
        self.area[a] -= self.unit_area[u]
        self.area[b] += self.unit_area[u]
        self.perimeter[a] += -self.unit_perimeter[u] + 2 * border_to_own
        self.perimeter[b] += self.unit_perimeter[u] - 2 * border_to_b
        self.members[a].discard(u)
        self.members[b].add(u)
        self.version[a] += 1
        self.version[b] += 1
        if self.limits is not None:
            self.limits.move(a, b, u)

    def move(self, u: int, b: int) -> None:
        self.apply(u, b, self.border(u, b), self.border(u, self.labels[u]))

    def set_district(self, d: int, members: np.ndarray) -> None:
        """District d becomes exactly `members` (after a merge-and-resplit)."""
        self.members[d] = set(members.tolist())
        self.workload[d], self.area[d], self.perimeter[d] = self.totals(members)
        self.version[d] += 1
        if self.limits is not None:
            self.limits.totals[d] = self.limits.values[members].sum(0)

    def run_moves(self, score_fn, rounds, ok_fn=None) -> int:
        """Rounds of single boundary moves: every candidate scored at once by
        `score_fn(u, a, b, border_to_b, border_to_own)` (lower is better, negative to move),
        kept where `ok_fn(u, a, b)`; applied best first, at most one per district per round,
        each only if its district stays connected. Returns the rounds run."""
        done = 0
        for _ in range(rounds):
            u, b, to_dest, to_own = self.candidates()
            a = self.labels[u]
            score = score_fn(u, a, b, to_dest, to_own)
            ok = score < -MIN_MOVE_GAIN
            if ok_fn is not None:
                ok &= ok_fn(u, a, b)
            if not ok.any():
                break
            order = np.flatnonzero(ok)[np.argsort(score[ok], kind="stable")]
            touched = set()
            applied = 0
            for i in order:
                ai, bi, ui = int(a[i]), int(b[i]), int(u[i])
                if ai in touched or bi in touched or len(self.members[ai]) <= 1:
                    continue
                if not connected_without(self.graph, self.members[ai], ui):
                    continue
                self.apply(ui, bi, to_dest[i], to_own[i])
                touched.update((ai, bi))
                applied += 1
            done += 1
            if applied == 0:
                break
        return done

    def swap(self, a, b, ua, vb, cost, stop_at, tries, objective=None) -> bool:
        """Swap a unit of a (ua[i]) for one of b (vb[j]): the lowest `cost[i, j]` below `stop_at`
        that leaves both districts connected, among the `tries` lowest. With `objective` (a
        function of the plan, higher is better) a swap that does not raise it is undone and the
        next tried. Returns whether a swap was made."""
        for f in np.argsort(cost, axis=None, kind="stable")[:tries]:
            if cost.flat[f] >= stop_at:
                return False
            i, j = np.unravel_index(f, cost.shape)
            u, v = int(ua[i]), int(vb[j])
            if not (connected_after_swap(self.graph, self.members[a], u, v)
                    and connected_after_swap(self.graph, self.members[b], v, u)):
                continue
            before = objective() if objective is not None else None
            self.move(u, b)
            self.move(v, a)
            if objective is None or objective() > before + 1e-9:
                return True
            self.move(v, b)  # undo
            self.move(u, a)
        return False

    # ---- sets of units -----------------------------------------------------------------------

    def edges_within(self, idx: np.ndarray):
        """Directed edges with both ends in `idx`, as local positions, and their borders: read
        from the CSR rows of `idx` only, so a pair costs its own size, not the whole graph's."""
        g, pos = self.graph, self._pos
        pos[idx] = np.arange(len(idx))
        starts, ends = g.indptr[idx], g.indptr[idx + 1]
        lens = ends - starts
        eid = np.repeat(starts - np.r_[0, np.cumsum(lens)[:-1]], lens) + np.arange(lens.sum())
        dst = pos[g.indices[eid]]
        keep = dst >= 0
        es, ed, eb = np.repeat(np.arange(len(idx)), lens)[keep], dst[keep], g.border[eid][keep]
        pos[idx] = -1
        return es, ed, eb

    def totals(self, members: np.ndarray):
        """Workload, area and perimeter of a set of units (shared borders counted out twice)."""
        _, _, eb = self.edges_within(members)
        return (self.unit_workload[members].sum(), self.unit_area[members].sum(),
                self.unit_perimeter[members].sum() - eb.sum())
