"""Pooled PostgreSQL connections: one that sat idle is pinged before it is handed out (and replaced if dead);
one used within the last moment is not (`workflows.persistence.db.PING_AFTER_IDLE_SECONDS`), so a busy writer
pays no round trip per transaction for it — and a connection that died within that moment fails one
transaction cleanly, the next one getting a fresh connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from builders import new_case, noon
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from workflows.persistence import db as db_module
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import NewEvent, apply

CONTACT = NewEvent("contact_recorded", date(2025, 1, 6), {"source": "ars"})


def record_contact(engine: Engine, case_id: int) -> None:
    apply(SqlUnitOfWork(engine), case_id, CONTACT, "ars.agent", today=CONTACT.at, now=noon(CONTACT.at))


def journal(engine: Engine, case_id: int) -> list[str]:
    with engine.connect() as connection:
        return [r[0] for r in connection.execute(
            text("SELECT type FROM journal WHERE case_id = :c ORDER BY seq"), {"c": case_id})]


def backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def terminate(postgres_db: Engine, pid: int) -> None:
    with postgres_db.connect() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")


@pytest.fixture
def pooled(postgres_db, monkeypatch) -> Iterator[Callable[[float], Engine]]:
    """Engines on the test's schema whose pooled connections are pinged after `window` seconds in the pool."""
    engines: list[Engine] = []

    def make(window: float) -> Engine:
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", window)
        engines.append(db_module.make_engine(postgres_db.url.render_as_string(hide_password=False)))
        return engines[-1]

    yield make
    for engine in engines:
        engine.dispose()


@pytest.mark.postgres
def test_a_pooled_connection_killed_while_idle_is_replaced_before_the_next_write(pooled, postgres_db):
    engine = pooled(0.2)
    case_id = new_case(engine)
    dead = backend_pid(engine)
    terminate(postgres_db, dead)  # the server restarted, or an administrator killed the session
    time.sleep(0.3)  # longer than the window: the pool pings the connection before handing it out

    record_contact(engine, case_id)

    assert backend_pid(engine) != dead
    assert journal(engine, case_id) == ["contact_recorded"]


@pytest.mark.postgres
def test_a_pooled_connection_killed_within_the_window_fails_one_write_cleanly_and_the_next_succeeds(
        pooled, postgres_db):
    engine = pooled(60)
    case_id = new_case(engine)
    terminate(postgres_db, backend_pid(engine))  # and handed out again within the minute: no ping

    with pytest.raises(OperationalError):
        record_contact(engine, case_id)
    assert journal(engine, case_id) == []
    record_contact(engine, case_id)

    assert journal(engine, case_id) == ["contact_recorded"]
