"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 00:38:36.060056
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pipelines',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('project', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('repository_url', sa.String(length=2000), nullable=False),
    sa.Column('config_path', sa.String(length=500), nullable=False),
    sa.Column('inline_config', sa.Text(), nullable=True),
    sa.Column('webhook_secret', sa.String(length=200), nullable=False),
    sa.Column('triggers', sa.JSON(), nullable=False),
    sa.Column('next_run', sa.Integer(), nullable=False),
    sa.Column('last_run_state', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project', 'name')
    )
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pipelines_project'), ['project'], unique=False)

    op.create_table('settings',
    sa.Column('project', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('project', 'name')
    )
    op.create_table('webhook_deliveries',
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('delivery_id', sa.String(length=200), nullable=False),
    sa.Column('pipeline_id', sa.String(length=255), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('provider', 'delivery_id')
    )
    op.create_table('executions',
    sa.Column('id', sa.String(length=300), nullable=False),
    sa.Column('pipeline_id', sa.String(length=255), nullable=False),
    sa.Column('project', sa.String(length=100), nullable=False),
    sa.Column('run', sa.Integer(), nullable=False),
    sa.Column('trigger_type', sa.String(length=20), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('branch', sa.String(length=500), nullable=False),
    sa.Column('ref', sa.String(length=500), nullable=False),
    sa.Column('commit', sa.String(length=100), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('config_snapshot', sa.Text(), nullable=False),
    sa.Column('jenkinsfile', sa.Text(), nullable=True),
    sa.Column('pod_yaml', sa.Text(), nullable=True),
    sa.Column('jenkins_job', sa.String(length=300), nullable=True),
    sa.Column('jenkins_queue_id', sa.BigInteger(), nullable=True),
    sa.Column('jenkins_build', sa.Integer(), nullable=True),
    sa.Column('node_name', sa.String(length=300), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('callback_token_hash', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('pipeline_id', 'run')
    )
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_executions_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_executions_pipeline_id'), ['pipeline_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_executions_project'), ['project'], unique=False)
        batch_op.create_index(batch_op.f('ix_executions_state'), ['state'], unique=False)

    op.create_table('approvals',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('execution_id', sa.String(length=300), nullable=False),
    sa.Column('stage_index', sa.Integer(), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=False),
    sa.Column('input_id', sa.String(length=100), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('submitters', sa.JSON(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('timeout_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_approvals_execution_id'), ['execution_id'], unique=False)

    op.create_table('log_chunks',
    sa.Column('execution_id', sa.String(length=300), nullable=False),
    sa.Column('stage_index', sa.Integer(), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], ),
    sa.PrimaryKeyConstraint('execution_id', 'stage_index', 'step_index', 'offset')
    )
    op.create_table('scheduled_info',
    sa.Column('execution_id', sa.String(length=300), nullable=False),
    sa.Column('pipeline_id', sa.String(length=255), nullable=False),
    sa.Column('node_name', sa.String(length=300), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], ),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], ),
    sa.PrimaryKeyConstraint('execution_id')
    )
    with op.batch_alter_table('scheduled_info', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scheduled_info_pipeline_id'), ['pipeline_id'], unique=False)

    op.create_table('step_states',
    sa.Column('execution_id', sa.String(length=300), nullable=False),
    sa.Column('stage_index', sa.Integer(), nullable=False),
    sa.Column('step_index', sa.Integer(), nullable=False),
    sa.Column('stage_name', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('jenkins_node_id', sa.String(length=50), nullable=True),
    sa.Column('log_offset', sa.BigInteger(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], ),
    sa.PrimaryKeyConstraint('execution_id', 'stage_index', 'step_index')
    )


def downgrade() -> None:
    op.drop_table('step_states')
    with op.batch_alter_table('scheduled_info', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scheduled_info_pipeline_id'))

    op.drop_table('scheduled_info')
    op.drop_table('log_chunks')
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approvals_execution_id'))

    op.drop_table('approvals')
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_executions_state'))
        batch_op.drop_index(batch_op.f('ix_executions_project'))
        batch_op.drop_index(batch_op.f('ix_executions_pipeline_id'))
        batch_op.drop_index(batch_op.f('ix_executions_created_at'))

    op.drop_table('executions')
    op.drop_table('webhook_deliveries')
    op.drop_table('settings')
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pipelines_project'))

    op.drop_table('pipelines')
