"""Read model of the deadlines coming up across a portfolio: what a dashboard's "due soon" panel shows."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import String, cast
from sqlmodel import col, select

from lifecycle.errors import EventRejected
from workflows.persistence.tables import Case, DeadlineRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.people import followed_cases
from workflows.services.people import get_user


@dataclass(frozen=True)
class DueDeadline:
    """A pending deadline of the portfolio, as stored by its case's last refresh.

    Attributes:
        case, case_name, departement: the case and its seat.
        ident, key, label: the deadline (`ident` is unique within the case, `key` names the rule).
        due: its date; `days_left` from the `today` asked for (0: due today).
        kind: procedural, effect, contractual or service.
        recipients: roles it concerns besides the binôme (e.g. legal, cpts).
    """

    case: int
    case_name: str
    departement: str
    ident: str
    key: str
    label: str
    due: date
    days_left: int
    kind: str
    recipients: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case, "case_name": self.case_name, "departement": self.departement,
                "ident": self.ident, "key": self.key, "label": self.label, "due": self.due.isoformat(),
                "days_left": self.days_left, "kind": self.kind, "recipients": list(self.recipients)}


def deadlines_due(uow: SqlUnitOfWork, *, today: date, within_days: int, case_ids: Iterable[int] | None = None,
                  referent: str | None = None, limit: int | None = None) -> list[DueDeadline]:
    """Pending deadlines due from `today` to `today + within_days` included, by due date, case and key.

    Of the cases `case_ids`, or of those the user with e-mail `referent` follows (for a legal officer, only the
    deadlines that concern legal staff, as in their calendar), or of every case. Read through the
    (status, due) index: the cost grows with the deadlines in the window, not with the portfolio.
    """
    if within_days < 0:
        raise EventRejected(f"within {within_days} days: expected a number of days of 0 or more")
    if limit is not None and limit < 0:
        raise EventRejected(f"limit {limit}: expected a number of deadlines of 0 or more")
    query = (
        # The date as ISO text, parsed by date.fromisoformat: the driver's date processing per row cost more.
        select(DeadlineRow.case_id, Case.name, Case.seat_departement, DeadlineRow.ident, DeadlineRow.key,
               DeadlineRow.label, cast(DeadlineRow.due, String), DeadlineRow.kind, DeadlineRow.recipients)
        .join(Case, col(Case.id) == DeadlineRow.case_id)
        .where(DeadlineRow.status == "pending", col(DeadlineRow.due) >= today,
               col(DeadlineRow.due) <= today + timedelta(days=within_days))
        .order_by(DeadlineRow.due, DeadlineRow.case_id, DeadlineRow.key)
    )
    if case_ids is not None:
        query = query.where(col(DeadlineRow.case_id).in_(sorted(set(case_ids))))
    if referent is not None:
        user = get_user(uow, referent)
        condition = followed_cases(user)
        if condition is not None:
            query = query.where(condition)
        if user.role == "legal":
            # `recipients` is a JSON list of role names: a quoted name matches that role only.
            query = query.where(col(DeadlineRow.recipients).contains('"legal"'))
    if limit is not None:
        query = query.limit(limit)
    with uow:
        rows = uow.session.connection().execute(query).all()  # Core rows: no ORM result processing
    deadlines = []
    for case_id, name, departement, ident, key, label, due_text, kind, recipients in rows:
        due = date.fromisoformat(due_text)
        deadlines.append(DueDeadline(case_id, name, departement, ident, key, label, due, (due - today).days, kind,
                                     _roles(recipients)))
    return deadlines


@lru_cache(maxsize=256)
def _roles(recipients: str) -> tuple[str, ...]:
    """The roles of a `recipients` column (a handful of distinct lists across the portfolio)."""
    return tuple(json.loads(recipients))
