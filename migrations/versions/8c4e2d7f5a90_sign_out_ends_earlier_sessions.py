"""sign-out ends the sessions begun before it (credential and staff user)

Revision ID: 8c4e2d7f5a90
Revises: 3b1f0c9d2a71
Create Date: 2026-11-22 02:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8c4e2d7f5a90'
down_revision = '3b1f0c9d2a71'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_out_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signed_out_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('signed_out_at')

    with op.batch_alter_table('credential', schema=None) as batch_op:
        batch_op.drop_column('signed_out_at')
