"""Complaint categories and their standard answers (Hunan Mobile's compendium of common
problems): read by the call centre with every new complaint, edited by planners."""
from __future__ import annotations

import re

from sqlalchemy import Connection

from gis import workorders as store
from gis.errors import Forbidden, InputError
from gis.users import User

from .values import jsonable

LISTS = ("causes", "steps", "reply_points", "pitfalls")
ID = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


def categories(conn: Connection) -> list[dict]:
    return jsonable(store.categories(conn))


def category(conn: Connection, category_id: str) -> dict:
    return jsonable(store.category(conn, category_id))


def put(conn: Connection, user: User, category_id: str, body: dict) -> dict:
    """Create or replace a category's name and lists (a planner's edit)."""
    if user.role != "planner":
        raise Forbidden(f"the role {user.role} may not edit complaint categories (a planner does)")
    if not ID.match(category_id):
        raise InputError(f"category id {category_id!r} is not 2-40 lowercase letters, digits or _ (e.g. billing)")
    name = (body.get("name") or "").strip()
    if not name or len(name) > 200:
        raise InputError("a category needs a name of at most 200 characters")
    row = {"id": category_id, "name": name}
    for k in LISTS:
        items = body.get(k) or []
        if len(items) > 100 or any(not isinstance(x, str) or not x.strip() or len(x) > 1000 for x in items):
            raise InputError(f"{k} is a list of at most 100 texts of 1-1,000 characters")
        row[k] = [x.strip() for x in items]
    return jsonable(store.put_category(conn, row, user.name))
