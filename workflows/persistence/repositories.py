"""Repositories: what the use cases ask of storage, as abstract interfaces and their SQL implementation.

The use cases in `workflows.services` talk to these only (through a unit of work), never to a session, so the
same use case runs on SQLite, on PostgreSQL and in memory (`workflows.persistence.memory`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import String, Update, any_, bindparam, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from workflows.persistence.errors import UnknownCase
from workflows.persistence.tables import Case, CaseCommune, DeadlineRow, JournalRow, OutboxRow, PaymentRow, User


def case_key(case_id: int | str) -> int:
    """A case number as typed by a user; anything but a whole number is an unknown case."""
    try:
        return int(case_id)
    except (TypeError, ValueError):
        raise UnknownCase(case_id) from None


# ------------------------------------------------------------------------------------------- interfaces
class CaseRepository(ABC):
    @abstractmethod
    def find(self, case_id: int) -> Case | None: ...

    def get(self, case_id: int | str) -> Case:
        """The case, or UnknownCase."""
        case = self.find(case_key(case_id))
        if case is None:
            raise UnknownCase(case_id)
        return case

    @abstractmethod
    def lock_for_sweep(self, case_id: int) -> Case | None:
        """The case, locked for this unit of work; None when another sweeper holds it."""

    @abstractmethod
    def add(self, case: Case) -> Case: ...

    @abstractmethod
    def due_ids(self, horizon: date, case_ids: Iterable[int] | None = None) -> list[int]:
        """Cases whose sweep has work on or before `horizon` (their `wake_on`), by id."""

    @abstractmethod
    def ids(self) -> list[int]:
        """Every case, by id."""

    @abstractmethod
    def sharing_communes(self, communes: Sequence[str], states: Sequence[str], *, besides: int) -> list[Case]:
        """Cases in one of `states`, other than `besides`, whose territory has one of `communes`, by id."""

    @abstractmethod
    def update_if_version(self, case_id: int, version: int, values: dict[str, Any], *, last_hash: str | None,
                          expect: dict[str, Any] | None = None) -> bool:
        """Write `values` if the case is still at `version`, its journal's last row has hash `last_hash` (None: it
        has no row) and its columns in `expect` have those values; False otherwise (someone else changed it
        meanwhile, or the journal was cut, or a column edited)."""

    @abstractmethod
    def version_of(self, case_id: int) -> int | None:
        """The case's version as stored now (why a versioned update was refused)."""

    @abstractmethod
    def update(self, case_id: int, values: dict[str, Any]) -> None:
        """Write columns that are not lifecycle facts (referents, contact): the version does not move."""

    @abstractmethod
    def followed_by(self, user: User) -> list[Case]:
        """The cases an ARS or CPAM agent is referent of."""


class JournalRepository(ABC):
    @abstractmethod
    def rows(self, case_id: int) -> list[JournalRow]:
        """The case's journal, in sequence order."""

    @abstractmethod
    def append(self, row: JournalRow) -> None: ...


    @abstractmethod
    def by_idempotency_key(self, case_id: int, key: str) -> JournalRow | None:
        """The row a write with this idempotency key appended, if any."""


class ProjectionRepository(ABC):
    @abstractmethod
    def deadline_statuses(self, case_id: int) -> dict[str, str]:
        """ident → status of the case's stored deadlines (as of the last refresh)."""

    @abstractmethod
    def replace(self, case_id: int, deadlines: list[dict[str, Any]], payments: list[dict[str, Any]]) -> None:
        """Replace the case's deadline and payment rows."""

    @abstractmethod
    def change(self, case_id: int, *, insert: list[dict[str, Any]], update: list[dict[str, Any]],
               delete: list[str], payments: list[dict[str, Any]] | None,
               payment_updates: Sequence[dict[str, Any]] = ()) -> None:
        """Insert, update (by ident) and delete (idents) deadline rows; replace the payments unless None, or
        update the payment rows of `payment_updates` (by component, mission, year and due date)."""

    @abstractmethod
    def for_digest(self, case_ids: Sequence[int], day: date, until: date) -> list[DeadlineRow]:
        """Breached deadlines and pending ones due in [day, until] of these cases, by due date."""


class UserRepository(ABC):
    @abstractmethod
    def find(self, email: str) -> User | None:
        """The user with this e-mail address, whatever its case."""

    @abstractmethod
    def get(self, user_id: int) -> User | None: ...

    @abstractmethod
    def add(self, user: User) -> User: ...

    @abstractmethod
    def with_roles(self, roles: Sequence[str]) -> list[User]:
        """Users having one of `roles`, by id."""


class OutboxRepository(ABC):
    @abstractmethod
    def has(self, unique_key: str) -> bool: ...

    @abstractmethod
    def add(self, row: OutboxRow) -> None: ...

    @abstractmethod
    def get(self, row_id: int) -> OutboxRow | None: ...

    @abstractmethod
    def claimable_ids(self, now: datetime, claim_timeout: timedelta, limit: int) -> list[int]:
        """Due pending rows and `sending` rows whose claim expired, oldest first."""

    @abstractmethod
    def claim(self, row_id: int, now: datetime, claim_timeout: timedelta) -> OutboxRow | None:
        """Mark the row `sending` if it is still claimable (one statement); None if another drainer won it."""

    @abstractmethod
    def update(self, row_id: int, values: dict[str, Any]) -> None: ...

    @abstractmethod
    def unaddressed_ids(self, case_id: int) -> list[int]: ...


# ------------------------------------------------------------------------------------------- SQL
# Inline: without the RETURNING of the new id (PostgreSQL), which nothing reads.
_JOURNAL_INSERT = JournalRow.__table__.insert().inline()
_JOURNAL_COLUMNS = tuple(name for name in JournalRow.__table__.columns.keys() if name != "id")  # noqa: SIM118
# A line of one case's échéancier, and what a payment changes on it (the rows have no identity column).
_PAYMENT_KEY = ("case_id", "component", "mission", "year", "due")
_PAYMENT_VALUES = ("amount", "ceiling", "paid", "status", "explanation", "origin", "to_confirm")
# `=` on the key's NOT NULL columns (the case's index on PostgreSQL, where IS NOT DISTINCT FROM is not indexable and
# would scan every payment row); IS NOT DISTINCT FROM on the nullable mission only.
_PAYMENT_LINE_UPDATE = (PaymentRow.__table__.update()
                        .where(*(PaymentRow.__table__.c[k].is_not_distinct_from(bindparam(f"old_{k}"))
                                 if PaymentRow.__table__.c[k].nullable else
                                 PaymentRow.__table__.c[k] == bindparam(f"old_{k}")
                                 for k in _PAYMENT_KEY))
                        .values({k: bindparam(f"new_{k}") for k in _PAYMENT_VALUES}))


_CASE_BY_ID = select(Case).where(col(Case.id) == bindparam("case_id"))


def payment_line_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a line among a case's payment rows: component, mission, contract year, due date."""
    return row["component"], row["mission"], row["year"], row["due"]


@lru_cache(maxsize=32)
def _versioned_update(columns: tuple[str, ...], expected: tuple[str, ...] = ()) -> Update:
    """UPDATE cases SET … WHERE id = :key_id AND version = :key_version AND the hash of the journal's last row
    IS NOT DISTINCT FROM :key_last (NULL: no row) [AND each `expected` column IS NOT DISTINCT FROM :was_<name>],
    built once per set of columns (the write path of every event: building the statement costs more than running
    it). The journal's tail is checked in the same statement, an index lookup, not a round trip of its own."""
    table = Case.__table__
    journal = JournalRow.__table__
    last_hash = (sa_select(journal.c.hash).where(journal.c.case_id == table.c.id)
                 .order_by(journal.c.seq.desc()).limit(1).scalar_subquery())
    unchanged = [table.c[name].is_not_distinct_from(bindparam(f"was_{name}")) if table.c[name].nullable else
                 table.c[name] == bindparam(f"was_{name}") for name in expected]
    return (table.update()
            .where(table.c.id == bindparam("key_id"), table.c.version == bindparam("key_version"),
                   last_hash.is_not_distinct_from(bindparam("key_last", type_=String())), *unchanged)
            .values({name: bindparam(f"new_{name}") for name in columns}))


def _forget(session: Session, model: type, row_id: int) -> None:
    """A Core UPDATE bypasses the identity map: a row already loaded is re-read on its next access."""
    loaded = session.identity_map.get(session.identity_key(model, row_id))
    if loaded is not None:
        session.expire(loaded)


class SqlCaseRepository(CaseRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, case_id: int) -> Case | None:
        if self.session.identity_map or self.session.new:
            return self.session.get(Case, case_id)
        # A fresh session (a use case's first read, e.g. every write's): the query session.get would run, built
        # once instead of on every call.
        return self.session.exec(_CASE_BY_ID, params={"case_id": case_id}).first()

    def lock_for_sweep(self, case_id: int) -> Case | None:
        query = select(Case).where(Case.id == case_id)
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return self.session.exec(query).first()

    def add(self, case: Case) -> Case:
        self.session.add(case)
        self.session.flush()
        self.session.refresh(case)
        # The commune index of the overlap check, written with the case (its communes never change after).
        rows = [{"case_id": case.id, "commune": code} for code in sorted(set(json.loads(case.communes)))]
        if rows:
            self.session.connection().execute(CaseCommune.__table__.insert(), rows)
        return case

    def due_ids(self, horizon: date, case_ids: Iterable[int] | None = None) -> list[int]:
        # No ORDER BY: sorting by id would make SQLite walk the primary key instead of the wake_on index.
        query = select(Case.id).where(col(Case.wake_on) <= horizon)
        if case_ids is not None:
            query = query.where(col(Case.id).in_(list(case_ids)))
        return sorted(self.session.exec(query))

    def ids(self) -> list[int]:
        return sorted(self.session.exec(select(Case.id)))

    def sharing_communes(self, communes: Sequence[str], states: Sequence[str], *, besides: int) -> list[Case]:
        if not communes or not states:
            return []
        # Through the commune index (ix_case_communes_commune), each case once: no scan of the portfolio.
        claiming = (select(CaseCommune.case_id).where(col(CaseCommune.commune).in_(sorted(set(communes))))
                    .distinct())
        if self.session.get_bind().dialect.name == "postgresql":
            # PostgreSQL over-estimates how many cases share a commune and would rather scan every case in
            # `states`; given the ids as an array, it reads them by primary key.
            among = col(Case.id) == any_(func.array(claiming.scalar_subquery()))
        else:
            among = col(Case.id).in_(claiming)
        return list(self.session.exec(
            select(Case).where(among, Case.id != besides, col(Case.state).in_(list(states))).order_by(Case.id)))

    def update_if_version(self, case_id: int, version: int, values: dict[str, Any], *, last_hash: str | None,
                          expect: dict[str, Any] | None = None) -> bool:
        expect = expect or {}
        statement = _versioned_update(tuple(values), tuple(expect))
        result = self.session.connection().execute(
            statement, {"key_id": case_id, "key_version": version, "key_last": last_hash,
                        **{f"new_{k}": v for k, v in values.items()}, **{f"was_{k}": v for k, v in expect.items()}})
        if result.rowcount != 1:
            return False
        # The loaded case takes the values written, without a reload (the version check just proved it current).
        loaded = self.session.identity_map.get(self.session.identity_key(Case, case_id))
        if loaded is not None:
            for name, value in values.items():
                set_committed_value(loaded, name, value)
        return True

    def version_of(self, case_id: int) -> int | None:
        return self.session.connection().execute(select(Case.version).where(Case.id == case_id)).scalar()

    def update(self, case_id: int, values: dict[str, Any]) -> None:
        self.session.execute(update(Case).where(col(Case.id) == case_id).values(**values))
        self._forget(case_id)

    def _forget(self, case_id: int) -> None:
        _forget(self.session, Case, case_id)

    def followed_by(self, user: User) -> list[Case]:
        column = Case.ars_referent_id if user.role == "ars" else Case.cpam_referent_id
        return list(self.session.exec(select(Case).where(column == user.id)))


class SqlJournalRepository(JournalRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def rows(self, case_id: int) -> list[JournalRow]:
        return list(self.session.exec(select(JournalRow).where(JournalRow.case_id == case_id)
                                      .order_by(JournalRow.seq)))

    def by_idempotency_key(self, case_id: int, key: str) -> JournalRow | None:
        return self.session.exec(select(JournalRow).where(JournalRow.case_id == case_id,
                                                          JournalRow.idempotency_key == key)).first()

    def append(self, row: JournalRow) -> None:
        # A Core INSERT: the row is never read back through this session, and the ORM's flush costs more.
        self.session.connection().execute(_JOURNAL_INSERT, {name: getattr(row, name) for name in _JOURNAL_COLUMNS})


class SqlProjectionRepository(ProjectionRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def deadline_statuses(self, case_id: int) -> dict[str, str]:
        query = select(DeadlineRow.ident, DeadlineRow.status).where(DeadlineRow.case_id == case_id)
        return {ident: status for ident, status in self.session.exec(query)}

    def replace(self, case_id: int, deadlines: list[dict[str, Any]], payments: list[dict[str, Any]]) -> None:
        # Replaced wholesale with Core statements (executemany): the ORM's unit of work costs more than the
        # replay itself on the sweep's hot path.
        connection = self.session.connection()
        for table, rows in ((DeadlineRow.__table__, deadlines), (PaymentRow.__table__, payments)):
            connection.execute(table.delete().where(table.c.case_id == case_id))
            if rows:
                connection.execute(table.insert().inline(), rows)

    def change(self, case_id: int, *, insert: list[dict[str, Any]], update: list[dict[str, Any]],
               delete: list[str], payments: list[dict[str, Any]] | None,
               payment_updates: Sequence[dict[str, Any]] = ()) -> None:
        connection = self.session.connection()
        deadlines = DeadlineRow.__table__
        if delete:
            connection.execute(deadlines.delete().where(deadlines.c.case_id == case_id,
                                                        deadlines.c.ident.in_(delete)))
        if update:
            columns = {name: bindparam(f"new_{name}") for name in update[0] if name not in ("case_id", "ident")}
            statement = (deadlines.update()
                         .where(deadlines.c.case_id == bindparam("old_case_id"),
                                deadlines.c.ident == bindparam("old_ident"))
                         .values(columns))
            connection.execute(statement, [
                {"old_case_id": row["case_id"], "old_ident": row["ident"],
                 **{f"new_{k}": v for k, v in row.items() if k not in ("case_id", "ident")}}
                for row in update
            ])
        if insert:
            connection.execute(deadlines.insert().inline(), insert)
        if payments is not None:
            table = PaymentRow.__table__
            connection.execute(table.delete().where(table.c.case_id == case_id))
            if payments:
                connection.execute(table.insert().inline(), payments)
        if payment_updates:
            connection.execute(_PAYMENT_LINE_UPDATE, [
                {**{f"new_{k}": row[k] for k in _PAYMENT_VALUES}, **{f"old_{k}": row[k] for k in _PAYMENT_KEY}}
                for row in payment_updates])

    def for_digest(self, case_ids: Sequence[int], day: date, until: date) -> list[DeadlineRow]:
        return list(self.session.exec(
            select(DeadlineRow)
            .where(col(DeadlineRow.case_id).in_(list(case_ids)))
            .where(or_(DeadlineRow.status == "breached",
                       (DeadlineRow.status == "pending") & (col(DeadlineRow.due) >= day)
                       & (col(DeadlineRow.due) <= until)))
            .order_by(DeadlineRow.due, DeadlineRow.case_id, DeadlineRow.key)
        ))


class SqlUserRepository(UserRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def find(self, email: str) -> User | None:
        return self.session.exec(select(User).where(func.lower(User.email) == email.strip().lower())).first()

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def add(self, user: User) -> User:
        self.session.add(user)
        self.session.flush()
        self.session.refresh(user)
        return user

    def with_roles(self, roles: Sequence[str]) -> list[User]:
        return list(self.session.exec(select(User).where(col(User.role).in_(list(roles))).order_by(User.id)))


class SqlOutboxRepository(OutboxRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def has(self, unique_key: str) -> bool:
        return self.session.exec(select(OutboxRow.id).where(OutboxRow.unique_key == unique_key)).first() is not None

    def add(self, row: OutboxRow) -> None:
        self.session.add(row)

    def get(self, row_id: int) -> OutboxRow | None:
        return self.session.get(OutboxRow, row_id)

    @staticmethod
    def _claimable(now: datetime, claim_timeout: timedelta):  # type: ignore[no-untyped-def]
        return or_(
            (OutboxRow.status == "pending") & (col(OutboxRow.next_attempt_at) <= now),
            (OutboxRow.status == "sending") & (col(OutboxRow.claimed_at) <= now - claim_timeout),
        )

    def claimable_ids(self, now: datetime, claim_timeout: timedelta, limit: int) -> list[int]:
        query = select(OutboxRow.id).where(self._claimable(now, claim_timeout)).order_by(OutboxRow.id).limit(limit)
        return list(self.session.exec(query))

    def claim(self, row_id: int, now: datetime, claim_timeout: timedelta) -> OutboxRow | None:
        won = self.session.execute(
            update(OutboxRow).where(col(OutboxRow.id) == row_id).where(self._claimable(now, claim_timeout))
            .values(status="sending", claimed_at=now).returning(OutboxRow.id)
        ).scalar_one_or_none()
        return None if won is None else self.session.get(OutboxRow, won)

    def update(self, row_id: int, values: dict[str, Any]) -> None:
        self.session.execute(update(OutboxRow).where(col(OutboxRow.id) == row_id).values(**values))
        _forget(self.session, OutboxRow, row_id)

    def unaddressed_ids(self, case_id: int) -> list[int]:
        return list(self.session.exec(select(OutboxRow.id).where(OutboxRow.case_id == case_id,
                                                                 OutboxRow.status == "unaddressed")
                                      .order_by(OutboxRow.id)))
