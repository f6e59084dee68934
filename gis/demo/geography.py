"""The city's land: outline, river, railway, motorway, street network, administrative areas.

Everything is in metres around the origin (0, 0) = the city centre; the caller moves it to UTM.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from .spec import Size


@dataclass
class Geography:
    outline: shapely.Polygon
    river: shapely.Polygon            # the Xiang, within the outline
    river_axis: np.ndarray            # (k, 2) centreline vertices, y ascending (for the bank test)
    land: shapely.Geometry            # outline minus river
    rail: shapely.LineString
    motorway: shapely.LineString
    villages: np.ndarray              # (v, 2) village centres
    street_xy: np.ndarray             # (s, 2, 2) street segments
    street_kind: np.ndarray           # primary / secondary / residential
    bridges: np.ndarray               # (3, 2, 2) bridge segments (also in street_xy)
    crossings: list                   # (barrier, kind, Point)


def density(xy: np.ndarray, size: Size, villages: np.ndarray) -> np.ndarray:
    """Relative population density: a dense centre fading outwards, plus village bumps."""
    r = np.hypot(xy[:, 0], xy[:, 1])
    town = np.exp(-r / (0.33 * size.town_radius)) * (r < 1.1 * size.town_radius)
    bumps = np.zeros(len(xy))
    for vx, vy in villages:
        bumps += 0.5 * np.exp(-((xy[:, 0] - vx) ** 2 + (xy[:, 1] - vy) ** 2) / (2 * 220.0 ** 2))
    return town + bumps


def river_x(y: np.ndarray, axis: np.ndarray) -> np.ndarray:
    return np.interp(y, axis[:, 1], axis[:, 0])


def bank(xy: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """0 for the west bank, 1 for the east bank."""
    return (xy[:, 0] > river_x(xy[:, 1], axis)).astype(np.int8)


def _outline(rng, size: Size) -> shapely.Polygon:
    t = np.linspace(0, 2 * np.pi, 361)[:-1]
    ph = rng.uniform(0, 2 * np.pi, 3)
    r = size.outline_radius * (1 + 0.08 * np.sin(3 * t + ph[0]) + 0.05 * np.sin(5 * t + ph[1])
                               + 0.03 * np.sin(7 * t + ph[2]))
    return shapely.Polygon(np.c_[r * np.cos(t), r * np.sin(t)])


def _river(rng, size: Size, outline) -> tuple[shapely.Polygon, np.ndarray]:
    R = size.outline_radius
    y = np.linspace(-1.3 * R, 1.3 * R, 400)
    ph = rng.uniform(0, 2 * np.pi)
    x = -0.12 * size.town_radius + 0.07 * size.town_radius * np.sin(2 * np.pi * y / (0.9 * size.town_radius) + ph)
    axis = np.c_[x, y]
    river = shapely.LineString(axis).buffer(size.river_width / 2, quad_segs=4).intersection(outline)
    return river, axis


def _sample(rng, n: int, size: Size, villages, land, mask_fn=None) -> np.ndarray:
    """Points drawn from the density inside `land` (rejection sampling, vectorised in batches)."""
    R = size.outline_radius
    out, have = [], 0
    peak = 1.0 + 0.5
    while have < n:
        cand = rng.uniform(-R * 1.2, R * 1.2, (max(4 * (n - have), 1000), 2))
        d = density(cand, size, villages)
        keep = rng.random(len(cand)) * peak < d
        if mask_fn is not None:
            keep &= mask_fn(cand)
        cand = cand[keep]
        cand = cand[shapely.contains_xy(land, cand[:, 0], cand[:, 1])]
        out.append(cand)
        have += len(cand)
    return np.concatenate(out)[:n]


def _barrier_line(rng, size: Size, outline, kind: str) -> shapely.LineString:
    R = size.outline_radius
    if kind == "rail":   # east-west, north of the centre, gently bending
        x = np.linspace(-1.3 * R, 1.3 * R, 60)
        y = 0.38 * size.town_radius + 0.05 * size.town_radius * np.sin(x / size.town_radius * 2 + rng.uniform(0, 6))
    else:                # motorway: a north-south bypass east of the centre
        y = np.linspace(-1.3 * R, 1.3 * R, 60)
        x = 0.62 * size.town_radius + 0.08 * size.town_radius * np.sin(y / size.town_radius * 1.5 + rng.uniform(0, 6))
    line = shapely.LineString(np.c_[x, y]).intersection(outline)
    if line.geom_type != "LineString":
        line = max(shapely.get_parts(line), key=lambda g: g.length)
    return line


def _segments(lines) -> np.ndarray:
    """All 2-point segments of a collection of lines, as (n, 2, 2)."""
    parts = shapely.get_parts(shapely.get_parts(np.asarray(lines, dtype=object)))
    parts = parts[shapely.get_type_id(parts) == 1]
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    same = idx[1:] == idx[:-1]
    return np.stack([coords[:-1][same], coords[1:][same]], axis=1)


def _cut_at_crossings(seg: np.ndarray, barrier, n_cross: int, rng) -> tuple[np.ndarray, list]:
    """Streets crossing a line barrier survive only at `n_cross` crossings spread along it."""
    lines = shapely.linestrings(seg)
    hits = np.flatnonzero(shapely.intersects(lines, barrier))
    if len(hits) == 0:
        return seg, []
    # Spread the kept crossings evenly along the barrier.
    pos = shapely.line_locate_point(barrier, shapely.intersection(lines[hits], barrier))
    pos = np.where(np.isfinite(pos), pos, 0)
    targets = (np.arange(n_cross) + 0.5) / n_cross * barrier.length
    keep = set()
    for t in targets:
        keep.add(int(hits[np.argmin(np.abs(pos - t))]))
    drop = np.setdiff1d(hits, sorted(keep))
    points = [shapely.intersection(lines[i], barrier) for i in sorted(keep)]
    points = [p if p.geom_type == "Point" else p.centroid for p in points]
    return np.delete(seg, drop, axis=0), points


def build(rng: np.random.Generator, size: Size) -> Geography:
    outline = _outline(rng, size)
    river, axis = _river(rng, size, outline)
    land = outline.difference(river)
    # Villages sit in the countryside ring, away from the river.
    ang = rng.uniform(0, 2 * np.pi, size.villages * 4)
    rad = rng.uniform(1.15 * size.town_radius, 0.92 * size.outline_radius, size.villages * 4)
    cand = np.c_[rad * np.cos(ang), rad * np.sin(ang)]
    cand = cand[shapely.contains_xy(land.buffer(-300), cand[:, 0], cand[:, 1])]
    villages = cand[: size.villages]

    # Streets: edges of a Voronoi diagram whose seeds follow the density, so blocks are small in
    # the centre and large outside; a floor of seeds everywhere keeps the countryside reachable.
    dense = _sample(rng, int(size.block_seeds * 0.8), size, villages, land)
    R = size.outline_radius
    sparse = rng.uniform(-R, R, (int(size.block_seeds * 0.2), 2))
    seeds = np.concatenate([dense, sparse])
    edges = shapely.voronoi_polygons(shapely.multipoints(seeds), only_edges=True,
                                     extend_to=outline.envelope)
    edges = shapely.intersection(edges, land)
    seg = _segments([edges])
    seg = seg[np.hypot(*(seg[:, 1] - seg[:, 0]).T) > 1.0]

    rail = _barrier_line(rng, size, outline, "rail")
    motorway = _barrier_line(rng, size, outline, "motorway")
    seg, rail_x = _cut_at_crossings(seg, rail, size.rail_crossings, rng)
    seg, mw_x = _cut_at_crossings(seg, motorway, size.motorway_crossings, rng)

    # Three bridges over the river, joining the nearest street ends on either bank.
    nodes = seg.reshape(-1, 2)
    west = nodes[bank(nodes, axis) == 0]
    east = nodes[bank(nodes, axis) == 1]
    tw, te = cKDTree(west), cKDTree(east)
    bridges, crossings = [], []
    for yb in (-0.45, 0.0, 0.45):
        y = yb * size.town_radius
        xr = float(river_x(np.array([y]), axis)[0])
        _, iw = tw.query([xr - size.river_width, y])
        _, ie = te.query([xr + size.river_width, y])
        bridges.append([west[iw], east[ie]])
        mid = shapely.LineString([west[iw], east[ie]]).intersection(river)
        crossings.append(("river", "bridge", mid.centroid if not mid.is_empty else shapely.Point(xr, y)))
    bridges = np.array(bridges)
    crossings += [("rail", "level_crossing" if i % 2 else "underpass", p) for i, p in enumerate(rail_x)]
    crossings += [("motorway", "underpass", p) for p in mw_x]

    seg = np.concatenate([seg, bridges])
    mid = seg.mean(axis=1)
    kind = _street_kinds(mid, size)
    kind[-len(bridges):] = "primary"
    return Geography(outline, river, axis, land, rail, motorway, villages, seg, kind, bridges, crossings)


def _street_kinds(mid: np.ndarray, size: Size) -> np.ndarray:
    """Ring roads and radials are primary; a coarse grid is secondary; the rest residential."""
    T = size.town_radius
    t = np.linspace(0, 2 * np.pi, 181)
    rings = [shapely.LinearRing(np.c_[f * T * np.cos(t), f * T * np.sin(t)]) for f in (0.3, 0.65)]
    radials = [shapely.LineString([(0, 0), (1.2 * T * np.cos(a), 1.2 * T * np.sin(a))])
               for a in np.linspace(0, 2 * np.pi, 9)[:-1] + 0.2]
    arterial = shapely.union_all(rings + radials)
    pts = shapely.points(mid)
    d_art = shapely.distance(pts, arterial)
    spacing = 1200.0
    gx = np.abs((mid[:, 0] + spacing / 2) % spacing - spacing / 2)
    gy = np.abs((mid[:, 1] + spacing / 2) % spacing - spacing / 2)
    kind = np.full(len(mid), "residential", dtype=object)
    kind[np.minimum(gx, gy) < 45] = "secondary"
    kind[d_art < 70] = "primary"
    return kind


def admin_areas(rng: np.random.Generator, size: Size, geo: Geography, people_xy: np.ndarray):
    """About 30 communities (Voronoi cells of population-weighted seeds, tiling the outline) and
    6 office regions as unions of consecutive communities around the centre."""
    pick = rng.choice(len(people_xy), size=size.communities * 3, replace=False)
    cand = people_xy[pick]
    # Farthest-point thinning so communities are not all in the centre.
    chosen = [0]
    d = np.hypot(*(cand - cand[0]).T)
    for _ in range(size.communities - 1):
        i = int(np.argmax(d))
        chosen.append(i)
        d = np.minimum(d, np.hypot(*(cand - cand[i]).T))
    seeds = cand[chosen]
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds),
                                                       extend_to=geo.outline.envelope.buffer(10)))
    # voronoi_polygons does not keep input order; match each cell to its seed.
    owner = np.array([np.flatnonzero(shapely.contains_xy(c, seeds[:, 0], seeds[:, 1]))[0] for c in cells])
    comm = np.empty(len(seeds), dtype=object)
    comm[owner] = shapely.intersection(cells, geo.outline)
    comm = shapely.make_valid(comm)
    angle = np.arctan2(seeds[:, 1], seeds[:, 0])
    order = np.argsort(angle)
    region = np.empty(len(seeds), dtype=int)
    region[order] = np.arange(len(seeds)) * size.regions // len(seeds)
    regions = [shapely.coverage_union_all(comm[region == r]) for r in range(size.regions)]
    return comm, region, regions
