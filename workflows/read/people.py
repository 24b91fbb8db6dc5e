"""Read models of users: who is registered, and which cases a user follows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, or_
from sqlmodel import col, select

from workflows.persistence.tables import Case, User
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.people import Scope, check_role, scope_of


@dataclass(frozen=True)
class UserEntry:
    """A user as `cpts user list` shows them.

    Attributes:
        id, name, email, role: who they are.
        scope: their territory, typed (`Scope.tokens()` gives the stored form).
        receives_nothing: a legal officer without a scope (registered before scopes were required): they get no
            notice and follow no case until `cpts user edit EMAIL --scope …` gives them one.
    """

    id: int
    name: str
    email: str
    role: str
    scope: Scope

    @property
    def receives_nothing(self) -> bool:
        return self.scope.is_empty

    @classmethod
    def of(cls, user: User) -> UserEntry:
        return cls(user.id or 0, user.name, user.email, user.role, scope_of(user))

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "role": self.role,
                "scope": self.scope.tokens()}


def list_users(uow: SqlUnitOfWork, *, role: str | None = None) -> list[UserEntry]:
    """Every user, by role, name and number; only those of `role` if given."""
    query = select(User).order_by(User.role, User.name, User.id)
    if role is not None:
        query = query.where(User.role == check_role(role))
    with uow:
        return [UserEntry.of(u) for u in uow.session.exec(query)]


def followed_case_ids(uow: SqlUnitOfWork, user: User) -> list[int] | None:
    """The cases a user follows: the ones they are referent of (ARS, CPAM), those in a legal officer's scope;
    None (every case) for national staff and administrators."""
    condition = followed_cases(user)
    if condition is None:
        return None
    with uow:
        return list(uow.session.exec(select(Case.id).where(condition).order_by(Case.id)))


def seated_in(scope: Scope, *, column: Callable[[Any], Any] = col) -> Any | None:
    """The cases seated inside `scope` (SPEC §2: its régions and its départements, typed apart), as a condition on
    `cases`; None for a national scope (every case), false for a scope without any. `column` wraps each column
    (the dashboard's `worklist._unindexed` steers SQLite's planner)."""
    if scope.national:
        return None
    conditions = []
    if scope.regions:
        conditions.append(column(Case.region).in_(scope.regions))
    if scope.departements:
        conditions.append(column(Case.seat_departement).in_(scope.departements))
    return or_(*conditions) if conditions else false()


def followed_cases(user: User) -> Any:
    """The condition on `cases` of the cases a user follows (see `followed_case_ids`); None for every case.

    A legal officer follows the cases seated in their départements and régions — the very cases whose
    termination and CPL notices they receive (`workflows.services.outbox.recipients_for`); without a scope, none.
    """
    if user.role == "ars":
        return Case.ars_referent_id == user.id
    if user.role == "cpam":
        return Case.cpam_referent_id == user.id
    return seated_in(scope_of(user))
