"""certificate status 'cancelled': an ordered replacement whose application was refused

Revision ID: b6e1d4a8c0f3
Revises: 5d2a9e41c7b3
Create Date: 2026-11-22 03:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b6e1d4a8c0f3'
down_revision = '5d2a9e41c7b3'
branch_labels = None
depends_on = None

CHECK = "ck_certificate_certificate_status"
BEFORE = ("active", "replaced", "ordered")
AFTER = (*BEFORE, "cancelled")


def _allow(statuses):
    # SQLite cannot alter a CHECK: batch mode rebuilds the table (migrations/env.py turns foreign keys off for it).
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), sa.column("status").in_(statuses))


def upgrade():
    _allow(AFTER)


def downgrade():
    # Before this revision a cancelled order stayed "ordered".
    op.execute("UPDATE certificate SET status = 'ordered' WHERE status = 'cancelled'")
    _allow(BEFORE)
