"""Read side of the money: a case's échéancier and the budget forecast, of the whole portfolio or of a user's
territory (SPEC §2, §7)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, case, cast, distinct, func
from sqlmodel import col, select

from lifecycle import territory
from lifecycle.errors import EventRejected
from lifecycle.payments import PaymentLine
from workflows.persistence.tables import Case, PaymentRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.people import seated_in
from workflows.services.cases import project_case
from workflows.services.clock import local_today, utc_now
from workflows.services.people import Scope

FORECAST_GROUPS = ("region", "departement", "component")
FIRST_YEAR, LAST_YEAR = 2019, 2100  # the years a forecast may be asked for (ACI-2019 contracts)
ZERO = Decimal("0.00")


def case_payments(uow: SqlUnitOfWork, case_id: int | str, *, today: date | None = None) -> list[PaymentLine]:
    """Every payment line of a case's contract as of `today` (empty before signature)."""
    with uow:
        case = uow.cases.get(case_id)
        projection = project_case(case, uow.journal.rows(case.id), today or local_today(case, utc_now()))
        return list(projection.payments.lines) if projection.payments else []


@dataclass(frozen=True)
class ForecastGroup:
    """A row of the budget forecast: what the funders pay in a year for one région, département or component.

    Attributes:
        key, label: the group's code (région, département, component) and its name.
        committed: known amounts, refunds counted negative.
        awaiting_ceiling: variable lines still awaiting their assessment, at full attainment.
        paid: the part of `committed` already paid.
        lines: payment lines counted (cancelled ones are left out).
        cases: how many cases these lines belong to.
    """

    key: str
    label: str
    committed: Decimal = ZERO
    awaiting_ceiling: Decimal = ZERO
    paid: Decimal = ZERO
    lines: int = 0
    cases: int = 0

    @property
    def maximum(self) -> Decimal:
        return self.committed + self.awaiting_ceiling

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.key, "label": self.label, "committed": str(self.committed),
                "awaiting_assessment_max": str(self.awaiting_ceiling), "maximum": str(self.maximum),
                "already_paid": str(self.paid), "lines": self.lines, "cases": self.cases}


class Forecast(list[ForecastGroup]):
    """The groups of a forecast, by key, and `total`: their sums, each case counted once."""

    def __init__(self, groups: list[ForecastGroup], total: ForecastGroup) -> None:
        super().__init__(groups)
        self.total = total


def forecast(uow: SqlUnitOfWork, year: int, *, by: str = "region", scope: Scope | None = None) -> Forecast:
    """What the funders will pay in calendar `year`, from every contract's échéancier, grouped `by`; with a
    `scope` (a web user's territory), only the contracts of the cases seated in its régions or départements.

    Cancelled lines are left out; variable lines still awaiting assessment count at full attainment in a
    column of their own, so the budget shows both what is certain and the ceiling. Summed by the database in
    whole cents (exact on SQLite too, whose SUM of a NUMERIC column is a float).
    """
    if by not in FORECAST_GROUPS:
        raise EventRejected(f"unknown grouping {by!r}: expected one of {', '.join(FORECAST_GROUPS)}")
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise EventRejected(f"year {year} is out of range: expected a year such as 2026")
    in_year = [col(PaymentRow.due) >= date(year, 1, 1), col(PaymentRow.due) <= date(year, 12, 31),
               PaymentRow.status != "cancelled"]
    if scope is not None and not scope.national:
        in_year.append(col(PaymentRow.case_id).in_(_cases_in(scope)))
    amount, ceiling, paid = _cents(PaymentRow.amount), _cents(PaymentRow.ceiling), _cents(PaymentRow.paid)
    refund = PaymentRow.component == "refund"
    signed, signed_paid = case((refund, -amount), else_=amount), case((refund, -paid), else_=paid)
    known = col(PaymentRow.amount).is_not(None)
    sums = (func.sum(case((known, signed), else_=0)).label("committed"),
            func.sum(case((known, 0), else_=func.coalesce(ceiling, 0))).label("awaiting"),
            # Instalments included: a partially paid line counts what was paid on it so far.
            func.sum(case((known, signed_paid), else_=0)).label("paid"),
            func.count().label("lines"))
    if by == "component":
        query = (select(PaymentRow.component, *sums, func.count(distinct(PaymentRow.case_id)))
                 .where(*in_year).group_by(PaymentRow.component))
    else:
        # Per case first, then per seat: the cases table is read once per case rather than once per line, and
        # a case, having one seat, is counted once without a COUNT(DISTINCT).
        per_case = select(PaymentRow.case_id, *sums).where(*in_year).group_by(PaymentRow.case_id).subquery()
        key = Case.region if by == "region" else Case.seat_departement
        query = (select(key, func.sum(per_case.c.committed), func.sum(per_case.c.awaiting),
                        func.sum(per_case.c.paid), func.sum(per_case.c.lines), func.count())
                 .select_from(per_case).join(Case, col(Case.id) == per_case.c.case_id).group_by(key))
    with uow:
        rows = uow.session.exec(query).all()
        # A case has lines of several components: the total's count of cases is then a query of its own.
        cases = (uow.session.exec(select(func.count(distinct(PaymentRow.case_id))).where(*in_year)).one()
                 if by == "component" else sum(row[5] for row in rows))
    names = _group_names(by)
    groups = sorted((ForecastGroup(k, names(k), _euros(committed), _euros(awaiting), _euros(paid), int(lines), n)
                     for k, committed, awaiting, paid, lines, n in rows), key=lambda g: g.key)
    return Forecast(groups, _summed(groups, year, cases))


def _cases_in(scope: Scope) -> Any:
    """The ids of the cases seated inside `scope` (not national: the callers check)."""
    return select(Case.id).where(seated_in(scope))


def forecast_years(uow: SqlUnitOfWork) -> tuple[int, int] | None:
    """The first and last calendar years in which a payment line falls due, over the whole portfolio (the
    years a page offers; a scope's own span would cost a pass over its lines); None if there is none."""
    # Two single-aggregate queries: each is one step along the index on `due`, where min and max together
    # would scan it.
    with uow:
        first = uow.session.exec(select(func.min(PaymentRow.due))).one()
        last = uow.session.exec(select(func.max(PaymentRow.due))).one()
    if first is None or last is None:
        return None
    return _year(first), _year(last)


def _year(day: date | str) -> int:
    return day.year if isinstance(day, date) else date.fromisoformat(str(day)[:10]).year


def _cents(column: Any) -> Any:
    """An amount in whole cents, as an integer (no float reaches a sum)."""
    return cast(func.round(column * 100), BigInteger)


def _euros(cents: int | Decimal | None) -> Decimal:
    return Decimal(int(cents or 0)).scaleb(-2)


def _group_names(by: str):  # type: ignore[no-untyped-def]
    if by == "region":
        return lambda code: territory.region(code).name
    if by == "departement":
        return lambda code: territory.departement(code).name
    return lambda component: component


def total(groups: list[ForecastGroup], year: int) -> ForecastGroup:
    """The sums of `groups` (a `Forecast` counts each case once; other lists add up the groups' counts)."""
    if isinstance(groups, Forecast):
        return groups.total
    return _summed(groups, year, sum(g.cases for g in groups))


def _summed(groups: list[ForecastGroup], year: int, cases: int) -> ForecastGroup:
    return ForecastGroup("total", f"all groups, {year}", committed=sum((g.committed for g in groups), ZERO),
                         awaiting_ceiling=sum((g.awaiting_ceiling for g in groups), ZERO),
                         paid=sum((g.paid for g in groups), ZERO), lines=sum(g.lines for g in groups), cases=cases)


@dataclass(frozen=True)
class ToConfirm:
    """The part of a forecast group computed from ruleset rows not checked against the signed text.

    Attributes:
        amount: those lines' amounts (refunds negative; a variable line awaiting assessment at its ceiling).
        sources: the rows' sources, each once, in the order met ("à confirmer" with these).
        lines: how many lines.
    """

    amount: Decimal
    sources: tuple[str, ...]
    lines: int

    def text(self) -> str:
        return " ; ".join(self.sources)


def forecast_to_confirm(uow: SqlUnitOfWork, year: int, *, by: str = "region",
                        scope: Scope | None = None) -> dict[str, ToConfirm]:
    """For `forecast(uow, year, by=…, scope=…)`: per group key, and under "total", the part of its lines
    computed from unverified ruleset rows (`PaymentRow.to_confirm`); groups without any are absent."""
    if by not in FORECAST_GROUPS:
        raise EventRejected(f"unknown grouping {by!r}: expected one of {', '.join(FORECAST_GROUPS)}")
    where = [col(PaymentRow.due) >= date(year, 1, 1), col(PaymentRow.due) <= date(year, 12, 31),
             PaymentRow.status != "cancelled", col(PaymentRow.to_confirm).is_not(None)]
    if scope is not None and not scope.national:
        where.append(col(PaymentRow.case_id).in_(_cases_in(scope)))
    key = {"region": Case.region, "departement": Case.seat_departement, "component": PaymentRow.component}[by]
    # Summed in the database (whole cents, as `forecast` does): one row per group and source, not one per line.
    value = func.coalesce(_cents(PaymentRow.amount), _cents(PaymentRow.ceiling), 0)
    signed = case((PaymentRow.component == "refund", -value), else_=value)
    if by == "component":
        query = (select(key, PaymentRow.to_confirm, func.sum(signed), func.count(), func.min(PaymentRow.due))
                 .where(*where).group_by(key, PaymentRow.to_confirm)
                 .order_by(func.min(PaymentRow.due), PaymentRow.to_confirm))
    else:
        # Per case first, then per seat (as `forecast`): the cases table is read once per case, not per line.
        per_case = (select(PaymentRow.case_id, PaymentRow.to_confirm, func.sum(signed).label("cents"),
                           func.count().label("lines"), func.min(PaymentRow.due).label("first"))
                    .where(*where).group_by(PaymentRow.case_id, PaymentRow.to_confirm).subquery())
        seat = Case.region if by == "region" else Case.seat_departement
        query = (select(seat, per_case.c.to_confirm, func.sum(per_case.c.cents), func.sum(per_case.c.lines),
                        func.min(per_case.c.first))
                 .select_from(per_case).join(Case, col(Case.id) == per_case.c.case_id)
                 .group_by(seat, per_case.c.to_confirm)
                 .order_by(func.min(per_case.c.first), per_case.c.to_confirm))
    with uow:
        rows = uow.session.exec(query).all()
    found: dict[str, tuple[Decimal, dict[str, None], int]] = {}
    for group, source, cents, count, _ in rows:
        for target in (group, "total"):
            total, sources, lines = found.get(target, (ZERO, {}, 0))
            sources[source] = None
            found[target] = (total + _euros(cents), sources, lines + int(count))
    return {k: ToConfirm(amount.quantize(Decimal("0.01")), tuple(sources), count)
            for k, (amount, sources, count) in found.items()}
