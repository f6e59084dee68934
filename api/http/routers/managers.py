"""/managers: the district account managers and the districts each owns."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection

from api.services import districts as svc
from gis.users import User

from ..deps import anyone, read

router = APIRouter(prefix="/managers", tags=["managers"])
CityQ = Annotated[Optional[str], Query(description="City id (default: the only city in the store).")]


@router.get("", summary="Every manager of the city")
def list_managers(conn: Connection = Depends(read), user: User = Depends(anyone), city: CityQ = None) -> list[dict]:
    return svc.managers(conn, city)


@router.get("/{manager_id}", summary="One manager")
def get_manager(manager_id: str, conn: Connection = Depends(read), user: User = Depends(anyone)) -> dict:
    return svc.manager(conn, manager_id)


@router.get("/{manager_id}/districts", summary="The districts a manager owns now (active plan)")
def manager_districts(manager_id: str, conn: Connection = Depends(read), user: User = Depends(anyone)) -> list[dict]:
    return svc.manager_districts(conn, manager_id)
