"""/lookup: who owns this place, for the call centre (by point, subscriber id or address)."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.services import lookup as svc
from gis.users import User

from ..deps import anyone, own_manager, read

router = APIRouter(prefix="/lookup", tags=["lookup"])


class Candidate(BaseModel):
    subscriber_id: str = Field(examples=["CS-S-0342633"])
    address: Optional[str] = Field(None, examples=["黄金里213号3栋602室"])
    box_id: str
    city: str
    similarity: float = Field(ge=0, le=1, description="Dice coefficient of the addresses' character pairs.")


class Owner(BaseModel):
    box_id: str = Field(examples=["CS-BX-0412"], description="The serving cross-connect box.")
    district_id: Optional[str] = Field(None, description="The district of the city's active plan (null without one).")
    district_code: Optional[str] = Field(None, examples=["D017"])
    manager_id: Optional[str] = Field(None, examples=["CS-MG-042"], description="The district's manager now.")
    manager_name: Optional[str] = None
    manager_phone: Optional[str] = None
    subscriber_id: str
    address: Optional[str] = None
    dp_id: Optional[str] = Field(None, description="The subscriber's distribution box (分线盒).")
    city: str
    plan_id: Optional[str] = None
    lon: float = Field(description="Where the subscriber is (EPSG:4326), for a map to fly to.")
    lat: float
    match: str = Field(examples=["point"], description="point, subscriber or address: how the subscriber was found.")
    distance_m: Optional[float] = Field(None, description="A point lookup: metres to the nearest subscriber.")
    similarity: Optional[float] = Field(None, description="An address lookup: the first candidate's similarity.")
    candidates: Optional[list[Candidate]] = Field(None, description="An address lookup: the best few, best first.")


@router.get("", summary="The box, district and manager (with phone) serving a point, a subscriber or an address",
            response_model=Owner, response_model_exclude_none=False,
            responses={404: {"description": "No subscriber there, with that id, or with a resembling address"},
                       422: {"description": "Not exactly one of lon+lat, subscriber, address; or a value out of range"}})
def lookup(conn: Connection = Depends(read), user: User = Depends(anyone),
           lon: Annotated[Optional[float], Query(ge=-180, le=180, description="Longitude (WGS 84), with lat.",
                                                 examples=[112.9388])] = None,
           lat: Annotated[Optional[float], Query(ge=-90, le=90, description="Latitude (WGS 84), with lon.",
                                                 examples=[28.2282])] = None,
           subscriber: Annotated[Optional[str], Query(max_length=200, description="A subscriber id.",
                                                      examples=["CS-S-0342633"])] = None,
           address: Annotated[Optional[str], Query(max_length=svc.MAX_ADDRESS_CHARS,
                                                   description="The address the caller gives; best candidates first.",
                                                   examples=["芙蓉路128号3栋502室"])] = None,
           city: Annotated[Optional[str], Query(max_length=200,
                                                description="Only this city's addresses (address lookups).")] = None) -> dict:
    return svc.lookup(conn, lon=lon, lat=lat, subscriber=subscriber, address=address, city=city,
                      manager=own_manager(user))
