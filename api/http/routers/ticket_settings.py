"""/ticket-policies and /piece-rates: the clocks of each kind and priority of ticket, and the
points each piece of work earns. Every role reads; a planner changes them."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.services import ticket_settings as svc
from gis.users import User

from ..deps import read, role, write

router = APIRouter(tags=["tickets"])
everyone = role("planner", "manager", "analyst", "callcentre")


class Policy(BaseModel):
    contact_minutes: float = Field(..., gt=0, le=svc.MAX_MINUTES, examples=[20])
    clear_minutes: float = Field(..., gt=0, le=svc.MAX_MINUTES, examples=[1440])
    calendar: Optional[dict] = Field(None, description="Working hours: {\"tz\", \"hours\": {\"0\": [[\"08:30\", "
                                     "\"17:30\"]], ...}, \"holidays\": [...], \"workdays\": [...]}; null: around the clock.")


class Rate(BaseModel):
    points: float = Field(..., ge=0, le=1000)


@router.get("/ticket-policies", summary="The clocks of every kind and priority of ticket")
def policies(conn: Connection = Depends(read), user: User = Depends(everyone)) -> list[dict]:
    return svc.policies(conn)


@router.put("/ticket-policies/{kind}/{priority}", summary="Change a kind's clocks (for tickets made from now on)")
def put_policy(kind: str, priority: Literal["normal", "vip"], body: Annotated[Policy, Body()],
               conn: Connection = Depends(write, scope="function"), user: User = Depends(everyone)) -> dict:
    return svc.put_policy(conn, user, kind, priority, body.contact_minutes, body.clear_minutes, body.calendar)


@router.get("/piece-rates", summary="The points each piece of work earns")
def rates(conn: Connection = Depends(read), user: User = Depends(everyone)) -> list[dict]:
    return svc.rates(conn)


@router.put("/piece-rates/{work}", summary="Change a piece rate")
def put_rate(work: str, body: Annotated[Rate, Body()], conn: Connection = Depends(write, scope="function"),
             user: User = Depends(everyone)) -> dict:
    return svc.put_rate(conn, user, work, body.points)
