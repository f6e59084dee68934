"""work orders: every ticket's kind, status, holder and clocks, its event log, the clocks' policies,
complaint categories with their standard answers, the call-centre role, contract end dates

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

OPEN = "status IN ('new', 'contacted', 'on_site', 'reopened')"
KINDS = "('fault', 'complaint', 'install', 'move', 'enquiry')"
TZ = sa.DateTime(timezone=True)

# The operator's standard answers, as a start: planners edit them (PUT /complaint-categories/{id}).
CATEGORIES = [
    ("network", "网络 network", ["fault on the line or in the box", "area outage", "slow broadband at peak hours"],
     ["check open faults and outages on the subscriber's box", "test the line remotely",
      "book a visit within the clear clock"],
     ["apologise and give the visit time", "name the manager who will come"],
     ["promising a time the manager has not confirmed"]),
    ("billing", "计费 billing", ["charge not understood", "package changed without consent", "payment not posted"],
     ["read the bill with the subscriber", "check the package history", "refer a refund to billing"],
     ["explain each charge", "say when the correction appears"], ["arguing about the bill"]),
    ("service_quality", "服务质量 service quality", ["late or missed visit", "staff attitude", "no call-back"],
     ["apologise", "hand to the community department head", "call back within the day"],
     ["apologise", "say who follows it up"], ["defending the staff member before hearing the subscriber"]),
    ("installation", "装机 installation", ["install not done on time", "no ports free at the box", "move delayed"],
     ["check the box's free ports", "book the install with the manager", "raise a capacity alert if full"],
     ["give the install date", "say why it waited"], ["promising a date without a free port"]),
    ("other", "其他 other", [], ["record the request", "hand to the district's manager"], ["say who will call back"], []),
]


def upgrade() -> None:
    t = 'fault_tickets'
    op.alter_column(t, 'cause', existing_type=sa.Text(), nullable=True,
                    comment="a fault's cause, once found (at the latest on clearing)")
    op.add_column(t, sa.Column('kind', sa.Text(), server_default='fault', nullable=False))
    op.add_column(t, sa.Column('category', sa.Text(), nullable=True, comment="a complaint's category (complaint_categories)"))
    op.add_column(t, sa.Column('note', sa.Text(), nullable=True))
    op.add_column(t, sa.Column('status', sa.Text(), server_default='new', nullable=False))
    op.add_column(t, sa.Column('paused', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column(t, sa.Column('district_id', sa.Text(), nullable=True))
    op.add_column(t, sa.Column('manager_id', sa.Text(), nullable=True, comment='who holds it now; NULL while in a queue'))
    op.add_column(t, sa.Column('queue_id', sa.Text(), nullable=True, comment='the community department whose queue holds it'))
    op.add_column(t, sa.Column('community_id', sa.Text(), nullable=True, comment='the community department its box stands in'))
    op.add_column(t, sa.Column('first_responsible', sa.Text(), nullable=True, comment='the first manager it was his (首问负责)'))
    op.add_column(t, sa.Column('routing_reason', sa.Text(), nullable=True))
    op.add_column(t, sa.Column('policy', postgresql.JSONB(astext_type=sa.Text()), nullable=True,
                               comment="the clocks' targets and calendar it was made with"))
    for c in ('contact_due', 'clear_due', 'contact_breached_at', 'clear_breached_at'):
        op.add_column(t, sa.Column(c, TZ, nullable=True))
    op.add_column(t, sa.Column('escalation', sa.Text(), nullable=True, comment='the highest level it has reached'))
    op.add_column(t, sa.Column('steps', sa.Integer(), server_default='0', nullable=False, comment='events in its history'))
    op.create_check_constraint(op.f('ck_fault_tickets_kind'), t, f"kind IN {KINDS}")
    op.create_check_constraint(op.f('ck_fault_tickets_status'), t, "status IN ('new', 'contacted', 'on_site', 'cleared', 'verified', 'reopened')")
    op.create_foreign_key('fk_fault_tickets_district_id_districts', t, 'districts', ['district_id'], ['id'], ondelete='SET NULL')
    op.create_foreign_key('fk_fault_tickets_manager_id_managers', t, 'managers', ['manager_id'], ['id'], ondelete='SET NULL')
    op.create_foreign_key('fk_fault_tickets_queue_id_admin_areas', t, 'admin_areas', ['queue_id'], ['id'], ondelete='SET NULL')
    for name, col in (('manager', 'manager_id'), ('district', 'district_id'), ('queue', 'queue_id'),
                      ('community', 'community_id')):
        op.create_index(f'ix_fault_tickets_{name}_open', t, [col, 'clear_due'], postgresql_where=sa.text(OPEN))

    op.create_table(
        'ticket_events',
        sa.Column('ticket_id', sa.Text(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.Column('at', TZ, nullable=False),
        sa.Column('action', sa.Text(), nullable=False),
        sa.Column('actor', sa.Text(), nullable=False),
        sa.Column('status', sa.Text(), nullable=False, comment="the ticket's status after the step"),
        sa.Column('manager_id', sa.Text(), nullable=True, comment='who holds it after the step'),
        sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column('recorded_at', TZ, server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['ticket_id'], ['fault_tickets.id'], ondelete='CASCADE', name=op.f('fk_ticket_events_ticket_id_fault_tickets')),
        sa.PrimaryKeyConstraint('ticket_id', 'seq', name=op.f('pk_ticket_events')),
    )
    op.create_table(
        'ticket_policies',
        sa.Column('kind', sa.Text(), nullable=False),
        sa.Column('priority', sa.Text(), nullable=False),
        sa.Column('contact_minutes', sa.Float(), nullable=False),
        sa.Column('clear_minutes', sa.Float(), nullable=False),
        sa.Column('calendar', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column('updated_by', sa.Text(), nullable=True),
        sa.Column('updated_at', TZ, server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name=op.f('ck_ticket_policies_kind')),
        sa.CheckConstraint("priority IN ('normal', 'vip')", name=op.f('ck_ticket_policies_priority')),
        sa.CheckConstraint('contact_minutes > 0 AND clear_minutes > 0', name=op.f('ck_ticket_policies_positive')),
        sa.PrimaryKeyConstraint('kind', 'priority', name=op.f('pk_ticket_policies')),
    )
    # The operators' promise: contact within 20 minutes, clear within 24 hours, a VIP's within 3.
    op.execute("INSERT INTO ticket_policies (kind, priority, contact_minutes, clear_minutes, updated_by) "
               f"SELECT k, p, 20, CASE p WHEN 'vip' THEN 180 ELSE 1440 END, 'migration 0012' "
               f"FROM unnest(ARRAY{list(eval(KINDS))}) k, unnest(ARRAY['normal', 'vip']) p")
    op.create_table(
        'complaint_categories',
        sa.Column('id', sa.Text(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        *[sa.Column(c, postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False)
          for c in ('causes', 'steps', 'reply_points', 'pitfalls')],
        sa.Column('updated_by', sa.Text(), nullable=True),
        sa.Column('updated_at', TZ, server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_categories')),
    )
    cats = sa.table('complaint_categories', sa.column('id'), sa.column('name'), sa.column('causes'),
                    sa.column('steps'), sa.column('reply_points'), sa.column('pitfalls'), sa.column('updated_by'))
    op.bulk_insert(cats, [dict(id=i, name=n, causes=c, steps=s, reply_points=r, pitfalls=p, updated_by='migration 0012')
                          for i, n, c, s, r, p in CATEGORIES])
    op.execute("CREATE SEQUENCE ticket_number")
    op.drop_constraint('ck_api_users_role_known', 'api_users')
    op.create_check_constraint(op.f('ck_api_users_role_known'), 'api_users', "role IN ('planner', 'manager', 'analyst', 'callcentre')")
    op.add_column('subscribers', sa.Column('contract_ends', sa.Date(), nullable=True, comment='when the broadband contract ends'))


def downgrade() -> None:
    op.drop_column('subscribers', 'contract_ends')
    op.execute("DELETE FROM api_users WHERE role = 'callcentre'")
    op.drop_constraint('ck_api_users_role_known', 'api_users')
    op.create_check_constraint(op.f('ck_api_users_role_known'), 'api_users', "role IN ('planner', 'manager', 'analyst')")
    op.execute("DROP SEQUENCE ticket_number")
    op.drop_table('complaint_categories')
    op.drop_table('ticket_policies')
    op.drop_table('ticket_events')
    t = 'fault_tickets'
    for name in ('manager', 'district', 'queue', 'community'):
        op.drop_index(f'ix_fault_tickets_{name}_open', table_name=t)
    for c in ('kind', 'status'):
        op.drop_constraint(f'ck_fault_tickets_{c}', t)
    for c in ('district_id_districts', 'manager_id_managers', 'queue_id_admin_areas'):
        op.drop_constraint(f'fk_fault_tickets_{c}', t)
    for c in ('kind', 'category', 'note', 'status', 'paused', 'district_id', 'manager_id', 'queue_id', 'community_id',
              'first_responsible', 'routing_reason', 'policy', 'contact_due', 'clear_due', 'contact_breached_at',
              'clear_breached_at', 'escalation', 'steps'):
        op.drop_column(t, c)
    op.execute("UPDATE fault_tickets SET cause = 'other' WHERE cause IS NULL")
    op.alter_column(t, 'cause', existing_type=sa.Text(), nullable=False)
