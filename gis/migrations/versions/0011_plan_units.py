"""a plan's units with their workload and neighbours, for editing plans by hand

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'plan_units',
        sa.Column('plan_id', sa.Text(), nullable=False),
        sa.Column('unit_id', sa.Text(), nullable=False),
        sa.Column('box_id', sa.Text(), nullable=False),
        sa.Column('dp_id', sa.Text(), nullable=True),
        sa.Column('code', sa.Text(), nullable=False, comment="the district's code in the plan"),
        sa.Column('workload', sa.Float(), nullable=False),
        sa.Column('subscribers', sa.Integer(), nullable=False),
        sa.Column('neighbours', postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column('absorbed', sa.Text(), nullable=True, comment='units in the same building that go where it goes'),
        sa.Column('geometry', Geometry('MULTIPOLYGON', srid=4326, spatial_index=False), nullable=False),
        sa.ForeignKeyConstraint(['plan_id'], ['district_plans.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('plan_id', 'unit_id'),
    )
    op.create_index('idx_plan_units_geometry', 'plan_units', ['geometry'], postgresql_using='gist')


def downgrade() -> None:
    op.drop_index('idx_plan_units_geometry', table_name='plan_units')
    op.drop_table('plan_units')
