"""store cached tiles uncompressed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A tile is protobuf with zigzag-coded deltas, which pglz barely shrinks; trying to compress
    # every stored tile cost more than storing it (24 ms of a z12 miss). EXTERNAL: out of line,
    # uncompressed. (Storage is not part of the model: autogenerate does not compare it.)
    op.execute("ALTER TABLE tile_cache ALTER COLUMN tile SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("ALTER TABLE tile_cache ALTER COLUMN tile SET STORAGE EXTENDED")
