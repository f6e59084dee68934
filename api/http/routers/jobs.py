"""/jobs: the background jobs of this server (a plan's partition): status, progress, cancel.
Jobs live in the server's memory (api.services.jobs says what that means)."""
from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy import Engine

from api.services import jobs as svc
from gis.users import User

from ..deps import anyone, engine, planner

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", summary="This server's jobs, newest first")
def list_jobs(eng: Engine = Depends(engine), user: User = Depends(anyone)) -> list[dict]:
    return svc.list_jobs(eng)


@router.get("/{job_id}", summary="A job's status: queued, running (step, fraction), succeeded (the plan and its "
            "URLs), failed (the error as problem fields) or cancelled", responses={404: {"description": "No such job"}})
def get_job(job_id: str, eng: Engine = Depends(engine), user: User = Depends(anyone)) -> dict:
    return svc.get_job(eng, job_id)


@router.delete("/{job_id}", summary="Cancel a queued or running job (its process is ended; no plan is written)",
               responses={404: {"description": "No such job"},
                          409: {"description": "The job had already finished"}})
def cancel_job(job_id: str, eng: Engine = Depends(engine), user: User = Depends(planner)) -> dict:
    return svc.cancel_job(eng, job_id)
