"""The inspection round: the boxes a manager visits today, in an order along the streets, from his
base and back to it.

    r = route(net, base_xy, stops_xy)       # net: gis.streets.StreetNetwork, metric coordinates
    r.order, r.length_m, r.legs_m, r.geometry

Street distances come from one multi-source Dijkstra on the part of the network around the stops
(their bounding box plus a margin), not from one search per pair; the margin grows until every
distance is proven to be the network's own (see `distance_matrix`). The order comes from
OR-Tools' routing solver (`tour`); `two_opt` is the independent heuristic it is measured against
and `brute_force` the exact answer for the tests.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from gis.errors import InputError
from gis.streets import StreetNetwork

DETOUR = 1.4  # street length over straight line, for a pair the network does not join


@dataclass(frozen=True)
class Route:
    """A round from the base through every stop and back. `order` holds stop indices (positions in
    the `stops_xy` given); `legs_m[k]` is the leg into the k-th stop of `order`, the last one the
    way back to the base; `off_network[k]` marks a leg the streets do not join within the limit
    (counted as DETOUR x the straight line, drawn straight)."""
    order: list[int]
    length_m: float
    legs_m: np.ndarray
    off_network: np.ndarray
    geometry: shapely.LineString


# ---- street distances ---------------------------------------------------------------------

@dataclass
class _Legs:
    dist: np.ndarray          # n x n metres, final (fallbacks in)
    fallback: np.ndarray      # n x n bool: not joined within the limit
    along: np.ndarray         # n x n bool: both on one segment and straight along it is shortest
    pred: np.ndarray | None   # n x (k + n) Dijkstra predecessors in the clipped graph
    sub_nodes: np.ndarray     # clipped node -> network node
    on_street: np.ndarray     # n x 2: where each point joins its street


def _xy(points, what: str) -> np.ndarray:
    """(n, 2) float coordinates from pairs or shapely points; a single (x, y) is one row."""
    arr = np.asarray(getattr(points, "geometry", points))
    if arr.dtype == object:
        geoms = arr.ravel()
        xy = shapely.get_coordinates(geoms)
        if len(xy) != len(geoms) or not shapely.is_valid_input(geoms).all():
            raise InputError(f"{what}s: each must be one point (x, y in metres)")
        arr = xy
    try:
        arr = np.asarray(arr, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{what}s: coordinates must be pairs of numbers (x, y in metres)") from None
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.shape == (2,):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{what}s: expected rows of (x, y), got an array of shape {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{what} {i}: coordinates are not finite ({arr[i, 0]}, {arr[i, 1]})")
    return arr


def distance_matrix(network: StreetNetwork, points, *, limit: float | None = None,
                    detour: float = DETOUR) -> np.ndarray:
    """Street distance in metres between every pair of `points` ((n, 2) metric x, y, or shapely
    points), access legs from each point to its street included, as `pair_distances` counts them;
    symmetric, 0 on the diagonal.

    A pair the streets do not join within `limit` metres (a street fragment on its own, a river
    with no bridge nearby) gets `detour` x the straight-line distance instead. The default limit
    is 3 x the diagonal of the points' bounding box, at least 2 km: a round's stops lie in one
    district, and a longer way between two of them means a gap in the street layer, not a detour
    worth the search over the whole city."""
    return _street_legs(network, _xy(points, "point"), limit, detour).dist


def _street_legs(network: StreetNetwork, xy: np.ndarray, limit: float | None, detour: float,
                 with_paths: bool = False) -> _Legs:
    n = len(xy)
    if n == 0:
        z = np.zeros((0, 0))
        return _Legs(z, z.astype(bool), z.astype(bool), None, np.zeros(0, int), np.zeros((0, 2)))
    if not (np.isfinite(detour) and detour >= 1):
        raise InputError(f"detour factor {detour}: must be a number of at least 1")
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    if limit is None:
        limit = max(3.0 * float(np.hypot(*(hi - lo))), 2000.0)
    if not (np.isfinite(limit) and limit > 0):
        raise InputError(f"distance limit {limit}: must be a positive number of metres")
    snap = network.snap(shapely.points(xy))
    on_street = shapely.get_coordinates(
        shapely.line_interpolate_point(network.segments[snap.seg], snap.to_a))
    must = np.unique(np.r_[snap.node_a, snap.node_b])  # a long street may end outside the box
    # Both on one segment: straight along it, as pair_distances does (no path can be shorter).
    same = snap.seg[:, None] == snap.seg[None, :]
    along_m = np.abs(snap.to_a[:, None] - snap.to_a[None, :]) + (snap.access[:, None] + snap.access[None, :])
    along_m = np.where(same, along_m, np.inf)
    margin = min(0.5 * float((hi - lo).max()) + 200.0, limit / 2)
    while True:
        sub_nodes, D, pred = _clipped_matrix(network, snap, lo - margin, hi + margin, must, with_paths)
        whole = len(sub_nodes) == len(network.nodes)
        D = np.minimum(D, D.T)  # the two searches of a pair agree but for rounding
        along = along_m < D
        D = np.where(along, along_m, D)
        if whole or margin >= limit / 2:
            break  # from here on, whatever is longer than the limit truly is
        need = _margin_needed(D, xy, lo, hi)
        if (need <= margin).all():
            break
        # A finite distance says how far its path can stray; an open one just widens the search.
        grow = np.where(np.isfinite(need), need, 2 * margin)
        margin = min(max(float(grow.max()), margin * 1.25), limit / 2)
    fallback = ~(D <= limit)
    straight = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    D = np.where(fallback, detour * straight, D)
    np.fill_diagonal(D, 0.0)
    np.fill_diagonal(fallback, False)
    return _Legs(D, fallback, along, pred, sub_nodes, on_street)


def _clipped_matrix(network: StreetNetwork, snap, lo, hi, must, with_paths: bool):
    """Distances between the points on the streets inside [lo, hi] (plus the nodes in `must`).
    Each point is a node of its own, joined to its segment's two ends by the way along the
    segment plus its access leg, so one Dijkstra per point answers every pair."""
    x, y = network.nodes[:, 0], network.nodes[:, 1]
    inside = (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1])
    inside[must] = True
    sub_nodes = np.flatnonzero(inside)
    local = np.full(len(inside), -1)
    local[sub_nodes] = np.arange(len(sub_nodes))
    keep = inside[network.seg_a] & inside[network.seg_b]
    a, b, w = local[network.seg_a[keep]], local[network.seg_b[keep]], network.length[keep]
    k, n = len(sub_nodes), len(snap.seg)
    pts = k + np.arange(n)
    a = np.r_[a, pts, pts]
    b = np.r_[b, local[snap.node_a], local[snap.node_b]]
    w = np.r_[w, snap.to_a + snap.access, snap.to_b + snap.access]
    # Two streets between the same two nodes: the shorter counts (a coo -> csr would add them).
    lo_ab, hi_ab = np.minimum(a, b), np.maximum(a, b)
    o = np.lexsort((w, hi_ab, lo_ab))
    first = np.r_[True, (lo_ab[o][1:] != lo_ab[o][:-1]) | (hi_ab[o][1:] != hi_ab[o][:-1])]
    o = o[first]
    g = sparse.csr_matrix((w[o], (lo_ab[o], hi_ab[o])), shape=(k + n, k + n))
    if with_paths:
        full, pred = dijkstra(g, directed=False, indices=pts, return_predecessors=True)
    else:
        full, pred = dijkstra(g, directed=False, indices=pts), None
    return sub_nodes, full[:, pts], pred


def _margin_needed(D: np.ndarray, xy: np.ndarray, lo, hi) -> np.ndarray:
    """For each pair, the margin around [lo, hi] that holds every path of length D[i, j] from i to
    j: such a path stays inside the ellipse with foci i, j and major axis D[i, j] (each point x on
    it has |ix| + |xj| <= D), so a box holding that ellipse holds the shortest path, and a
    distance found inside the box is then the network's own. inf where D is inf."""
    p, q = xy[:, None, :], xy[None, :, :]
    centre = (p + q) / 2
    a = D / 2
    with np.errstate(invalid="ignore"):
        half = np.hypot(*(q - p).transpose(2, 0, 1)) / 2
        b2 = np.maximum(a * a - half * half, 0.0)
        u = np.divide(q - p, 2 * half[..., None], out=np.zeros_like(q - p), where=half[..., None] > 0)
        # Half-widths of the ellipse's axis-aligned box: sqrt(a^2 u_x^2 + b^2 u_y^2), and for y.
        hx = np.sqrt(a * a * u[..., 0] ** 2 + b2 * u[..., 1] ** 2)
        hy = np.sqrt(a * a * u[..., 1] ** 2 + b2 * u[..., 0] ** 2)
        hx = np.where(half > 0, hx, a)
        hy = np.where(half > 0, hy, a)
        need = np.maximum.reduce([lo[0] - (centre[..., 0] - hx), centre[..., 0] + hx - hi[0],
                                  lo[1] - (centre[..., 1] - hy), centre[..., 1] + hy - hi[1]])
    need = np.where(np.isfinite(D), np.maximum(need, 0.0), np.inf)
    np.fill_diagonal(need, 0.0)
    return need


# ---- the order ----------------------------------------------------------------------------

def _check_matrix(dist, start: int) -> np.ndarray:
    try:
        d = np.asarray(dist, dtype=float)
    except (TypeError, ValueError):
        raise InputError("distance matrix: entries must be numbers") from None
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise InputError(f"distance matrix: must be square, got shape {d.shape}")
    if not np.isfinite(d).all():
        i, j = np.argwhere(~np.isfinite(d))[0]
        raise InputError(f"distance matrix: entry ({i}, {j}) is not finite ({d[i, j]})")
    if (d < 0).any():
        i, j = np.argwhere(d < 0)[0]
        raise InputError(f"distance matrix: entry ({i}, {j}) is negative ({d[i, j]})")
    if not (isinstance(start, (int, np.integer)) and 0 <= start < max(len(d), 1)):
        raise InputError(f"start {start}: not a node of a {len(d)}-node matrix")
    return d


def tour_length(dist: np.ndarray, order) -> float:
    """Length of the closed tour visiting `order` and returning to its first node."""
    o = np.asarray(order, dtype=int)
    return float(dist[o, np.roll(o, -1)].sum()) if len(o) > 1 else 0.0


def brute_force(dist, start: int = 0) -> tuple[list[int], float]:
    """The shortest closed tour from `start`, by trying every order (n <= 10): for the tests."""
    d = _check_matrix(dist, start)
    n = len(d)
    if n > 10:
        raise InputError(f"brute force: {n} nodes is too many (at most 10)")
    if n <= 1:
        return list(range(n)), 0.0
    rest = [i for i in range(n) if i != start]
    perms = np.array(list(itertools.permutations(rest)), dtype=int)
    full = np.c_[np.full(len(perms), start), perms]
    cost = d[full, np.roll(full, -1, axis=1)].sum(axis=1)
    best = int(np.argmin(cost))
    return full[best].tolist(), float(cost[best])


def two_opt(dist, order=None, start: int = 0) -> tuple[list[int], float]:
    """Nearest neighbour from `start` (or the `order` given, whose first node stays first), then
    2-opt moves until none shortens the tour. Assumes a symmetric matrix (a reversed stretch
    costs the same). The standard heuristic `tour` is measured against."""
    d = _check_matrix(dist, start)
    n = len(d)
    if n == 0:
        return [], 0.0
    if order is None:
        order, free = [start], np.ones(n, bool)
        free[start] = False
        for _ in range(n - 1):
            row = np.where(free, d[order[-1]], np.inf)
            order.append(int(np.argmin(row)))
            free[order[-1]] = False
    t = np.asarray(order, dtype=int)
    if sorted(t.tolist()) != list(range(n)):
        raise InputError(f"two_opt: order must visit each of the {n} nodes once")
    improved = n > 3
    while improved:
        improved = False
        for i in range(n - 2):
            # Swap edges (t[i], t[i+1]) and (t[j], t[j+1]) for every j at once.
            j = np.arange(i + 2, n if i > 0 else n - 1)
            a, b, c, e = t[i], t[i + 1], t[j], t[(j + 1) % n]
            gain = d[a, b] + d[c, e] - d[a, c] - d[b, e]
            if len(j) and gain.max() > 1e-9 * max(d[a, b], 1.0):
                jj = int(j[np.argmax(gain)])
                t[i + 1:jj + 1] = t[i + 1:jj + 1][::-1].copy()
                improved = True
    return t.tolist(), tour_length(d, t)


def tour(dist, start: int = 0, time_limit_s: float | None = None) -> tuple[list[int], float]:
    """A short closed tour from `start` through every node once, and its length: the nodes in
    visiting order, `start` first (the way back to it is counted, not repeated). OR-Tools'
    routing solver, cheapest arc first and guided local search for `time_limit_s` (default 1 ms
    a node, at least 10 ms: on 40 random points that lands within ~2 % of a 2 s search, on 20
    within ~0.5 %); up to 3 nodes every order is tried instead. Costs go to the solver as
    integers scaled so that the longest arc is 1e8 (not decimetres): rounding then moves a
    tour's length by less than a millionth, whatever the units."""
    d = _check_matrix(dist, start)
    n = len(d)
    if time_limit_s is None:
        time_limit_s = max(0.01, 0.001 * n)
    if not (np.isfinite(time_limit_s) and time_limit_s > 0):
        raise InputError(f"time limit {time_limit_s}: must be a positive number of seconds")
    if n <= 3:
        return brute_force(d, start)
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    top = d.max()
    cost = np.rint(d * (1e8 / top)).astype(np.int64) if top > 0 else np.zeros(d.shape, np.int64)
    manager = pywrapcp.RoutingIndexManager(n, 1, int(start))
    model = pywrapcp.RoutingModel(manager)
    arc = model.RegisterTransitMatrix(cost.tolist())
    model.SetArcCostEvaluatorOfAllVehicles(arc)
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromNanoseconds(max(int(time_limit_s * 1e9), 1_000_000))
    solution = model.SolveWithParameters(params)
    if solution is None:  # cannot happen with a complete matrix; keep the heuristic's answer
        return two_opt(d, start=start)
    order, i = [], model.Start(0)
    while not model.IsEnd(i):
        order.append(manager.IndexToNode(i))
        i = solution.Value(model.NextVar(i))
    return order, tour_length(d, order)


# ---- the round ----------------------------------------------------------------------------

def route(network: StreetNetwork, base_xy, stops_xy, *, limit: float | None = None,
          detour: float = DETOUR, time_limit_s: float | None = None) -> Route:
    """Today's round: from `base_xy` (x, y) through every stop of `stops_xy` ((n, 2), or shapely
    points) and back, along the streets. The geometry follows the streets, access legs included;
    a leg off the network (see `distance_matrix`) is drawn straight, so there the drawn line is
    shorter than the leg counted. No stops: an empty round of length 0."""
    base = _xy(base_xy, "base")
    if len(base) != 1:
        raise InputError(f"base: expected one (x, y), got {len(base)} points")
    stops = _xy(stops_xy, "stop")
    if len(stops) == 0:
        return Route([], 0.0, np.zeros(0), np.zeros(0, bool), shapely.LineString())
    xy = np.r_[base, stops]
    legs = _street_legs(network, xy, limit, detour, with_paths=True)
    order, _ = tour(legs.dist, 0, time_limit_s)
    closed = order + [0]
    frm, to = np.array(closed[:-1]), np.array(closed[1:])
    legs_m = legs.dist[frm, to]
    coords = [_leg_coords(network, legs, xy, int(i), int(j)) for i, j in zip(frm, to)]
    line = np.concatenate(coords)
    line = line[np.r_[True, (np.diff(line, axis=0) != 0).any(axis=1)]]
    if len(line) < 2:  # base and stop on one spot
        line = np.r_[line, line]
    return Route([i - 1 for i in order[1:]], float(legs_m.sum()), legs_m, legs.fallback[frm, to],
                 shapely.LineString(line))


def _leg_coords(network: StreetNetwork, legs: _Legs, xy: np.ndarray, i: int, j: int) -> np.ndarray:
    """The leg from point i to point j: access leg, the streets of the shortest path (walked back
    from j on i's Dijkstra predecessors), access leg."""
    if i == j:
        return xy[[i]]
    if legs.fallback[i, j]:
        return xy[[i, j]]
    if legs.along[i, j]:
        return np.array([xy[i], legs.on_street[i], legs.on_street[j], xy[j]])
    k = len(legs.sub_nodes)
    path, v = [], k + j
    while v >= 0 and v != k + i:
        path.append(v)
        v = legs.pred[i, v]
    path = path[::-1]
    nodes = np.array(path[:-1], dtype=int)
    mid = np.empty((len(nodes), 2))
    street = nodes < k
    mid[street] = network.nodes[legs.sub_nodes[nodes[street]]]
    # The path may pass a point that sits on its street (no access leg): draw its street point.
    mid[~street] = legs.on_street[nodes[~street] - k]
    return np.r_[xy[[i]], legs.on_street[[i]], mid, legs.on_street[[j]], xy[[j]]]
