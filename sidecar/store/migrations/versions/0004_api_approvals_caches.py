"""Columns and tables for the Blue Ocean API, webhooks, approvals and cache placement

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provider_token', sa.String(500), nullable=False,
                                      server_default=''))
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('triggered_by', sa.String(200), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('replay_of', sa.String(300), nullable=True))
        batch_op.add_column(sa.Column('held_since', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cache_slot', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('placement_note', sa.Text(), nullable=False,
                                      server_default=''))
        # Runs of one pipeline, newest first: the runs list of the APIs.
        batch_op.create_index('ix_executions_pipeline_created', ['pipeline_id', 'created_at'])
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('jenkins_input_id', sa.String(200), nullable=True))
        batch_op.add_column(sa.Column('ok_text', sa.String(200), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('notify_attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.create_index('ix_approvals_state', ['state'])
    op.create_table(
        'node_caches',
        sa.Column('node_name', sa.String(300), primary_key=True),
        sa.Column('directory', sa.String(1000), primary_key=True),
        sa.Column('pipeline_id', sa.String(255), nullable=True, index=True),
        sa.Column('scope', sa.String(20), nullable=False),
        sa.Column('slot', sa.Integer(), nullable=True),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('state', sa.String(20), nullable=False),
        sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False))


def downgrade() -> None:
    op.drop_table('node_caches')
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_index('ix_approvals_state')
        for column in ('notify_attempts', 'notified_at', 'ok_text', 'jenkins_input_id'):
            batch_op.drop_column(column)
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_index('ix_executions_pipeline_created')
        for column in ('placement_note', 'cache_slot', 'held_since', 'replay_of',
                       'triggered_by'):
            batch_op.drop_column(column)
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.drop_column('provider_token')
