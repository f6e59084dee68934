"""The two demo sizes. Distances in metres, in the city's UTM zone."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError

CENTRE_LONLAT = (112.97, 28.20)  # Changsha, on the Xiang river
METRIC_CRS = 32649               # UTM zone 49N
WINDOW = ("2024-11-01", "2026-10-31")  # 24 months of fault tickets, local dates
TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Size:
    name: str
    city_id: str
    city_name: str
    prefix: str               # id prefix, so two demo cities can share a store
    town_radius: float        # the built-up town
    outline_radius: float     # the city's administrative outline (villages live in between)
    subscribers: int
    subscribers_per_box: int
    offices: int
    villages: int
    block_seeds: int          # street-network density
    river_width: float
    communities: int
    regions: int
    reports: int
    hotspots_per_pattern: int
    hotspot_radius: float
    storm_days: int
    rail_crossings: int
    motorway_crossings: int


SIZES = {
    "small": Size("small", "demo-small", "演示小城 (demo, small)", "SM", 3_200, 4_600, 20_000, 280, 1, 3,
                  900, 260, 30, 6, 30, 1, 350, 5, 3, 3),
    "city": Size("city", "changsha-demo", "长沙演示 (demo, Changsha scale)", "CS", 13_000, 17_500, 700_000, 280,
                 3, 12, 9_000, 480, 30, 6, 300, 3, 450, 10, 9, 8),
}


def size_of(name: str) -> Size:
    if name not in SIZES:
        raise InputError(f"unknown demo size {name!r}; choose one of {', '.join(SIZES)}")
    return SIZES[name]
