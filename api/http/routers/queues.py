"""The work queues: a manager's, a district's, a community department's or office region's open
tickets (breached first, then by the clock that matters next), and the call centre's call-backs.
The rules are api.services.queues."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection

from api.services import queues as svc
from gis.users import User

from ..deps import read, role

router = APIRouter(tags=["tickets"])
everyone = role("planner", "manager", "analyst", "callcentre")
Limit = Annotated[int, Query(ge=1, le=svc.LIST_MAX, description="Tickets in the answer.")]


@router.get("/tickets-callbacks", summary="Cleared tickets due for the call centre's call-back (a stable sample)")
def callbacks(conn: Connection = Depends(read), user: User = Depends(everyone),
              city: Annotated[Optional[str], Query(max_length=200, description="City id (default: all).")] = None,
              share: Annotated[Optional[float], Query(gt=0, le=1, description="Share of cleared tickets called back "
                                                      "(default PIANQU_CALLBACK_SHARE, 0.2).")] = None,
              days: Annotated[int, Query(ge=1, le=svc.CALLBACK_DAYS_MAX, description="Cleared in the last days.")] = 7,
              limit: Limit = 200) -> dict:
    return svc.callbacks(conn, user, city=city, share=share, days=days, limit=limit)


@router.get("/managers/{manager_id}/tickets", summary="A manager's open tickets, breached first, then by due time")
def manager_tickets(manager_id: str, conn: Connection = Depends(read), user: User = Depends(everyone),
                    limit: Limit = 200) -> dict:
    return svc.manager_queue(conn, user, manager_id, limit=limit)


@router.get("/districts/{district_id}/tickets", summary="A district's open tickets, breached first")
def district_tickets(district_id: str, conn: Connection = Depends(read), user: User = Depends(everyone),
                     limit: Limit = 200) -> dict:
    return svc.district_queue(conn, user, district_id, limit=limit)


@router.get("/areas/{area_id}/tickets", summary="A community department's queue and escalations, or an office "
                                                "region's escalations")
def area_tickets(area_id: str, conn: Connection = Depends(read), user: User = Depends(everyone),
                 limit: Limit = 200) -> dict:
    return svc.area_queue(conn, user, area_id, limit=limit)
