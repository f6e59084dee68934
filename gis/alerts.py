"""Opportunity alerts in the store: their life cycle and its audit trail.

    new -> acknowledged -> planned -> done        (a planner's steps, each with who and when)
    new | acknowledged | planned -> dismissed     (with a reason)
    new | acknowledged | planned -> closed        (by an evaluation: the cause is gone, and why)
    closed -> new                                 (by an evaluation: the cause is back)

`sync` writes one evaluation in one transaction: an alert is keyed by (city, kind, alert_key),
the site it is about, so a re-run updates it instead of raising a second one.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from .errors import Conflict, InputError, NotFound
from .frames import geoframe

OPEN = ("new", "acknowledged", "planned")
STEPS = {"new": ("acknowledged", "planned", "dismissed"), "acknowledged": ("planned", "dismissed"),
         "planned": ("done", "dismissed")}
_COLUMNS = ["id", "kind", "status", "alert_key", "report_id", "box_id", "cable_id", "score", "expected_lines",
            "distance_m", "cost", "reason", "details", "first_seen", "last_seen", "status_at", "status_by",
            "status_note"]


def alert_id(city: str, kind: str, key: str) -> str:
    return "AL-" + hashlib.sha1(f"{city}\x1f{kind}\x1f{key}".encode()).hexdigest()[:12]


def _text(v):
    """A text column's value: a missing one (None, or the NaN pandas puts there) is NULL, never 'NaN'."""
    return None if v is None or (isinstance(v, (float, np.floating)) and not np.isfinite(v)) else str(v)


def _clean(v):
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_clean(x) for x in v]
    return v


def _event(conn, aid, actor, old, new, note):
    conn.execute(text("INSERT INTO alert_events (alert_id, actor, from_status, to_status, note) "
                      "VALUES (:a, :actor, :f, :t, :n)"), {"a": aid, "actor": actor, "f": old, "t": new, "n": note})


def sync(conn: Connection, city: str, alerts: gpd.GeoDataFrame, *, actor: str = "pianqu evaluate",
         why_gone: Callable[[str, str], str] | None = None) -> dict:
    """Upsert the alerts of one evaluation; close the open ones it no longer raises (with
    `why_gone(kind, key)` as the reason); reopen closed ones whose cause is back."""
    now = dt.datetime.now(dt.timezone.utc)
    a = alerts.to_crs(4326) if alerts.crs is not None else alerts
    extra = [c for c in a.columns if c not in ("alert_key", "kind", "report_id", "box_id", "cable_id", "score",
                                               "expected_lines", "distance_m", "cost", "reason", "geometry")]
    rows = []
    for rec, geom in zip(a.drop(columns="geometry").to_dict("records"), shapely.to_wkb(a.geometry.to_numpy(), hex=True)):
        rows.append({"id": alert_id(city, rec["kind"], rec["alert_key"]), "city": city, "kind": rec["kind"],
                     "key": rec["alert_key"], "report": _text(rec.get("report_id")), "box": _text(rec.get("box_id")),
                     "cable": _text(rec.get("cable_id")), "score": _clean(rec.get("score")),
                     "lines": _clean(rec.get("expected_lines")), "dist": _clean(rec.get("distance_m")),
                     "cost": _clean(rec.get("cost")), "reason": _text(rec.get("reason")),
                     "details": json.dumps({c: _clean(rec.get(c)) for c in extra}), "geom": geom, "now": now})
    existing = {r.id: r.status for r in conn.execute(
        text("SELECT id, status FROM alerts WHERE city_id = :c"), {"c": city})}
    raised = {r["id"] for r in rows}
    counts = {"new": 0, "updated": 0, "reopened": 0, "closed": 0}
    if rows:
        conn.execute(text(
            "INSERT INTO alerts (id, city_id, kind, alert_key, report_id, box_id, cable_id, score, expected_lines, "
            "distance_m, cost, reason, details, geometry, first_seen, last_seen, status_at, status_by) "
            "VALUES (:id, :city, :kind, :key, :report, :box, :cable, :score, :lines, :dist, :cost, :reason, "
            "CAST(:details AS jsonb), ST_SetSRID(ST_GeomFromWKB(decode(:geom, 'hex')), 4326), :now, :now, :now, "
            ":actor) "
            "ON CONFLICT (city_id, kind, alert_key) DO UPDATE SET report_id = EXCLUDED.report_id, "
            "box_id = EXCLUDED.box_id, cable_id = EXCLUDED.cable_id, score = EXCLUDED.score, "
            "expected_lines = EXCLUDED.expected_lines, distance_m = EXCLUDED.distance_m, cost = EXCLUDED.cost, "
            "reason = EXCLUDED.reason, details = EXCLUDED.details, geometry = EXCLUDED.geometry, "
            "last_seen = EXCLUDED.last_seen"), [{**r, "actor": actor} for r in rows])
        for r in rows:
            old = existing.get(r["id"])
            if old is None:
                counts["new"] += 1
                _event(conn, r["id"], actor, None, "new", r["reason"])
            elif old == "closed":
                counts["reopened"] += 1
                conn.execute(text("UPDATE alerts SET status = 'new', status_at = :now, status_by = :actor, "
                                  "status_note = :note WHERE id = :id"),
                             {"now": now, "actor": actor, "note": "the cause is back", "id": r["id"]})
                _event(conn, r["id"], actor, "closed", "new", f"the cause is back: {r['reason']}")
            else:
                counts["updated"] += 1
    gone = [aid for aid, st in existing.items() if st in OPEN and aid not in raised]
    if gone:
        keys = {r.id: (r.kind, r.alert_key) for r in conn.execute(
            text("SELECT id, kind, alert_key FROM alerts WHERE id = ANY(:ids)"), {"ids": gone})}
        for aid in gone:
            kind, key = keys[aid]
            note = why_gone(kind, key) if why_gone else "no longer raised by the evaluation"
            conn.execute(text("UPDATE alerts SET status = 'closed', status_at = :now, status_by = :actor, "
                              "status_note = :note WHERE id = :id"), {"now": now, "actor": actor, "note": note, "id": aid})
            _event(conn, aid, actor, existing[aid], "closed", note)
            counts["closed"] += 1
    return counts


def transition(conn: Connection, aid: str, to: str, actor: str, note: str | None = None) -> dict:
    """A planner's step on one alert; the row is locked so two planners cannot cross."""
    if not actor or not actor.strip():
        raise InputError("say who makes the change (actor)")
    row = conn.execute(text("SELECT status FROM alerts WHERE id = :id FOR UPDATE"), {"id": aid}).first()
    if row is None:
        raise NotFound(f"alert {aid!r} does not exist")
    if to == "dismissed" and not (note and note.strip()):
        raise InputError(f"alert {aid}: a dismissal needs a reason")
    if to not in STEPS.get(row.status, ()):
        allowed = ", ".join(STEPS.get(row.status, ())) or "none (it is finished)"
        raise Conflict(f"alert {aid} is {row.status}; it can go to: {allowed}; not to {to!r}")
    conn.execute(text("UPDATE alerts SET status = :to, status_at = now(), status_by = :actor, status_note = :note "
                      "WHERE id = :id"), {"to": to, "actor": actor, "note": note, "id": aid})
    _event(conn, aid, actor, row.status, to, note)
    return {"id": aid, "from": row.status, "to": to}


def list_alerts(conn: Connection, city: str, kind: str | None = None, status: str | None = None,
                limit: int | None = None) -> tuple[gpd.GeoDataFrame, int]:
    """Alerts best first (highest score), at most `limit` (>= 1; None: all) of them, and how many
    there are in all (one query: the count is a window over the filtered rows)."""
    sql = (f"SELECT {', '.join(_COLUMNS)}, ST_AsBinary(geometry) AS geometry, count(*) OVER () AS total "
           "FROM alerts WHERE city_id = %(c)s"
           + (" AND kind = %(k)s" if kind else "") + (" AND status = %(s)s" if status else "")
           + " ORDER BY score DESC NULLS LAST, id" + (" LIMIT %(n)s" if limit is not None else ""))
    df = geoframe(conn, sql, {"c": city, "k": kind, "s": status, "n": limit})
    total = df.pop("total")
    total = int(total.iat[0]) if len(df) else 0  # limit >= 1: no row means no alert at all
    return df, total


def feeder_cables(conn: Connection, city: str) -> gpd.GeoDataFrame:
    """Trunk and distribution cables (a rebuild is planned on them, not on single drops)."""
    return geoframe(conn, "SELECT id, kind, year_laid, ST_AsBinary(geometry) AS geometry FROM cables "
                          "WHERE city_id = %(c)s AND kind <> 'drop'", {"c": city})


def history(conn: Connection, aid: str) -> pd.DataFrame:
    """Every step of one alert, oldest first; a step without a note has None there (not NaN)."""
    if conn.execute(text("SELECT 1 FROM alerts WHERE id = :id"), {"id": aid}).first() is None:
        raise NotFound(f"alert {aid!r} does not exist")
    res = conn.execute(text("SELECT at, actor, from_status, to_status, note FROM alert_events WHERE alert_id = :id "
                            "ORDER BY id"), {"id": aid})
    df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    return df.astype({c: object for c in ("actor", "from_status", "to_status", "note")}).where(df.notna(), None)
