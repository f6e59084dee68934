"""/tickets: the work orders' loop. The call centre (or a planner, or a manager reporting a
hazard) creates a ticket, routed at once to the owning district's manager; each step is
`POST /tickets/{id}/{action}`; 409 when the ticket's state does not allow the step, 403 when the
caller may not take it. The rules are api.services.tickets and ticket_access."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Optional

from fastapi import APIRouter, Body, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.services import tickets as svc
from gis.users import User
from planning.workorders.lifecycle import ACTIONS, CHECKS, KINDS, PAUSE_REASONS

from ..deps import read, role, write

router = APIRouter(prefix="/tickets", tags=["tickets"])
everyone = role("planner", "manager", "analyst", "callcentre")
Action = Literal[ACTIONS]  # type: ignore[valid-type]


class NewTicket(BaseModel):
    subscriber_id: Optional[str] = Field(None, max_length=200, description="The subscriber who called.",
                                         examples=["CS-S0001234"])
    box_id: Optional[str] = Field(None, max_length=200, description="Or the box the report is about.")
    lon: Optional[float] = Field(None, ge=-180, le=180, description="Or the place (EPSG:4326), with lat.")
    lat: Optional[float] = Field(None, ge=-90, le=90)
    kind: Literal[KINDS] = Field("fault", description="fault, complaint, install, move or enquiry.")  # type: ignore[valid-type]
    priority: Literal["normal", "vip"] = "normal"
    category: Optional[str] = Field(None, max_length=100, description="A complaint's category (GET "
                                    "/tickets/categories).", examples=["network"])
    note: Optional[str] = Field(None, max_length=2000)
    severity: int = Field(1, ge=1, le=3)
    reported_at: Optional[dt.datetime] = Field(None, description="When the call came in (default: now; never later).")

    model_config = {"json_schema_extra": {"examples": [{"subscriber_id": "CS-S0001234", "kind": "fault",
                                                        "priority": "normal", "note": "no dial tone"}]}}


class StepBody(BaseModel):
    note: Optional[str] = Field(None, max_length=2000)
    at: Optional[dt.datetime] = Field(None, description="When the step happened (default: now; never later, never "
                                      "before the ticket's last step).")
    manager_id: Optional[str] = Field(None, max_length=200, description="take: the manager it goes to.")
    visit_at: Optional[dt.datetime] = Field(None, description="contact: the visit time agreed.")
    reason: Optional[Literal[PAUSE_REASONS]] = Field(None, description="pause: why it waits on the subscriber.")  # type: ignore[valid-type]
    until: Optional[dt.datetime] = Field(None, description="pause: the visit time the subscriber chose.")
    cause_found: Optional[str] = Field(None, max_length=2000, description="clear: the cause found.")
    work_done: Optional[str] = Field(None, max_length=2000, description="clear: the work done.")
    reached: Optional[bool] = Field(None, description="verify: whether the call-back reached the subscriber.")
    satisfaction: Optional[int] = Field(None, ge=1, le=5, description="verify: 1 (bad) to 5 (very good).")
    checks: Optional[dict[str, bool]] = Field(None, description=f"verify: {', '.join(CHECKS)} answered yes or no.")


@router.post("", status_code=201, summary="Take a report: the ticket, routed at once to its district's manager")
def create(body: Annotated[NewTicket, Body()], conn: Connection = Depends(write, scope="function"),
           user: User = Depends(everyone)) -> dict:
    return svc.create(conn, user, svc.NewTicket(**body.model_dump()))


@router.get("/{ticket_id}", summary="A ticket with its clocks and its history")
def get(ticket_id: str, conn: Connection = Depends(read), user: User = Depends(everyone)) -> dict:
    return svc.get(conn, user, ticket_id)


@router.post("/{ticket_id}/{action}", summary="One step of the loop: take, contact, arrive, pause, resume, clear, "
                                              "verify or reopen")
def step(ticket_id: str, action: Annotated[Action, Path(description="The step.")],
         body: Annotated[StepBody, Body()] = StepBody(), conn: Connection = Depends(write, scope="function"),
         user: User = Depends(everyone)) -> dict:
    fields = body.model_dump(exclude={"at"}, exclude_none=True)
    return svc.step(conn, user, ticket_id, action, fields, at=body.at)
