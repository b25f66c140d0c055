"""registry search indexes cover the application id (index-only page and count)

Revision ID: 3b1f0c9d2a71
Revises: e645bd5d54a2
Create Date: 2026-11-22 02:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3b1f0c9d2a71'
down_revision = 'e645bd5d54a2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index('ix_application_insurer_surname')
        batch_op.drop_index('ix_application_insurer_fin')
        batch_op.create_index('ix_application_insurer_surname_id', ['insurer_id', 'surname_key', 'id'], unique=False)
        batch_op.create_index('ix_application_insurer_fin_id', ['insurer_id', 'fin', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index('ix_application_insurer_fin_id')
        batch_op.drop_index('ix_application_insurer_surname_id')
        batch_op.create_index('ix_application_insurer_fin', ['insurer_id', 'fin'], unique=False)
        batch_op.create_index('ix_application_insurer_surname', ['insurer_id', 'surname_key'], unique=False)
