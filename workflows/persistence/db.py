"""Database access: engines (SQLite file by default, PostgreSQL by URL) and migrations.

The URL is given by the caller (the entrypoints read it from `workflows.settings`); nothing here reads the
environment.
"""

from __future__ import annotations

import os
import re
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DataError, DisconnectionError, NoSuchModuleError
from sqlalchemy.pool import StaticPool
from sqlmodel import create_engine

from workflows.persistence.errors import DatabaseNotReady, DatabaseUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

IN_MEMORY_URLS = ("sqlite://", "sqlite:///:memory:")
URL_EXAMPLES = "sqlite:///FILE or postgresql://USER@HOST/DATABASE"


# Execution option of an engine whose transactions only read (see `SqlUnitOfWork.reader`).
READ_ONLY = "cpts_read_only"
# A pooled server connection back in the pool for less than this is handed out again without a ping (HikariCP's
# "alive bypass window", 500 ms by default there): a busy process does not pay a round trip per transaction to
# learn that the connection it used a moment ago still works.
PING_AFTER_IDLE_SECONDS = 0.5


def normalise_url(url: str) -> str:
    """`postgresql://…` → the psycopg 3 driver's URL; other URLs unchanged."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def make_engine(url: str) -> Engine:
    """An SQLAlchemy engine; SQLite gets foreign keys and a busy timeout (one writer at a time).

    A URL that cannot give an engine (malformed, an unknown kind of database, a driver not installed) is a
    `DatabaseUnavailable` naming it, password hidden."""
    parsed = _parse(url)  # as the user wrote it, for the messages
    try:
        return _engine(normalise_url(url))
    except NoSuchModuleError:
        raise DatabaseUnavailable(f"the database URL {_shown(parsed)} names an unknown kind of database "
                                  f"({parsed.drivername!r}): expected {URL_EXAMPLES}") from None
    except ImportError as exc:
        raise DatabaseUnavailable(f"the database URL {_shown(parsed)} needs the Python driver {exc.name!r}, which is "
                                  f"not installed: use {URL_EXAMPLES}") from None
    except (ArgumentError, ValueError, TypeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"the database URL {_shown(parsed)} cannot be used ({reason}): expected "
                                  f"{URL_EXAMPLES}") from None


def _engine(url: str) -> Engine:
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
            # waits (busy timeout) instead. A reader (`SqlUnitOfWork.reader()`, the web pages) takes no lock
            # until it reads, so that page views neither queue behind one another nor block the sweep.
            reading = connection.get_execution_options().get(READ_ONLY, False)
            connection.exec_driver_sql("BEGIN DEFERRED" if reading else "BEGIN IMMEDIATE")

        @event.listens_for(engine, "handle_error")
        def _overflow_is_a_data_error(context) -> Exception | None:  # type: ignore[no-untyped-def]
            # sqlite3 refuses an integer beyond 64 bits with a bare OverflowError, which SQLAlchemy does not
            # wrap; PostgreSQL's "integer out of range" is a DataError: make both the same error.
            if isinstance(context.original_exception, OverflowError):
                return DataError(context.statement, context.parameters, context.original_exception)
            return None

        return engine
    engine = create_engine(url)
    _ping_when_idle(engine, PING_AFTER_IDLE_SECONDS)
    return engine


def _ping_when_idle(engine: Engine, window: float) -> None:
    """SQLAlchemy's pessimistic disconnect handling (`pool_pre_ping`, its ping and its replacement of a dead
    connection) for connections that sat in the pool for `window` seconds or more; those used within it go out
    unchecked. A connection that died meanwhile (the server restarted) fails its transaction with a disconnect
    error, after which SQLAlchemy replaces every connection of the pool."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["cpts_idle_from"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        idle_from = record.info.pop("cpts_idle_from", None)
        if idle_from is not None and time.monotonic() - idle_from < window:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            # The pool discards this connection and checks out another (a fresh one after a restart).
            raise DisconnectionError(f"the database connection failed its ping ({exc})") from exc


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        hidden = re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"the database URL {hidden!r} is malformed ({reason}): expected {URL_EXAMPLES}"
                                  ) from None


def _shown(url: URL) -> str:
    return repr(url.render_as_string(hide_password=True))


def sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (None for another database, an in-memory one or a malformed URL)."""
    try:
        parsed = make_url(normalise_url(url))
    except (ArgumentError, ValueError):
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if parsed.query.get("uri") in ("true", "1"):  # sqlite:///file:PATH?mode=ro&uri=true
        if parsed.query.get("mode") == "memory":
            return None
        database = database.removeprefix("file:")
    return Path(database)


def alembic_config(engine: Engine) -> Config:
    """Alembic's configuration for the migrations of this package, on `engine` (`migrate`, and the tests that
    go up and down revisions)."""
    from alembic.config import Config  # only `cpts db init` and the tests migrate: alembic is not loaded otherwise

    config = Config()
    script_location = Path(str(resources.files("workflows.persistence.migrations")))
    config.set_main_option("script_location", str(script_location))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from alembic import command

    command.upgrade(alembic_config(engine), "head")


def open_engine(url: str) -> Engine:
    """The engine of a database that has its schema (what every command but `cpts db init` works on).

    An SQLite file that does not exist is refused before connecting, which would create it: only
    `cpts db init` creates the database."""
    engine = make_engine(url)
    path = sqlite_file(url)
    if path is not None and not os.path.exists(path):
        raise DatabaseNotReady(f"the database file {path.absolute()} does not exist: run `cpts db init` first to "
                               "create it, or set CPTS_DATABASE_URL to an existing database")
    ensure_schema(engine)
    return engine


def ensure_schema(engine: Engine) -> None:
    """Refuse to work on a database without the schema, with the command that fixes it."""
    tables = set(inspect(engine).get_table_names())
    if "cases" not in tables:
        raise DatabaseNotReady(
            f"the database {engine.url.render_as_string(hide_password=True)} has no schema: run `cpts db init` first"
        )
