"""Fault tickets (the work orders of kind 'fault') and the lines behind them, read from the store with everything a heatmap,
a hotspot map or a scorecard groups by: box, distribution point, cable kind and age, office,
community, and the district and manager of the city's active plan.

Tickets are stored in UTC; a city lives in its own time (`cities.timezone`, an IANA name), so
windows given as days are the city's local days."""
from __future__ import annotations

import datetime as dt
import zoneinfo

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from .errors import InputError
from .frames import frame, geoframe
from .holding import in_force
from .models import SRID



def known_timezone(name) -> bool:
    """Whether `name` is an IANA time zone this machine knows (zoneinfo's database)."""
    if not isinstance(name, str) or not name.strip():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def city_timezone(conn: Connection, city: str) -> str:
    """The IANA time zone the city's days, months and clocks are in ('UTC' when not recorded)."""
    tz = conn.execute(text("SELECT timezone FROM cities WHERE id = :c"), {"c": city}).scalar()
    tz = tz or "UTC"
    if not known_timezone(tz):
        raise InputError(f"city {city!r} has an unknown time zone {tz!r} (expected an IANA name, e.g. Asia/Shanghai)")
    return tz


def local_start(day, tz: str, what: str = "day") -> pd.Timestamp:
    """The instant a local day (a date, 'YYYY-MM-DD' or a naive timestamp) begins in `tz`; an
    aware timestamp is taken as it is."""
    try:
        ts = pd.Timestamp(day)
    except (ValueError, TypeError):
        raise InputError(f"{what} {day!r} is not a day: expected YYYY-MM-DD, e.g. 2026-01-31") from None
    if ts is pd.NaT:
        raise InputError(f"{what} {day!r} is not a day: expected YYYY-MM-DD, e.g. 2026-01-31")
    # Midnight may not exist (or happen twice) on a day a zone changes its clocks: take the first.
    return ts.tz_localize(tz, ambiguous=True, nonexistent="shift_forward") if ts.tzinfo is None else ts


def ticket_range(conn: Connection, city: str, tz: str | None = None) -> tuple[dt.date, dt.date] | None:
    """The first and last local day on which the city's tickets were reported; None without any."""
    tz = tz or city_timezone(conn, city)
    row = conn.execute(text("SELECT (min(reported_at) AT TIME ZONE :tz)::date, "
                            "(max(reported_at) AT TIME ZONE :tz)::date FROM fault_tickets WHERE city_id = :c AND kind = 'fault'"),
                       {"c": city, "tz": tz}).one()
    return None if row[0] is None else (row[0], row[1])


def _no_jit(conn: Connection) -> None:
    # PostgreSQL's JIT compiles these few-second scans for longer than they run (2 s of
    # compiling for a year of tickets): off for this transaction only.
    conn.execute(text("SET LOCAL jit = off"))


def box_context(conn: Connection, city: str) -> pd.DataFrame:
    """One row per box (and per distribution point of a box split between districts): office,
    community (the one its box stands in), lines, and the active plan's district and manager."""
    boxes = frame(conn, """
        SELECT b.id AS box_id, b.office_id, b.capacity, b.used, b.year_installed,
               (SELECT a.id FROM admin_areas a WHERE a.city_id = b.city_id AND a.level = 'community'
                 ORDER BY a.geometry <-> b.geometry LIMIT 1) AS community_id,
               (SELECT count(*) FROM subscribers s WHERE s.box_id = b.id) AS lines
        FROM boxes b WHERE b.city_id = %(c)s""", {"c": city})
    members = frame(conn, f"""
        SELECT m.box_id, m.dp_id, d.code AS district,
               (SELECT x.manager_id FROM district_assignments x WHERE x.district_id = d.id
                  AND {in_force("now()", "x")} LIMIT 1) AS manager_id
        FROM district_members m JOIN districts d ON d.id = m.district_id
        JOIN district_plans p ON p.id = m.plan_id
        WHERE p.city_id = %(c)s AND p.status = 'active'""", {"c": city})
    whole = members[members["dp_id"].isna()].drop(columns="dp_id")
    out = boxes.merge(whole, on="box_id", how="left")
    out["dp_id"] = None
    split = members[members["dp_id"].notna()]
    if len(split):  # a split box: one row per dp, each with its own district
        per_dp = boxes.merge(split, on="box_id")
        out = pd.concat([out[~out["box_id"].isin(split["box_id"])], per_dp], ignore_index=True)
    return out


def with_context(frame: pd.DataFrame, ctx: pd.DataFrame) -> pd.DataFrame:
    """`frame` (rows with box_id and dp_id: tickets or lines) with its office, community, and the
    active plan's district and manager; a row of a split box takes its dp's district."""
    out = frame.merge(ctx.drop_duplicates("box_id")[["box_id", "office_id", "community_id"]], on="box_id", how="left")
    whole = ctx[ctx["dp_id"].isna()]
    out = out.merge(whole[["box_id", "district", "manager_id"]], on="box_id", how="left")
    split = ctx[ctx["dp_id"].notna()]
    if len(split):
        fill = out[["box_id", "dp_id"]].merge(split[["box_id", "dp_id", "district", "manager_id"]],
                                             on=["box_id", "dp_id"], how="left")
        has = fill["district"].notna().to_numpy()
        out.loc[has, "district"] = fill.loc[has, "district"].to_numpy()
        out.loc[has, "manager_id"] = fill.loc[has, "manager_id"].to_numpy()
    return out


# The box a ticket belongs to: its subscriber's, its own, its dp's, else (a fault on a cable)
# the box that cable feeds or whose dps hang off it. One expression for every reader.
BOX_OF_TICKET = """coalesce(s.box_id, t.box_id, d.box_id,
                        (SELECT b.id FROM boxes b WHERE b.feeder_cable_id = t.cable_id LIMIT 1),
                        (SELECT d2.box_id FROM distribution_points d2 WHERE d2.cable_id = t.cable_id LIMIT 1))"""
DP_OF_TICKET = "coalesce(s.dp_id, t.dp_id)"
CONTEXT = ("office_id", "community_id", "district", "manager_id")
# Every column tickets() can give, and what each one needs joined.
# Each ticket's clocks as its log last projected them (planning.workorders.clocks), and the
# number of steps in that log (0: a ticket that has none, judged by the standard clocks).
CLOCKS = ("contact_due", "clear_due", "contact_breached_at", "clear_breached_at", "steps")
TIMES = ("reported_at", "first_contact_at", "cleared_at", "contact_due", "clear_due", "contact_breached_at",
         "clear_breached_at")
TICKET_COLUMNS = ("id", "subscriber_id", "box_id", "dp_id", "cable_id", "cable_kind", "year_laid", "cause",
                  "severity", "vip", "reported_at", "first_contact_at", "cleared_at") + CLOCKS + CONTEXT
_SELECT = {"id": "t.id", "subscriber_id": "t.subscriber_id", "box_id": f"{BOX_OF_TICKET} AS box_id",
           "dp_id": f"{DP_OF_TICKET} AS dp_id", "cable_id": "coalesce(t.cable_id, s.drop_cable_id) AS cable_id",
           "cable_kind": "c.kind AS cable_kind", "year_laid": "c.year_laid", "cause": "t.cause",
           "severity": "t.severity", "vip": "t.vip", "reported_at": "t.reported_at",
           "first_contact_at": "t.first_contact_at", "cleared_at": "t.cleared_at", **{c: f"t.{c}" for c in CLOCKS}}


def lines(conn: Connection, city: str, columns=("id", "box_id", "dp_id", "connected_since")) -> gpd.GeoDataFrame:
    """Every subscriber line with its box, dp and the day it was connected (or only the
    `columns` asked: () for the points alone), for rate surfaces and KPI denominators (the
    lines of a month are those connected by its end). Ordered by id."""
    cols = [c for c in ("id", "box_id", "dp_id", "connected_since") if c in columns]
    # Rows of plain values through the driver, the point as two floats: 700,000 lines in about
    # a second (COPY hands them over one row per call: 7 s).
    sel = ", ".join([f"s.{c}" for c in cols] + ["ST_X(s.geometry) AS x", "ST_Y(s.geometry) AS y"])
    df = frame(conn, f"SELECT {sel} FROM subscribers s WHERE s.city_id = %(c)s ORDER BY s.id", {"c": city})
    geom = shapely.points(df.pop("x").to_numpy(float), df.pop("y").to_numpy(float)) if len(df) else []
    if "connected_since" in df.columns:
        df["connected_since"] = pd.to_datetime(df["connected_since"])
    return gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs=SRID), crs=SRID)


def _window(tz: str, start, end) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = local_start(start, tz, "the window's start") if start is not None else pd.Timestamp("1900-01-01", tz="UTC")
    end = local_start(end, tz, "the window's end") if end is not None else pd.Timestamp("2200-01-01", tz="UTC")
    if end <= start:
        raise InputError(f"the window is empty: the end {end.date()} is not after the start {start.date()}")
    return start, end


def tickets(conn: Connection, city: str, start: dt.date | str | None = None, end: dt.date | str | None = None,
            *, tz: str | None = None, columns=None, ctx: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Fault tickets reported in [start, end) with their location (the ticket's point), box, dp,
    cable kind and year, and the box context (office, community, district, manager). `start`
    and `end` are the city's local days (its `timezone`, or `tz`). `columns` (default: all of
    TICKET_COLUMNS) keeps only those, and joins only what they need: a heatmap's points need
    no cable or box; `ctx` is box_context() when the caller has it already."""
    tz = tz or city_timezone(conn, city)
    start, end = _window(tz, start, end)
    want = list(TICKET_COLUMNS) if columns is None else [c for c in TICKET_COLUMNS if c in set(columns) | {"id", "reported_at"}]
    context = [c for c in want if c in CONTEXT]
    need = [c for c in want if c not in CONTEXT] + [c for c in ("box_id", "dp_id") if context and c not in want]
    joins = ""
    if {"box_id", "dp_id", "cable_id", "cable_kind", "year_laid"} & set(need):
        joins += " LEFT JOIN subscribers s ON s.id = t.subscriber_id"
    if "box_id" in need:
        joins += " LEFT JOIN distribution_points d ON d.id = t.dp_id"
    if {"cable_kind", "year_laid"} & set(need):
        joins += " LEFT JOIN cables c ON c.id = coalesce(t.cable_id, s.drop_cable_id)"
    _no_jit(conn)
    found = geoframe(conn, f"""
        SELECT {", ".join(_SELECT[c] for c in need)}, ST_AsBinary(t.geometry) AS g
        FROM fault_tickets t{joins}
        WHERE t.city_id = %(c)s AND t.reported_at >= %(a)s AND t.reported_at < %(b)s AND t.kind = 'fault'
        ORDER BY t.reported_at, t.id""", {"c": city, "a": start, "b": end}, geometry="g")
    geom = found.geometry.to_numpy()
    df = pd.DataFrame(found.drop(columns="geometry"))
    for c in TIMES:
        if c in df.columns:
            df[c] = pd.to_datetime(df[c], utc=True)
    if context:
        df = with_context(df, box_context(conn, city) if ctx is None else ctx)
        df = df[[c for c in want if c in df.columns]]
    out = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries(geom, crs=SRID))
    out.attrs["timezone"] = tz
    return out


# ---- one month's KPIs of a plan's districts (GET /districts) ----------------------------------

def _district_of(box: str, dp: str) -> str:
    # A whole box's member row has no dp; a split box's rows name theirs (as with_context reads them).
    return (f"LEFT JOIN district_members m ON m.plan_id = %(p)s AND m.box_id = {box} "
            f"AND (m.dp_id IS NULL OR m.dp_id = {dp})")


_CLOCKS = ", ".join(f"t.{c}" for c in CLOCKS)


def month_kpi_inputs(conn: Connection, city: str, plan: str, month: pd.Period, tz: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What planning.kpi needs for `month`'s KPIs of each district (`district_id`) of `plan`,
    read with bound time ranges on (city_id, reported_at): the month's tickets, those of the 30
    days before it (a repeat looks back 30 days) and those of the month a year before (the
    year-on-year rate); and the lines per district, counted in the store by the connection
    month that matters (by the month a year before, by the month, later), not sent one by one."""
    m0, m1 = local_start(month.start_time, tz), local_start((month + 1).start_time, tz)
    y0, y1 = local_start((month - 12).start_time, tz), local_start((month - 11).start_time, tz)
    p = {"c": city, "p": plan, "look": m0 - pd.Timedelta(days=30), "m1": m1, "y0": y0, "y1": y1,
         "m0d": month.start_time.date(), "m1d": (month + 1).start_time.date(), "y1d": (month - 11).start_time.date()}
    _no_jit(conn)
    t = frame(conn, f"""
        WITH t AS (
            SELECT t.subscriber_id, t.vip, t.reported_at, t.first_contact_at, t.cleared_at, {_CLOCKS},
                   {BOX_OF_TICKET} AS box_id, {DP_OF_TICKET} AS dp_id
            FROM fault_tickets t
            LEFT JOIN subscribers s ON s.id = t.subscriber_id
            LEFT JOIN distribution_points d ON d.id = t.dp_id
            WHERE t.city_id = %(c)s AND t.kind = 'fault' AND ((t.reported_at >= %(look)s AND t.reported_at < %(m1)s)
                                         OR (t.reported_at >= %(y0)s AND t.reported_at < %(y1)s)))
        SELECT t.subscriber_id, t.vip, t.reported_at, t.first_contact_at, t.cleared_at, {_CLOCKS}, m.district_id
        FROM t {_district_of("t.box_id", "t.dp_id")}""", p)
    for c in TIMES:
        t[c] = pd.to_datetime(t[c], utc=True)
    # A line without a connection day, or connected by the month a year before, counts in both
    # months; one connected since, in the month only; one connected later, in neither.
    lines = frame(conn, f"""
        SELECT m.district_id,
               CASE WHEN s.connected_since IS NULL OR s.connected_since < %(y1d)s THEN NULL
                    WHEN s.connected_since < %(m1d)s THEN %(m0d)s ELSE %(m1d)s END AS connected_since,
               count(*) AS lines
        FROM subscribers s {_district_of("s.box_id", "s.dp_id")}
        WHERE s.city_id = %(c)s GROUP BY 1, 2""", p)
    lines["connected_since"] = pd.to_datetime(lines["connected_since"])
    return t, lines


def month_kpi_version(conn: Connection, city: str) -> tuple:
    """What a cached month of KPIs is checked against, in a millisecond (index look-ups and the
    server's change counters): the latest ticket, the open tickets, the last subscriber id, and
    the rows inserted, updated or deleted in the tables the KPIs read. The counters reach the
    server's statistics within seconds of a commit, not at once: a cache keyed by this also
    needs a short lifetime."""
    return tuple(conn.execute(text("""
        SELECT (SELECT max(reported_at) FROM fault_tickets WHERE city_id = :c),
               (SELECT max(id) FROM fault_tickets),
               (SELECT count(*) FROM fault_tickets WHERE city_id = :c AND cleared_at IS NULL),
               (SELECT max(id) FROM subscribers),
               (SELECT sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables
                 WHERE relname IN ('fault_tickets', 'subscribers', 'district_members'))"""), {"c": city}).one())
