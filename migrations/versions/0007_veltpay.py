"""veltpay contract (issue 8): public order ids and the replay record of signed requests

Revision ID: 0007_veltpay
Revises: 0006_virtexgate
Create Date: 2026-11-22 06:00:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0007_veltpay'
down_revision = '0006_virtexgate'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'veltpay_orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_veltpay_orders_invoice_id_invoices'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_veltpay_orders_store_id_stores'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_veltpay_orders')),
        sa.UniqueConstraint('invoice_id', name=op.f('uq_veltpay_orders_invoice_id')),
        sa.UniqueConstraint('public_id', name=op.f('uq_veltpay_orders_public_id')),
    )
    with op.batch_alter_table('veltpay_orders', schema=None) as batch_op:
        batch_op.create_index('ix_veltpay_orders_store_newest', ['store_id', 'created_at'], unique=False)
    op.create_table(
        'veltpay_signatures',
        sa.Column('signature', sa.String(length=64), nullable=False),
        sa.Column('key_id', sa.String(length=64), nullable=False),
        sa.Column('expires_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('signature', name=op.f('pk_veltpay_signatures')),
    )
    with op.batch_alter_table('veltpay_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_veltpay_signatures_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_table('veltpay_signatures')
    op.drop_table('veltpay_orders')
