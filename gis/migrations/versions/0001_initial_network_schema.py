"""initial network schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa
import geoalchemy2
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # PostGIS for the geometries; btree_gist for the one-owner-at-a-time exclusion constraint.
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_geospatial_table('cities',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('metric_crs', sa.Integer(), nullable=False, comment='EPSG code of the projected CRS for metric work'),
    sa.Column('geometry', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cities'))
    )
    op.create_geospatial_index('idx_cities_geometry', 'cities', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_geospatial_table('admin_areas',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('level', sa.Text(), nullable=False),
    sa.Column('parent_id', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('geometry', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("level IN ('office_region', 'community')", name=op.f('ck_admin_areas_level')),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_admin_areas_city_id_cities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['admin_areas.id'], name=op.f('fk_admin_areas_parent_id_admin_areas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_admin_areas'))
    )
    op.create_geospatial_index('idx_admin_areas_geometry', 'admin_areas', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_admin_areas_city_id'), 'admin_areas', ['city_id'], unique=False)
    op.create_index(op.f('ix_admin_areas_parent_id'), 'admin_areas', ['parent_id'], unique=False)
    op.create_geospatial_table('barriers',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('geometry', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("GeometryType(geometry) IN ('LINESTRING','MULTILINESTRING','POLYGON','MULTIPOLYGON')", name=op.f('ck_barriers_geometry_type')),
    sa.CheckConstraint("kind IN ('river', 'rail', 'motorway')", name=op.f('ck_barriers_kind')),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_barriers_city_id_cities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_barriers'))
    )
    op.create_geospatial_index('idx_barriers_geometry', 'barriers', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_barriers_city_id'), 'barriers', ['city_id'], unique=False)
    op.create_table('district_plans',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='draft', nullable=False),
    sa.Column('parent_level', sa.Text(), nullable=True),
    sa.Column('previous_plan_id', sa.Text(), nullable=True),
    sa.Column('parameters', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('report', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_by', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'active', 'archived')", name=op.f('ck_district_plans_status')),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_district_plans_city_id_cities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['previous_plan_id'], ['district_plans.id'], name=op.f('fk_district_plans_previous_plan_id_district_plans'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_district_plans'))
    )
    op.create_index(op.f('ix_district_plans_city_id'), 'district_plans', ['city_id'], unique=False)
    op.create_index('uq_district_plans_active', 'district_plans', ['city_id'], unique=True, postgresql_where=sa.text("status = 'active'"))
    op.create_geospatial_table('offices',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('geometry', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_offices_city_id_cities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offices'))
    )
    op.create_geospatial_index('idx_offices_geometry', 'offices', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_offices_city_id'), 'offices', ['city_id'], unique=False)
    op.create_geospatial_table('streets',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('geometry', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("kind IN ('primary', 'secondary', 'residential')", name=op.f('ck_streets_kind')),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_streets_city_id_cities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_streets'))
    )
    op.create_geospatial_index('idx_streets_geometry', 'streets', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_streets_city_id'), 'streets', ['city_id'], unique=False)
    op.create_geospatial_table('cables',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('medium', sa.Text(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False, comment='fibres or pairs'),
    sa.Column('used', sa.Integer(), server_default='0', nullable=False),
    sa.Column('placement', sa.Text(), nullable=False),
    sa.Column('year_laid', sa.SmallInteger(), nullable=False),
    sa.Column('office_id', sa.Text(), nullable=True),
    sa.Column('geometry', Geometry(geometry_type='LINESTRING', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("kind IN ('trunk', 'distribution', 'drop')", name=op.f('ck_cables_kind')),
    sa.CheckConstraint("medium IN ('fibre', 'copper')", name=op.f('ck_cables_medium')),
    sa.CheckConstraint("placement IN ('aerial', 'underground')", name=op.f('ck_cables_placement')),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_cables_capacity_positive')),
    sa.CheckConstraint('used >= 0 AND used <= capacity', name=op.f('ck_cables_used_within_capacity')),
    sa.CheckConstraint('year_laid BETWEEN 1950 AND 2100', name=op.f('ck_cables_year_laid')),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_cables_city_id_cities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_cables_office_id_offices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cables'))
    )
    op.create_geospatial_index('idx_cables_geometry', 'cables', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_cables_city_id'), 'cables', ['city_id'], unique=False)
    op.create_index(op.f('ix_cables_office_id'), 'cables', ['office_id'], unique=False)
    op.create_geospatial_table('crossings',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('barrier_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('geometry', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("kind IN ('bridge', 'tunnel', 'level_crossing', 'underpass')", name=op.f('ck_crossings_kind')),
    sa.ForeignKeyConstraint(['barrier_id'], ['barriers.id'], name=op.f('fk_crossings_barrier_id_barriers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_crossings_city_id_cities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crossings'))
    )
    op.create_geospatial_index('idx_crossings_geometry', 'crossings', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_crossings_barrier_id'), 'crossings', ['barrier_id'], unique=False)
    op.create_index(op.f('ix_crossings_city_id'), 'crossings', ['city_id'], unique=False)
    op.create_geospatial_table('districts',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('plan_id', sa.Text(), nullable=False),
    sa.Column('code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('parent_area_id', sa.Text(), nullable=True),
    sa.Column('locked', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('subscribers', sa.Integer(), server_default='0', nullable=False),
    sa.Column('workload', sa.Float(), server_default='0', nullable=False),
    sa.Column('totals', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('geometry', Geometry(geometry_type='MULTIPOLYGON', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.ForeignKeyConstraint(['parent_area_id'], ['admin_areas.id'], name=op.f('fk_districts_parent_area_id_admin_areas'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['plan_id'], ['district_plans.id'], name=op.f('fk_districts_plan_id_district_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_districts')),
    sa.UniqueConstraint('plan_id', 'code', name='uq_districts_plan_code')
    )
    op.create_geospatial_index('idx_districts_geometry', 'districts', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_districts_plan_id'), 'districts', ['plan_id'], unique=False)
    op.create_geospatial_table('managers',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('phone', sa.Text(), nullable=True),
    sa.Column('community_id', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('geometry', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry'), nullable=True),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_managers_city_id_cities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['admin_areas.id'], name=op.f('fk_managers_community_id_admin_areas'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_managers'))
    )
    op.create_geospatial_index('idx_managers_geometry', 'managers', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_managers_city_id'), 'managers', ['city_id'], unique=False)
    op.create_index(op.f('ix_managers_community_id'), 'managers', ['community_id'], unique=False)
    op.create_geospatial_table('boxes',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('office_id', sa.Text(), nullable=False),
    sa.Column('feeder_cable_id', sa.Text(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False, comment='ports or pairs'),
    sa.Column('used', sa.Integer(), server_default='0', nullable=False),
    sa.Column('year_installed', sa.SmallInteger(), nullable=False),
    sa.Column('geometry', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_boxes_capacity_positive')),
    sa.CheckConstraint('used >= 0 AND used <= capacity', name=op.f('ck_boxes_used_within_capacity')),
    sa.CheckConstraint('year_installed BETWEEN 1950 AND 2100', name=op.f('ck_boxes_year_installed')),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_boxes_city_id_cities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['feeder_cable_id'], ['cables.id'], name=op.f('fk_boxes_feeder_cable_id_cables'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['office_id'], ['offices.id'], name=op.f('fk_boxes_office_id_offices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boxes'))
    )
    op.create_geospatial_index('idx_boxes_geometry', 'boxes', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_boxes_city_id'), 'boxes', ['city_id'], unique=False)
    op.create_index(op.f('ix_boxes_feeder_cable_id'), 'boxes', ['feeder_cable_id'], unique=False)
    op.create_index(op.f('ix_boxes_office_id'), 'boxes', ['office_id'], unique=False)
    op.create_geospatial_table('construction_reports',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('kind', sa.Text(), nullable=False),
    sa.Column('stage', sa.Text(), nullable=False),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.Column('floor_area_m2', sa.Float(), nullable=True),
    sa.Column('reporter_id', sa.Text(), nullable=True),
    sa.Column('reporter_name', sa.Text(), nullable=True),
    sa.Column('reported_on', sa.Date(), nullable=False),
    sa.Column('geometry', Geometry(srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("GeometryType(geometry) IN ('POINT','POLYGON','MULTIPOLYGON')", name=op.f('ck_construction_reports_geometry_type')),
    sa.CheckConstraint("kind IN ('residential', 'commercial', 'mixed')", name=op.f('ck_construction_reports_kind')),
    sa.CheckConstraint("stage IN ('planned', 'permitted', 'under_construction', 'completed')", name=op.f('ck_construction_reports_stage')),
    sa.CheckConstraint('floor_area_m2 IS NULL OR floor_area_m2 >= 0', name=op.f('ck_construction_reports_floor_area_nonnegative')),
    sa.CheckConstraint('households IS NOT NULL OR floor_area_m2 IS NOT NULL', name=op.f('ck_construction_reports_has_demand')),
    sa.CheckConstraint('households IS NULL OR households >= 0', name=op.f('ck_construction_reports_households_nonnegative')),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_construction_reports_city_id_cities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['managers.id'], name=op.f('fk_construction_reports_reporter_id_managers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_construction_reports'))
    )
    op.create_geospatial_index('idx_construction_reports_geometry', 'construction_reports', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_construction_reports_city_id'), 'construction_reports', ['city_id'], unique=False)
    op.create_table('district_assignments',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('district_id', sa.Text(), nullable=False),
    sa.Column('manager_id', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_by', sa.Text(), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    postgresql.ExcludeConstraint((sa.column('district_id'), '='), (sa.text('tstzrange(valid_from, valid_to)'), '&&'), using='gist', name='ex_district_assignments_one_owner'),
    sa.CheckConstraint('valid_to IS NULL OR valid_to > valid_from', name=op.f('ck_district_assignments_valid_period')),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_district_assignments_district_id_districts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['manager_id'], ['managers.id'], name=op.f('fk_district_assignments_manager_id_managers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_district_assignments'))
    )
    op.create_index(op.f('ix_district_assignments_district_id'), 'district_assignments', ['district_id'], unique=False)
    op.create_index(op.f('ix_district_assignments_manager_id'), 'district_assignments', ['manager_id'], unique=False)
    op.create_geospatial_table('distribution_points',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('box_id', sa.Text(), nullable=False),
    sa.Column('cable_id', sa.Text(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('used', sa.Integer(), server_default='0', nullable=False),
    sa.Column('geometry', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint('capacity > 0', name=op.f('ck_distribution_points_capacity_positive')),
    sa.CheckConstraint('used >= 0 AND used <= capacity', name=op.f('ck_distribution_points_used_within_capacity')),
    sa.ForeignKeyConstraint(['box_id'], ['boxes.id'], name=op.f('fk_distribution_points_box_id_boxes')),
    sa.ForeignKeyConstraint(['cable_id'], ['cables.id'], name=op.f('fk_distribution_points_cable_id_cables'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_distribution_points_city_id_cities'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_distribution_points')),
    sa.UniqueConstraint('id', 'box_id', name='uq_distribution_points_id_box')
    )
    op.create_geospatial_index('idx_distribution_points_geometry', 'distribution_points', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_distribution_points_box_id'), 'distribution_points', ['box_id'], unique=False)
    op.create_index(op.f('ix_distribution_points_cable_id'), 'distribution_points', ['cable_id'], unique=False)
    op.create_index(op.f('ix_distribution_points_city_id'), 'distribution_points', ['city_id'], unique=False)
    op.create_table('district_members',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('plan_id', sa.Text(), nullable=False),
    sa.Column('district_id', sa.Text(), nullable=False),
    sa.Column('box_id', sa.Text(), nullable=False),
    sa.Column('dp_id', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['box_id'], ['boxes.id'], name=op.f('fk_district_members_box_id_boxes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['district_id'], ['districts.id'], name=op.f('fk_district_members_district_id_districts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dp_id'], ['distribution_points.id'], name=op.f('fk_district_members_dp_id_distribution_points'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['plan_id'], ['district_plans.id'], name=op.f('fk_district_members_plan_id_district_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_district_members')),
    sa.UniqueConstraint('plan_id', 'box_id', 'dp_id', name='uq_district_members_unit', postgresql_nulls_not_distinct=True)
    )
    op.create_index(op.f('ix_district_members_box_id'), 'district_members', ['box_id'], unique=False)
    op.create_index(op.f('ix_district_members_district_id'), 'district_members', ['district_id'], unique=False)
    op.create_geospatial_table('subscribers',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('dp_id', sa.Text(), nullable=False),
    sa.Column('box_id', sa.Text(), nullable=False),
    sa.Column('drop_cable_id', sa.Text(), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('voice', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('broadband', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('iptv', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('monthly_revenue', sa.Float(), server_default='0', nullable=False),
    sa.Column('connected_since', sa.Date(), nullable=True),
    sa.Column('geometry', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint('monthly_revenue >= 0', name=op.f('ck_subscribers_revenue_nonnegative')),
    sa.ForeignKeyConstraint(['box_id'], ['boxes.id'], name=op.f('fk_subscribers_box_id_boxes')),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_subscribers_city_id_cities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dp_id', 'box_id'], ['distribution_points.id', 'distribution_points.box_id'], name='fk_subscribers_dp_box', onupdate='CASCADE'),
    sa.ForeignKeyConstraint(['drop_cable_id'], ['cables.id'], name=op.f('fk_subscribers_drop_cable_id_cables'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscribers'))
    )
    op.create_geospatial_index('idx_subscribers_geometry', 'subscribers', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_subscribers_box_id'), 'subscribers', ['box_id'], unique=False)
    op.create_index(op.f('ix_subscribers_city_id'), 'subscribers', ['city_id'], unique=False)
    op.create_index(op.f('ix_subscribers_dp_id'), 'subscribers', ['dp_id'], unique=False)
    op.create_geospatial_table('fault_tickets',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('city_id', sa.Text(), nullable=False),
    sa.Column('subscriber_id', sa.Text(), nullable=True),
    sa.Column('box_id', sa.Text(), nullable=True),
    sa.Column('dp_id', sa.Text(), nullable=True),
    sa.Column('cable_id', sa.Text(), nullable=True),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('severity', sa.SmallInteger(), server_default='1', nullable=False),
    sa.Column('vip', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_contact_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('geometry', Geometry(geometry_type='POINT', srid=4326, dimension=2, spatial_index=False, from_text='ST_GeomFromEWKT', name='geometry', nullable=False), nullable=False),
    sa.CheckConstraint("cause IN ('cable', 'drop', 'box', 'distribution_point', 'customer_equipment', 'weather', 'third_party', 'other')", name=op.f('ck_fault_tickets_cause')),
    sa.CheckConstraint('cleared_at IS NULL OR cleared_at >= reported_at', name=op.f('ck_fault_tickets_cleared_after_report')),
    sa.CheckConstraint('first_contact_at IS NULL OR first_contact_at >= reported_at', name=op.f('ck_fault_tickets_contact_after_report')),
    sa.CheckConstraint('num_nonnulls(subscriber_id, box_id, dp_id, cable_id) >= 1', name=op.f('ck_fault_tickets_has_target')),
    sa.CheckConstraint('severity BETWEEN 1 AND 3', name=op.f('ck_fault_tickets_severity')),
    sa.ForeignKeyConstraint(['box_id'], ['boxes.id'], name=op.f('fk_fault_tickets_box_id_boxes'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cable_id'], ['cables.id'], name=op.f('fk_fault_tickets_cable_id_cables'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['city_id'], ['cities.id'], name=op.f('fk_fault_tickets_city_id_cities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dp_id'], ['distribution_points.id'], name=op.f('fk_fault_tickets_dp_id_distribution_points'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_fault_tickets_subscriber_id_subscribers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fault_tickets'))
    )
    op.create_geospatial_index('idx_fault_tickets_geometry', 'fault_tickets', ['geometry'], unique=False, postgresql_using='gist', postgresql_ops={})
    op.create_index(op.f('ix_fault_tickets_box_id'), 'fault_tickets', ['box_id'], unique=False)
    op.create_index(op.f('ix_fault_tickets_city_id'), 'fault_tickets', ['city_id'], unique=False)
    op.create_index('ix_fault_tickets_city_reported', 'fault_tickets', ['city_id', 'reported_at'], unique=False)
    op.create_index(op.f('ix_fault_tickets_subscriber_id'), 'fault_tickets', ['subscriber_id'], unique=False)


def downgrade() -> None:
    # Extensions stay: other schemas in the same database may use them.
    op.drop_index(op.f('ix_fault_tickets_subscriber_id'), table_name='fault_tickets')
    op.drop_index('ix_fault_tickets_city_reported', table_name='fault_tickets')
    op.drop_index(op.f('ix_fault_tickets_city_id'), table_name='fault_tickets')
    op.drop_index(op.f('ix_fault_tickets_box_id'), table_name='fault_tickets')
    op.drop_geospatial_index('idx_fault_tickets_geometry', table_name='fault_tickets', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('fault_tickets')
    op.drop_index(op.f('ix_subscribers_dp_id'), table_name='subscribers')
    op.drop_index(op.f('ix_subscribers_city_id'), table_name='subscribers')
    op.drop_index(op.f('ix_subscribers_box_id'), table_name='subscribers')
    op.drop_geospatial_index('idx_subscribers_geometry', table_name='subscribers', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('subscribers')
    op.drop_index(op.f('ix_district_members_district_id'), table_name='district_members')
    op.drop_index(op.f('ix_district_members_box_id'), table_name='district_members')
    op.drop_table('district_members')
    op.drop_index(op.f('ix_distribution_points_city_id'), table_name='distribution_points')
    op.drop_index(op.f('ix_distribution_points_cable_id'), table_name='distribution_points')
    op.drop_index(op.f('ix_distribution_points_box_id'), table_name='distribution_points')
    op.drop_geospatial_index('idx_distribution_points_geometry', table_name='distribution_points', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('distribution_points')
    op.drop_index(op.f('ix_district_assignments_manager_id'), table_name='district_assignments')
    op.drop_index(op.f('ix_district_assignments_district_id'), table_name='district_assignments')
    op.drop_table('district_assignments')
    op.drop_index(op.f('ix_construction_reports_city_id'), table_name='construction_reports')
    op.drop_geospatial_index('idx_construction_reports_geometry', table_name='construction_reports', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('construction_reports')
    op.drop_index(op.f('ix_boxes_office_id'), table_name='boxes')
    op.drop_index(op.f('ix_boxes_feeder_cable_id'), table_name='boxes')
    op.drop_index(op.f('ix_boxes_city_id'), table_name='boxes')
    op.drop_geospatial_index('idx_boxes_geometry', table_name='boxes', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('boxes')
    op.drop_index(op.f('ix_managers_community_id'), table_name='managers')
    op.drop_index(op.f('ix_managers_city_id'), table_name='managers')
    op.drop_geospatial_index('idx_managers_geometry', table_name='managers', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('managers')
    op.drop_index(op.f('ix_districts_plan_id'), table_name='districts')
    op.drop_geospatial_index('idx_districts_geometry', table_name='districts', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('districts')
    op.drop_index(op.f('ix_crossings_city_id'), table_name='crossings')
    op.drop_index(op.f('ix_crossings_barrier_id'), table_name='crossings')
    op.drop_geospatial_index('idx_crossings_geometry', table_name='crossings', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('crossings')
    op.drop_index(op.f('ix_cables_office_id'), table_name='cables')
    op.drop_index(op.f('ix_cables_city_id'), table_name='cables')
    op.drop_geospatial_index('idx_cables_geometry', table_name='cables', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('cables')
    op.drop_index(op.f('ix_streets_city_id'), table_name='streets')
    op.drop_geospatial_index('idx_streets_geometry', table_name='streets', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('streets')
    op.drop_index(op.f('ix_offices_city_id'), table_name='offices')
    op.drop_geospatial_index('idx_offices_geometry', table_name='offices', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('offices')
    op.drop_index('uq_district_plans_active', table_name='district_plans', postgresql_where=sa.text("status = 'active'"))
    op.drop_index(op.f('ix_district_plans_city_id'), table_name='district_plans')
    op.drop_table('district_plans')
    op.drop_index(op.f('ix_barriers_city_id'), table_name='barriers')
    op.drop_geospatial_index('idx_barriers_geometry', table_name='barriers', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('barriers')
    op.drop_index(op.f('ix_admin_areas_parent_id'), table_name='admin_areas')
    op.drop_index(op.f('ix_admin_areas_city_id'), table_name='admin_areas')
    op.drop_geospatial_index('idx_admin_areas_geometry', table_name='admin_areas', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('admin_areas')
    op.drop_geospatial_index('idx_cities_geometry', table_name='cities', postgresql_using='gist', column_name='geometry')
    op.drop_geospatial_table('cities')
