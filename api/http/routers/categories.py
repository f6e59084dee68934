"""/complaint-categories: each class of complaint with its standard answer (causes, handling
steps, reply points, the mistakes that escalate it). Every role reads; a planner edits."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from api.services import categories as svc
from gis.users import User

from ..deps import read, role, write

router = APIRouter(prefix="/complaint-categories", tags=["tickets"])
everyone = role("planner", "manager", "analyst", "callcentre")
Items = list[Annotated[str, Field(min_length=1, max_length=1000)]]


class Category(BaseModel):
    name: str = Field(..., min_length=1, max_length=200, examples=["计费 billing"])
    causes: Items = Field(default_factory=list, max_length=100)
    steps: Items = Field(default_factory=list, max_length=100)
    reply_points: Items = Field(default_factory=list, max_length=100)
    pitfalls: Items = Field(default_factory=list, max_length=100)


@router.get("", summary="Every complaint category with its standard answer")
def list_categories(conn: Connection = Depends(read), user: User = Depends(everyone)) -> list[dict]:
    return svc.categories(conn)


@router.get("/{category_id}", summary="One complaint category")
def get_category(category_id: str, conn: Connection = Depends(read), user: User = Depends(everyone)) -> dict:
    return svc.category(conn, category_id)


@router.put("/{category_id}", summary="Create or replace a category's standard answer (planner)")
def put_category(category_id: str, body: Annotated[Category, Body()],
                 conn: Connection = Depends(write, scope="function"), user: User = Depends(everyone)) -> dict:
    return svc.put(conn, user, category_id, body.model_dump())
