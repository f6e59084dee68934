"""/alerts: the opportunity alerts, best first, and their life cycle; the same services as
`pianqu alerts`. Every role reads; a planner makes the steps (recorded as his user name) and
runs an evaluation."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Optional

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from api.services import alerts as svc
from gis.users import User
from planning.opportunities import MAX_HORIZON_MONTHS

from ..deps import anyone, engine, own_manager, planner

router = APIRouter(prefix="/alerts", tags=["alerts"])

CityQ = Annotated[Optional[str], Query(description="City id (default: the only city in the store).")]


class Step(BaseModel):
    note: Optional[str] = Field(None, max_length=2000, description="A note; the reason, for a dismissal (required).",
                                examples=["box replaced on site visit"])


class Evaluation(BaseModel):
    city: Optional[str] = Field(None, max_length=200, description="City id (default: the only city in the store).")
    reach_m: float = Field(300.0, gt=0, le=20_000, description="Metres a box can serve (along the streets when loaded).")
    take_up: float = Field(0.6, gt=0, le=1, description="Share of households that will subscribe.")
    threshold: float = Field(0.85, gt=0, le=1, description="Utilisation above which a box needs expanding.")
    horizon_months: int = Field(6, ge=1, le=MAX_HORIZON_MONTHS, description="Months ahead for the forecast.")
    as_of: Optional[dt.date] = Field(None, description="Day the trend is measured to (default: today).")
    streets: bool = Field(True, description="Measure reach along the streets when they are loaded.")
    rebuild: bool = Field(True, description="Raise rebuild alerts from last year's fault hotspots.")


@router.get("", summary="Alerts best first, with the district and manager of each alert's box (active plan)")
def list_alerts(eng: Engine = Depends(engine), user: User = Depends(anyone), city: CityQ = None,
                kind: Annotated[Optional[str], Query(description="extend_network, expand_box, outside_coverage "
                                                                  "or rebuild.")] = None,
                status: Annotated[Optional[str], Query(description="new, acknowledged, planned, done, dismissed "
                                                                    "or closed.")] = None,
                limit: Annotated[int, Query(ge=1, le=svc.LIST_MAX, description="Alerts in the page.")] = svc.LIST_DEFAULT,
                offset: Annotated[int, Query(ge=0, le=svc.OFFSET_MAX, description="Alerts before the page.")] = 0) -> dict:
    page = svc.list_alerts(eng, city, kind, status, limit, offset, manager=own_manager(user))
    return {"city": page.city, "total": page.total, "offset": page.offset, "shown": page.shown,
            "alerts": page.records()}


@router.post("/evaluate", summary="Evaluate the stored network and reports: raise, update and close alerts")
def evaluate(body: Annotated[Evaluation, Body()] = Evaluation(), eng: Engine = Depends(engine),
             user: User = Depends(planner)) -> dict:
    _, res = svc.evaluate_city(eng, body.city, use_streets=body.streets, actor=user.name, rebuild=body.rebuild,
                               reach_m=body.reach_m, take_up=body.take_up, threshold=body.threshold,
                               horizon_months=body.horizon_months, as_of=body.as_of)
    return svc.jsonable(res)


@router.get("/{alert_id}", summary="One alert, with its geometry")
def get_alert(alert_id: str, eng: Engine = Depends(engine), user: User = Depends(anyone)) -> dict:
    return svc.get_alert(eng, alert_id, manager=own_manager(user))


@router.get("/{alert_id}/history", summary="Every status the alert went through, who moved it and when")
def history(alert_id: str, eng: Engine = Depends(engine), user: User = Depends(anyone)) -> list[dict]:
    if own_manager(user):
        svc.get_alert(eng, alert_id, manager=own_manager(user))   # his alerts' history only
    return svc.history_records(eng, alert_id)


def _step(name: str, to: str):
    def step(alert_id: str, body: Annotated[Optional[Step], Body()] = None, eng: Engine = Depends(engine),
             user: User = Depends(planner)) -> dict:
        return svc.step(eng, alert_id, to, user.name, body.note if body else None)
    step.__name__ = f"alert_{name}"
    return step


for _name, _to in svc.STEPS.items():
    router.post(f"/{{alert_id}}/{_name}", name=f"alert_{_name}",
                summary=f"Move the alert to '{_to}'" + (" (a note with the reason is required)" if _to == "dismissed"
                                                        else ""),
                responses={404: {"description": "No such alert"},
                           409: {"description": "The alert cannot go to that status from the one it is in"}})(
        _step(_name, _to))
