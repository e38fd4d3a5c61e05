"""The commits a webhook delivered (a run's change set) and disabled pipelines

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_table(
        'execution_commits',
        sa.Column('execution_id', sa.String(300), sa.ForeignKey('executions.id'),
                  primary_key=True),
        sa.Column('position', sa.Integer(), primary_key=True),
        sa.Column('commit_id', sa.String(100), nullable=False),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('author_id', sa.String(200), nullable=False, index=True),
        sa.Column('author_name', sa.String(200), nullable=False),
        sa.Column('timestamp', sa.DateTime(timezone=True), nullable=True),
        sa.Column('url', sa.String(2000), nullable=False),
        sa.Column('affected_paths', sa.JSON(), nullable=False))


def downgrade() -> None:
    op.drop_table('execution_commits')
    with op.batch_alter_table('pipelines', schema=None) as batch_op:
        batch_op.drop_column('disabled')
