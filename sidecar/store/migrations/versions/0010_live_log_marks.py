"""Live step logs read on from where the last poll stopped, not from byte 0

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'live_log_marks',
        sa.Column('execution_id', sa.String(300), sa.ForeignKey('executions.id'),
                  primary_key=True),
        sa.Column('node_id', sa.String(50), primary_key=True),
        sa.Column('delivered', sa.BigInteger(), primary_key=True),
        sa.Column('raw', sa.BigInteger(), nullable=False))


def downgrade() -> None:
    op.drop_table('live_log_marks')
