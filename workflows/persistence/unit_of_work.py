"""The unit of work: one transaction around one use case (cosmicpython's pattern).

`with uow:` opens a transaction and gives the repositories; leaving the block rolls back unless `commit()` was
called. A unit of work can be entered again and again, one transaction each time (the sweep enters it once per
case). Tests inject failures by subclassing it (e.g. a `commit` that raises), never through a private argument.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from workflows.persistence.checkpoints import CachedReplay, CheckpointCache
from workflows.persistence.errors import DuplicateKey
from workflows.persistence.journal import UNKEYED, JournalKeys
from workflows.persistence.repositories import (
    CaseRepository,
    JournalRepository,
    OutboxRepository,
    ProjectionRepository,
    SqlCaseRepository,
    SqlJournalRepository,
    SqlOutboxRepository,
    SqlProjectionRepository,
    SqlUserRepository,
    UserRepository,
)


class UnitOfWork(ABC):
    """Attributes (valid inside `with uow:`):
        cases, journal, projections, users, outbox: the repositories of this transaction.
    And across transactions:
        checkpoints: replays kept for the next write (a cache; entries staged in a transaction are published
            only once it commits).
        keys: the keys that sign and verify the journal's hash chain (the deployment's secret).
    """

    cases: CaseRepository
    journal: JournalRepository
    projections: ProjectionRepository
    users: UserRepository
    outbox: OutboxRepository
    checkpoints: CheckpointCache
    keys: JournalKeys = UNKEYED

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()  # a no-op after commit()

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...

    def due_case_ids(self, horizon: date, case_ids: Iterable[int] | None = None) -> list[int]:
        """Cases whose `wake_on` is on or before `horizon`, by id (its own short read)."""
        with self:
            return self.cases.due_ids(horizon, case_ids)

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """Statements run inside the block whose results nobody reads before it ends (writes without RETURNING):
        where the database allows it they travel together, one round trip in all, and an error of one is raised
        when the block ends. Here: each as it comes."""
        yield

    def stage_checkpoint(self, case_id: int, entry: CachedReplay) -> None:
        """Keep `entry` for the case once this transaction commits (dropped if it rolls back)."""
        self._staged()[case_id] = entry

    def _staged(self) -> dict[int, CachedReplay]:
        staged = getattr(self, "_staged_checkpoints", None)
        if staged is None:
            staged = self._staged_checkpoints = {}
        return staged

    def _publish_checkpoints(self) -> None:
        staged = self._staged()
        for case_id, entry in staged.items():
            self.checkpoints.put(case_id, entry)
        staged.clear()


@dataclass(frozen=True)
class _SqlTransaction:
    session: Session
    staged: dict[int, CachedReplay]
    cases: SqlCaseRepository
    journal: SqlJournalRepository
    projections: SqlProjectionRepository
    users: SqlUserRepository
    outbox: SqlOutboxRepository


class SqlUnitOfWork(UnitOfWork):
    """A unit of work on an SQLAlchemy engine (SQLite or PostgreSQL). Objects read stay usable after commit.

    Like the engine, one instance may be shared by threads (the scheduler's jobs, a web server's workers):
    each thread's `with uow:` has its own session. Entering it again in the same thread before leaving it is a
    programming error (it would silently share one transaction) and is refused.
    """

    def __init__(self, engine: Engine, *, checkpoints: CheckpointCache | None = None,
                 keys: JournalKeys = UNKEYED) -> None:
        self.engine = engine
        self.keys = keys
        self.checkpoints = checkpoints if checkpoints is not None else CheckpointCache()
        self._local = threading.local()

    def reader(self) -> SqlUnitOfWork:
        """A unit of work for reads only, on the same database, keys and checkpoints (the web's pages): on
        SQLite its transactions begin DEFERRED, so readers never wait for one another or hold the write lock."""
        from workflows.persistence.db import READ_ONLY

        return SqlUnitOfWork(self.engine.execution_options(**{READ_ONLY: True}), checkpoints=self.checkpoints,
                             keys=self.keys)

    def _staged(self) -> dict[int, CachedReplay]:
        return self._transaction().staged

    def _transaction(self) -> _SqlTransaction:
        transaction = getattr(self._local, "transaction", None)
        if transaction is None:
            raise RuntimeError("the unit of work is used outside `with uow:`")
        return transaction

    @property
    def session(self) -> Session:  # type: ignore[override]
        return self._transaction().session

    @property
    def cases(self) -> SqlCaseRepository:  # type: ignore[override]
        return self._transaction().cases

    @property
    def journal(self) -> SqlJournalRepository:  # type: ignore[override]
        return self._transaction().journal

    @property
    def projections(self) -> SqlProjectionRepository:  # type: ignore[override]
        return self._transaction().projections

    @property
    def users(self) -> SqlUserRepository:  # type: ignore[override]
        return self._transaction().users

    @property
    def outbox(self) -> SqlOutboxRepository:  # type: ignore[override]
        return self._transaction().outbox

    def __enter__(self) -> Self:
        if getattr(self._local, "transaction", None) is not None:
            raise RuntimeError("this unit of work is already open in this thread: one use case, one transaction")
        session = Session(self.engine, expire_on_commit=False)
        session.begin()
        self._local.transaction = _SqlTransaction(
            session, {}, SqlCaseRepository(session), SqlJournalRepository(session), SqlProjectionRepository(session),
            SqlUserRepository(session), SqlOutboxRepository(session),
        )
        return self

    def __exit__(self, exc_type: object, exc: object, traceback: object) -> None:
        session = self._transaction().session
        self._local.transaction = None
        # Closing rolls back what was not committed, and leaves the objects read usable (detached, not expired).
        session.close()
        if isinstance(exc, IntegrityError):
            # A unique key refused a row, at a flush or at commit: the use case decides what that means.
            raise DuplicateKey(str(exc.orig or exc).strip().splitlines()[0]) from exc

    def commit(self) -> None:
        self.session.commit()
        self._publish_checkpoints()

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """On PostgreSQL, psycopg's pipeline mode: the statements are sent without waiting for each one's result,
        and the results are read when the block ends (one round trip instead of one per statement). A statement's
        error is then raised as SQLAlchemy raises it (an IntegrityError for a unique key), the transaction
        aborted. Elsewhere (SQLite, in process) the statements run as they come. A statement that returns rows
        cannot run inside (SQLAlchemy reads them at once): an INSERT of several rows is `.inline()`, else
        SQLAlchemy asks for their ids back."""
        connection = self.session.connection()
        if connection.dialect.name != "postgresql":
            yield
            return
        dbapi = connection.dialect.loaded_dbapi
        try:
            with connection.connection.driver_connection.pipeline():
                yield
        except dbapi.Error as exc:
            raise DBAPIError.instance(None, None, exc, dbapi.Error, dialect=connection.dialect) from exc

    def due_case_ids(self, horizon: date, case_ids: Iterable[int] | None = None) -> list[int]:
        """The sweep's probe, on a bare connection: one indexed range read of `cases.wake_on`, no transaction
        to open (on SQLite every transaction here takes the write lock) — its cost follows the due cases."""
        if case_ids is not None:
            return super().due_case_ids(horizon, case_ids)
        if self.engine.dialect.name == "sqlite":
            # On SQLite a read outside a transaction sees every commit: each thread keeps one connection for its
            # probes (the scheduler probes every minute) instead of taking one from the pool and resetting it.
            probe = getattr(self._local, "probe", None)
            if probe is None:
                probe = self._local.probe = self.engine.raw_connection()
            rows = probe.driver_connection.execute("SELECT id FROM cases WHERE wake_on <= ?", (horizon.isoformat(),))
            return sorted(row[0] for row in rows.fetchall())
        placeholder = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute(f"SELECT id FROM cases WHERE wake_on <= {placeholder}", (horizon,))
            ids = sorted(row[0] for row in cursor.fetchall())
            cursor.close()
            raw.rollback()  # PostgreSQL opened a transaction for the read
        finally:
            raw.close()
        return ids

    def rollback(self) -> None:
        self._staged().clear()
        self.session.rollback()
