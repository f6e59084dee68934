"""Fault risk: GET /risk?layer=boxes|cables, the expected faults of every box or trunk and
distribution cable over the next months, ranked, with what drives each (api.services.risk)."""
from __future__ import annotations

from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Connection

from api.services import risk as svc
from api.services.faults import feature_collection
from gis.users import User

from ..deps import read, role
from .faults import day

router = APIRouter(tags=["faults"])
readers = role("planner", "analyst")


@router.get("/risk", summary="Expected faults of every box or cable over the next months, the risk rank and the "
                             "three things that drive each prediction")
def get_risk(conn: Connection = Depends(read), user: User = Depends(readers),
             layer: Literal["boxes", "cables"] = "boxes",
             as_of: Annotated[Optional[str], Query(max_length=10, description="Cut-off day (YYYY-MM-DD, local): "
                                                   "only faults before it are read. Default: the day after the "
                                                   "last fault.")] = None,
             horizon: Annotated[int, Query(ge=1, le=12, description="Months ahead.")] = 3,
             limit: Annotated[int, Query(ge=1, le=100_000, description="The riskiest this many.")] = 100,
             city: Annotated[Optional[str], Query(max_length=200)] = None) -> dict:
    cut = day(as_of, "as_of") if as_of is not None else None
    svc.check(layer, horizon, limit)
    res = svc.predict(conn, city, (layer,), as_of=cut, horizon=horizon)
    g = res[layer]
    return feature_collection(g.head(limit), city=res["city"], layer=layer, as_of=res["as_of"],
                              horizon_months=horizon, numberMatched=len(g), numberReturned=min(limit, len(g)),
                              timings=res["timings"][layer])
