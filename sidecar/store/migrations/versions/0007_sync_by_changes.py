"""Follow runs by their changes: pushes, the last look, per-execution retries

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pushes', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('pushes_seen', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('look_again', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('detailed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('errors', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('step_states', schema=None) as batch_op:
        batch_op.add_column(sa.Column('end_reported', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('step_states', schema=None) as batch_op:
        batch_op.drop_column('end_reported')
    with op.batch_alter_table('executions', schema=None) as batch_op:
        for column in ('retry_at', 'errors', 'detailed_at', 'look_again', 'pushes_seen',
                       'pushes'):
            batch_op.drop_column(column)
