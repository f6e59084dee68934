"""piece rates: the points each kind of work earns a manager (the basis of pay by piece)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

# A start; operators set their own (PUT /piece-rates/{work}).
RATES = [("fault", 1.0), ("complaint", 1.0), ("install", 2.0), ("move", 1.5), ("enquiry", 0.3), ("inspection", 0.2),
         ("vip", 0.5)]


def upgrade() -> None:
    op.create_table(
        'piece_rates',
        sa.Column('work', sa.Text(), nullable=False, comment="a ticket kind cleared, 'inspection', or 'vip' (a bonus)"),
        sa.Column('points', sa.Float(), nullable=False),
        sa.Column('updated_by', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('points >= 0', name=op.f('ck_piece_rates_points')),
        sa.PrimaryKeyConstraint('work', name=op.f('pk_piece_rates')),
    )
    t = sa.table('piece_rates', sa.column('work'), sa.column('points'), sa.column('updated_by'))
    op.bulk_insert(t, [{"work": w, "points": p, "updated_by": "migration 0014"} for w, p in RATES])


def downgrade() -> None:
    op.drop_table('piece_rates')
