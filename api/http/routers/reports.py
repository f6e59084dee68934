"""/construction-reports: managers in the field report new buildings and commercial areas (商机);
every role lists them. The report is checked by the rules of `pianqu import construction`
(api.services.reports); a manager's report is his own (reporter_id is his manager id)."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote
from typing import Annotated, Any, Literal, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine

from api.services import reports as svc
from gis.users import User

from ..deps import anyone, engine, own_manager, role

router = APIRouter(prefix="/construction-reports", tags=["construction reports"])
GEOJSON = "application/geo+json"
CityQ = Annotated[Optional[str], Query(description="City id (default: the only city in the store).")]


class Geometry(BaseModel):
    """A GeoJSON geometry: a Point, or a Polygon (MultiPolygon) outline."""
    type: str = Field(examples=["Point"], max_length=30)
    coordinates: Any = Field(examples=[[112.9773, 28.2115]])


class ReportProperties(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Optional[str] = Field(None, max_length=200, description="Default: one is made.", examples=["SM-CR-0101"])
    name: Optional[str] = Field(None, max_length=500, examples=["Xiangjiang Garden phase 2"])
    kind: str = Field(max_length=50, description="residential, commercial or mixed.", examples=["residential"])
    stage: str = Field(max_length=50, description="planned, permitted, under_construction or completed.",
                       examples=["under_construction"])
    households: Optional[int] = Field(None, description="Households expected (or floor_area_m2).", examples=[240])
    floor_area_m2: Optional[float] = Field(None, description="Floor area expected, m² (or households).")
    reporter_id: Optional[str] = Field(None, max_length=200, description="The reporting manager: a manager's key "
                                       "is always its own manager; a planner may name one.")
    reporter_name: Optional[str] = Field(None, max_length=200)
    reported_on: Optional[dt.date] = Field(None, description="Default: today, in the city's time.")


class NamedCrs(BaseModel):
    type: Literal["name"] = "name"
    properties: dict[str, str] = Field(examples=[{"name": "EPSG:4326"}])


class ReportFeature(BaseModel):
    """A GeoJSON Feature (RFC 7946: lon/lat, EPSG:4326; a legacy `crs` member may name another)."""
    type: Literal["Feature"]
    geometry: Optional[Geometry]
    properties: ReportProperties
    crs: Optional[NamedCrs] = None


@router.post("", status_code=201, summary="Report a new building or commercial area",
             response_description="The stored report, a GeoJSON Feature.",
             responses={201: {"content": {GEOJSON: {}}}, 409: {"description": "A report with that id exists"}})
def create_report(body: ReportFeature, eng: Engine = Depends(engine), user: User = Depends(role("planner", "manager")),
                  city: CityQ = None):
    feature = svc.create_report(eng, city, body.geometry.model_dump() if body.geometry else None,
                                body.properties.model_dump(), crs=body.crs.properties.get("name") if body.crs else None,
                                as_manager=own_manager(user))
    return JSONResponse(feature, status_code=201, media_type=GEOJSON,
                        headers={"Location": "/construction-reports/" + quote(feature["properties"]["id"], safe="")})


@router.get("", summary="The city's reports, newest first (GeoJSON, with total)",
            responses={200: {"content": {GEOJSON: {}}}})
def list_reports(eng: Engine = Depends(engine), user: User = Depends(anyone), city: CityQ = None,
                 stage: Annotated[Optional[str], Query(max_length=50)] = None,
                 kind: Annotated[Optional[str], Query(max_length=50)] = None,
                 reporter_id: Annotated[Optional[str], Query(max_length=200)] = None,
                 limit: Annotated[int, Query(ge=1, le=svc.LIST_MAX)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0):
    return JSONResponse(svc.list_reports(eng, city, stage=stage, kind=kind, reporter_id=reporter_id, limit=limit,
                                         offset=offset), media_type=GEOJSON)


@router.get("/{report_id}", summary="One report (GeoJSON Feature)", responses={200: {"content": {GEOJSON: {}}}})
def get_report(report_id: str, eng: Engine = Depends(engine), user: User = Depends(anyone)):
    return JSONResponse(svc.get_report(eng, report_id), media_type=GEOJSON)
