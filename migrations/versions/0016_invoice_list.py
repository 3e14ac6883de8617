"""invoice list (issue 22): indexes for a store's invoices newest first, by status and asset, and prefix search

Revision ID: 0016_invoice_list
Revises: 0015_invoice_decisions
Create Date: 2026-12-07 02:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_invoice_list'
down_revision = '0015_invoice_decisions'
branch_labels = None
depends_on = None



def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        # ix_invoices_store_created starts with store_id: it serves every lookup the old index did.
        batch_op.drop_index(batch_op.f('ix_invoices_store_id'))
        batch_op.create_index('ix_invoices_store_created', ['store_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_invoices_store_status_created', ['store_id', 'status', 'created_at', 'id'],
                              unique=False)
        batch_op.create_index('ix_invoices_store_number', ['store_id', 'number'], unique=False,
                              postgresql_ops={'number': 'text_pattern_ops'})
        batch_op.create_index('ix_invoices_store_external_id', ['store_id', 'external_id'], unique=False,
                              postgresql_ops={'external_id': 'text_pattern_ops'})
    op.create_index('ix_invoices_store_asset_created', 'invoices',
                    ['store_id', sa.text('coalesce(paid_asset, chosen_asset)'), 'created_at', 'id'], unique=False)
    bind = op.get_bind()
    ops = ' text_pattern_ops' if bind.dialect.name == 'postgresql' else ''
    op.execute(f'CREATE INDEX ix_invoices_store_email ON invoices (store_id, lower(customer_email){ops})')


def downgrade() -> None:
    op.drop_index('ix_invoices_store_email', table_name='invoices')
    op.drop_index('ix_invoices_store_asset_created', table_name='invoices')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_store_external_id')
        batch_op.drop_index('ix_invoices_store_number')
        batch_op.drop_index('ix_invoices_store_status_created')
        batch_op.drop_index('ix_invoices_store_created')
        batch_op.create_index(batch_op.f('ix_invoices_store_id'), ['store_id'], unique=False)
