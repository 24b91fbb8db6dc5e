"""deadlines, payments: the ruleset row each line comes from, and whether it is still to be confirmed

`origin` names the ruleset and the row whose values produced a deadline's period or a payment's amount
("ACI-2019+A2 amounts.missions.crisis"); `to_confirm` holds that row's source when its values were not checked
against the signed text (ACI avenant 2), so that every page and export marks the date or amount "à confirmer".
Existing rows get both on the case's next refresh (a write or a sweep), and are read as verified until then
(every row written before this revision came from ACI-2019, whose values are all verified).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('deadlines', 'payments'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('origin', sa.Text(), nullable=True))
            batch.add_column(sa.Column('to_confirm', sa.Text(), nullable=True))


def downgrade() -> None:
    for table in ('deadlines', 'payments'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('to_confirm')
            batch.drop_column('origin')
