"""/plans: start a partition (a background job), list and read plans, their districts as GeoJSON,
activate one, and what changes between two."""
from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine

from api.services import jobs
from api.services import plans as svc
from gis.users import User

from ..deps import anyone, engine, planner, read
from ..problems import Problem

router = APIRouter(prefix="/plans", tags=["plans"])
CityQ = Annotated[Optional[str], Query(description="City id (default: the only city in the store).", max_length=200)]
Workload = Literal["subscribers", "revenue", "faults", "area_km2"]
Finite = Annotated[float, Field(allow_inf_nan=False)]


class PlanRequest(BaseModel):
    """The parameters of `pianqu plan create` (api.services.plans.PlanParams) and the city."""
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"city": "demo-small", "districts": 4, "tolerance": 0.02},
        {"city": "changsha-demo", "districts": 148, "parent": "communities", "weight": {"subscribers": 1, "faults": 20},
         "limits": {"revenue": 0.05}, "max_radius": 3000, "slow_barriers": ["motorway"], "name": "2026 spring"}]})

    city: Optional[str] = Field(None, max_length=200, description="City id (default: the only city in the store).")
    districts: Optional[int] = Field(None, ge=1, le=100_000, description="Number of districts (or give target_size).")
    target_size: Optional[float] = Field(None, gt=0, allow_inf_nan=False, description="Workload per district.")
    tolerance: float = Field(0.02, gt=0, lt=1, allow_inf_nan=False,
                             description="Largest deviation of a district's workload from the mean (0.02: 2 %).")
    weight: Optional[dict[Workload, Annotated[float, Field(gt=0, allow_inf_nan=False)]]] = Field(
        None, max_length=4, description="Workload = sum of coefficient x column (default: subscribers).",
        examples=[{"subscribers": 1, "faults": 20}])
    parent: Optional[Literal["communities", "office_regions"]] = Field(
        None, description="Districts nest in these areas.")
    previous: Optional[str] = Field(None, max_length=200, description="Re-plan from this plan, moving little.")
    limits: Optional[dict[Workload, Union[Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)],
                                          tuple[Finite, Finite]]]] = Field(
        None, max_length=4, description="Hold columns within a share of their mean, or within [min, max].",
        examples=[{"revenue": 0.05}, {"faults": [10, 40]}])
    max_radius: Optional[float] = Field(None, gt=0, le=1_000_000, allow_inf_nan=False,
                                        description="Metres: no box farther from its district's centre.")
    parent_counts: Optional[dict[Annotated[str, Field(max_length=200)], Annotated[int, Field(ge=1, le=100_000)]]] = Field(
        None, max_length=10_000, description="Districts per parent area (with parent).", examples=[{"CM-001": 3}])
    slow_barriers: list[Literal["river", "rail", "motorway"]] = Field(
        [], max_length=3, description="Barrier kinds that only slow a district's growth instead of cutting it.")
    name: Optional[str] = Field(None, max_length=200)
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Random seed: the same request gives the same plan.")

    def params(self) -> svc.PlanParams:
        data = self.model_dump(exclude={"city"})
        data["slow_barriers"] = tuple(data["slow_barriers"])
        return svc.PlanParams(**data)


class Activated(BaseModel):
    plan: str
    city: str
    archived: list[str] = Field(description="The plan(s) it replaced, now archived.")
    tickets: dict = Field(description="Open tickets handed to their district's new owner (`moved`), and those kept "
                                      "by the manager who took them (`kept_by_choice`).")


@router.post("", status_code=202, summary="Start a partition as a background job (202: the job's URL)",
             responses={202: {"description": "The job, queued or running; poll its URL (Location)"},
                        429: {"description": "Too many plan jobs running and waiting"}})
def create_plan(body: PlanRequest, response: Response, eng: Engine = Depends(engine),
                user: User = Depends(planner)) -> dict:
    try:
        job = jobs.start_plan(eng, body.city, body.params(), created_by=user.name)
    except jobs.TooManyJobs as e:
        raise Problem(429, str(e), {"Retry-After": "30"}) from None
    response.headers["Location"] = job["url"]
    return job


@router.get("", summary="The city's plans (drafts, the active one, archived)")
def list_plans(conn: Connection = Depends(read), user: User = Depends(anyone), city: CityQ = None) -> list[dict]:
    return svc.list_plans(conn, city)


@router.get("/{plan_id}", summary="One plan: status, parameters, metrics, report and districts")
def get_plan(plan_id: str, conn: Connection = Depends(read), user: User = Depends(anyone)) -> dict:
    return svc.summary(conn, plan_id)


@router.get("/{plan_id}/districts", summary="The plan's districts as GeoJSON (EPSG:4326)",
            response_class=JSONResponse, responses={200: {"content": {"application/geo+json": {}}}})
def plan_districts(plan_id: str, conn: Connection = Depends(read), user: User = Depends(anyone)):
    return JSONResponse(svc.districts_geojson(conn, plan_id), media_type="application/geo+json")


@router.post("/{plan_id}/activate", summary="Make a draft the city's active plan (atomic: the old one is "
             "archived in the same transaction, or stays active)",
             responses={404: {"description": "No such plan"},
                        409: {"description": "The plan is already active or has no districts"}})
def activate_plan(plan_id: str, eng: Engine = Depends(engine), user: User = Depends(planner)) -> Activated:
    return Activated(**svc.activate(eng, plan_id, actor=user.name))


@router.get("/{plan_a}/diff/{plan_b}", summary="What changes from plan a to plan b: units that change district, "
            "totals, both plans' metrics", responses={404: {"description": "No such plan"},
                                                       422: {"description": "Plans of different cities"}})
def diff(plan_a: str, plan_b: str, conn: Connection = Depends(read), user: User = Depends(anyone)) -> dict:
    return svc.diff(conn, plan_a, plan_b)
