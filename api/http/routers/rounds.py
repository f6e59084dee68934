"""The manager's day: today's inspection round (the boxes due, in order along the streets from
his base) and the inspections he records. The rules are api.services.rounds."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.services import rounds as svc
from gis.users import User

from ..deps import read, role, write

router = APIRouter(prefix="/managers", tags=["managers"])
everyone = role("planner", "manager", "analyst", "callcentre")


class Inspection(BaseModel):
    box_id: str = Field(..., max_length=200)
    dp_id: Optional[str] = Field(None, max_length=200, description="A distribution box of the box (else the box).")
    result: Literal["ok", "hazard"] = "ok"
    note: Optional[str] = Field(None, max_length=2000, description="What was found (required for a hazard).")
    photo: Optional[str] = Field(None, max_length=500, description="A reference to the photo.")
    at: Optional[dt.datetime] = Field(None, description="When (default now; never later).")


@router.get("/{manager_id}/rounds", summary="The day's inspection round: boxes due and the route through them")
def rounds(manager_id: str, conn: Connection = Depends(read), user: User = Depends(everyone),
           date: Annotated[Optional[dt.date], Query(description="The local day (default today).")] = None,
           cycle_days: Annotated[int, Query(ge=3, le=365, description="Every box at least every so many days.")] = 30
           ) -> dict:
    return svc.round_of(conn, user, manager_id, date, cycle_days=cycle_days)


@router.post("/{manager_id}/inspections", status_code=201, summary="Record an inspection (a hazard becomes a ticket)")
def inspect(manager_id: str, body: Annotated[Inspection, Body()], conn: Connection = Depends(write, scope="function"),
            user: User = Depends(everyone)) -> dict:
    return svc.record(conn, user, manager_id, body.box_id, dp_id=body.dp_id, result=body.result, note=body.note,
                      photo=body.photo, at=body.at)
