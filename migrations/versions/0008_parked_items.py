"""parked items (issue 14): what one watcher item failed on, kept for retry instead of stopping the tick

Revision ID: 0008_parked_items
Revises: 0007_veltpay
Create Date: 2026-12-06 23:00:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0008_parked_items'
down_revision = '0007_veltpay'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'parked_items',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('scope', sa.String(length=64), nullable=False),
        sa.Column('item_key', sa.String(length=200), nullable=False),
        sa.Column('payload', gateway_core.adapters.models.ExactJSON(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('first_failed_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.Column('next_try_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_parked_items')),
        sa.UniqueConstraint('kind', 'item_key', name=op.f('uq_parked_items_kind_item_key')),
    )
    with op.batch_alter_table('parked_items', schema=None) as batch_op:
        batch_op.create_index('ix_parked_items_due', ['kind', 'next_try_at'], unique=False)


def downgrade() -> None:
    op.drop_table('parked_items')
