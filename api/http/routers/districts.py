"""/districts: the active plan's districts, one district, and who manages it (the managers' API)."""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.services import districts as svc
from gis.errors import InputError
from gis.users import User

from ..deps import anyone, own_manager, planner, read, write
from ..problems import Problem

router = APIRouter(prefix="/districts", tags=["districts"])
CityQ = Annotated[Optional[str], Query(description="City id (default: the only city in the store).")]
PlanQ = Annotated[Optional[str], Query(description="Plan id (default: the city's active plan).")]
MonthQ = Annotated[Optional[str], Query(description="The month of the KPIs, YYYY-MM, the city's local month "
                                                    "(default: the current one).", examples=["2026-10"],
                                        max_length=7)]
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _month(value: str | None) -> str | None:
    """A month YYYY-MM, or a 422 naming the query parameter."""
    if value is not None and not _MONTH.match(value):
        raise InputError(f"query parameter 'month': {value!r} is not a month: expected YYYY-MM, e.g. 2026-10")
    return value


class ManagerChange(BaseModel):
    manager_id: str = Field(examples=["CS-MG-042"], max_length=200)
    valid_from: Optional[dt.date] = Field(None, description="First day, the city's time (default: now).")
    valid_until: Optional[dt.date] = Field(None, description="The day it ends (default: open-ended).")
    note: Optional[str] = Field(None, max_length=2000)


@router.get("", summary="Districts of the plan with manager, subscribers, workload, deviation, open faults and "
                         "the month's KPIs (`kpi_month`; the city's own in `city_kpis`)")
def list_districts(conn: Connection = Depends(read), user: User = Depends(anyone), city: CityQ = None,
                   plan: PlanQ = None, month: MonthQ = None) -> dict:
    return svc.district_list(conn, city, plan, _month(month))


@router.get("/{district_id}", summary="One district: boxes, revenue, open faults, the month's KPIs, alerts, "
                                      "manager and history")
def get_district(district_id: str, response: Response, conn: Connection = Depends(read),
                 user: User = Depends(anyone), month: MonthQ = None) -> dict:
    d = svc.district_detail(conn, district_id, _month(month), manager=own_manager(user))
    response.headers["ETag"] = d["etag"]
    return d


@router.put("/{district_id}/manager", summary="Assign or reassign the district's manager (If-Match required)",
            responses={412: {"description": "The district changed since it was read"},
                       428: {"description": "If-Match is missing"}})
def put_manager(district_id: str, body: ManagerChange, response: Response,
                if_match: Annotated[Optional[str], Header(description="The ETag the district was read with.")] = None,
                conn: Connection = Depends(write, scope="function"), user: User = Depends(planner)) -> dict:
    if not if_match:
        raise Problem(428, f"reassigning district {district_id!r} needs If-Match: the ETag it was read with "
                           "(GET /districts/{id}), so a concurrent change is not overwritten")
    d = svc.set_manager(conn, district_id, body.manager_id, start=body.valid_from, until=body.valid_until,
                        by=user.name, note=body.note, if_match=if_match)
    response.headers["ETag"] = d["etag"]
    return d
