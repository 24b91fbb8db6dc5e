"""users: typed scopes ("reg:44", "dep:57", "national"); outbox: the parts of a notice, rendered when sent

A bare code could be a région or a département (région 44 is Grand Est, département 44 Loire-Atlantique; région
75 Nouvelle-Aquitaine, département 75 Paris), and routing compared one with the other. Scopes are now typed:
an ARS agent's codes become régions, a CPAM agent's and legal staff's départements, national staff and
administrators get the explicit scope "national". Legal staff registered without a scope were treated as
covering every CPTS; they keep an empty scope, which covers nothing (`cpts user list` says so) until
`cpts user edit EMAIL --scope …` gives them one.

`outbox.notice` keeps what a reminder or breach notice is made of, so that it is rendered again on the day it
is sent (its countdown is then true); rows written before keep their stored bodies.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import json

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

NATIONAL = 'national'
PREFIXES = ('reg:', 'dep:')


def _typed(role: str, codes: list[str]) -> list[str]:
    if role in ('national', 'admin'):
        return [NATIONAL]
    kind = 'reg:' if role == 'ars' else 'dep:'
    typed = [c if c.startswith(PREFIXES) or c == NATIONAL else kind + c for c in (str(c).strip() for c in codes) if c]
    return list(dict.fromkeys(typed))


def _untyped(codes: list[str]) -> list[str]:
    return [c.split(':', 1)[1] for c in codes if c.startswith(PREFIXES)]


def _convert(convert) -> None:  # type: ignore[no-untyped-def]
    connection = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer()), sa.column('role', sa.String()),
                     sa.column('scope', sa.String()))
    for user_id, role, scope in connection.execute(sa.select(users.c.id, users.c.role, users.c.scope)).all():
        codes = json.loads(scope or '[]')
        new = convert(role, codes)
        if new != codes:
            connection.execute(users.update().where(users.c.id == user_id).values(scope=json.dumps(new)))


def upgrade() -> None:
    _convert(_typed)
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('notice', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('notice')
    # Back to bare codes; a national scope becomes the empty list it was.
    _convert(lambda role, codes: _untyped(codes))
