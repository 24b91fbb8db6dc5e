"""The unit of work: one transaction around one use case (cosmicpython's pattern).

`with uow:` opens a transaction and gives the repositories; leaving the block rolls back unless `commit()` was
called. A unit of work can be entered again and again, one transaction each time (the sweep enters it once per
case). Tests inject failures by subclassing it (e.g. a `commit` that raises), never through a private argument.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from workflows.persistence.errors import DuplicateKey
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
    """

    cases: CaseRepository
    journal: JournalRepository
    projections: ProjectionRepository
    users: UserRepository
    outbox: OutboxRepository

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.rollback()  # a no-op after commit()

    @abstractmethod
    def commit(self) -> None: ...

    @abstractmethod
    def rollback(self) -> None: ...


@dataclass(frozen=True)
class _SqlTransaction:
    session: Session
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

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

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
            session, SqlCaseRepository(session), SqlJournalRepository(session), SqlProjectionRepository(session),
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

    def rollback(self) -> None:
        self.session.rollback()
