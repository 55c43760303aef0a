"""portrait thumbnails and four-eyes adjudication

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 22:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('persons', sa.Column('portrait', sa.LargeBinary(), nullable=True))
    op.add_column('duplicate_cases', sa.Column('proposed_decision', sa.String(length=16),
                                               nullable=True))
    op.add_column('duplicate_cases', sa.Column('proposed_by', sa.String(length=100),
                                               nullable=True))
    op.add_column('duplicate_cases', sa.Column('proposed_at', sa.DateTime(timezone=True),
                                               nullable=True))
    op.add_column('duplicate_cases', sa.Column('proposed_note', sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ('proposed_note', 'proposed_at', 'proposed_by', 'proposed_decision'):
        op.drop_column('duplicate_cases', column)
    op.drop_column('persons', 'portrait')
