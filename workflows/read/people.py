"""Read models of users: who is registered, and which cases a user follows."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select

from workflows.persistence.tables import Case, User
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.people import check_role


def list_users(uow: SqlUnitOfWork, *, role: str | None = None) -> list[User]:
    """Every user, by role, name and number; only those of `role` if given."""
    query = select(User).order_by(User.role, User.name, User.id)
    if role is not None:
        query = query.where(User.role == check_role(role))
    with uow:
        return list(uow.session.exec(query))


def followed_case_ids(uow: SqlUnitOfWork, user: User) -> list[int] | None:
    """The cases a user follows: the ones they are referent of (ARS, CPAM), those in a legal officer's scope;
    None (every case) for national staff and administrators."""
    condition = followed_cases(user)
    if condition is None:
        return None
    with uow:
        return list(uow.session.exec(select(Case.id).where(condition).order_by(Case.id)))


def followed_cases(user: User) -> Any:
    """The condition on `cases` of the cases a user follows (see `followed_case_ids`); None for every case."""
    if user.role == "ars":
        return Case.ars_referent_id == user.id
    if user.role == "cpam":
        return Case.cpam_referent_id == user.id
    if user.role == "legal" and json.loads(user.scope):
        return col(Case.seat_departement).in_(json.loads(user.scope))
    return None
