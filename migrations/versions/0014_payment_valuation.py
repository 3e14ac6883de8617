"""payment valuation (issue 18): a payment to a quote lapsed past its grace is valued at the rate when seen,
or waits for a fresh rate (awaiting_rate) and is valued by the worker

Revision ID: 0014_payment_valuation
Revises: 0013_worker_metrics
Create Date: 2026-12-07 02:00:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0014_payment_valuation'
down_revision = '0013_worker_metrics'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('awaiting_rate', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('valued_rate', gateway_core.adapters.models.DecimalText(length=64),
                                      nullable=True))
        batch_op.add_column(sa.Column('valued_at', gateway_core.adapters.models.UtcDateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_payments_awaiting_rate'), ['awaiting_rate'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_awaiting_rate'))
        for column in ('valued_at', 'valued_rate', 'awaiting_rate'):
            batch_op.drop_column(column)
