"""structured names, border assurance, foreign-document watch list

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 01:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('given_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('father_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('grandfather_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('family_name', sa.String(length=100), nullable=True))
    # A name entered as one field stays whole: it becomes the given name, never split.
    op.execute("UPDATE persons SET given_name = name WHERE given_name IS NULL")
    with op.batch_alter_table('border_crossings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assurance', sa.String(length=48), nullable=True))
        batch_op.add_column(sa.Column('issuing_state', sa.String(length=3), nullable=True))
        batch_op.create_index(batch_op.f('ix_border_crossings_issuing_state'), ['issuing_state'], unique=False)
    op.create_table('watchlist_documents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('document_number', sa.String(length=32), nullable=False),
    sa.Column('document_type', sa.String(length=2), nullable=False),
    sa.Column('issuing_state', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('reported_on', sa.Date(), nullable=True),
    sa.Column('imported_by', sa.String(length=100), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('issuing_state', 'document_number')
    )
    with op.batch_alter_table('watchlist_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watchlist_documents_document_number'), ['document_number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('watchlist_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchlist_documents_document_number'))
    op.drop_table('watchlist_documents')
    with op.batch_alter_table('border_crossings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_border_crossings_issuing_state'))
        batch_op.drop_column('issuing_state')
        batch_op.drop_column('assurance')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_column('family_name')
        batch_op.drop_column('grandfather_name')
        batch_op.drop_column('father_name')
        batch_op.drop_column('given_name')
