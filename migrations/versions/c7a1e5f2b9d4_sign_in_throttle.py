"""sign-in guessing limits per card and per typed user name, shared by all processes; no staff account lock

The table sign_in_throttle counts attempts per subject (the SHA-256 of "card:<number>" or "staff:<user name as
typed>") and holds the lock that expires with backoff (dost.services.throttle). The account lock of staff_user
(failed_attempts, locked_until), which anyone could set for a known user name, goes. A lock under way at the
upgrade (15 minutes at most) is not carried over.

Revision ID: c7a1e5f2b9d4
Revises: b6e1d4a8c0f3
Create Date: 2026-12-04 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7a1e5f2b9d4'
down_revision = 'b6e1d4a8c0f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_throttle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_throttle')),
    sa.UniqueConstraint('subject', name=op.f('uq_sign_in_throttle_subject'))
    )
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_throttle_last_attempt_at'), ['last_attempt_at'], unique=False)

    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_attempts')


def downgrade():
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        # Existing rows need a value; the models before this revision had no server default.
        batch_op.add_column(sa.Column('failed_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.alter_column('failed_attempts', server_default=None)

    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_throttle_last_attempt_at'))

    op.drop_table('sign_in_throttle')
