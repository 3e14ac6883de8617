"""solana chain (issue 5): deposit keys (derivation index per invoice) and sweep attempts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 02:10:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('solana_deposits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('network', sa.String(length=16), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('token_account', sa.String(length=64), nullable=True),
    sa.Column('rent_lamports', sa.BigInteger(), nullable=False),
    sa.Column('init_tx_id', sa.String(length=128), nullable=True),
    sa.Column('created_at', gateway_core.adapters.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_solana_deposits_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_solana_deposits')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_solana_deposits_invoice_id')),
    sa.UniqueConstraint('owner', name=op.f('uq_solana_deposits_owner')),
    sqlite_autoincrement=True,
    )
    op.create_table('solana_sweeps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('tx_id', sa.String(length=128), nullable=False),
    sa.Column('raw_tx', sa.Text(), nullable=False),
    sa.Column('last_valid_block_height', sa.BigInteger(), nullable=False),
    sa.Column('sol_amount', sa.BigInteger(), nullable=False),
    sa.Column('token_amount', sa.BigInteger(), nullable=False),
    sa.Column('fee_amount', sa.BigInteger(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', gateway_core.adapters.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', gateway_core.adapters.models.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_solana_sweeps_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_solana_sweeps')),
    sa.UniqueConstraint('tx_id', name=op.f('uq_solana_sweeps_tx_id')),
    )
    with op.batch_alter_table('solana_sweeps', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solana_sweeps_invoice_id'), ['invoice_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('solana_sweeps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solana_sweeps_invoice_id'))
    op.drop_table('solana_sweeps')
    op.drop_table('solana_deposits')
