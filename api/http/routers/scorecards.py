"""Scorecards: a manager's month (GET /managers/{id}/scorecard) and the table of every manager,
community department or office region (GET /scorecards). The rules are planning.scorecard."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection

from api.services import scorecards as svc
from gis.users import User

from ..deps import read, role

router = APIRouter(tags=["managers"])
everyone = role("planner", "manager", "analyst", "callcentre")
Month = Annotated[Optional[str], Query(max_length=7, description="YYYY-MM, the city's local month (default: this one).")]


@router.get("/managers/{manager_id}/scorecard", summary="A manager's month: tickets, clocks kept, repeats, "
                                                         "call-backs, inspections, installs, new revenue, points")
def manager_scorecard(manager_id: str, conn: Connection = Depends(read), user: User = Depends(everyone),
                      month: Month = None) -> dict:
    return svc.manager_card(conn, user, manager_id, month)


@router.get("/scorecards", summary="Every manager's, community department's or office region's scorecard of a month")
def scorecards(conn: Connection = Depends(read), user: User = Depends(everyone), month: Month = None,
               by: Literal["manager", "community", "office"] = "manager",
               city: Annotated[Optional[str], Query(max_length=200)] = None) -> dict:
    return svc.cards(conn, user, city, month, by)
