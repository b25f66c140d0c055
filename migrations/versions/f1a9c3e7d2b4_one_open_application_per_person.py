"""one registered application in process per person, across insurers and channels

The unique application.open_key was "<insurer or walk-in>:<person>" for every open application, so two insurers
(or an insurer and a DOST centre) could each have one in process for the same person. It becomes
"draft:<insurer or walk-in>:<person>" for a draft (one per insurer and person, as before) and "person:<person>"
for a registered application until it is delivered or refused (one per person).

Data that already breaks the rule is kept, never deleted: the oldest registration of the person takes the
person's key, each later one gets "conflict:<id>" and is reported here (the verify and order steps refuse it
while the other is under way, so staff close it by refusal).

Revision ID: f1a9c3e7d2b4
Revises: c7a1e5f2b9d4
Create Date: 2026-12-03 21:10:00

"""
import logging

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f1a9c3e7d2b4'
down_revision = 'c7a1e5f2b9d4'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
IN_PROCESS = ("submitted", "verified", "ordered", "ready")

application = sa.table(
    "application",
    sa.column("id", sa.Integer), sa.column("insurer_id", sa.Integer), sa.column("person_id", sa.Integer),
    sa.column("status", sa.String), sa.column("open_key", sa.String),
    sa.column("registration_number", sa.String),
)


def _rekey(key_of) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(application.c.id, application.c.insurer_id, application.c.person_id, application.c.status,
                  application.c.registration_number)
        .where(application.c.open_key.is_not(None)).order_by(application.c.id)
    ).all()
    # Free every key first: the new keys may equal old ones of other rows.
    conn.execute(application.update().where(application.c.open_key.is_not(None))
                 .values(open_key=sa.literal("rekey:") + sa.cast(application.c.id, sa.String)))
    taken: dict[str, int] = {}
    for row in rows:
        key = key_of(row)
        if key in taken:
            log.warning("application %s (%s) is a second open application of person %s besides application %s: "
                        "kept as conflict:%s; refuse one of them", row.id, row.registration_number or "draft",
                        row.person_id, taken[key], row.id)
            key = f"conflict:{row.id}"
        taken[key] = row.id
        conn.execute(application.update().where(application.c.id == row.id).values(open_key=key))


def _owner(row) -> str:
    return str(row.insurer_id) if row.insurer_id is not None else "walk-in"


def upgrade():
    _rekey(lambda row: f"person:{row.person_id}" if row.status in IN_PROCESS
           else f"draft:{_owner(row)}:{row.person_id}")


def downgrade():
    _rekey(lambda row: f"{_owner(row)}:{row.person_id}")
