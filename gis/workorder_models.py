"""The work orders' tables: every ticket (工单) with its event log, the clocks of each kind, the
complaint categories, the inspections and the piece rates. Part of gis.models (which imports
them, so `Base.metadata` holds every table); apart only so each module stays readable."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, SmallInteger, Text, func, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from .models import FAULT_CAUSES, Base, _city, _geom, _in, _mercator

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
