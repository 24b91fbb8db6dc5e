"""deadlines: the indexes the dashboard's pages read by (À traiter, missions déployées)

`ix_deadlines_open` (PostgreSQL) holds only the open rows (pending, breached) in due order: *À traiter* reads its
page in order without the met, elapsed and cancelled rows, which are most of a mature portfolio (PostgreSQL could
not use `ix_deadlines_status_due` for `status = 'breached' OR (status = 'pending' AND due <= …)`). SQLite keeps
reading that page from `ix_deadlines_status_due`, which its planner does well.
`ix_deadlines_case_key_status` finds a case's rows of one key (whether its socle missions are deployed).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'breached')")


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':  # SQLite reads that page faster from ix_deadlines_status_due
        op.create_index('ix_deadlines_open', 'deadlines', ['due', 'case_id', 'key', 'status', 'at_expiry'],
                        unique=False, postgresql_where=OPEN)
    op.create_index('ix_deadlines_case_key_status', 'deadlines', ['case_id', 'key', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_deadlines_case_key_status', table_name='deadlines')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_deadlines_open', table_name='deadlines')
