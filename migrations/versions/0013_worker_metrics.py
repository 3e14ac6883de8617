"""worker metrics (issue 23): each worker's heartbeat and the figures it publishes every tick

Revision ID: 0013_worker_metrics
Revises: 0012_quote_locks
Create Date: 2026-12-06 23:55:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0013_worker_metrics'
down_revision = '0012_quote_locks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'worker_metrics',
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('labels', sa.String(length=255), nullable=False),
        sa.Column('worker', sa.String(length=64), nullable=False),
        sa.Column('value', gateway_core.adapters.models.DecimalText(), nullable=False),
        sa.Column('updated_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', 'labels', 'worker', name=op.f('pk_worker_metrics')),
    )
    with op.batch_alter_table('worker_metrics', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_metrics_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('worker_metrics', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_metrics_updated_at'))
    op.drop_table('worker_metrics')
