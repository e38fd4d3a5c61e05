"""The engine's leader lease (with its fencing epoch) and each engine's heartbeat

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'leader_lease',
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('epoch', sa.BigInteger(), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('renewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name'))
    op.create_table(
        'engine_heartbeats',
        sa.Column('holder', sa.String(length=200), nullable=False),
        sa.Column('leading', sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column('beat_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('holder'))


def downgrade() -> None:
    op.drop_table('engine_heartbeats')
    op.drop_table('leader_lease')
