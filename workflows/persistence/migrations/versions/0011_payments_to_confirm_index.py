"""payments: an index of the lines computed from unverified ruleset rows

Financements shows, per group, the part of the forecast computed from ruleset rows not checked against the signed
text (`to_confirm`). Summing it read every line of the year from the table (to_confirm is not in the forecast's
covering index): 64 ms over a 10 000-case portfolio. This partial index holds only those lines, with what the sum
reads.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

UNVERIFIED = sa.text("to_confirm IS NOT NULL")


def upgrade() -> None:
    op.create_index('ix_payments_to_confirm', 'payments',
                    ['due', 'status', 'component', 'case_id', 'amount', 'ceiling', 'to_confirm'], unique=False,
                    sqlite_where=UNVERIFIED, postgresql_where=UNVERIFIED)


def downgrade() -> None:
    op.drop_index('ix_payments_to_confirm', table_name='payments')
