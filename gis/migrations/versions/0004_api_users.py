"""API users and their hashed keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_users',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('role', sa.Text(), nullable=False),
    sa.Column('manager_id', sa.Text(), nullable=True),
    sa.Column('key_prefix', sa.Text(), nullable=False),
    sa.Column('key_hash', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('planner', 'manager', 'analyst')", name=op.f('ck_api_users_role_known')),
    sa.CheckConstraint("role <> 'manager' OR manager_id IS NOT NULL", name=op.f('ck_api_users_manager_named')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_users')),
    sa.UniqueConstraint('key_prefix', name=op.f('uq_api_users_key_prefix')),
    )


def downgrade() -> None:
    op.drop_table('api_users')
