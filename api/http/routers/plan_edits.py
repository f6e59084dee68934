"""/plans/{id}/editing and /plans/{id}/edits: editing a plan by hand (the map's editing panel):
the unit graph, the check of moves, suggested moves, and the save as a draft."""
from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from api.services import plan_edits as svc
from api.services.values import jsonable
from gis.users import User

from ..deps import anyone, planner, read, write

router = APIRouter(prefix="/plans", tags=["plans"])
Id = Annotated[str, Field(max_length=200)]
Moves = Annotated[dict[Id, Id], Field(max_length=svc.MAX_MOVES, description="unit id -> the district code it goes to",
                                      examples=[{"SM-BX-00012": "D002"}])]


class Moves_(BaseModel):
    model_config = ConfigDict(extra="forbid")
    moves: Moves = {}
    locked: list[Id] = Field([], max_length=10_000, description="District codes that must not change.")
    override_tolerance: bool = Field(False, description="Allow a district to end further outside the tolerance "
                                                        "(never a district in pieces).")


class Suggest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    moves: Moves = {}
    locked: list[Id] = Field([], max_length=10_000)


class Save(Moves_):
    base_version: str = Field(max_length=100, description="The plan's version the edit was made on (`version` of "
                                                          "GET /plans/{id}/editing).")
    base: Optional[dict[Id, Id]] = Field(None, max_length=svc.MAX_MOVES,
                                         description="Every unit's district as the editor saw it: a 409 then "
                                                     "lists the units someone else moved meanwhile.")
    name: Optional[str] = Field(None, max_length=200)


@router.get("/{plan_id}/editing", summary="A plan's units, unit graph and districts' figures, for editing by hand")
def editing_view(plan_id: str, conn: Connection = Depends(read), user: User = Depends(anyone)) -> dict:
    return svc.editing_view(conn, plan_id)


@router.post("/{plan_id}/edits/check", summary="What moving these units would do: each district touched, before "
             "and after (workload, deviation, contiguous, within the tolerance), and whether it is allowed")
def check(plan_id: str, body: Annotated[Moves_, Body()], conn: Connection = Depends(read),
          user: User = Depends(planner)) -> dict:
    return svc.check(conn, plan_id, body.moves, locked=body.locked, override_tolerance=body.override_tolerance)


@router.post("/{plan_id}/edits/suggest", summary="Moves that bring out-of-tolerance districts back, on the plan as "
             "edited so far")
def suggest(plan_id: str, body: Annotated[Suggest, Body()], conn: Connection = Depends(read),
            user: User = Depends(planner)) -> list[dict]:
    return svc.suggest(conn, plan_id, body.moves, locked=body.locked)


@router.post("/{plan_id}/edits", status_code=201, summary="Save the edit as a draft plan (a new draft, or the "
             "hand-made draft itself in place)",
             responses={409: {"description": "Someone else saved over the plan since base_version: `changed` "
                                             "lists the units"},
                        422: {"description": "The edit is refused (a district in pieces, a locked one changed, "
                                             "the tolerance) or names an unknown unit or district"}})
def save(plan_id: str, body: Annotated[Save, Body()], conn: Connection = Depends(write, scope="function"),
         user: User = Depends(planner)):
    out = svc.save(conn, plan_id, body.moves, base_version=body.base_version, base=body.base, locked=body.locked,
                   override_tolerance=body.override_tolerance, name=body.name, by=user.name)
    return JSONResponse(jsonable(out), status_code=201, headers={"ETag": out["version"],
                                                                    "Location": f"/plans/{out['plan']}"})
