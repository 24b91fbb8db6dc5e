"""An in-memory unit of work: the same repositories over dictionaries, with real commit and rollback.

For use-case tests without a database and for callers that need no durability. Each `with uow:` works on a
copy of the committed state; `commit()` publishes it, leaving the block without committing drops it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Self

from workflows.persistence.checkpoints import CheckpointCache
from workflows.persistence.errors import DuplicateKey
from workflows.persistence.journal import UNKEYED, JournalKeys
from workflows.persistence.repositories import (
    CaseRepository,
    JournalRepository,
    OutboxRepository,
    ProjectionRepository,
    UserRepository,
    payment_line_key,
)
from workflows.persistence.tables import Case, DeadlineRow, JournalRow, OutboxRow, User
from workflows.persistence.unit_of_work import UnitOfWork


@dataclass
class MemoryState:
    cases: dict[int, Case] = field(default_factory=dict)
    journal: dict[int, list[JournalRow]] = field(default_factory=dict)
    deadlines: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    payments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    users: dict[int, User] = field(default_factory=dict)
    outbox: dict[int, OutboxRow] = field(default_factory=dict)


def _next_id(table: dict[int, Any]) -> int:
    return max(table, default=0) + 1


class MemoryCaseRepository(CaseRepository):
    def __init__(self, state: MemoryState, committed: Callable[[], MemoryState]) -> None:
        self.state = state
        self.committed = committed  # what other units of work have committed since this one began

    def find(self, case_id: int) -> Case | None:
        return self.state.cases.get(case_id)

    def lock_for_sweep(self, case_id: int) -> Case | None:
        return self.state.cases.get(case_id)  # one process, one writer: nothing to lock against

    def add(self, case: Case) -> Case:
        case.id = case.id or _next_id(self.state.cases)
        self.state.cases[case.id] = case
        return case

    def due_ids(self, horizon: date, case_ids: Iterable[int] | None = None) -> list[int]:
        wanted = None if case_ids is None else set(case_ids)
        return sorted(i for i, c in self.state.cases.items()
                      if c.wake_on is not None and c.wake_on <= horizon and (wanted is None or i in wanted))

    def ids(self) -> list[int]:
        return sorted(self.state.cases)

    def sharing_communes(self, communes: Sequence[str], states: Sequence[str], *, besides: int) -> list[Case]:
        wanted = set(communes)
        return [c for i, c in sorted(self.state.cases.items())
                if i != besides and c.state in states and wanted & set(json.loads(c.communes))]

    def update_if_version(self, case_id: int, version: int, values: dict[str, Any], *, last_hash: str | None,
                          expect: dict[str, Any] | None = None) -> bool:
        case, latest = self.state.cases.get(case_id), self.committed().cases.get(case_id)
        if case is None or case.version != version or (latest is not None and latest.version != version):
            return False
        if any(getattr(case, name) != value for name, value in (expect or {}).items()):
            return False
        rows = self.state.journal.get(case_id, [])
        if (max(rows, key=lambda r: r.seq).hash if rows else None) != last_hash:
            return False
        self.update(case_id, values)
        return True

    def version_of(self, case_id: int) -> int | None:
        latest = self.committed().cases.get(case_id)
        return latest.version if latest is not None else None

    def update(self, case_id: int, values: dict[str, Any]) -> None:
        case = self.state.cases[case_id]
        for name, value in values.items():
            setattr(case, name, value)

    def followed_by(self, user: User) -> list[Case]:
        column = "ars_referent_id" if user.role == "ars" else "cpam_referent_id"
        return [c for _, c in sorted(self.state.cases.items()) if getattr(c, column) == user.id]


class MemoryJournalRepository(JournalRepository):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def rows(self, case_id: int) -> list[JournalRow]:
        return list(self.state.journal.get(case_id, []))

    def append(self, row: JournalRow) -> None:
        rows = self.state.journal.setdefault(row.case_id, [])
        if any(r.seq == row.seq for r in rows):
            raise DuplicateKey(f"journal row #{row.seq} of case {row.case_id} exists already")
        if row.idempotency_key is not None and any(r.idempotency_key == row.idempotency_key for r in rows):
            raise DuplicateKey(f"idempotency key {row.idempotency_key!r} of case {row.case_id} used already")
        rows.append(row)

    def by_idempotency_key(self, case_id: int, key: str) -> JournalRow | None:
        return next((r for r in self.state.journal.get(case_id, []) if r.idempotency_key == key), None)


class MemoryProjectionRepository(ProjectionRepository):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def deadline_statuses(self, case_id: int) -> dict[str, str]:
        return {d["ident"]: d["status"] for d in self.state.deadlines.get(case_id, [])}

    def replace(self, case_id: int, deadlines: list[dict[str, Any]], payments: list[dict[str, Any]]) -> None:
        self.state.deadlines[case_id] = list(deadlines)
        self.state.payments[case_id] = list(payments)

    def change(self, case_id: int, *, insert: list[dict[str, Any]], update: list[dict[str, Any]],
               delete: list[str], payments: list[dict[str, Any]] | None,
               payment_updates: Sequence[dict[str, Any]] = ()) -> None:
        changed = {row["ident"]: row for row in update}
        kept = [changed.get(row["ident"], row) for row in self.state.deadlines.get(case_id, [])
                if row["ident"] not in delete]
        self.state.deadlines[case_id] = [*kept, *insert]
        if payments is not None:
            self.state.payments[case_id] = list(payments)
        changed = {payment_line_key(row): row for row in payment_updates}
        if changed:
            self.state.payments[case_id] = [changed.get(payment_line_key(row), row)
                                            for row in self.state.payments.get(case_id, [])]

    def for_digest(self, case_ids: Sequence[int], day: date, until: date) -> list[DeadlineRow]:
        rows = [DeadlineRow(**d) for case_id in case_ids for d in self.state.deadlines.get(case_id, [])]
        chosen = [r for r in rows if r.status == "breached" or (r.status == "pending" and day <= r.due <= until)]
        return sorted(chosen, key=lambda r: (r.due, r.case_id, r.key))


class MemoryUserRepository(UserRepository):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def find(self, email: str) -> User | None:
        wanted = email.strip().lower()
        return next((u for u in self.state.users.values() if u.email.lower() == wanted), None)

    def get(self, user_id: int) -> User | None:
        return self.state.users.get(user_id)

    def add(self, user: User) -> User:
        if self.find(user.email) is not None:
            raise DuplicateKey(f"a user with e-mail {user.email} exists already")
        user.id = user.id or _next_id(self.state.users)
        self.state.users[user.id] = user
        return user

    def with_roles(self, roles: Sequence[str]) -> list[User]:
        return [u for _, u in sorted(self.state.users.items()) if u.role in roles]


class MemoryOutboxRepository(OutboxRepository):
    def __init__(self, state: MemoryState) -> None:
        self.state = state

    def has(self, unique_key: str) -> bool:
        return any(r.unique_key == unique_key for r in self.state.outbox.values())

    def add(self, row: OutboxRow) -> None:
        if self.has(row.unique_key):
            raise DuplicateKey(f"outbox key {row.unique_key} exists already")
        row.id = row.id or _next_id(self.state.outbox)
        self.state.outbox[row.id] = row

    def get(self, row_id: int) -> OutboxRow | None:
        return self.state.outbox.get(row_id)

    @staticmethod
    def _claimable(row: OutboxRow, now: datetime, claim_timeout: timedelta) -> bool:
        if row.status == "pending":
            return row.next_attempt_at <= now
        return row.status == "sending" and row.claimed_at is not None and row.claimed_at <= now - claim_timeout

    def claimable_ids(self, now: datetime, claim_timeout: timedelta, limit: int) -> list[int]:
        return sorted(i for i, r in self.state.outbox.items() if self._claimable(r, now, claim_timeout))[:limit]

    def claim(self, row_id: int, now: datetime, claim_timeout: timedelta) -> OutboxRow | None:
        row = self.state.outbox.get(row_id)
        if row is None or not self._claimable(row, now, claim_timeout):
            return None
        row.status, row.claimed_at = "sending", now
        return row

    def update(self, row_id: int, values: dict[str, Any]) -> None:
        row = self.state.outbox[row_id]
        for name, value in values.items():
            setattr(row, name, value)

    def unaddressed_ids(self, case_id: int) -> list[int]:
        return sorted(i for i, r in self.state.outbox.items() if r.case_id == case_id and r.status == "unaddressed")


class InMemoryUnitOfWork(UnitOfWork):
    """Attributes:
        committed: the state as of the last commit (what a new `with uow:` starts from).
    """

    def __init__(self, *, checkpoints: CheckpointCache | None = None, keys: JournalKeys = UNKEYED) -> None:
        self.committed = MemoryState()
        self.keys = keys
        self.checkpoints = checkpoints if checkpoints is not None else CheckpointCache()
        self._working: MemoryState | None = None

    def __enter__(self) -> Self:
        self._working = copy.deepcopy(self.committed)
        self.cases = MemoryCaseRepository(self._working, lambda: self.committed)
        self.journal = MemoryJournalRepository(self._working)
        self.projections = MemoryProjectionRepository(self._working)
        self.users = MemoryUserRepository(self._working)
        self.outbox = MemoryOutboxRepository(self._working)
        return self

    def commit(self) -> None:
        if self._working is not None:
            self.committed = self._working
            self._working = copy.deepcopy(self.committed)
            self._point_repositories()
        self._publish_checkpoints()

    def rollback(self) -> None:
        self._staged().clear()
        self._working = copy.deepcopy(self.committed)
        self._point_repositories()

    def _point_repositories(self) -> None:
        assert self._working is not None
        for repository in (self.cases, self.journal, self.projections, self.users, self.outbox):
            repository.state = self._working  # type: ignore[attr-defined]
