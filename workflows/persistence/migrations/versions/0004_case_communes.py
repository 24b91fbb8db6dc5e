"""case_communes: one row per commune of a case, indexed by commune, filled from cases.communes; covering
indexes for the forecast (payments by due date) and the deadlines due soon (deadlines by status and due date)

The overlap check ("which other CPTS claim one of these communes") reads the commune index instead of scanning
every case's JSON list; the forecast of a year and the list of deadlines due within N days read their rows from
an index alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BATCH = 5000
DEADLINES_STATUS_DUE = ['status', 'due', 'case_id', 'key', 'ident', 'kind', 'recipients', 'label']


def upgrade() -> None:
    case_communes = op.create_table('case_communes',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('commune', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('case_id', 'commune')
    )
    with op.batch_alter_table('case_communes', schema=None) as batch_op:
        batch_op.create_index('ix_case_communes_commune', ['commune', 'case_id'], unique=False)
    _backfill(case_communes)
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_due')
        batch_op.create_index('ix_payments_due_forecast',
                              ['due', 'status', 'component', 'case_id', 'amount', 'ceiling'], unique=False)
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_status_due')
        batch_op.create_index('ix_deadlines_status_due', DEADLINES_STATUS_DUE, unique=False)


def _backfill(case_communes: sa.Table) -> None:
    """One row per distinct commune of every existing case (the JSON list is the truth)."""
    connection = op.get_bind()
    cases = sa.table('cases', sa.column('id', sa.Integer()), sa.column('communes', sa.Text()))
    rows: list[dict[str, object]] = []
    existing = connection.execute(sa.select(cases.c.id, cases.c.communes).order_by(cases.c.id)).all()
    for case_id, communes in existing:
        rows.extend({'case_id': case_id, 'commune': code} for code in sorted(set(json.loads(communes or '[]'))))
        if len(rows) >= BATCH:
            connection.execute(case_communes.insert(), rows)
            rows = []
    if rows:
        connection.execute(case_communes.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_status_due')
        batch_op.create_index('ix_deadlines_status_due', ['status', 'due'], unique=False)

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_due_forecast')
        batch_op.create_index('ix_payments_due', ['due'], unique=False)

    with op.batch_alter_table('case_communes', schema=None) as batch_op:
        batch_op.drop_index('ix_case_communes_commune')

    op.drop_table('case_communes')
