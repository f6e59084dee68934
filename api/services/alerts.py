"""The alerts service: the store's door onto planning.opportunities, and the one home of the rules
every door (CLI, HTTP) applies. Reads the city's network and demand, evaluates, and syncs the
alerts (one transaction), with a reason for every alert it closes; lists them best first with the
district and manager of each alert's box, and the total; moves them through their life cycle."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from gis import alerts as store_alerts
from gis import store
from gis import tickets as store_tickets
from gis.errors import InputError, NotFound
from gis.models import ALERT_STATUSES
from gis.risk import cable_of
from planning.opportunities import KINDS, MAX_HORIZON_MONTHS, Scan, check_parameters, evaluate

from . import risk
from .values import jsonable

LIST_DEFAULT = 50
LIST_MAX = 10_000  # a page beyond this is an export, not a list to read
OFFSET_MAX = 1_000_000
# A planner's steps by the name the doors give them (`pianqu alerts ack`, POST /alerts/{id}/ack).
STEPS = {"ack": "acknowledged", "plan": "planned", "done": "done", "dismiss": "dismissed"}
# What a listed alert carries, for every kind; a field that does not apply to a kind is None.
LIST_FIELDS = ["id", "kind", "status", "alert_key", "report_id", "report_ids", "box_id", "district", "manager_id",
               "cable_id", "score", "value", "cost", "payback_months", "expected_lines", "spare_ports", "utilisation",
               "distance_m", "cable_m", "faults_per_year", "cable_age_years", "reason", "first_seen", "last_seen",
               "status_at", "status_by", "status_note", "lon", "lat"]
_FROM_DETAILS = ("report_ids", "value", "payback_months", "spare_ports", "utilisation", "cable_m", "faults_per_year",
                 "cable_age_years")


def check_evaluation(*, reach_m: float = 300.0, take_up: float = 0.6, threshold: float = 0.85,
                     horizon_months: int = 6, names: dict | None = None) -> None:
    """The evaluation's parameters, checked before any work (`names`: the caller's words for them).
    A planner's evaluation always looks ahead, a month at least; the core also takes 0 (utilisation
    now only, the demo generator's rule), for benchmarks and the ground truth."""
    name = (names or {}).get("horizon_months", "forecast horizon")
    if not (isinstance(horizon_months, (int, np.integer)) and 1 <= horizon_months <= MAX_HORIZON_MONTHS):
        raise InputError(f"{name} must be 1 to {MAX_HORIZON_MONTHS} months, not {horizon_months!r}")
    check_parameters(reach_m, take_up, threshold, horizon_months, names=names)


def check_listing(kind: str | None = None, status: str | None = None, limit: int | None = LIST_DEFAULT,
                  names: dict | None = None, offset: int = 0) -> None:
    """A list's filters and size: a known kind and status, 1 to LIST_MAX alerts (None: all),
    starting after `offset` of them (0 to OFFSET_MAX)."""
    n = {"kind": "kind", "status": "status", "limit": "limit", "offset": "offset", **(names or {})}
    if kind is not None and kind not in KINDS:
        raise InputError(f"unknown alert kind {kind!r}; kinds: {', '.join(KINDS)}")
    if status is not None and status not in ALERT_STATUSES:
        raise InputError(f"unknown status {status!r}; statuses: {', '.join(ALERT_STATUSES)}")
    if limit is not None and not (isinstance(limit, int) and 1 <= limit <= LIST_MAX):
        raise InputError(f"{n['limit']} must be 1 to {LIST_MAX:,} alerts, not {limit!r}")
    if not (isinstance(offset, int) and 0 <= offset <= OFFSET_MAX):
        raise InputError(f"{n['offset']} must be 0 to {OFFSET_MAX:,} alerts, not {offset!r}")


def fault_hotspots(conn, city_id: str):
    """Hot cells of the last 12 months of tickets (Gi* on faults per line), with their faults a
    year, for the rebuild alerts; None when there are no tickets."""
    from gis import tickets as store_tickets
    from planning import hotspots
    last = conn.execute(text("SELECT max(reported_at) FROM fault_tickets WHERE city_id = :c"), {"c": city_id}).scalar()
    if last is None:
        return None
    t = store_tickets.tickets(conn, city_id, pd.Timestamp(last).tz_convert(None) - pd.DateOffset(years=1), None)
    if len(t) < 10:
        return None
    cid = hotspots.cell_ids(t, 9)
    cells = hotspots.hex_counts(t, resolution=9, lines=store_tickets.lines(conn, city_id), cells=cid)
    hot = hotspots.gi_star(cells, "faults", rate_of="lines")
    hot = hot[hot["hot"]][["cell", "faults", "gi_z", "geometry"]]
    # Each hot fault's cable (gis.risk.cable_of, the rule the fault risk counts by too).
    feeder = pd.Series(dict(conn.execute(text("SELECT id, feeder_cable_id FROM boxes WHERE city_id = :c"),
                                         {"c": city_id}).all()), dtype=object)
    inside = t[np.isin(cid, hot["cell"].to_numpy())]
    return hot, cable_of(inside, feeder).value_counts()


def evaluate_city(engine: Engine, city: str | None = None, *, use_streets: bool = True, actor: str = "pianqu evaluate",
                  rebuild: bool = True, **rules) -> tuple[Scan, dict]:
    check_evaluation(**{k: v for k, v in rules.items() if k in ("reach_m", "take_up", "threshold", "horizon_months")})
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        crs = conn.execute(text("SELECT metric_crs FROM cities WHERE id = :c"), {"c": city_id}).scalar_one()
        boxes = store.read_layer(conn, "boxes", city_id, columns=["id", "capacity", "used"])
        demand = store.read_layer(conn, "construction_reports", city_id,
                                  columns=["id", "households", "floor_area_m2", "kind", "stage"])
        subscribers = store.read_layer(conn, "subscribers", city_id, columns=["id", "box_id", "connected_since"])
        streets = store.read_layer(conn, "streets", city_id, columns=["id"]) if use_streets else None
        outline = store.read_layer(conn, "cities", city_id, columns=["id"])  # every city: the layer has no city_id
        outline = outline[(outline["id"] == city_id).to_numpy() & outline.geometry.notna().to_numpy()]
        found = fault_hotspots(conn, city_id) if rebuild else None
        hot, cables = None, None
        if found is not None:
            hot, per_cable = found
            cables = store_alerts.feeder_cables(conn, city_id)
            cables["hot_faults"] = per_cable.reindex(cables["id"]).fillna(0).to_numpy()
            # The faults a rebuild would avoid: the fault risk's next three months, as a year.
            coming = risk.expected_faults(conn, city_id, "cables")
            if coming is not None:
                cables["expected_faults_year"] = coming.reindex(cables["id"]).to_numpy() * 12 / 3
    scan = evaluate(boxes, demand, crs=crs, subscribers=subscribers, outline=outline if len(outline) else None,
                    streets=streets if streets is not None and len(streets) else None, cables=cables,
                    hotspots=hot, **rules)
    with engine.begin() as conn:
        counts = store_alerts.sync(conn, city_id, scan.alerts, actor=actor, why_gone=_why_gone(scan, set(demand["id"])))
    return scan, {"city": city_id, **counts, **scan.summary()}


def _why_gone(scan: Scan, report_ids: set):
    """The reason an open alert is closed, in a planner's words, from what the evaluation saw."""
    sites = scan.sites.set_index("site")
    boxes = scan.boxes.set_index("box_id")
    th = scan.parameters["threshold"]

    def why(kind: str, key: str) -> str:
        if kind == "extend_network":
            if key in sites.index:
                s = sites.loc[key]
                return (f"box {s['serving_box']} within {scan.parameters['reach_m']:g} m now has room for "
                        f"{s['expected_lines']:.0f} lines")
            if key in report_ids:
                merged = sites[sites["reports"].map(lambda r: key in r)].index
                return f"report {key} is the same site as {merged[0]}, which carries the alert" if len(merged) else \
                    f"report {key} is no longer evaluated"
            return f"report {key} is no longer in the store"
        if kind == "expand_box":
            if key in boxes.index:
                b = boxes.loc[key]
                return (f"utilisation {b['utilisation']:.0%}, forecast {b['forecast_utilisation']:.0%}: within the "
                        f"threshold of {th:.0%}")
            return f"box {key} is no longer in the store"
        if kind == "outside_coverage":
            return "the area's demand is now within reach of a box, or gone"
        return "the cable or its hotspot is gone"
    return why


@dataclass
class AlertPage:
    """One page of a city's alerts, best first, and how many match in all."""
    city: str
    alerts: pd.DataFrame  # LIST_FIELDS
    total: int
    offset: int = 0

    @property
    def shown(self) -> int:
        return len(self.alerts)

    def records(self) -> list[dict]:
        """JSON-ready: missing values are None (never NaN), times ISO 8601."""
        return [{k: jsonable(v) for k, v in r.items()} for r in self.alerts.to_dict("records")]


def box_districts(conn, city_id: str) -> pd.DataFrame:
    """box_id -> district, manager_id of the active plan (a box split by distribution point lists
    its districts and managers, comma-separated); empty when no plan is active."""
    ctx = store_tickets.box_context(conn, city_id)[["box_id", "district", "manager_id"]].dropna(subset=["district"])

    def join(v):
        return ", ".join(sorted({str(x) for x in v if x is not None and x == x})) or None
    return ctx.groupby("box_id").agg(district=("district", join), manager_id=("manager_id", join))


def _shaped(df: pd.DataFrame, ctx: pd.DataFrame | None) -> pd.DataFrame:
    """Stored alert rows as listed: the kind's figures out of `details`, and the district and
    manager of each alert's box (None without an active plan); missing values None."""
    df = pd.DataFrame(df)
    details = df.pop("details").map(lambda d: d or {})
    for f in _FROM_DETAILS:
        df[f] = details.map(lambda d, f=f: d.get(f))
    df["report_ids"] = df["report_ids"].map(lambda r: list(r) if isinstance(r, list) else [])
    if ctx is not None:
        df = df.join(ctx, on="box_id")
    else:
        df["district"] = df["manager_id"] = None
    df = df.reindex(columns=LIST_FIELDS).astype(object)
    return df.where(df.notna(), None)


def _his(managers, manager: str) -> bool:
    # A split box lists its districts' managers comma-separated.
    return isinstance(managers, str) and manager in managers.split(", ")


def list_alerts(engine: Engine, city: str | None = None, kind: str | None = None, status: str | None = None,
                limit: int | None = LIST_DEFAULT, offset: int = 0, *, manager: str | None = None) -> AlertPage:
    """The city's alerts best first (at most `limit` after the first `offset`; limit None: all),
    each with its box's district and manager where a plan is active, and the total that match.
    `manager`: only the alerts on the boxes of the districts he holds now (a manager's key)."""
    check_listing(kind, status, limit, offset=offset)
    with engine.connect() as conn:
        city_id = store.resolve_city(conn, city)
        # The store pages from the top: read through the page's end and drop the rows before it
        # (the total is counted over every matching row either way). A manager's page is cut
        # from his alerts, so his are all read first (a city has a few hundred open alerts).
        reach = None if limit is None or manager is not None else limit + offset
        df, total = store_alerts.list_alerts(conn, city_id, kind, status, reach)
        ctx = box_districts(conn, city_id) if len(df) else None
        if manager is not None:
            mine = df["box_id"].map(ctx["manager_id"] if ctx is not None else {}).map(lambda m: _his(m, manager))
            df = df[mine.fillna(False).to_numpy(bool)]
            total = len(df)
            df = df.iloc[:None if limit is None else limit + offset]
        df = df.iloc[offset:]
    # Where the alert is, as a map marker wants it: a point on its geometry (a cable's or an
    # area's too), in the listing itself so a map needs no request per alert.
    where = df.geometry.representative_point()
    df = df.drop(columns="geometry").assign(lon=where.x.round(6).to_numpy(), lat=where.y.round(6).to_numpy())
    return AlertPage(city_id, _shaped(df.reset_index(drop=True), ctx), total, offset)


def get_alert(engine: Engine, alert_id: str, *, manager: str | None = None) -> dict:
    """One alert as listed, with its city and its geometry (GeoJSON, EPSG:4326). `manager`: only
    if it is on a box of a district he holds now (else it answers as missing)."""
    cols = [c for c in LIST_FIELDS if c not in ("district", "manager_id", "lon", "lat", *_FROM_DETAILS)] + ["details"]
    where = "ST_PointOnSurface(geometry)"   # GEOS's point on surface, as the listing's representative_point
    with engine.connect() as conn:
        res = conn.execute(text(f"SELECT {', '.join(cols)}, round(ST_X({where})::numeric, 6)::float AS lon, "
                                f"round(ST_Y({where})::numeric, 6)::float AS lat, city_id, "
                                "ST_AsGeoJSON(geometry) AS geometry "
                                "FROM alerts WHERE id = :id"), {"id": alert_id})
        df = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
        if len(df) == 0:
            raise NotFound(f"alert {alert_id!r} does not exist")
        city_id, geometry = df.pop("city_id").iat[0], df.pop("geometry").iat[0]
        ctx = box_districts(conn, city_id)
    rec = AlertPage(city_id, _shaped(df, ctx if len(ctx) else None), 1).records()[0]
    if manager is not None and not _his(rec["manager_id"], manager):
        raise NotFound(f"alert {alert_id!r} does not exist")
    return {**rec, "city": city_id, "geometry": json.loads(geometry) if geometry else None}


def step(engine: Engine, alert_id: str, to: str, actor: str, note: str | None = None) -> dict:
    """A planner's step on one alert (recorded with who and when); wrong steps are refused."""
    with engine.begin() as conn:
        return store_alerts.transition(conn, alert_id, to, actor, note)


def history(engine: Engine, alert_id: str) -> pd.DataFrame:
    """Every status an alert went through: at (in its city's time zone), actor, from_status,
    to_status, note (None where a step has none)."""
    with engine.connect() as conn:
        h = store_alerts.history(conn, alert_id)
        tz = conn.execute(text("SELECT c.timezone FROM alerts a JOIN cities c ON c.id = a.city_id WHERE a.id = :a"),
                          {"a": alert_id}).scalar()
    h["at"] = pd.to_datetime(h["at"], utc=True).dt.tz_convert(tz or "UTC")
    return h


def history_records(engine: Engine, alert_id: str) -> list[dict]:
    """The history as JSON records: `at` ISO 8601 with the city's UTC offset."""
    return [{k: jsonable(v) for k, v in r.items()} for r in history(engine, alert_id).to_dict("records")]
