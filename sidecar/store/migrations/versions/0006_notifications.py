"""Notifiers registered per project and the notification outbox

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notifiers',
        sa.Column('project', sa.String(100), primary_key=True),
        sa.Column('name', sa.String(100), primary_key=True),
        sa.Column('type', sa.String(20), nullable=False),
        sa.Column('url', sa.String(2000), nullable=False),
        sa.Column('secret', sa.String(500), nullable=False),
        sa.Column('options', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False))
    op.create_table(
        'notification_deliveries',
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('delivery_id', sa.String(500), nullable=False, unique=True),
        sa.Column('execution_id', sa.String(300), sa.ForeignKey('executions.id'),
                  nullable=False, index=True),
        sa.Column('notifier', sa.String(100), nullable=False),
        sa.Column('condition', sa.String(20), nullable=False),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('fields', sa.JSON(), nullable=False),
        sa.Column('template', sa.Text(), nullable=False),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=False),
        sa.Column('template_error', sa.Text(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_notification_deliveries_due', 'notification_deliveries',
                    ['state', 'next_attempt_at'])


def downgrade() -> None:
    op.drop_index('ix_notification_deliveries_due', 'notification_deliveries')
    op.drop_table('notification_deliveries')
    op.drop_table('notifiers')
