"""Database access: engines (SQLite file by default, PostgreSQL by URL) and migrations.

The URL is given by the caller (the entrypoints read it from `workflows.settings`); nothing here reads the
environment.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, event, inspect
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

from workflows.persistence.errors import DatabaseNotReady

if TYPE_CHECKING:
    from alembic.config import Config

IN_MEMORY_URLS = ("sqlite://", "sqlite:///:memory:")


def normalise_url(url: str) -> str:
    """`postgresql://…` → the psycopg 3 driver's URL; other URLs unchanged."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str) -> Engine:
    """An SQLAlchemy engine; SQLite gets foreign keys and a busy timeout (one writer at a time)."""
    url = normalise_url(url)
    if url in IN_MEMORY_URLS:
        # One shared in-memory database (the simulator's virtual world).
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            # Let SQLAlchemy, not the driver, open transactions (below), so that they can be IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection) -> None:  # type: ignore[no-untyped-def]
            # One writer at a time, decided when the transaction starts: a read-then-write transaction
            # never fails half-way with "database is locked" because another process wrote meanwhile; it
            # waits (busy timeout) instead.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # only `cpts db init` and the tests migrate: alembic is not loaded otherwise

    config = Config()
    script_location = Path(str(resources.files("workflows.persistence.migrations")))
    config.set_main_option("script_location", str(script_location))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), "head")


def open_engine(url: str) -> Engine:
    """The engine of a database that has its schema (what every command but `cpts db init` works on)."""
    engine = make_engine(url)
    ensure_schema(engine)
    return engine


def ensure_schema(engine: Engine) -> None:
    """Refuse to work on a database without the schema, with the command that fixes it."""
    tables = set(inspect(engine).get_table_names())
    if "cases" not in tables:
        raise DatabaseNotReady(
            f"the database {engine.url.render_as_string(hide_password=True)} has no schema: run `cpts db init` first"
        )
