"""sightings: cameras, plate sightings, hotlist, vehicle alerts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cameras',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('camera_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('latitude', sa.Double(), nullable=False),
    sa.Column('longitude', sa.Double(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cameras_camera_id'), ['camera_id'], unique=True)

    op.create_table('hotlist',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=6), nullable=False),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('country', 'plate', 'reason', name='uq_hotlist_entry')
    )
    with op.batch_alter_table('hotlist', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hotlist_plate'), ['plate'], unique=False)

    op.create_table('vehicle_alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=6), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('sighting_ids', sa.JSON(), nullable=False),
    sa.Column('dedup_key', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_by', sa.String(length=100), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedup_key')
    )
    with op.batch_alter_table('vehicle_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicle_alerts_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_vehicle_alerts_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_vehicle_alerts_plate'), ['plate'], unique=False)
        batch_op.create_index(batch_op.f('ix_vehicle_alerts_status'), ['status'], unique=False)

    op.create_table('sightings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('camera_db_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('plate_country', sa.String(length=6), nullable=True),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confidence', sa.Double(), nullable=True),
    sa.Column('observed_make', sa.String(length=64), nullable=True),
    sa.Column('observed_colour', sa.String(length=32), nullable=True),
    sa.Column('tag_serial', sa.String(length=16), nullable=True),
    sa.Column('tag_plate', sa.String(length=16), nullable=True),
    sa.Column('tag_valid', sa.Boolean(), nullable=True),
    sa.Column('image', sa.LargeBinary(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('recorded_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['camera_db_id'], ['cameras.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sightings_camera_db_id'), ['camera_db_id'], unique=False)
        batch_op.create_index('ix_sightings_plate_seen_at', ['plate', 'seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sightings_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sightings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sightings_seen_at'))
        batch_op.drop_index('ix_sightings_plate_seen_at')
        batch_op.drop_index(batch_op.f('ix_sightings_camera_db_id'))

    op.drop_table('sightings')
    with op.batch_alter_table('vehicle_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicle_alerts_status'))
        batch_op.drop_index(batch_op.f('ix_vehicle_alerts_plate'))
        batch_op.drop_index(batch_op.f('ix_vehicle_alerts_kind'))
        batch_op.drop_index(batch_op.f('ix_vehicle_alerts_created_at'))

    op.drop_table('vehicle_alerts')
    with op.batch_alter_table('hotlist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hotlist_plate'))

    op.drop_table('hotlist')
    with op.batch_alter_table('cameras', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cameras_camera_id'))

    op.drop_table('cameras')