"""The projected CRS for a city's metric work: the UTM zone of its centroid."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely


def utm_epsg(lon: float, lat: float) -> int:
    if not (np.isfinite(lon) and np.isfinite(lat) and -180 <= lon <= 180 and -84 <= lat <= 84):
        raise ValueError(f"no UTM zone for lon {lon}, lat {lat}")
    zone = min(int((lon + 180) // 6) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def utm_epsg_for(geoms: gpd.GeoSeries) -> int:
    """UTM zone of the centroid of the geometries' bounding box (data in any CRS)."""
    g = geoms.to_crs(4326) if geoms.crs is not None and not geoms.crs.equals("EPSG:4326") else geoms
    x0, y0, x1, y1 = shapely.total_bounds(g.to_numpy())
    return utm_epsg((x0 + x1) / 2, (y0 + y1) / 2)
