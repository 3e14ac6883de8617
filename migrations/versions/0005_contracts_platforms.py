"""contracts and platforms (issues 7 and 8): invoice contract, contract webhooks, platform installs and orders

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 05:00:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contract', sa.String(length=16), server_default='voltxt', nullable=False))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('rate_limit_per_minute', sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_api_keys_public_id'), ['public_id'])
    op.create_table(
        'contract_webhooks',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('contract', sa.String(length=16), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('secret_encrypted', sa.Text(), nullable=False),
        sa.Column('created_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.Column('updated_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_contract_webhooks_store_id_stores'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contract_webhooks')),
        sa.UniqueConstraint('store_id', 'contract', name=op.f('uq_contract_webhooks_store_id_contract')),
    )
    with op.batch_alter_table('contract_webhooks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contract_webhooks_store_id'), ['store_id'], unique=False)
    op.create_table(
        'platform_installations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('account', sa.String(length=512), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('credentials_encrypted', sa.Text(), nullable=True),
        sa.Column('data', gateway_core.adapters.models.ExactJSON(), nullable=True),
        sa.Column('created_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.Column('updated_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_platform_installations_store_id_stores'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_installations')),
        sa.UniqueConstraint('platform', 'account', name=op.f('uq_platform_installations_platform_account')),
    )
    with op.batch_alter_table('platform_installations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_platform_installations_store_id'), ['store_id'], unique=False)
    op.create_table(
        'platform_orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('installation_id', sa.Integer(), nullable=False),
        sa.Column('order_ref', sa.String(length=255), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('data', gateway_core.adapters.models.ExactJSON(), nullable=True),
        sa.Column('created_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['installation_id'], ['platform_installations.id'],
                                name=op.f('fk_platform_orders_installation_id_platform_installations'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_platform_orders_invoice_id_invoices'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_orders')),
        sa.UniqueConstraint('installation_id', 'order_ref', name=op.f('uq_platform_orders_installation_id_order_ref')),
    )
    with op.batch_alter_table('platform_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_platform_orders_installation_id'), ['installation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_platform_orders_invoice_id'), ['invoice_id'], unique=False)


def downgrade() -> None:
    op.drop_table('platform_orders')
    op.drop_table('platform_installations')
    op.drop_table('contract_webhooks')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_api_keys_public_id'), type_='unique')
        batch_op.drop_column('rate_limit_per_minute')
        batch_op.drop_column('public_id')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('contract')
