"""Instances for the partition benchmarks, each made a different way, so that the figures hold
beyond the demo generator:

- `city_demo`: the demo city (2,464 box service areas, 700,000 subscribers, barrier-aware
  adjacency), 148 districts;
- `voronoi_lognormal`: 2,500 clipped Voronoi cells round a dense core and three satellite towns,
  lognormal subscribers per unit (heavy tail: the largest unit is a fifth of a district),
  148 districts;
- `jittered_grid`: a 50 x 50 grid whose vertices are jittered (irregular quadrilaterals),
  subscribers from a smooth density field times lognormal noise, 148 districts;
- `georgia_counties`: a real geography, libpysal's bundled Georgia counties (159, no download),
  workload = land area (the 1990 population is too concentrated for a 1 % plan of whole
  counties), 12 districts.

Each function returns (name, units GeoDataFrame with a `subscribers` column in a metric CRS,
adjacency as scipy CSR of shared border lengths, k).
"""
from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

K_CITY = 148


def city_demo(folder: Path | None = None):
    from gis.units import adjacency, service_areas
    folder = folder or ROOT / "data" / "demo-city-7"
    if not (folder / "manifest.json").is_file():
        from gis.demo import generate
        generate(size="city", seed=7).write(folder)
    subs = gpd.read_parquet(folder / "subscribers.parquet", columns=["id", "box_id", "geometry"])
    barriers = gpd.read_parquet(folder / "barriers.parquet")
    units = service_areas(subs, outline=gpd.read_parquet(folder / "cities.parquet").geometry,
                          barriers=barriers, crs=32649, simplify=60.0)
    adj, _ = adjacency(units, barriers=barriers, crossings=gpd.read_parquet(folder / "crossings.parquet"))
    return "city demo (2,464 service areas)", units, adj, K_CITY


def _layer(cells, w, crs=32649):
    from gis.units import adjacency
    units = gpd.GeoDataFrame({"box_id": [f"U{i}" for i in range(len(cells))], "subscribers": w},
                             geometry=cells, crs=crs)
    adj, _ = adjacency(units)
    return units, adj


def voronoi_lognormal(n: int = 2_500, k: int = K_CITY, seed: int = 11):
    rng = np.random.default_rng(seed)
    extent = 30_000.0
    core = rng.normal(extent / 2, 3_000, (int(0.5 * n), 2))
    towns = [rng.normal(c, 1_500, (int(0.1 * n), 2)) for c in rng.uniform(5_000, 25_000, (3, 2))]
    rest = rng.uniform(0, extent, (n - len(core) - 3 * int(0.1 * n), 2))
    pts = np.clip(np.concatenate([core, *towns, rest]), 1.0, extent - 1.0)
    frame = shapely.box(0, 0, extent, extent)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(pts), ordered=True,
                                                       extend_to=shapely.box(-extent, -extent, 2 * extent, 2 * extent)))
    cells = shapely.intersection(cells, frame)
    w = np.round(rng.lognormal(np.log(250), 0.9, len(cells)))
    w = np.minimum(w, 0.2 * w.sum() / k)  # no box larger than a fifth of a district (they get split)
    units, adj = _layer(cells, w)
    return f"clipped Voronoi, lognormal weights ({len(units):,} units)", units, adj, k


def jittered_grid(side: int = 50, k: int = K_CITY, seed: int = 5):
    rng = np.random.default_rng(seed)
    step = 400.0
    gx, gy = np.meshgrid(np.arange(side + 1) * step, np.arange(side + 1) * step, indexing="ij")
    inner = np.zeros_like(gx, bool)
    inner[1:-1, 1:-1] = True
    gx = gx + inner * rng.uniform(-0.35, 0.35, gx.shape) * step
    gy = gy + inner * rng.uniform(-0.35, 0.35, gy.shape) * step
    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    i, j = i.ravel(), j.ravel()
    ring = np.stack([np.c_[gx[i, j], gy[i, j]], np.c_[gx[i + 1, j], gy[i + 1, j]],
                     np.c_[gx[i + 1, j + 1], gy[i + 1, j + 1]], np.c_[gx[i, j + 1], gy[i, j + 1]]], axis=1)
    cells = shapely.polygons(ring)
    c = shapely.get_coordinates(shapely.centroid(cells)) / (side * step)
    density = 0.3 + np.exp(-((c[:, 0] - 0.35) ** 2 + (c[:, 1] - 0.6) ** 2) / 0.03) \
        + 0.6 * np.exp(-((c[:, 0] - 0.75) ** 2 + (c[:, 1] - 0.25) ** 2) / 0.01)
    w = np.round(300 * density * rng.lognormal(0, 0.5, len(cells)))
    w = np.minimum(w, 0.2 * w.sum() / k)  # no box larger than a fifth of a district (they get split)
    units, adj = _layer(cells, w)
    return f"jittered grid ({len(units):,} quadrilaterals)", units, adj, k


def georgia_counties(k: int = 12):
    """libpysal's bundled Georgia counties (in the package, nothing downloaded), or None."""
    try:
        from libpysal import examples
    except ImportError:
        return None
    path = Path(examples.__file__).parent / "georgia" / "G_utm.shp"
    if not path.is_file():
        return None
    from gis.units import adjacency
    g = gpd.read_file(path)
    if g.crs is None:
        g = g.set_crs(32617)   # the layer is in UTM 17N metres
    units = gpd.GeoDataFrame({"box_id": g["AREAKEY"].astype(str) if "AREAKEY" in g else g.index.astype(str),
                              "subscribers": np.round(shapely.area(g.geometry.to_numpy()) / 1e4)},
                             geometry=g.geometry.to_numpy(), crs=g.crs)
    adj, _ = adjacency(units)
    return f"Georgia counties, workload = area ({len(units)} units)", units, adj, k


def all_instances(folder: Path | None = None) -> list:
    out = [city_demo(folder), voronoi_lognormal(), jittered_grid()]
    ga = georgia_counties()
    if ga is not None:
        out.append(ga)
    return out
