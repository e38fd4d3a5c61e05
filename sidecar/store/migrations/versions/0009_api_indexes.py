"""API speed: the native list by state, and finished runs' stored Blue Ocean documents

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_executions_state_created', 'executions', ['state', 'created_at'])
    op.create_table(
        'run_documents',
        sa.Column('execution_id', sa.String(300), sa.ForeignKey('executions.id'),
                  primary_key=True),
        sa.Column('kind', sa.String(20), primary_key=True),
        sa.Column('has_next', sa.Boolean(), nullable=False),
        sa.Column('etag', sa.String(64), nullable=False),
        sa.Column('body', sa.Text(), nullable=False))


def downgrade() -> None:
    op.drop_table('run_documents')
    op.drop_index('ix_executions_state_created', table_name='executions')
