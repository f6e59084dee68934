"""/faults/heatmap, /faults/hotspots and /kpi: the same services as `pianqu faults` and `pianqu kpi`.

Days and months come as query text and are checked here, naming the parameter (422); every
other value is checked by the service before any work."""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from api.services import faults as svc
from gis.errors import InputError
from gis.users import User

from ..deps import anyone, engine

router = APIRouter(tags=["faults"])
GEOJSON = "application/geo+json"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

CityQ = Annotated[Optional[str], Query(description="City id (default: the only city in the store).")]
FromQ = Annotated[str, Query(alias="from", description="First day, YYYY-MM-DD (the city's local time).",
                             examples=["2025-01-01"])]
ToQ = Annotated[str, Query(alias="to", description="The day after the last, YYYY-MM-DD (the city's local time).",
                           examples=["2025-07-01"])]
CauseQ = Annotated[Optional[list[str]], Query(description="Only these causes (repeat the parameter).")]
CableKindQ = Annotated[Optional[list[str]], Query(description="Only faults on these cable kinds.")]
DistrictQ = Annotated[Optional[list[str]], Query(description="Only these district codes (active plan).")]


def day(value: str, name: str) -> dt.date:
    """A real calendar day YYYY-MM-DD, or a 422 naming the query parameter."""
    try:
        if not _DAY.match(value.strip()):
            raise ValueError
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"query parameter {name!r}: {value!r} is not a day: expected YYYY-MM-DD, "
                         "e.g. 2026-01-31") from None


def window(start: str, end: str) -> tuple[dt.date, dt.date]:
    a, b = day(start, "from"), day(end, "to")
    if b <= a:
        raise InputError(f"the window is empty: query parameter 'to' ({b}) is not after 'from' ({a})")
    return a, b


def month(value: str | None, name: str = "month") -> str | None:
    if value is None:
        return None
    if not _MONTH.match(value.strip()):
        raise InputError(f"query parameter {name!r}: {value!r} is not a month: expected YYYY-MM, e.g. 2026-10")
    return value.strip()


def geojson(body: dict, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=GEOJSON)


@router.get("/faults/heatmap", summary="Fault density or fault rate of a window, as a PNG overlay or contour bands",
            responses={200: {"content": {"image/png": {}, GEOJSON: {}},
                             "description": "format=png: the overlay, its bounds in the `X-Bounds` header "
                                            "([[south, west], [north, east]], lon/lat, as Leaflet's ImageOverlay "
                                            "wants them) and the summary in `X-Summary` (JSON). format=geojson: "
                                            "the bands (lower, upper) with the summary as a top-level member."}})
def heatmap(start: FromQ, end: ToQ, eng: Engine = Depends(engine), user: User = Depends(anyone), city: CityQ = None,
            format: Annotated[Literal["png", "geojson"], Query(description="png overlay or geojson contour bands.")] = "png",
            rate: Annotated[bool, Query(description="Faults per 100 lines per month instead of raw density.")] = False,
            bandwidth: Annotated[Optional[float], Query(gt=0, le=50_000, description="Kernel bandwidth in metres "
                                                        "(default: Scott's rule).")] = None,
            cell: Annotated[Optional[float], Query(gt=0, le=50_000, description="Grid cell in metres.")] = None,
            weight: Annotated[Optional[str], Query(max_length=100, description="Weight column, e.g. severity.")] = None,
            levels: Annotated[int, Query(ge=1, le=svc.MAX_LEVELS, description="Contour bands (geojson).")] = 6,
            cause: CauseQ = None, cable_kind: CableKindQ = None, district: DistrictQ = None):
    a, b = window(start, end)
    h = svc.heatmap(eng, city, a, b, output="png" if format == "png" else "contours", rate=rate, bandwidth=bandwidth,
                    cell=cell, weight=weight, cause=cause, cable_kind=cable_kind, district=district, levels=levels)
    if format == "png":
        return Response(h.png, media_type="image/png",
                        headers={"X-Bounds": json.dumps(h.bounds_latlon), "X-Summary": json.dumps(svc.jsonable(h.summary)),
                                 "Access-Control-Expose-Headers": "X-Bounds, X-Summary"})
    return geojson(svc.feature_collection(h.bands, summary=h.summary))


@router.get("/faults/hotspots", summary="Getis-Ord Gi* hotspots (FDR-corrected) with the boxes and cables in them",
            response_description="A GeoJSON FeatureCollection of the cells (gi_z, gi_p, hot, cold, class; with "
                                 "trend: n_hot, trend_z, trend_p and the emerging class `pattern`), the summary as "
                                 "its top-level member `summary`.",
            responses={200: {"content": {GEOJSON: {}}}})
def hotspots(start: FromQ, end: ToQ, eng: Engine = Depends(engine), user: User = Depends(anyone), city: CityQ = None,
             resolution: Annotated[int, Query(description="H3 resolution, 6 to 11 (9: cells ~400 m across).")] = 9,
             on: Annotated[str, Query(description="hexagons (H3) or boxes (their service areas).")] = "hexagons",
             rate: Annotated[bool, Query(description="Gi* on faults per line (false: on fault counts).")] = True,
             trend: Annotated[bool, Query(description="Add the emerging-hotspot classes over the months.")] = False,
             alpha: Annotated[float, Query(description="False discovery rate of the test, in (0, 0.5].")] = 0.05,
             cause: CauseQ = None, cable_kind: CableKindQ = None, district: DistrictQ = None):
    a, b = window(start, end)
    h = svc.hotspot_cells(eng, city, a, b, resolution=resolution, rate=rate, alpha=alpha, trend=trend, on=on,
                          cause=cause, cable_kind=cable_kind, district=district)
    return geojson(svc.feature_collection(h.cells, summary=h.summary))


@router.get("/kpi", summary="Service KPIs by group and local month, the city's own rows last",
            response_description="fault_rate (per 100 lines a month), repair_24h, contact_20min, clear_mean_h, "
                                 "clear_p90_h, repeat_share, fault_rate_yoy per group and month; null where a "
                                 "figure has no basis.")
def kpis(eng: Engine = Depends(engine), user: User = Depends(anyone), city: CityQ = None,
         by: Annotated[str, Query(description="box, district, manager, community or office.")] = "district",
         month_: Annotated[Optional[str], Query(alias="month", description="YYYY-MM, the city's local month "
                                                "(default: every month).", examples=["2026-10"])] = None) -> dict:
    return svc.kpi_records(eng, city, by, month(month_))
