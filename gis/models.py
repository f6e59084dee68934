"""The outside-plant network's spatial model (SQLAlchemy 2 + GeoAlchemy2).

Conventions, the same on every table:
- `id` is the stable external id (text) that imports upsert on; it is the primary key, so a
  foreign key is the external id of the row it points at and files can reference rows directly.
- `city_id` scopes a row to one city; a province is several cities in one store.
- Geometries are EPSG:4326 with a GiST index; metric work uses the city's `metric_crs`.
- Vocabularies are text with CHECK constraints, not PostgreSQL enums, so a migration can widen
  them without rewriting a type.
"""
from __future__ import annotations

import datetime as dt

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean, CheckConstraint, Computed, Date, DateTime, Float, ForeignKey, ForeignKeyConstraint,
    Index, Integer, MetaData, SmallInteger, Text, UniqueConstraint, func, text,
)
from sqlalchemy.dialects.postgresql import ARRAY, ExcludeConstraint, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SRID = 4326

CABLE_KINDS = ("trunk", "distribution", "drop")
CABLE_MEDIA = ("fibre", "copper")
PLACEMENTS = ("aerial", "underground")
FAULT_CAUSES = ("cable", "drop", "box", "distribution_point", "customer_equipment", "weather",
                "third_party", "other")
REPORT_KINDS = ("residential", "commercial", "mixed")
REPORT_STAGES = ("planned", "permitted", "under_construction", "completed")
AREA_LEVELS = ("office_region", "community")
BARRIER_KINDS = ("river", "rail", "motorway")
CROSSING_KINDS = ("bridge", "tunnel", "level_crossing", "underpass")
STREET_KINDS = ("primary", "secondary", "residential")
PLAN_STATUSES = ("draft", "active", "archived")

naming = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=naming)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _geom(kind: str, nullable: bool = False):
    return mapped_column(Geometry(kind, srid=SRID, spatial_index=True), nullable=nullable)


MERCATOR = 3857


def _mercator(kind: str):
    """The geometry in Web Mercator, kept by PostgreSQL on every write (a stored generated
    column) on the tables with the most rows: vector tiles are cut in EPSG:3857, and transforming
    every row of a tile at render time was about 40 % of the render (up to 400,000 subscribers
    in a zoom-12 tile). Not a property: no import, export or API answer shows it (gis.layers
    leaves computed columns out)."""
    return mapped_column("geometry_3857", Geometry(kind, srid=MERCATOR, spatial_index=True),
                         Computed("ST_Transform(geometry, 3857)", persisted=True))


def _city():
    return mapped_column(ForeignKey("cities.id", ondelete="CASCADE"), index=True)


class City(Base):
    __tablename__ = "cities"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    metric_crs: Mapped[int] = mapped_column(Integer, comment="EPSG code of the projected CRS for metric work")
    timezone: Mapped[str] = mapped_column(Text, server_default="UTC",
                                          comment="IANA time zone: the city's days, months and clocks")
    geometry = _geom("MULTIPOLYGON", nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Office(Base):
    """Central office (局站): the root of trunk cables."""
    __tablename__ = "offices"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    name: Mapped[str] = mapped_column(Text)
    geometry = _geom("POINT")


class Street(Base):
    __tablename__ = "streets"
    __table_args__ = (CheckConstraint(_in("kind", STREET_KINDS), name="kind"),)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    geometry = _geom("LINESTRING")


class Barrier(Base):
    """River, railway or motorway: a district should not straddle one without a crossing."""
    __tablename__ = "barriers"
    __table_args__ = (
        CheckConstraint(_in("kind", BARRIER_KINDS), name="kind"),
        CheckConstraint("GeometryType(geometry) IN ('LINESTRING','MULTILINESTRING','POLYGON','MULTIPOLYGON')",
                        name="geometry_type"),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    geometry = _geom("GEOMETRY")


class Crossing(Base):
    """A bridge, tunnel or level crossing that joins the two sides of a barrier."""
    __tablename__ = "crossings"
    __table_args__ = (CheckConstraint(_in("kind", CROSSING_KINDS), name="kind"),)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    barrier_id: Mapped[str] = mapped_column(ForeignKey("barriers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    geometry = _geom("POINT")


class AdminArea(Base):
    """Office region (营维处) or community (社区服务部); communities nest in regions."""
    __tablename__ = "admin_areas"
    __table_args__ = (CheckConstraint(_in("level", AREA_LEVELS), name="level"),)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    level: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("admin_areas.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    geometry = _geom("MULTIPOLYGON")


class Cable(Base):
    __tablename__ = "cables"
    __table_args__ = (
        CheckConstraint(_in("kind", CABLE_KINDS), name="kind"),
        CheckConstraint(_in("medium", CABLE_MEDIA), name="medium"),
        CheckConstraint(_in("placement", PLACEMENTS), name="placement"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("used >= 0 AND used <= capacity", name="used_within_capacity"),
        CheckConstraint("year_laid BETWEEN 1950 AND 2100", name="year_laid"),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    kind: Mapped[str] = mapped_column(Text)
    medium: Mapped[str] = mapped_column(Text)
    capacity: Mapped[int] = mapped_column(Integer, comment="fibres or pairs")
    used: Mapped[int] = mapped_column(Integer, server_default="0")
    placement: Mapped[str] = mapped_column(Text)
    year_laid: Mapped[int] = mapped_column(SmallInteger)
    office_id: Mapped[str | None] = mapped_column(ForeignKey("offices.id"), index=True)
    geometry = _geom("LINESTRING")
    geometry_3857 = _mercator("LINESTRING")


class Box(Base):
    """Cross-connect box (交接箱): the unit a district is made of."""
    __tablename__ = "boxes"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("used >= 0 AND used <= capacity", name="used_within_capacity"),
        CheckConstraint("year_installed BETWEEN 1950 AND 2100", name="year_installed"),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    office_id: Mapped[str] = mapped_column(ForeignKey("offices.id"), index=True)
    feeder_cable_id: Mapped[str | None] = mapped_column(ForeignKey("cables.id", ondelete="SET NULL"), index=True)
    capacity: Mapped[int] = mapped_column(Integer, comment="ports or pairs")
    used: Mapped[int] = mapped_column(Integer, server_default="0")
    year_installed: Mapped[int] = mapped_column(SmallInteger)
    geometry = _geom("POINT")


class DistributionPoint(Base):
    """Distribution box (分线盒), hanging off one cross-connect box."""
    __tablename__ = "distribution_points"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("used >= 0 AND used <= capacity", name="used_within_capacity"),
        # Target of subscribers' composite key, which pins a subscriber's box to its dp's box.
        UniqueConstraint("id", "box_id", name="uq_distribution_points_id_box"),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    box_id: Mapped[str] = mapped_column(ForeignKey("boxes.id"), index=True)
    cable_id: Mapped[str | None] = mapped_column(ForeignKey("cables.id", ondelete="SET NULL"), index=True)
    capacity: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer, server_default="0")
    geometry = _geom("POINT")
    geometry_3857 = _mercator("POINT")


class Subscriber(Base):
    __tablename__ = "subscribers"
    __table_args__ = (
        ForeignKeyConstraint(["dp_id", "box_id"], ["distribution_points.id", "distribution_points.box_id"],
                             name="fk_subscribers_dp_box", onupdate="CASCADE"),
        CheckConstraint("monthly_revenue >= 0", name="revenue_nonnegative"),
        # Address search (GET /lookup?address=): migration 0005 defines the function.
        Index("ix_subscribers_address_tokens", text("pianqu_address_tokens(address)"), postgresql_using="gin"),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    dp_id: Mapped[str] = mapped_column(Text, index=True)
    box_id: Mapped[str] = mapped_column(ForeignKey("boxes.id"), index=True)
    drop_cable_id: Mapped[str | None] = mapped_column(ForeignKey("cables.id", ondelete="SET NULL"), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    voice: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    broadband: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    iptv: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    monthly_revenue: Mapped[float] = mapped_column(Float, server_default="0")
    connected_since: Mapped[dt.date | None] = mapped_column(Date)
    contract_ends: Mapped[dt.date | None] = mapped_column(Date, comment="when the broadband contract ends")
    geometry = _geom("POINT")
    geometry_3857 = _mercator("POINT")


class Manager(Base):
    """District account manager (片区客户经理)."""
    __tablename__ = "managers"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    community_id: Mapped[str | None] = mapped_column(ForeignKey("admin_areas.id", ondelete="SET NULL"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    geometry = _geom("POINT", nullable=True)  # the manager's base, usable as a partition seed


class ConstructionReport(Base):
    """商机: a new building or commercial area, a point or an outline."""
    __tablename__ = "construction_reports"
    __table_args__ = (
        CheckConstraint(_in("kind", REPORT_KINDS), name="kind"),
        CheckConstraint(_in("stage", REPORT_STAGES), name="stage"),
        CheckConstraint("households IS NULL OR households >= 0", name="households_nonnegative"),
        CheckConstraint("floor_area_m2 IS NULL OR floor_area_m2 >= 0", name="floor_area_nonnegative"),
        CheckConstraint("households IS NOT NULL OR floor_area_m2 IS NOT NULL", name="has_demand"),
        CheckConstraint("GeometryType(geometry) IN ('POINT','POLYGON','MULTIPOLYGON')", name="geometry_type"),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    name: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(Text)
    households: Mapped[int | None] = mapped_column(Integer)
    floor_area_m2: Mapped[float | None] = mapped_column(Float)
    reporter_id: Mapped[str | None] = mapped_column(ForeignKey("managers.id", ondelete="SET NULL"), index=True)
    reporter_name: Mapped[str | None] = mapped_column(Text)
    reported_on: Mapped[dt.date] = mapped_column(Date)
    geometry = _geom("GEOMETRY")


class DistrictPlan(Base):
    __tablename__ = "district_plans"
    __table_args__ = (
        CheckConstraint(_in("status", PLAN_STATUSES), name="status"),
        # At most one active plan per city, enforced by the database.
        Index("uq_district_plans_active", "city_id", unique=True, postgresql_where=text("status = 'active'")),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    name: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="draft")
    parent_level: Mapped[str | None] = mapped_column(Text)
    previous_plan_id: Mapped[str | None] = mapped_column(ForeignKey("district_plans.id", ondelete="SET NULL"),
                                                         index=True)
    parameters: Mapped[dict | None] = mapped_column(JSONB)
    report: Mapped[dict | None] = mapped_column(JSONB)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class District(Base):
    __tablename__ = "districts"
    __table_args__ = (UniqueConstraint("plan_id", "code", name="uq_districts_plan_code"),)
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("district_plans.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    parent_area_id: Mapped[str | None] = mapped_column(ForeignKey("admin_areas.id", ondelete="SET NULL"), index=True)
    locked: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    subscribers: Mapped[int] = mapped_column(Integer, server_default="0")
    workload: Mapped[float] = mapped_column(Float, server_default="0")
    totals: Mapped[dict | None] = mapped_column(JSONB)
    geometry = _geom("MULTIPOLYGON", nullable=True)


class DistrictMember(Base):
    """A whole box in a district, or (for a box too large for one district) one of its dps."""
    __tablename__ = "district_members"
    __table_args__ = (
        # NULLS NOT DISTINCT: a whole box appears once per plan, and a split box's dp once too.
        UniqueConstraint("plan_id", "box_id", "dp_id", name="uq_district_members_unit",
                         postgresql_nulls_not_distinct=True),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)  # "<plan>/<box>" or "<plan>/<box>/<dp>"
    plan_id: Mapped[str] = mapped_column(ForeignKey("district_plans.id", ondelete="CASCADE"))
    district_id: Mapped[str] = mapped_column(ForeignKey("districts.id", ondelete="CASCADE"), index=True)
    box_id: Mapped[str] = mapped_column(ForeignKey("boxes.id", ondelete="CASCADE"), index=True)
    dp_id: Mapped[str | None] = mapped_column(ForeignKey("distribution_points.id", ondelete="CASCADE"), index=True)


class DistrictAssignment(Base):
    """Which manager owns which district, when: a history, never overwritten."""
    __tablename__ = "district_assignments"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period"),
        # One manager at a time per district; btree_gist supplies the text equality in GiST.
        ExcludeConstraint(("district_id", "="),
                          (text("tstzrange(valid_from, valid_to)"), "&&"),
                          name="ex_district_assignments_one_owner", using="gist"),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    district_id: Mapped[str] = mapped_column(ForeignKey("districts.id", ondelete="CASCADE"), index=True)
    manager_id: Mapped[str] = mapped_column(ForeignKey("managers.id"), index=True)
    valid_from: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    assigned_by: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


ALERT_KINDS = ("extend_network", "expand_box", "outside_coverage", "rebuild")
ALERT_STATUSES = ("new", "acknowledged", "planned", "done", "dismissed", "closed")


class Alert(Base):
    """An opportunity alert for planners. (city, kind, alert_key) is the site it is about, so a
    re-evaluation updates the alert instead of raising a second one."""
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint(_in("kind", ALERT_KINDS), name="kind"),
        CheckConstraint(_in("status", ALERT_STATUSES), name="status"),
        CheckConstraint("status <> 'dismissed' OR status_note IS NOT NULL", name="dismissed_has_reason"),
        UniqueConstraint("city_id", "kind", "alert_key", name="uq_alerts_site"),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    kind: Mapped[str] = mapped_column(Text)
    alert_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="new", index=True)
    report_id: Mapped[str | None] = mapped_column(Text)
    box_id: Mapped[str | None] = mapped_column(Text)
    cable_id: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    expected_lines: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict | None] = mapped_column(JSONB)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    status_by: Mapped[str | None] = mapped_column(Text)
    status_note: Mapped[str | None] = mapped_column(Text)
    geometry = _geom("GEOMETRY")


class AlertEvent(Base):
    """The audit trail: every change of an alert's status, who made it and when."""
    __tablename__ = "alert_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


ROLES = ("planner", "manager", "analyst", "callcentre")


class ApiUser(Base):
    """Who may use the API: a name, a role and, for a manager, the manager he is. The key itself
    is never stored: only its public prefix (to find the row) and its SHA-256 (a random 256-bit
    key needs no slow hash). `manager_id` is checked when the user is made and on every request,
    not by a foreign key, so a demo city replaced under the same ids keeps its users' keys."""
    __tablename__ = "api_users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role_known"),
                      CheckConstraint("role <> 'manager' OR manager_id IS NOT NULL", name="manager_named"))
    id: Mapped[str] = mapped_column(Text, primary_key=True)   # the name
    role: Mapped[str] = mapped_column(Text)
    manager_id: Mapped[str | None] = mapped_column(Text)
    key_prefix: Mapped[str] = mapped_column(Text, unique=True)
    key_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PlanUnit(Base):
    """A plan's planning unit as the partitioner saw it: its service area, its workload and its
    neighbours on the unit graph (barriers respected, islands joined), so that editing the plan
    by hand checks contiguity on the very graph the plan was made on."""
    __tablename__ = "plan_units"
    plan_id: Mapped[str] = mapped_column(ForeignKey("district_plans.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    box_id: Mapped[str] = mapped_column(Text)
    dp_id: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str] = mapped_column(Text, comment="the district's code in the plan")
    workload: Mapped[float] = mapped_column(Float)
    subscribers: Mapped[int] = mapped_column(Integer)
    neighbours: Mapped[list[str]] = mapped_column(ARRAY(Text))
    absorbed: Mapped[str | None] = mapped_column(Text, comment="units in the same building that go where it goes")
    geometry = _geom("MULTIPOLYGON")


class ApiSession(Base):
    """A browser's session (gis.sessions): the SHA-256 of its cookie's token, never the token.
    It lives while its user's key does: `key_prefix` is the key it was opened with, so rotating
    or revoking that key ends it."""
    __tablename__ = "api_sessions"
    token_hash: Mapped[str] = mapped_column(Text, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("api_users.id", ondelete="CASCADE"), index=True)
    key_prefix: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


from sqlalchemy import LargeBinary  # noqa: E402  (kept with the one model that uses it)


class TileCache(Base):
    """Rendered vector tiles (gis.tiles), shared by every server worker. UNLOGGED: a cache needs
    no WAL (a crash empties it, which is correct), yet its writes and deletes stay transactional,
    so an edit and the deletion of the tiles it touches commit together. `envelope` is the tile's
    envelope in EPSG:4326, the very box the tile was filtered with, so `envelope && geometry`
    finds exactly the tiles an edited geometry was (or now is) drawn in."""
    __tablename__ = "tile_cache"
    __table_args__ = {"prefixes": ["UNLOGGED"]}
    layer: Mapped[str] = mapped_column(Text, primary_key=True)
    plan: Mapped[str] = mapped_column(Text, primary_key=True, comment="districts: the plan id(s); '' otherwise")
    z: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    x: Mapped[int] = mapped_column(Integer, primary_key=True)
    y: Mapped[int] = mapped_column(Integer, primary_key=True)
    tile: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), comment="districts: when a manager assignment in the tile starts or ends")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    envelope = mapped_column(Geometry("POLYGON", srid=SRID, spatial_index=True), nullable=False)


# The work orders' tables (gis/workorder_models.py), registered on the same metadata.
from .workorder_models import (  # noqa: E402,F401
    OPEN_TICKETS, TICKET_KINDS, TICKET_STATUSES, ComplaintCategory, FaultTicket, Inspection, PieceRate, TicketEvent,
    TicketPolicy,
)
