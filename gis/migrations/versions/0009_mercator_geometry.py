"""a Web Mercator copy of the geometry of the largest tables, for vector tiles

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The tables with the most rows (gis.models._mercator says why): table -> geometry type.
TABLES = {"cables": "LineString", "distribution_points": "Point", "subscribers": "Point", "fault_tickets": "Point"}


def upgrade() -> None:
    for table, kind in TABLES.items():
        op.execute(f'ALTER TABLE "{table}" ADD COLUMN geometry_3857 geometry({kind}, 3857) '
                   "GENERATED ALWAYS AS (ST_Transform(geometry, 3857)) STORED")
        op.execute(f'CREATE INDEX "idx_{table}_geometry_3857" ON "{table}" USING gist (geometry_3857)')


def downgrade() -> None:
    for table in TABLES:
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN geometry_3857')
