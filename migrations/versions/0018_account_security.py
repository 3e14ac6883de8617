"""account security (issue 22): account emails (reset, invite) belong to no store; TOTP two-factor with
recovery codes; API keys remember when they were last used

Revision ID: 0018_account_security
Revises: 0017_store_language
Create Date: 2026-12-07 03:00:00
"""
from alembic import op
import sqlalchemy as sa
import gateway_core.adapters.models


revision = '0018_account_security'
down_revision = '0017_store_language'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.Integer(), nullable=True))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_used_at', gateway_core.adapters.models.UtcDateTime(), nullable=True))
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_digest', sa.String(length=64), nullable=False),
        sa.Column('used_at', gateway_core.adapters.models.UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
    )
    op.create_index(op.f('ix_recovery_codes_user_id'), 'recovery_codes', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_table('recovery_codes')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret')
    op.execute("DELETE FROM emails WHERE store_id IS NULL")
    op.execute("DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE store_id IS NULL)")
    op.execute("DELETE FROM deliveries WHERE store_id IS NULL")
    with op.batch_alter_table('emails', schema=None) as batch_op:
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.alter_column('store_id', existing_type=sa.Integer(), nullable=False)
