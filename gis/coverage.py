"""Is a polygon layer a coverage (units that tile an area: no overlaps, no slivers, and shared
borders with exactly the same vertices on both sides), and if not, how far is it from one?

Layers from other tools are seldom exact: cells clipped one by one, borders densified on one
side, coordinates rounded per feature. Every polygon is valid, but neighbours' vertices differ by
nanometres, so a border shared in the field is no shared line in the data: the adjacency graph
loses links and GEOS's coverage union refuses the layer. Three levels:

- misnoding within `tolerance_m` (a centimetre by default) is noise: `snap_coverage` makes the
  borders identical (GEOS's coverage cleaner, snapping vertices within the tolerance);
- overlaps wider than that (about twice the tolerance), and gaps narrower than `gap_width_m`,
  are flaws: `check_coverage`
  says how many, how large and where; `repair_coverage` gives each overlap to one unit (the one
  with the longest border with it) and each narrow gap to a neighbour;
- wider holes (a lake, a park) are land no unit serves; they are counted, and kept.

All measures are in the metric CRS given (or the layer's own, if projected).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from .errors import InputError

TOLERANCE_M = 0.01   # misnoding below a centimetre is noise from floating point and rounding
GAP_WIDTH_M = 5.0    # a gap narrower than a lane is a digitising error; a lake or park is wider
LARGEST = 10         # flaws described by place in the report (all are listed in `problems`)


class CoverageError(InputError):
    """The layer has real gaps or overlaps; `report` holds them. The door says how to repair."""

    def __init__(self, message: str, report: "CoverageReport", source: str | None):
        super().__init__(message, source=source, problems=None)
        self.report = report
        head = f"{source}: " if source else ""
        self.problems = [str(self)] + [f"{head}{f.sentence()}" for f in report.flaws]


@dataclass
class Flaw:
    kind: str            # "overlap" or "gap"
    area_m2: float
    units: list[str]     # the units in the overlap, or around the gap
    lon: float           # a point inside it
    lat: float

    def sentence(self) -> str:
        where = "between" if self.kind == "overlap" else "beside"
        names = ", ".join(self.units[:6]) + (f" and {len(self.units) - 6} more" if len(self.units) > 6 else "")
        return (f"{self.kind} of {self.area_m2:,.2f} m² {where} units {names or '(none)'} "
                f"at {self.lon:.6f}, {self.lat:.6f}")


@dataclass
class CoverageReport:
    units: int
    exact: bool                    # shapely.coverage_is_valid as given (with the gap width)
    misnoded_units: int            # units with a border whose vertices differ from their neighbour's
    misnoded_length_m: float = 0.0  # the length of those borders
    noded: bool = True             # ... and after snapping/repair (GEOS's cleaner is not proven exact)
    overlaps: int = 0
    overlap_area_m2: float = 0.0
    gaps: int = 0
    gap_area_m2: float = 0.0
    holes: int = 0                 # wider than the gap width: kept, no unit serves them
    hole_area_m2: float = 0.0
    tolerance_m: float = TOLERANCE_M
    gap_width_m: float = GAP_WIDTH_M
    flaws: list[Flaw] = field(default_factory=list)   # largest first
    _cleaned: np.ndarray | None = field(default=None, repr=False)  # snapped, flaws repaired

    @property
    def ok(self) -> bool:
        """No flaw beyond the tolerance: snapping alone makes it an exact coverage."""
        return not self.flaws

    def as_dict(self) -> dict:
        out = {k: getattr(self, k) for k in ("units", "exact", "noded", "misnoded_units", "misnoded_length_m",
                                             "overlaps", "overlap_area_m2", "gaps", "gap_area_m2",
                                             "holes", "hole_area_m2", "tolerance_m", "gap_width_m")}
        out["largest"] = [vars(f) for f in self.flaws[:LARGEST]]
        return out

    def summary(self) -> str:
        parts = []
        if self.overlaps:
            parts.append(f"{self.overlaps:,} overlap{'s' if self.overlaps != 1 else ''} "
                         f"({self.overlap_area_m2:,.2f} m² in all)")
        if self.gaps:
            parts.append(f"{self.gaps:,} gap{'s' if self.gaps != 1 else ''} narrower than "
                         f"{self.gap_width_m:g} m ({self.gap_area_m2:,.2f} m² in all)")
        text = "the units do not tile the area: " + " and ".join(parts)
        if self.flaws:
            text += f"; the largest is {'an' if self.flaws[0].kind == 'overlap' else 'a'} {self.flaws[0].sentence()}"
        return text


def _metric(gdf: gpd.GeoDataFrame, crs_metric) -> gpd.GeoDataFrame:
    if crs_metric is None:
        if gdf.crs is None or not gdf.crs.is_projected:
            raise InputError("a coverage is measured in metres: give a projected CRS")
        return gdf
    return gdf.to_crs(crs_metric)


def _ids(gdf: gpd.GeoDataFrame) -> np.ndarray:
    for c in ("unit_id", "box_id", "id"):
        if c in gdf.columns:
            return gdf[c].astype(str).to_numpy()
    return np.array([f"row {i + 1}" for i in range(len(gdf))], dtype=object)


def _pieces(a: np.ndarray, b: np.ndarray, tolerance_m: float):
    """Parts of a - b (per unit), without the slivers misnoding leaves: a piece's mean width
    (2 x area / perimeter) must exceed the tolerance. Returns (pieces, unit index)."""
    diff = shapely.difference(a, b)
    parts, owner = shapely.get_parts(diff, return_index=True)
    keep = shapely.get_dimensions(parts) == 2
    parts, owner = parts[keep], owner[keep]
    area = shapely.area(parts)
    real = 2 * area / np.maximum(shapely.length(parts), 1e-12) > tolerance_m
    return parts[real], owner[real]


def check_coverage(gdf: gpd.GeoDataFrame, crs_metric=None, *, tolerance_m: float = TOLERANCE_M,
                   gap_width_m: float = GAP_WIDTH_M) -> CoverageReport:
    """How far the polygons are from an exact coverage, measured in `crs_metric` (default: the
    layer's own CRS, which must then be projected). Slivers thinner than `tolerance_m` are
    noise; overlaps thicker, and enclosed gaps narrower than `gap_width_m`, are flaws."""
    m = _metric(gdf, crs_metric)
    geoms = m.geometry.to_numpy()
    n = len(geoms)
    if shapely.coverage_is_valid(geoms, gap_width=gap_width_m):
        report = CoverageReport(units=n, exact=True, misnoded_units=0, tolerance_m=tolerance_m,
                                gap_width_m=gap_width_m, _cleaned=geoms)
        _holes(report, shapely.coverage_union_all(geoms))
        return report
    edges = shapely.coverage_invalid_edges(geoms, gap_width=gap_width_m)
    report = CoverageReport(units=n, exact=False, misnoded_units=int((~shapely.is_empty(edges)).sum()),
                            misnoded_length_m=round(float(shapely.length(edges).sum()), 3),
                            tolerance_m=tolerance_m, gap_width_m=gap_width_m)
    # GEOS's coverage cleaner snaps vertices within the tolerance, gives each overlap to the
    # unit with the longest border with it and merges each narrow gap into a neighbour. What it
    # took from a unit is an overlap; what it added that no unit had is a gap.
    cleaned = shapely.coverage_clean(geoms, snapping_distance=tolerance_m, gap_width=gap_width_m)
    report._cleaned = cleaned
    # If it is not, nothing breaks: adjacency snaps again and the dissolve takes a plain union.
    report.noded = bool(shapely.coverage_is_valid(cleaned))
    ids = _ids(m)
    tree = shapely.STRtree(geoms)
    to_ll = Transformer.from_crs(m.crs, 4326, always_xy=True)
    flaws = []
    # Overlay of near-identical polygons is slow (seconds per 10,000): only units the cleaner
    # moved by more than snapping does (twice the tolerance, as a vertex distance) can hold a flaw.
    moved = np.flatnonzero(shapely.hausdorff_distance(geoms, cleaned) > 2 * tolerance_m)
    lost, loser = _pieces(geoms[moved], cleaned[moved], tolerance_m)
    loser = moved[loser]
    # An overlap is told by pair: the piece a unit lost, cut by each other unit it lay under.
    pi, ui = tree.query(lost, predicate="intersects")
    other = ui != loser[pi]
    pi, ui = pi[other], ui[other]
    pairs = shapely.intersection(lost[pi], geoms[ui])
    real = 2 * shapely.area(pairs) / np.maximum(shapely.length(pairs), 1e-12) > tolerance_m
    pairs, names = pairs[real], np.stack([ids[loser[pi[real]]], ids[ui[real]]], axis=1)
    gained, _ = _pieces(cleaned[moved], geoms[moved], tolerance_m)  # land no unit had: a gap filled
    gi, gu = tree.query(gained, predicate="dwithin", distance=2 * tolerance_m)
    order = np.argsort(gi, kind="stable")
    around = np.split(ids[gu[order]], np.searchsorted(gi[order], np.arange(1, len(gained))))
    for kind, pieces, who in (("overlap", pairs, names), ("gap", gained, around)):
        if not len(pieces):
            continue
        area = shapely.area(pieces)
        rep = shapely.point_on_surface(pieces)
        lon, lat = to_ll.transform(shapely.get_x(rep), shapely.get_y(rep))
        flaws += [Flaw(kind, round(float(a_), 3), sorted(set(nm)), round(float(x), 7), round(float(y), 7))
                  for a_, nm, x, y in zip(area, who, lon, lat)]
        if kind == "overlap":
            report.overlaps, report.overlap_area_m2 = len(pieces), round(float(area.sum()), 3)
        else:
            report.gaps, report.gap_area_m2 = len(pieces), round(float(area.sum()), 3)
    report.flaws = sorted(flaws, key=lambda f: -f.area_m2)
    _holes(report, shapely.coverage_union_all(cleaned))
    return report


def _holes(report: CoverageReport, union) -> None:
    """Holes left in the union: wider than the gap width (narrower ones are flaws), so kept."""
    parts = shapely.get_parts(union)
    counts = shapely.get_num_interior_rings(parts)
    owner = np.repeat(np.arange(len(parts)), counts)
    nth = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    holes = shapely.polygons(shapely.get_interior_ring(parts[owner], nth))
    report.holes = int(len(holes))
    report.hole_area_m2 = round(float(shapely.area(holes).sum()), 3) if len(holes) else 0.0


def _with(m: gpd.GeoDataFrame, geoms: np.ndarray) -> gpd.GeoDataFrame:
    out = m.copy()
    out.geometry = gpd.GeoSeries(geoms, index=m.index, crs=m.crs)
    return out


def _checked(cleaned: np.ndarray, ids: np.ndarray, source: str | None) -> np.ndarray:
    empty = shapely.is_empty(cleaned) | shapely.is_missing(cleaned)
    if empty.any():
        names = ", ".join(ids[empty][:10]) + (f" and {empty.sum() - 10} more" if empty.sum() > 10 else "")
        raise InputError(f"{empty.sum()} units lie wholly under other units and would vanish: {names}",
                         source=source)
    return cleaned


def snap_coverage(gdf: gpd.GeoDataFrame, crs_metric=None, *, tolerance_m: float = TOLERANCE_M,
                  gap_width_m: float = GAP_WIDTH_M, report: CoverageReport | None = None,
                  source: str | None = None) -> gpd.GeoDataFrame:
    """The layer (in the metric CRS) with misnoding below the tolerance snapped away, so shared
    borders are identical lines; a CoverageError if it has real flaws (see repair_coverage)."""
    m = _metric(gdf, crs_metric)
    report = report or check_coverage(m, None, tolerance_m=tolerance_m, gap_width_m=gap_width_m)
    if not report.ok:
        raise CoverageError(report.summary(), report, source)
    if report.exact:
        return m
    return _with(m, _checked(report._cleaned, _ids(m), source))


def repair_coverage(gdf: gpd.GeoDataFrame, crs_metric=None, *, tolerance_m: float = TOLERANCE_M,
                    gap_width_m: float = GAP_WIDTH_M, report: CoverageReport | None = None,
                    source: str | None = None) -> gpd.GeoDataFrame:
    """The layer (in the metric CRS) as an exact coverage: snapped, each overlap given to the
    unit with the longest border with it, each gap narrower than `gap_width_m` to a neighbour."""
    m = _metric(gdf, crs_metric)
    report = report or check_coverage(m, None, tolerance_m=tolerance_m, gap_width_m=gap_width_m)
    if report.exact:
        return m
    return _with(m, _checked(report._cleaned, _ids(m), source))
