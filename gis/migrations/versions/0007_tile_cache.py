"""the vector tile cache

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from geoalchemy2 import Geometry

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # UNLOGGED: a cache needs no WAL (PostgreSQL empties it after a crash, which is correct for a
    # cache) but stays transactional, so an edit and its tile invalidation commit together.
    op.create_table('tile_cache',
    sa.Column('layer', sa.Text(), nullable=False),
    sa.Column('plan', sa.Text(), nullable=False, comment="districts: the plan id(s); '' otherwise"),
    sa.Column('z', sa.SmallInteger(), nullable=False),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.Column('tile', sa.LargeBinary(), nullable=False),
    sa.Column('etag', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True,
              comment='districts: when a manager assignment in the tile starts or ends'),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('envelope', Geometry(geometry_type='POLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.PrimaryKeyConstraint('layer', 'plan', 'z', 'x', 'y', name=op.f('pk_tile_cache')),
    prefixes=['UNLOGGED'],
    )
    op.create_geospatial_index('idx_tile_cache_envelope', 'tile_cache', ['envelope'], unique=False, postgresql_using='gist', postgresql_ops={})


def downgrade() -> None:
    op.drop_geospatial_index('idx_tile_cache_envelope', table_name='tile_cache', postgresql_using='gist', column_name='envelope')
    op.drop_table('tile_cache')
