"""vehicle registry: vehicles, plate assignment history, signed electronic plates

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vehicles',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('vin', sa.String(length=17), nullable=False),
    sa.Column('wmi', sa.String(length=3), nullable=False),
    sa.Column('manufacturer', sa.String(length=100), nullable=True),
    sa.Column('make', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('colour', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('vehicle_class', sa.String(length=8), nullable=False),
    sa.Column('owner_person_db_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('owner_organisation', sa.String(length=200), nullable=True),
    sa.Column('plate', sa.String(length=16), nullable=True),
    sa.Column('plate_country', sa.String(length=6), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('registered_by', sa.String(length=100), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deregistered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deregistration_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['owner_person_db_id'], ['persons.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('plate_country', 'plate', name='uq_vehicle_plate')
    )
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicles_owner_person_db_id'), ['owner_person_db_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vehicles_plate'), ['plate'], unique=False)
        batch_op.create_index(batch_op.f('ix_vehicles_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_vehicles_vin'), ['vin'], unique=True)
        batch_op.create_index(batch_op.f('ix_vehicles_wmi'), ['wmi'], unique=False)

    op.create_table('eplates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('serial', sa.String(length=16), nullable=False),
    sa.Column('vehicle_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=6), nullable=False),
    sa.Column('vin_digest', sa.String(length=32), nullable=False),
    sa.Column('vehicle_class', sa.String(length=8), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('credential', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('eplates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_eplates_plate'), ['plate'], unique=False)
        batch_op.create_index(batch_op.f('ix_eplates_serial'), ['serial'], unique=True)
        batch_op.create_index(batch_op.f('ix_eplates_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_eplates_vehicle_id'), ['vehicle_id'], unique=False)

    op.create_table('plate_assignments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('vehicle_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plate', sa.String(length=16), nullable=False),
    sa.Column('country', sa.String(length=6), nullable=False),
    sa.Column('assigned_by', sa.String(length=100), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('end_reason', sa.String(length=100), nullable=True),
    sa.ForeignKeyConstraint(['vehicle_id'], ['vehicles.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('plate_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plate_assignments_plate'), ['plate'], unique=False)
        batch_op.create_index(batch_op.f('ix_plate_assignments_vehicle_id'), ['vehicle_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('plate_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plate_assignments_vehicle_id'))
        batch_op.drop_index(batch_op.f('ix_plate_assignments_plate'))

    op.drop_table('plate_assignments')
    with op.batch_alter_table('eplates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_eplates_vehicle_id'))
        batch_op.drop_index(batch_op.f('ix_eplates_status'))
        batch_op.drop_index(batch_op.f('ix_eplates_serial'))
        batch_op.drop_index(batch_op.f('ix_eplates_plate'))

    op.drop_table('eplates')
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicles_wmi'))
        batch_op.drop_index(batch_op.f('ix_vehicles_vin'))
        batch_op.drop_index(batch_op.f('ix_vehicles_status'))
        batch_op.drop_index(batch_op.f('ix_vehicles_plate'))
        batch_op.drop_index(batch_op.f('ix_vehicles_owner_person_db_id'))

    op.drop_table('vehicles')
