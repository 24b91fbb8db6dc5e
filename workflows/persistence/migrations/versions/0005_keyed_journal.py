"""journal: the key that signed each row (keyed hashes) and an optional idempotency key per write

`key_id` names the HMAC key a row's hash was computed with ('' for the unkeyed sha256 of earlier versions);
`idempotency_key` lets a caller whose acknowledgement was lost retry a write and get the first result back.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('journal') as batch:
        batch.add_column(sa.Column('key_id', sa.String(), nullable=False, server_default=''))
        batch.add_column(sa.Column('idempotency_key', sa.String(), nullable=True))
        batch.create_unique_constraint('uq_journal_case_idempotency', ['case_id', 'idempotency_key'])


def downgrade() -> None:
    with op.batch_alter_table('journal') as batch:
        batch.drop_constraint('uq_journal_case_idempotency', type_='unique')
        batch.drop_column('idempotency_key')
        batch.drop_column('key_id')
