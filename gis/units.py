"""Planning units and their neighbours: the service area of each box (or distribution point),
as a gap-free, non-overlapping tessellation of the served region, and the adjacency graph that
the partitioner walks.

A box's service area is where its subscribers live: Voronoi cells of the subscribers, merged by
box and clipped to the city. Subscribers are first snapped to a grid of `cell` metres (each cell
taking its majority unit), which bounds the number of Voronoi sites by the area served, not by
the number of lines, and turns a tower of 300 subscribers into one site.

Barriers: water (a polygon) is cut out of the domain; the domain is split along a line barrier
(rail, motorway) with no width, and a border that runs along the line does not make two areas
neighbours. Only a crossing joins the two sides: each crossing links the nearest areas on the
sides it stands between.
"""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .coverage import TOLERANCE_M
from .crs import utm_epsg_for
from .errors import InputError


def _metric(gdf: gpd.GeoDataFrame | None, crs) -> gpd.GeoDataFrame | None:
    if gdf is None or len(gdf) == 0:
        return None
    if gdf.crs is None:
        raise InputError("layer has no CRS")
    return gdf.to_crs(crs)


def service_areas(subscribers: gpd.GeoDataFrame, *, unit: str = "box_id",
                  outline: shapely.Geometry | gpd.GeoSeries | None = None,
                  barriers: gpd.GeoDataFrame | None = None, crs=None, cell: float = 10.0,
                  margin: float = 150.0, simplify: float = 0.0, absorb: bool = False) -> gpd.GeoDataFrame:
    """One polygon per unit (in the metric `crs`, default the UTM zone of the data), with the
    unit's subscriber count; the polygons tile the served region without gaps or overlaps.

    `outline` bounds the region (a geometry in `crs`, or a GeoSeries in any CRS); without one the
    region is the subscribers' convex hull grown by `margin` metres. `simplify` (metres) smooths
    the staircase borders that interleaved subscribers leave, as a whole coverage, so the areas
    still tile the region exactly.

    A unit whose subscribers all share grid cells with larger units (a distribution point in
    the same building as another) has no area of its own: an error, or with `absorb=True` it
    joins the unit that takes the cell holding most of its subscribers, listed in that unit's
    `absorbed` column (";"-separated)."""
    if unit not in subscribers.columns:
        raise InputError(f"subscribers have no {unit!r} column")
    if len(subscribers) == 0:
        raise InputError("no subscribers: a service area needs at least one")
    crs = crs or utm_epsg_for(subscribers.geometry)
    pts = subscribers.geometry.to_crs(crs).to_numpy()
    xy = shapely.get_coordinates(pts)
    if len(xy) != len(subscribers):
        raise InputError("subscribers must be single points, one per row")
    labels = subscribers[unit].to_numpy()

    # Majority unit per grid cell; the site is the mean position of that unit's subscribers.
    ij = np.floor(xy / cell).astype(np.int64)
    df = pd.DataFrame({"i": ij[:, 0], "j": ij[:, 1], "u": labels, "x": xy[:, 0], "y": xy[:, 1]})
    g = df.groupby(["i", "j", "u"], sort=False).agg(n=("x", "size"), x=("x", "mean"), y=("y", "mean"))
    g = g.reset_index().sort_values(["i", "j", "n", "u"], ascending=[True, True, False, True])
    sites = g.drop_duplicates(["i", "j"], keep="first")
    absorbed: dict = {}
    orphans = g.loc[~g["u"].isin(set(sites["u"]))]
    if absorb and len(orphans):
        best = orphans.sort_values(["u", "n"], ascending=[True, False]).drop_duplicates("u")
        winner = best.merge(sites[["i", "j", "u"]], on=["i", "j"], suffixes=("", "_w"))
        relabel = dict(zip(winner["u"], winner["u_w"]))
        for o, w_ in relabel.items():
            absorbed.setdefault(w_, []).append(o)
        labels = pd.Series(labels).replace(relabel).to_numpy()
        df["u"] = labels
        g = df.groupby(["i", "j", "u"], sort=False).agg(n=("x", "size"), x=("x", "mean"), y=("y", "mean"))
        g = g.reset_index().sort_values(["i", "j", "n", "u"], ascending=[True, True, False, True])
        sites = g.drop_duplicates(["i", "j"], keep="first")
    site_xy = sites[["x", "y"]].to_numpy()

    if outline is None:
        domain = shapely.convex_hull(shapely.multipoints(xy)).buffer(margin)
    elif isinstance(outline, gpd.GeoSeries | gpd.GeoDataFrame):
        domain = shapely.union_all(outline.to_crs(crs).geometry.to_numpy())
    else:
        domain = outline
    water, lines = _barrier_parts(barriers, crs)
    if water is not None:
        domain = domain.difference(water)
    pieces = _pieces(domain, lines)
    # Sites that fall outside the domain (in the river, say) still own the cells around them.
    cells = shapely.voronoi_polygons(shapely.multipoints(site_xy), extend_to=domain.envelope, ordered=True)
    cells = shapely.get_parts(cells)
    # Only cells on a piece's edge (the domain's edge or a line barrier) need clipping; an
    # STRtree bounding-box query finds them. The rest are wholly in or wholly out: their site tells.
    rings = shapely.get_parts(shapely.get_parts(shapely.boundary(pieces)))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    edge = shapely.linestrings(np.stack([coords[:-1][same], coords[1:][same]], axis=1))
    near = np.zeros(len(cells), bool)
    near[shapely.STRtree(cells).query(edge)[1]] = True
    shapely.prepare(domain)
    whole = np.flatnonzero(~near & shapely.contains_xy(domain, site_xy[:, 0], site_xy[:, 1]))
    ci, pj = shapely.STRtree(pieces).query(cells[near], predicate="intersects")
    ci = np.flatnonzero(near)[ci]
    cut = shapely.intersection(cells[ci], pieces[pj])
    cells = np.r_[cells[whole], cut]
    cell_site = np.r_[whole, ci]
    parts, idx = shapely.get_parts(cells, return_index=True)
    parts = parts[shapely.get_dimensions(parts) == 2]
    owner = cell_site[idx[shapely.get_dimensions(shapely.get_parts(cells)) == 2]]
    part_unit = _reassign_across_barriers(parts, owner, site_xy, sites["u"].to_numpy(), lines)
    areas = gpd.GeoDataFrame({unit: part_unit}, geometry=parts, crs=crs)
    areas = areas.dissolve(unit, method="coverage")
    if simplify > 0:
        areas.geometry = shapely.coverage_simplify(areas.geometry.to_numpy(), tolerance=simplify)
    counts = pd.Series(labels).value_counts()
    areas["subscribers"] = counts.reindex(areas.index).fillna(0).astype(np.int64).to_numpy()
    if absorb:
        areas["absorbed"] = [";".join(sorted(map(str, absorbed.get(u, [])))) for u in areas.index]
    missing = set(counts.index) - set(areas.index)
    if missing:
        raise InputError(f"{len(missing)} units have no service area (all their subscribers share grid cells "
                         f"with larger units; use a smaller cell): {', '.join(map(str, sorted(missing)[:10]))}")
    return areas.reset_index()


def _barrier_parts(barriers: gpd.GeoDataFrame | None, crs):
    """Water (polygons, cut out of the region) and lines (rail, motorway: the region is split
    along them, with no width, so polygons on either side share a border that is not a link)."""
    b = _metric(barriers, crs)
    if b is None:
        return None, None
    geoms = b.geometry.to_numpy()
    dim = shapely.get_dimensions(geoms)
    water = shapely.union_all(geoms[dim == 2]) if (dim == 2).any() else None
    lines = shapely.union_all(geoms[dim == 1]) if (dim == 1).any() else None
    return water, lines


def _pieces(domain, lines) -> np.ndarray:
    """The domain cut along the line barriers into faces."""
    if lines is None:
        return shapely.get_parts(domain)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(
        shapely.union_all([shapely.boundary(domain), shapely.intersection(lines, domain)]))))
    inside = shapely.contains(domain, shapely.point_on_surface(faces))
    return faces[inside]


def _reassign_across_barriers(parts, owner, site_xy, site_unit, lines, passes: int = 4) -> np.ndarray:
    """A cell cut by a barrier leaves pieces on the far side of its site; those belong to the
    unit they share the longest border with on that side, not to a unit across the river."""
    unit = site_unit[owner].copy()
    home = shapely.contains_xy(parts, site_xy[owner, 0], site_xy[owner, 1])
    # A unit with no piece around any of its sites (sites on a barrier) keeps its largest piece.
    homeless = np.setdiff1d(np.unique(unit), np.unique(unit[home]))
    if len(homeless):
        area = shapely.area(parts)
        for u in homeless:
            idx = np.flatnonzero(unit == u)
            home[idx[np.argmax(area[idx])]] = True
    tree = shapely.STRtree(parts)
    zone = lines.buffer(0.5, cap_style="flat") if lines is not None else None
    for _ in range(passes):
        stray = np.flatnonzero(~home)
        if len(stray) == 0:
            break
        a, b = tree.query(parts[stray], predicate="intersects")
        a = stray[a]
        ok = home[b] & (a != b)
        a, b = a[ok], b[ok]
        if len(a) == 0:
            break
        shared = shapely.intersection(shapely.boundary(parts[a]), shapely.boundary(parts[b]))
        if lines is not None:  # the far side of a railway is not "the same side"
            shared = shapely.difference(shared, zone)
        shared = shapely.length(shared)
        best = pd.DataFrame({"a": a, "b": b, "w": shared}).sort_values("w", ascending=False).drop_duplicates("a")
        best = best[best["w"] > 0]
        unit[best["a"].to_numpy()] = unit[best["b"].to_numpy()]
        home[best["a"].to_numpy()] = True
    return unit


SLOW_FACTOR = 0.1


def _slow_lines(barriers: gpd.GeoDataFrame | None, crs):
    """Line barriers whose `effect` is "slow": they weaken a border instead of cutting it."""
    b = _metric(barriers, crs)
    if b is None or "effect" not in b.columns:
        return None, b
    slow = (b["effect"].astype("string").str.lower() == "slow").fillna(False).to_numpy(dtype=bool)
    geoms = b.geometry.to_numpy()
    lines = slow & (shapely.get_dimensions(geoms) == 1)
    return (shapely.union_all(geoms[lines]) if lines.any() else None), b[~lines]


def adjacency(areas: gpd.GeoDataFrame, *, barriers: gpd.GeoDataFrame | None = None,
              crossings: gpd.GeoDataFrame | None = None, crossing_reach: float = 400.0,
              slow_factor: float = SLOW_FACTOR) -> tuple[sparse.csr_matrix, pd.DataFrame]:
    """Symmetric sparse matrix of shared border length (metres) between areas (in a metric CRS),
    and a table of links (`a`, `b`, `crossing`): those crossings added, which have length 1, and
    the borders along a slow barrier (`crossing` "(slow barrier)").
    Borders along a line barrier (pass the same `barriers` as to service_areas) do not count.
    A barrier whose `effect` column says "slow" does not cut: the border along it counts
    `slow_factor` of its length, so a district crossing it looks less compact and the
    partitioner prefers to stop there, without forbidding it.

    A crossing joins, among the areas within `crossing_reach` metres of it, the nearest area of
    each side: the sides are the groups those areas form without the crossing."""
    geoms = areas.geometry.to_numpy()
    n = len(geoms)
    if not shapely.coverage_is_valid(geoms):
        # Neighbours whose vertices differ by a hair share no line, only points: snap the borders
        # together (as gis.coverage does) so every border in the field is a border in the graph.
        geoms = shapely.coverage_clean(geoms, snapping_distance=TOLERANCE_M)
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    upper = i < j
    i, j = i[upper], j[upper]
    shared_geom = shapely.intersection(shapely.boundary(geoms[i]), shapely.boundary(geoms[j]))
    slow, barriers = _slow_lines(barriers, areas.crs)
    _, lines = _barrier_parts(barriers, areas.crs)
    if lines is not None:  # a border along a railway or motorway does not make neighbours
        shared_geom = shapely.difference(shared_geom, lines.buffer(0.5, cap_style="flat"))
    shared = shapely.length(shared_geom)
    along = np.zeros(len(shared))
    if slow is not None:
        along = shapely.length(shapely.intersection(shared_geom, slow.buffer(0.5, cap_style="flat")))
        shared = shared - (1 - slow_factor) * along
    touch = shared > 1e-6  # a corner contact is not a shared border
    i, j, w, along = i[touch], j[touch], shared[touch], along[touch]
    slowed = along > 1.5  # more than a border crossing the 1 m wide buffer
    links = [(int(a_), int(b_), "(slow barrier)") for a_, b_ in zip(i[slowed], j[slowed])]
    if crossings is not None and len(crossings):
        cx = crossings.to_crs(areas.crs)
        base = sparse.coo_matrix((np.r_[w, w], (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
        ids = cx["id"].to_numpy() if "id" in cx.columns else np.arange(len(cx))
        for cid, pt in zip(ids, cx.geometry.to_numpy()):
            near = tree.query(pt, predicate="dwithin", distance=crossing_reach)
            if len(near) < 2:
                continue
            sub = base[near][:, near]
            k, comp = connected_components(sub, directed=False)
            if k < 2:
                continue
            d = shapely.distance(geoms[near], pt)
            heads = [near[comp == c][np.argmin(d[comp == c])] for c in range(k)]
            for a_ in range(k):
                for b_ in range(a_ + 1, k):
                    links.append((min(heads[a_], heads[b_]), max(heads[a_], heads[b_]), cid))
    link_df = pd.DataFrame(links, columns=["a", "b", "crossing"]).drop_duplicates(["a", "b"])
    added = link_df[link_df["crossing"] != "(slow barrier)"]
    if len(added):
        i = np.r_[i, added["a"].to_numpy()]
        j = np.r_[j, added["b"].to_numpy()]
        w = np.r_[w, np.ones(len(added))]
    adj = sparse.coo_matrix((np.r_[w, w], (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    adj.sum_duplicates()
    return adj, link_df.reset_index(drop=True)
