"""/complaints/analysis: a month's repeat complaints and their share by category, box and
district, and the recurring problems behind them."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection

from api.services import complaints as svc
from gis.users import User

from ..deps import read, role

router = APIRouter(prefix="/complaints", tags=["tickets"])
everyone = role("planner", "manager", "analyst", "callcentre")


@router.get("/analysis", summary="Repeat complaints by category, box and district, and the recurring problems")
def analysis(conn: Connection = Depends(read), user: User = Depends(everyone),
             month: Annotated[Optional[str], Query(max_length=7, description="YYYY-MM (default: this month).")] = None,
             city: Annotated[Optional[str], Query(max_length=200)] = None) -> dict:
    return svc.month_analysis(conn, user, city, month)
