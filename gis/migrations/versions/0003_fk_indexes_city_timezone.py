"""every foreign key indexed; a city's time zone

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# A foreign key without an index turns every delete of its parent into a scan of the child
# table (deleting a city of 730,000 cables scanned the subscribers once per cable).
FK_INDEXES = [
    ('ix_subscribers_drop_cable_id', 'subscribers', 'drop_cable_id'),
    ('ix_fault_tickets_cable_id', 'fault_tickets', 'cable_id'),
    ('ix_fault_tickets_dp_id', 'fault_tickets', 'dp_id'),
    ('ix_construction_reports_reporter_id', 'construction_reports', 'reporter_id'),
    ('ix_district_plans_previous_plan_id', 'district_plans', 'previous_plan_id'),
    ('ix_districts_parent_area_id', 'districts', 'parent_area_id'),
    ('ix_district_members_dp_id', 'district_members', 'dp_id'),
]


def upgrade() -> None:
    for name, table, column in FK_INDEXES:
        op.create_index(name, table, [column], unique=False)
    op.add_column('cities', sa.Column('timezone', sa.Text(), server_default='UTC', nullable=False,
                                      comment="IANA time zone: the city's days, months and clocks"))


def downgrade() -> None:
    op.drop_column('cities', 'timezone')
    for name, table, _ in reversed(FK_INDEXES):
        op.drop_index(name, table_name=table)
