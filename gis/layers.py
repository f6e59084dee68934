"""What each importable layer is: its table, columns, geometry types, vocabularies and parents.

Derived from the SQLAlchemy models so the schema is stated once; the only hand-kept part is
the short names a planner types (`pianqu import faults ...`) and the vocabularies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, SmallInteger, BigInteger, Table

from . import models as m
from .errors import InputError

# Short name a user types -> table name. Table names are accepted too.
ALIASES = {
    "cities": "cities",
    "offices": "offices",
    "streets": "streets",
    "barriers": "barriers",
    "crossings": "crossings",
    "areas": "admin_areas",
    "cables": "cables",
    "boxes": "boxes",
    "dps": "distribution_points",
    "subscribers": "subscribers",
    "managers": "managers",
    "construction": "construction_reports",
    "faults": "fault_tickets",
}

VOCABULARIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("cables", "kind"): m.CABLE_KINDS,
    ("cables", "medium"): m.CABLE_MEDIA,
    ("cables", "placement"): m.PLACEMENTS,
    ("fault_tickets", "cause"): m.FAULT_CAUSES,
    ("fault_tickets", "kind"): m.TICKET_KINDS,
    ("construction_reports", "kind"): m.REPORT_KINDS,
    ("construction_reports", "stage"): m.REPORT_STAGES,
    ("admin_areas", "level"): m.AREA_LEVELS,
    ("barriers", "kind"): m.BARRIER_KINDS,
    ("crossings", "kind"): m.CROSSING_KINDS,
    ("streets", "kind"): m.STREET_KINDS,
}

# Rules a row must satisfy, checked before the database sees it so the message can name the row.
# (columns involved, test on the frame, message); rows with a null in those columns are skipped.
_CAPACITY = [(("capacity",), lambda d: d.capacity > 0, "capacity must be positive"),
             (("used",), lambda d: d.used >= 0, "used must not be negative"),
             (("used", "capacity"), lambda d: d.used <= d.capacity, "used exceeds capacity")]
ROW_RULES: dict[str, list] = {
    "cables": _CAPACITY + [(("year_laid",), lambda d: d.year_laid.between(1950, 2100),
                            "year_laid must be between 1950 and 2100")],
    "boxes": _CAPACITY + [(("year_installed",), lambda d: d.year_installed.between(1950, 2100),
                           "year_installed must be between 1950 and 2100")],
    "distribution_points": _CAPACITY,
    "subscribers": [(("monthly_revenue",), lambda d: d.monthly_revenue >= 0,
                     "monthly_revenue must not be negative")],
    "fault_tickets": [(("severity",), lambda d: d.severity.between(1, 3), "severity must be 1, 2 or 3"),
                      (("first_contact_at", "reported_at"), lambda d: d.first_contact_at >= d.reported_at,
                       "first_contact_at is before reported_at"),
                      (("cleared_at", "reported_at"), lambda d: d.cleared_at >= d.reported_at,
                       "cleared_at is before reported_at")],
    "construction_reports": [(("households",), lambda d: d.households >= 0, "households must not be negative"),
                             (("floor_area_m2",), lambda d: d.floor_area_m2 >= 0,
                              "floor_area_m2 must not be negative")],
}

# Geometry type accepted per declared type; single parts are promoted to multi where declared.
_GEOM_OK = {
    "POINT": {"Point"},
    "LINESTRING": {"LineString"},
    "MULTIPOLYGON": {"Polygon", "MultiPolygon"},
}
_GEOM_OK_GENERIC = {
    "barriers": {"LineString", "MultiLineString", "Polygon", "MultiPolygon"},
    "construction_reports": {"Point", "Polygon", "MultiPolygon"},
}


@dataclass(frozen=True)
class Layer:
    name: str
    table: Table
    kinds: dict[str, str]                 # column -> int | float | bool | date | timestamp | text
    required: tuple[str, ...]             # NOT NULL with no default (geometry included)
    parents: dict[str, str]               # column -> parent table (single-column foreign keys)
    geometry_types: frozenset[str]
    geometry_nullable: bool
    promote_to_multi: bool
    vocabularies: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.table.columns if c.name in self.kinds or c.name == "geometry"]


def _kind(col) -> str:
    t = col.type
    if isinstance(t, (Integer, SmallInteger, BigInteger)):
        return "int"
    if isinstance(t, Float):
        return "float"
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, DateTime):
        return "timestamp"
    if isinstance(t, Date):
        return "date"
    return "text"


# A ticket's work-order columns are its history replayed (planning.workorders): a file brings
# the report and its times, and the store derives the rest (gis.workorders.adopt).
DERIVED = {"fault_tickets": {"status", "paused", "district_id", "manager_id", "queue_id", "community_id", "first_responsible",
                             "routing_reason", "policy", "contact_due", "clear_due", "contact_breached_at",
                             "clear_breached_at", "escalation", "steps"}}


def _build(table_name: str) -> Layer:
    table = m.Base.metadata.tables[table_name]
    kinds, required, parents = {}, [], {}
    geom = table.columns["geometry"]
    for col in table.columns:
        if col.name == "geometry":
            continue
        if col.name == "created_at" or col.computed is not None:   # kept by the store (geometry_3857)
            continue
        if col.name in DERIVED.get(table_name, ()):
            continue
        kinds[col.name] = _kind(col)
        if not col.nullable and col.server_default is None:
            required.append(col.name)
    for fk in table.foreign_key_constraints:
        if fk.column_keys[0] in DERIVED.get(table_name, ()):
            continue
        if len(fk.columns) == 1:  # composite keys (a subscriber's dp and box) are checked apart
            parents[fk.column_keys[0]] = fk.referred_table.name
    if not geom.nullable:
        required.append("geometry")
    gtype = geom.type.geometry_type if isinstance(geom.type, Geometry) else "GEOMETRY"
    ok = _GEOM_OK_GENERIC.get(table_name) or _GEOM_OK[gtype]
    vocab = {c: v for (t, c), v in VOCABULARIES.items() if t == table_name}
    return Layer(table_name, table, kinds, tuple(required), parents, frozenset(ok), geom.nullable,
                 gtype == "MULTIPOLYGON", vocab)


LAYERS: dict[str, Layer] = {t: _build(t) for t in dict.fromkeys(ALIASES.values())}

# Parents before children: the order a multi-layer load writes in.
LOAD_ORDER = ["cities", "offices", "streets", "barriers", "crossings", "admin_areas", "cables", "boxes",
              "distribution_points", "subscribers", "managers", "construction_reports", "fault_tickets"]


def layer(name: str) -> Layer:
    table = ALIASES.get(name, name)
    if table not in LAYERS:
        known = ", ".join(sorted(ALIASES))
        raise InputError(f"unknown layer {name!r}; known layers: {known}")
    return LAYERS[table]
