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


TICKET_KINDS = ("fault", "complaint", "install", "move", "enquiry")
TICKET_STATUSES = ("new", "contacted", "on_site", "cleared", "verified", "reopened")
OPEN_TICKETS = "status IN ('new', 'contacted', 'on_site', 'reopened')"


class FaultTicket(Base):
    """A work order (工单): a fault (障碍单) on a subscriber's line or on a piece of equipment, a
    complaint, an install, a move or an enquiry. Its history is `ticket_events`; the columns from
    `status` on are that history replayed (planning.workorders), kept here so that queues sort
    and filter in SQL. `first_contact_at` and `cleared_at` are the contact and the clearing of its
    latest (re)opening: what the fault KPIs read."""
    __tablename__ = "fault_tickets"
    __table_args__ = (
        CheckConstraint(_in("cause", FAULT_CAUSES), name="cause"),
        CheckConstraint(_in("kind", TICKET_KINDS), name="kind"),
        CheckConstraint(_in("status", TICKET_STATUSES), name="status"),
        CheckConstraint("num_nonnulls(subscriber_id, box_id, dp_id, cable_id) >= 1", name="has_target"),
        CheckConstraint("first_contact_at IS NULL OR first_contact_at >= reported_at", name="contact_after_report"),
        CheckConstraint("cleared_at IS NULL OR cleared_at >= reported_at", name="cleared_after_report"),
        CheckConstraint("severity BETWEEN 1 AND 3", name="severity"),
        Index("ix_fault_tickets_city_reported", "city_id", "reported_at"),
        # The few tickets still open: what a district's "open faults" counts on every request.
        Index("ix_fault_tickets_open", "city_id", postgresql_where=text("cleared_at IS NULL")),
        # The queues: a manager's, a district's, a community department's open tickets by due time.
        Index("ix_fault_tickets_manager_open", "manager_id", "clear_due", postgresql_where=text(OPEN_TICKETS)),
        Index("ix_fault_tickets_district_open", "district_id", "clear_due", postgresql_where=text(OPEN_TICKETS)),
        Index("ix_fault_tickets_queue_open", "queue_id", "clear_due", postgresql_where=text(OPEN_TICKETS)),
        Index("ix_fault_tickets_community_open", "community_id", "clear_due", postgresql_where=text(OPEN_TICKETS)),
    )
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    city_id: Mapped[str] = _city()
    subscriber_id: Mapped[str | None] = mapped_column(ForeignKey("subscribers.id", ondelete="SET NULL"), index=True)
    box_id: Mapped[str | None] = mapped_column(ForeignKey("boxes.id", ondelete="SET NULL"), index=True)
    dp_id: Mapped[str | None] = mapped_column(ForeignKey("distribution_points.id", ondelete="SET NULL"), index=True)
    cable_id: Mapped[str | None] = mapped_column(ForeignKey("cables.id", ondelete="SET NULL"), index=True)
    cause: Mapped[str | None] = mapped_column(Text, comment="a fault's cause, once found (at the latest on clearing)")
    severity: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    vip: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    reported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    first_contact_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(Text, server_default="fault")
    category: Mapped[str | None] = mapped_column(Text, comment="a complaint's category (complaint_categories)")
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="new")
    paused: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    district_id: Mapped[str | None] = mapped_column(ForeignKey("districts.id", ondelete="SET NULL"))
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("managers.id", ondelete="SET NULL"),
                                                  comment="who holds it now; NULL while in a queue")
    queue_id: Mapped[str | None] = mapped_column(ForeignKey("admin_areas.id", ondelete="SET NULL"),
                                                comment="the community department whose queue holds it")
    community_id: Mapped[str | None] = mapped_column(Text, comment="the community department its box stands in")
    first_responsible: Mapped[str | None] = mapped_column(Text, comment="the first manager it was his (首问负责)")
    routing_reason: Mapped[str | None] = mapped_column(Text)
    policy: Mapped[dict | None] = mapped_column(JSONB, comment="the clocks' targets and calendar it was made with")
    contact_due: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    clear_due: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    contact_breached_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    clear_breached_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    escalation: Mapped[str | None] = mapped_column(Text, comment="the highest level it has reached")
    steps: Mapped[int] = mapped_column(Integer, server_default="0", comment="events in its history")
    geometry = _geom("POINT")
    geometry_3857 = _mercator("POINT")


class TicketEvent(Base):
    """One step of a ticket's history: who, when, what, the step's own fields. (ticket, seq) is
    the key, so two clients racing on one ticket cannot both write its next step."""
    __tablename__ = "ticket_events"
    ticket_id: Mapped[str] = mapped_column(ForeignKey("fault_tickets.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, comment="the ticket's status after the step")
    manager_id: Mapped[str | None] = mapped_column(Text, comment="who holds it after the step")
    details: Mapped[dict | None] = mapped_column(JSONB)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TicketPolicy(Base):
    """The clocks of a kind and priority of ticket: minutes to contact and to clear, and the
    working calendar they count in (NULL: around the clock)."""
    __tablename__ = "ticket_policies"
    __table_args__ = (CheckConstraint(_in("kind", TICKET_KINDS), name="kind"),
                      CheckConstraint("priority IN ('normal', 'vip')", name="priority"),
                      CheckConstraint("contact_minutes > 0 AND clear_minutes > 0", name="positive"))
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    priority: Mapped[str] = mapped_column(Text, primary_key=True)
    contact_minutes: Mapped[float] = mapped_column(Float)
    clear_minutes: Mapped[float] = mapped_column(Float)
    calendar: Mapped[dict | None] = mapped_column(JSONB)
    updated_by: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ComplaintCategory(Base):
    """A class of complaint with the operator's standard answer (Hunan Mobile's compendium):
    its usual causes, the handling steps, the reply points, and the mistakes that escalate it."""
    __tablename__ = "complaint_categories"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    causes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    steps: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    reply_points: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    pitfalls: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    updated_by: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Inspection(Base):
    """A manager's inspection of a box (or of one of its distribution boxes): ok, or a hazard with
    a note and a photo reference, which becomes a ticket (`ticket_id`)."""
    __tablename__ = "inspections"
    __table_args__ = (CheckConstraint("result IN ('ok', 'hazard')", name="result"),
                      CheckConstraint("result <> 'hazard' OR note IS NOT NULL", name="hazard_has_note"),
                      Index("ix_inspections_box_dp_at", "box_id", "dp_id", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    city_id: Mapped[str] = _city()
    box_id: Mapped[str] = mapped_column(ForeignKey("boxes.id", ondelete="CASCADE"))
    dp_id: Mapped[str | None] = mapped_column(ForeignKey("distribution_points.id", ondelete="CASCADE"), index=True,
                                              comment="a distribution box of the box; NULL: the box itself")
    manager_id: Mapped[str | None] = mapped_column(ForeignKey("managers.id", ondelete="SET NULL"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    result: Mapped[str] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(Text, comment="a reference to the photo (its file name or URL)")
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("fault_tickets.id", ondelete="SET NULL"), index=True,
                                                  comment="the ticket a hazard became")
    recorded_by: Mapped[str] = mapped_column(Text)


class PieceRate(Base):
    """The points a manager earns per piece of work: a ticket of a kind cleared, an inspection,
    and a bonus for a VIP's ticket (the operators paid by piece; planning.scorecard adds them up)."""
    __tablename__ = "piece_rates"
    __table_args__ = (CheckConstraint("points >= 0", name="points"),)
    work: Mapped[str] = mapped_column(Text, primary_key=True,
                                      comment="a ticket kind cleared, 'inspection', or 'vip' (a bonus)")
    points: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


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
