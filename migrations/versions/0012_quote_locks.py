"""quote locks (issue 18): each quote's rate sources and time, the quote it replaced, and payments measured
against an older quote

Revision ID: 0012_quote_locks
Revises: 0011_accounts
Create Date: 2026-12-06 23:10:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0012_quote_locks'
down_revision = '0011_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rate_sources', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('rated_at', gateway_core.adapters.models.UtcDateTime(), nullable=True))
        batch_op.add_column(sa.Column('prior_reference', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('prior_amount_due', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prior_rate', gateway_core.adapters.models.DecimalText(length=64), nullable=True))
        batch_op.add_column(sa.Column('prior_honoured_until', gateway_core.adapters.models.UtcDateTime(),
                                      nullable=True))
        batch_op.create_index('ix_quotes_prior_reference', ['prior_reference'], unique=False)
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_basis', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('stale_quote', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_column('stale_quote')
        batch_op.drop_column('due_basis')
    with op.batch_alter_table('quotes', schema=None) as batch_op:
        batch_op.drop_index('ix_quotes_prior_reference')
        for column in ('prior_honoured_until', 'prior_rate', 'prior_amount_due', 'prior_reference', 'rated_at',
                       'rate_sources'):
            batch_op.drop_column(column)
