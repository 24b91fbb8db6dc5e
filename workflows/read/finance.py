"""Read side of the money: a case's échéancier and the portfolio's budget forecast (SPEC §7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import col, select

from lifecycle import territory
from lifecycle.errors import EventRejected
from lifecycle.payments import PaymentLine
from workflows.persistence.tables import Case, PaymentRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.cases import project_case
from workflows.services.clock import local_today, utc_now

FORECAST_GROUPS = ("region", "departement", "component")
ZERO = Decimal("0.00")


def case_payments(uow: SqlUnitOfWork, case_id: int | str, *, today: date | None = None) -> list[PaymentLine]:
    """Every payment line of a case's contract as of `today` (empty before signature)."""
    with uow:
        case = uow.cases.get(case_id)
        projection = project_case(case, uow.journal.rows(case.id), today or local_today(case, utc_now()))
        return list(projection.payments.lines) if projection.payments else []


@dataclass
class ForecastGroup:
    key: str
    label: str
    committed: Decimal = ZERO  # known amounts (refunds counted negative)
    awaiting_ceiling: Decimal = ZERO  # variable lines awaiting assessment, at full attainment
    paid: Decimal = ZERO
    lines: int = 0
    cases: set[int] = field(default_factory=set)

    @property
    def maximum(self) -> Decimal:
        return self.committed + self.awaiting_ceiling

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.key, "label": self.label, "committed": str(self.committed),
                "awaiting_assessment_max": str(self.awaiting_ceiling), "maximum": str(self.maximum),
                "already_paid": str(self.paid), "lines": self.lines, "cases": len(self.cases)}


def forecast(uow: SqlUnitOfWork, year: int, *, by: str = "region") -> list[ForecastGroup]:
    """What the funders will pay in calendar `year`, from every contract's échéancier, grouped `by`.

    Cancelled lines are left out; variable lines still awaiting assessment count at full attainment in a
    column of their own, so the budget shows both what is certain and the ceiling.
    """
    if by not in FORECAST_GROUPS:
        raise EventRejected(f"unknown grouping {by!r}: expected one of {', '.join(FORECAST_GROUPS)}")
    if not 2019 <= year <= 2100:
        raise EventRejected(f"year {year} is out of range: expected a year such as 2026")
    groups: dict[str, ForecastGroup] = {}
    with uow:
        rows = uow.session.exec(
            select(PaymentRow, Case).join(Case, col(Case.id) == PaymentRow.case_id)
            .where(col(PaymentRow.due) >= date(year, 1, 1), col(PaymentRow.due) <= date(year, 12, 31))
            .where(PaymentRow.status != "cancelled")
            .order_by(PaymentRow.due)
        ).all()
    names = _group_names(by)
    for payment, case in rows:
        key = {"region": case.region, "departement": case.seat_departement, "component": payment.component}[by]
        group = groups.setdefault(key, ForecastGroup(key, names(key)))
        sign = -1 if payment.component == "refund" else 1
        group.lines += 1
        group.cases.add(case.id)
        if payment.amount is None:
            group.awaiting_ceiling += payment.ceiling or ZERO
        else:
            group.committed += sign * payment.amount
            if payment.status == "paid":
                group.paid += sign * payment.amount
    return [groups[k] for k in sorted(groups)]


def _group_names(by: str):  # type: ignore[no-untyped-def]
    if by == "region":
        return lambda code: territory.region(code).name
    if by == "departement":
        return lambda code: territory.departement(code).name
    return lambda component: component


def total(groups: list[ForecastGroup], year: int) -> ForecastGroup:
    overall = ForecastGroup("total", f"all groups, {year}")
    for g in groups:
        overall.committed += g.committed
        overall.awaiting_ceiling += g.awaiting_ceiling
        overall.paid += g.paid
        overall.lines += g.lines
        overall.cases |= g.cases
    return overall
