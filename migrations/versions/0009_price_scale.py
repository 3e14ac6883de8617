"""contracts as documented (issue 16): the decimals a client wrote an invoice's price with

VeltPay echoes amounts as the client sent them ("120.00" stays "120.00"); the price itself is kept in base
units, so its scale is kept beside it. Existing invoices have none (NULL) and keep the plain notation.

Revision ID: 0009_price_scale
Revises: 0008_parked_items
Create Date: 2026-12-06 23:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_price_scale'
down_revision = '0008_parked_items'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('price_scale', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('price_scale')
