"""Shared fixtures: a migrated database per test, on SQLite and (marked `postgres`) on the local PostgreSQL.

PostgreSQL tests use $CPTS_TEST_POSTGRES_URL (default: the local server's `test` database). Each test gets its
own schema, dropped afterwards. Where the server cannot be reached they are skipped, except in CI (CI=true),
where an unreachable PostgreSQL is a failure: the engine suite must run against it there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from workflows.persistence.db import make_engine, migrate

POSTGRES_URL = os.environ.get("CPTS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> str | None:
    try:
        probe = create_engine(POSTGRES_URL)
        with probe.connect() as connection:
            connection.execute(text("select 1"))
        probe.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]


@pytest.fixture(scope="session")
def postgres_available() -> None:
    problem = _postgres_reachable()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable in CI: {problem}")
    pytest.skip(f"PostgreSQL not reachable here ({problem})")


def postgres_engine(schema: str) -> Engine:
    return make_engine(POSTGRES_URL + ("&" if "?" in POSTGRES_URL else "?") + f"options=-csearch_path%3D{schema}")


@pytest.fixture
def sqlite_db(tmp_path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'cpts.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_db(postgres_available) -> Iterator[Engine]:
    schema = f"cpts_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = postgres_engine(schema)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request) -> Engine:
    """The engine suite runs on both databases."""
    return request.getfixturevalue("sqlite_db" if request.param == "sqlite" else "postgres_db")
