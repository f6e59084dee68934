"""The map pages: the planner map `/map` (more views come with their own routes). A page is a
template over the API: it reads its configuration from api.services.maps and everything else
(tiles, GeoJSON, look-ups) from the API with the session cookie. Not in the OpenAPI document."""
from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Request
from sqlalchemy import Connection

from api.services import maps as svc

from ..deps import connection
from ..pages import render, to_signin, viewer

router = APIRouter(include_in_schema=False)


@router.get("/map")
def planner_map(request: Request, conn: Connection = Depends(connection), city: Optional[str] = None):
    user = viewer(request, conn)
    if user is None:
        return to_signin(request)
    return render(request, "map.html", {"config": svc.planner_map(conn, user, city), "user": user})


@router.get("/map/plans/{plan_a}/vs/{plan_b}")
def plan_comparison(plan_a: str, plan_b: str, request: Request, conn: Connection = Depends(connection)):
    user = viewer(request, conn)
    if user is None:
        return to_signin(request)
    return render(request, "compare.html", {"config": svc.comparison(conn, user, plan_a, plan_b), "user": user})


@router.get("/map/districts/{district_id}")
def district_page(district_id: str, request: Request, conn: Connection = Depends(connection)):
    user = viewer(request, conn)
    if user is None:
        return to_signin(request)
    return render(request, "district.html", {"config": svc.district_page(conn, user, district_id), "user": user})
