"""credential kind 'sima': a SİMA certificate, as the national login reports one

Revision ID: a4d2c8e6f1b9
Revises: f1a9c3e7d2b4
Create Date: 2026-12-07 23:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a4d2c8e6f1b9'
down_revision = 'f1a9c3e7d2b4'
branch_labels = None
depends_on = None

CHECK = "ck_credential_credential_kind"
BEFORE = ("card", "asan")
AFTER = (*BEFORE, "sima")


def _allow(kinds):
    # SQLite cannot alter a CHECK: batch mode rebuilds the table (migrations/env.py turns foreign keys off for it).
    with op.batch_alter_table("credential", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(CHECK), type_="check")
        batch_op.create_check_constraint(op.f(CHECK), sa.column("kind").in_(kinds))


def upgrade():
    _allow(AFTER)


def downgrade():
    # SİMA credentials were registered by sign-ins at the national login; they cannot be kept as another kind.
    if op.get_bind().execute(sa.text("SELECT count(*) FROM credential WHERE kind = 'sima'")).scalar():
        raise RuntimeError("credentials of kind 'sima' exist: downgrading would lose them")
    _allow(BEFORE)
