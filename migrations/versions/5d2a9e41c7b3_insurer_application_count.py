"""insurer.application_count, kept by triggers on application (the registry's total without a count)

Revision ID: 5d2a9e41c7b3
Revises: 8c4e2d7f5a90
Create Date: 2026-11-22 02:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5d2a9e41c7b3'
down_revision = '8c4e2d7f5a90'
branch_labels = None
depends_on = None

# As in dost/models.py at this revision (a migration keeps its own copy).
TRIGGERS = {
    "postgresql": [
        """CREATE OR REPLACE FUNCTION application_count_keep() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE insurer SET application_count = application_count + 1 WHERE id = NEW.insurer_id;
    ELSE
        UPDATE insurer SET application_count = application_count - 1 WHERE id = OLD.insurer_id;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql""",
        "CREATE TRIGGER application_count AFTER INSERT OR DELETE ON application "
        "FOR EACH ROW EXECUTE FUNCTION application_count_keep()",
    ],
    "sqlite": [
        "CREATE TRIGGER application_count_insert AFTER INSERT ON application WHEN NEW.insurer_id IS NOT NULL "
        "BEGIN UPDATE insurer SET application_count = application_count + 1 WHERE id = NEW.insurer_id; END",
        "CREATE TRIGGER application_count_delete AFTER DELETE ON application WHEN OLD.insurer_id IS NOT NULL "
        "BEGIN UPDATE insurer SET application_count = application_count - 1 WHERE id = OLD.insurer_id; END",
    ],
}
DROP = {
    "postgresql": ["DROP TRIGGER IF EXISTS application_count ON application",
                   "DROP FUNCTION IF EXISTS application_count_keep()"],
    "sqlite": ["DROP TRIGGER IF EXISTS application_count_insert", "DROP TRIGGER IF EXISTS application_count_delete"],
}


def upgrade():
    with op.batch_alter_table('insurer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('application_count', sa.Integer(), server_default='0', nullable=False))
    op.execute("UPDATE insurer SET application_count = "
               "(SELECT count(*) FROM application WHERE application.insurer_id = insurer.id)")
    for statement in TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade():
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table('insurer', schema=None) as batch_op:
        batch_op.drop_column('application_count')
