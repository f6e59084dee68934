"""an index of the tickets still open

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # GET /districts counts each district's open faults on every request: without this, a scan
    # of every ticket of the city (310,000 on the demo) each time.
    op.create_index('ix_fault_tickets_open', 'fault_tickets', ['city_id'], unique=False,
                    postgresql_where=sa.text('cleared_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_fault_tickets_open', table_name='fault_tickets')
