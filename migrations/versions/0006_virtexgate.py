"""VirtexGate contract (issue 8): Idempotency-Key records of POST /api/invoices

Revision ID: 0006_virtexgate
Revises: 0005
Create Date: 2026-11-22 06:00:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0006_virtexgate'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'virtexgate_idempotency_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('api_key_ref', sa.String(length=64), nullable=False),
        sa.Column('idempotency_key', sa.String(length=255), nullable=False),
        sa.Column('request_digest', sa.String(length=64), nullable=False),
        sa.Column('response_status', sa.Integer(), nullable=True),
        sa.Column('response_body', sa.Text(), nullable=True),
        sa.Column('created_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.Column('expires_at', gateway_core.adapters.models.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_virtexgate_idempotency_keys_store_id_stores'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_virtexgate_idempotency_keys')),
        sa.UniqueConstraint('api_key_ref', 'idempotency_key',
                            name=op.f('uq_virtexgate_idempotency_keys_api_key_ref_idempotency_key')),
    )
    with op.batch_alter_table('virtexgate_idempotency_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_virtexgate_idempotency_keys_store_id'), ['store_id'], unique=False)


def downgrade() -> None:
    op.drop_table('virtexgate_idempotency_keys')
