"""payments.paid: what was paid on each échéancier line (instalments included), in the forecast's index

A line can be paid in several instalments (`partially_paid`); the forecast's "already paid" sums this column
instead of counting only lines paid in full. Lines already `paid` were paid their whole amount.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

FORECAST_BEFORE = ['due', 'status', 'component', 'case_id', 'amount', 'ceiling']
FORECAST_AFTER = [*FORECAST_BEFORE, 'paid']


def upgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paid', sa.Numeric(14, 2), nullable=False, server_default='0'))
        batch_op.drop_index('ix_payments_due_forecast')
        batch_op.create_index('ix_payments_due_forecast', FORECAST_AFTER, unique=False)
    payments = sa.table('payments', sa.column('status', sa.String()), sa.column('amount', sa.Numeric(14, 2)),
                        sa.column('paid', sa.Numeric(14, 2)))
    op.get_bind().execute(sa.update(payments).where(payments.c.status == 'paid').values(paid=payments.c.amount))


def downgrade() -> None:
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index('ix_payments_due_forecast')
        batch_op.create_index('ix_payments_due_forecast', FORECAST_BEFORE, unique=False)
        batch_op.drop_column('paid')
