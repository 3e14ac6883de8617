"""dashboard invoice actions (issue 22): the merchant's decisions on invoices and payments attached from the inbox

Revision ID: 0015_invoice_decisions
Revises: 0014_payment_valuation
Create Date: 2026-12-07 03:00:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0015_invoice_decisions'
down_revision = '0014_payment_valuation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'invoice_decisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('user_email', sa.String(length=320), nullable=False),
        sa.Column('created_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_decisions_invoice_id_invoices'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invoice_decisions_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_decisions')),
    )
    op.create_index(op.f('ix_invoice_decisions_invoice_id'), 'invoice_decisions', ['invoice_id'], unique=False)
    op.create_table(
        'payment_attachments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('payment_id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('from_disposition', sa.String(length=16), nullable=False),
        sa.Column('from_invoice_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('user_email', sa.String(length=320), nullable=False),
        sa.Column('created_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_attachments_payment_id_payments'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payment_attachments_invoice_id_invoices'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['from_invoice_id'], ['invoices.id'],
                                name=op.f('fk_payment_attachments_from_invoice_id_invoices'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_payment_attachments_user_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_attachments')),
        sa.UniqueConstraint('payment_id', name=op.f('uq_payment_attachments_payment_id')),
    )
    op.create_index(op.f('ix_payment_attachments_invoice_id'), 'payment_attachments', ['invoice_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_payment_attachments_invoice_id'), table_name='payment_attachments')
    op.drop_table('payment_attachments')
    op.drop_index(op.f('ix_invoice_decisions_invoice_id'), table_name='invoice_decisions')
    op.drop_table('invoice_decisions')
