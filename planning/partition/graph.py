"""The unit graph: which units share a border (and how long), connectivity checks on district
member sets, and the explicit links that join islands to the rest."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .errors import InfeasiblePlan
from .inputs import unit_ids, unit_names


@dataclass
class UnitGraph:
    """The adjacency as CSR arrays: the neighbours of unit u are indices[indptr[u]:indptr[u + 1]]."""
    indptr: np.ndarray
    indices: np.ndarray
    border: np.ndarray          # shared border length (m) per directed edge
    source: np.ndarray          # source unit per directed edge

    @classmethod
    def from_csr(cls, adjacency: sparse.csr_matrix) -> UnitGraph:
        adjacency = adjacency.tocsr()
        source = np.repeat(np.arange(adjacency.shape[0]), np.diff(adjacency.indptr))
        return cls(adjacency.indptr, adjacency.indices, adjacency.data.astype(float), source)

    def neighbours(self, u: int) -> np.ndarray:
        return self.indices[self.indptr[u]:self.indptr[u + 1]]

    def subgraph(self, idx: np.ndarray) -> sparse.csr_matrix:
        """The graph among the units `idx` (local positions), unweighted."""
        pos = np.full(len(self.indptr) - 1, -1)
        pos[idx] = np.arange(len(idx))
        keep = (pos[self.source] >= 0) & (pos[self.indices] >= 0)
        return sparse.csr_matrix((np.ones(keep.sum()), (pos[self.source[keep]], pos[self.indices[keep]])),
                                 shape=(len(idx), len(idx)))


def connected_without(graph: UnitGraph, members: set[int], removed: int) -> bool:
    """Is `members` minus `removed` still connected? (Members are connected before.) A search
    from one neighbour of `removed` that stops as soon as it has met all the others."""
    inside = [v for v in graph.neighbours(removed) if v in members and v != removed]
    if len(inside) <= 1:
        return True
    targets = set(inside)
    seen = {inside[0]}
    stack = [inside[0]]
    while stack:
        x = stack.pop()
        for y in graph.neighbours(x):
            if y != removed and y in members and y not in seen:
                seen.add(y)
                targets.discard(y)
                if not targets:
                    return True
                stack.append(y)
    return not (targets - seen)


def connected(graph: UnitGraph, members: set[int]) -> bool:
    """Is `members` one piece on the graph (an empty or one-unit set is)?"""
    if len(members) <= 1:
        return True
    start = next(iter(members))
    seen, stack = {start}, [start]
    while stack:
        x = stack.pop()
        for y in graph.neighbours(x):
            y = int(y)
            if y in members and y not in seen:
                seen.add(y)
                stack.append(y)
    return len(seen) == len(members)


def connected_after_swap(graph: UnitGraph, members: set[int], out: int, inn: int) -> bool:
    """Is members - {out} + {inn} connected?"""
    return connected(graph, (members - {out}) | {inn})


def barrier_sides(adjacency: sparse.csr_matrix, slow_pairs) -> np.ndarray | None:
    """Which side of the slow barriers each unit lies on (a component of the graph with the
    slow borders cut), or None without slow barriers."""
    if slow_pairs is None or not len(slow_pairs):
        return None
    a, b = np.asarray(slow_pairs, dtype=int).T
    cut = adjacency.tolil(copy=True)
    cut[a, b] = 0
    cut[b, a] = 0
    cut = cut.tocsr()
    cut.eliminate_zeros()
    return connected_components(cut, directed=False)[1]


def join_islands(units, adjacency, islands: str):
    """The adjacency with every separate part linked to its nearest unit elsewhere (nearest
    part first, until one), and the links as (unit id, unit id, distance m); or, with
    islands="refuse", an InfeasiblePlan naming the parts."""
    n_parts, part = connected_components(adjacency, directed=False)
    if n_parts == 1:
        return adjacency, []
    main = int(np.argmax(np.bincount(part)))
    geoms = units.geometry.to_numpy()
    if islands == "refuse":
        parts = [f"[{unit_names(units, np.flatnonzero(part == c), 5)}]" for c in range(n_parts) if c != main]
        raise InfeasiblePlan(f"the units form {n_parts} separate parts with no shared border or crossing; "
                             f"islands: {'; '.join(parts)}. Add a crossing, or allow joining them (islands='join')")
    ids = unit_ids(units)
    links = []
    adjacency = adjacency.tolil()
    while True:
        n_parts, part = connected_components(adjacency.tocsr(), directed=False)
        if n_parts == 1:
            break
        smallest = int(np.argmin(np.bincount(part)))
        mine = np.flatnonzero(part == smallest)
        others = np.flatnonzero(part != smallest)
        tree = shapely.STRtree(geoms[others])
        (qa, qb), dist = tree.query_nearest(geoms[mine], all_matches=False, return_distance=True)
        best = int(np.argmin(dist))
        a, b = int(mine[qa[best]]), int(others[qb[best]])
        adjacency[a, b] = adjacency[b, a] = 1.0
        links.append((ids[a], ids[b], float(dist[best])))
    return adjacency.tocsr(), links
