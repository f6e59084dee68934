"""inspections: each box or distribution box a manager inspected, ok or a hazard (which becomes a
ticket)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inspections',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('city_id', sa.Text(), nullable=False),
        sa.Column('box_id', sa.Text(), nullable=False),
        sa.Column('dp_id', sa.Text(), nullable=True, comment='a distribution box of the box; NULL: the box itself'),
        sa.Column('manager_id', sa.Text(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('result', sa.Text(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('photo', sa.Text(), nullable=True, comment="a reference to the photo (its file name or URL)"),
        sa.Column('ticket_id', sa.Text(), nullable=True, comment='the ticket a hazard became'),
        sa.Column('recorded_by', sa.Text(), nullable=False),
        sa.CheckConstraint("result IN ('ok', 'hazard')", name=op.f('ck_inspections_result')),
        sa.CheckConstraint("result <> 'hazard' OR note IS NOT NULL", name=op.f('ck_inspections_hazard_has_note')),
        sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_inspections_city_id_cities'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['box_id'], ['boxes.id'], name=op.f('fk_inspections_box_id_boxes'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['dp_id'], ['distribution_points.id'], name=op.f('fk_inspections_dp_id_distribution_points'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['manager_id'], ['managers.id'], name=op.f('fk_inspections_manager_id_managers'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['ticket_id'], ['fault_tickets.id'], name=op.f('fk_inspections_ticket_id_fault_tickets'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections')),
    )
    op.create_index(op.f('ix_inspections_city_id'), 'inspections', ['city_id'])
    op.create_index('ix_inspections_box_dp_at', 'inspections', ['box_id', 'dp_id', 'at'])
    op.create_index(op.f('ix_inspections_dp_id'), 'inspections', ['dp_id'])
    op.create_index(op.f('ix_inspections_manager_id'), 'inspections', ['manager_id'])
    op.create_index(op.f('ix_inspections_ticket_id'), 'inspections', ['ticket_id'])


def downgrade() -> None:
    op.drop_table('inspections')
