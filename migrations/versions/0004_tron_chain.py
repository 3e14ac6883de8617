"""tron chain (issue 6): store TRON xpub and deposit address counter

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:10:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import gateway_core.adapters.models  # noqa: F401


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A store's TRON account xpub and the counter its deposit addresses are allocated from.
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tron_xpub', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('tron_next_index', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('stores', schema=None) as batch_op:
        batch_op.drop_column('tron_next_index')
        batch_op.drop_column('tron_xpub')
