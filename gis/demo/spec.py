"""The two demo sizes and the constants every module shares. Distances are metres in a local
frame whose origin is the city centre; the frame is the UTM zone of the centre, shifted."""
from __future__ import annotations

from dataclasses import dataclass

from ..crs import utm_epsg
from ..errors import InputError

CENTRE_LONLAT = (112.97, 28.20)          # Changsha, on the Xiang
METRIC_CRS = utm_epsg(*CENTRE_LONLAT)    # 32649, UTM zone 49N
WINDOW = ("2024-11-01", "2026-10-31")    # 24 months of fault tickets, local dates, inclusive
TIMEZONE = "Asia/Shanghai"
REPORT_YEAR = ("2025-11-01", "2026-10-31")  # construction reports come from the last year


@dataclass(frozen=True)
class Size:
    name: str
    city_id: str
    city_name: str
    prefix: str                 # id prefix, so the two sizes can share a store
    town_radius: float          # the built-up town
    outline_radius: float       # the administrative outline; villages live in between
    main_spacing: float         # the arterial/secondary lattice (superblocks)
    river_width: float
    subscribers: int
    subscribers_per_box: int
    offices: int
    villages: int
    communities: int
    regions: int
    reports: int
    hotspots_per_pattern: int
    hotspot_radius: float
    storm_days: int
    rail_crossings: int
    motorway_crossings: int


SIZES = {
    "small": Size(name="small", city_id="demo-small", city_name="演示小城 (demo, small)", prefix="SM",
                  town_radius=3_200, outline_radius=4_600, main_spacing=400, river_width=280,
                  subscribers=20_000, subscribers_per_box=285, offices=1, villages=4, communities=30,
                  regions=6, reports=30, hotspots_per_pattern=1, hotspot_radius=350, storm_days=5,
                  rail_crossings=3, motorway_crossings=3),
    "city": Size(name="city", city_id="changsha-demo", city_name="长沙演示 (demo, Changsha scale)", prefix="CS",
                 town_radius=13_000, outline_radius=17_500, main_spacing=480, river_width=520,
                 subscribers=700_000, subscribers_per_box=285, offices=3, villages=16, communities=30,
                 regions=6, reports=300, hotspots_per_pattern=3, hotspot_radius=450, storm_days=7,
                 rail_crossings=8, motorway_crossings=7),
}


def size_of(name: str) -> Size:
    if name not in SIZES:
        raise InputError(f"unknown demo size {name!r}; choose one of {', '.join(SIZES)}")
    return SIZES[name]
