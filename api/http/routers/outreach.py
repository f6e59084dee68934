"""The manager's outreach lists: contracts ending, new subscribers, open opportunity sites in the
districts he holds. The rules are api.services.outreach."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection

from api.services import outreach as svc
from gis.users import User

from ..deps import read, role

router = APIRouter(prefix="/managers", tags=["managers"])
everyone = role("planner", "manager", "analyst", "callcentre")


@router.get("/{manager_id}/outreach", summary="Subscribers to visit: contracts ending, new subscribers, "
                                              "open opportunity sites")
def outreach(manager_id: str, conn: Connection = Depends(read), user: User = Depends(everyone),
             date: Annotated[Optional[dt.date], Query(description="The local day (default today).")] = None,
             days: Annotated[int, Query(ge=1, le=365, description="Contracts ending within so many days.")] = 30,
             limit: Annotated[int, Query(ge=1, le=svc.LIST_MAX, description="Rows per list.")] = 200) -> dict:
    return svc.outreach(conn, user, manager_id, date, days=days, limit=limit)
