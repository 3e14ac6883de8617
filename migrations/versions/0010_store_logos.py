"""store logos (issue 19): the image shown on the payment page and in merchant emails

Revision ID: 0010_store_logos
Revises: 0009_price_scale
Create Date: 2026-12-06 23:50:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0010_store_logos'
down_revision = '0009_price_scale'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'store_logos',
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('updated_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_logos_store_id_stores'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('store_id', name=op.f('pk_store_logos')),
    )
    with op.batch_alter_table('store_logos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_store_logos_digest'), ['digest'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('store_logos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_store_logos_digest'))
    op.drop_table('store_logos')
