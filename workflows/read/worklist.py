"""Read models of the work lists: *À traiter* (the deadlines to act on) and *Portefeuille* (the cases).

Both are read from the projection tables (`cases`, `deadlines`, `users`), never from a journal replay, and
everything a list needs — the user's scope (SPEC §2), the filters, the counts, the order and the page — is
done in SQL, so that a page costs what its fifty rows cost, not what a portfolio of 10 000 cases holds.
Rendering (French words, dates, badges) is the caller's.

Statuses of a deadline as the lists show them (`TodoItem.status`, from `workflows.read.deadlines.status_as_of`,
as the case page shows them too): the stored status (pending, met, met_late, breached, elapsed, cancelled, as of
the case's last refresh), except for a *pending* row whose due date has passed, which the sweep has not reached
yet:
- `overdue` when its expiry is a breach (it becomes `breached` on the next sweep);
- `window_closed` when it is a window whose end is nobody's breach (an opposition window, a referral
  window, the contract's end…): the window is closed and its effect (e.g. the tacit validation of a health
  project) is written by the next sweep.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, case, exists, false, func, literal, literal_column, not_, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from lifecycle.calendar import FIRST_CALENDAR_DATE
from lifecycle.deadlines import BREACHED, MET, MET_LATE, PENDING
from lifecycle.errors import RulesetError
from lifecycle.machine import STATES
from lifecycle.ruleset import DEFAULT_RULESET, DeadlineRule, Ruleset, load_ruleset
from workflows.persistence.tables import Case, DeadlineRow, User
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.deadlines import (
    OVERDUE,
    WINDOW_CLOSED,
    DueDateReason,
    deadline_rule,
    due_date_reason,
    recipient_roles,
    status_as_of,
)
from workflows.read.people import seated_in
from workflows.services.people import scope_of

# What the *À traiter* list can be narrowed to (None: everything to act on).
TODO_STATUSES = (PENDING, OVERDUE, BREACHED, WINDOW_CLOSED, MET)
# How far ahead pending deadlines are listed by default, and the counts' two horizons (days).
DEFAULT_HORIZON, SOON, LATER = 30, 7, 30
# How far back met deadlines are listed (by due date) when the list is narrowed to them.
MET_LOOKBACK_DAYS = 30
PORTFOLIO_SORTS = ("name", "state", "next_deadline", "population")
PAGE_SIZE = 50

# ------------------------------------------------------------------------------------------------ scope
def scope_condition(user: User, *, indexed: bool = True) -> Any | None:
    """The cases the user's scope takes in (SPEC §2), as a condition on `cases`; None: every case.
    (`indexed=False`: see `case_conditions`.)"""
    return seated_in(scope_of(user), column=col if indexed else _unindexed)


def _unindexed(attribute: Any) -> Any:
    """The column as an expression no index answers (`region || ''`): SQLite's planner then reads a join from
    its other side (the query planner's documented way to disqualify a term); other databases plan as usual."""
    return col(attribute).concat(literal_column("''"))


def referent_condition(user: User) -> Any | None:
    """The cases the user is a referent of ("mes CPTS"); None for roles that are nobody's referent."""
    if user.role == "ars":
        return col(Case.ars_referent_id) == user.id
    if user.role == "cpam":
        return col(Case.cpam_referent_id) == user.id
    return None


def follows_any(uow: SqlUnitOfWork, user: User) -> bool:
    """Whether the user is the ARS or CPAM referent of at least one case of their scope."""
    mine = referent_condition(user)
    if mine is None:
        return False
    query = select(literal(1)).select_from(Case.__table__).where(*_present(scope_condition(user), mine)).limit(1)
    with uow:
        return uow.session.connection().execute(query).first() is not None


@dataclass(frozen=True)
class ScopeChoices:
    """What the filters of a list may offer: the seats of the cases in the user's scope.

    Attributes:
        departements: seat départements of the cases in scope, sorted.
        regions: their régions, sorted.
        follows_any: whether the user is the referent of one of them ("mes CPTS" makes sense).
    """

    departements: tuple[str, ...]
    regions: tuple[str, ...]
    follows_any: bool


def scope_choices(uow: SqlUnitOfWork, user: User) -> ScopeChoices:
    """The départements and régions seating the cases in scope (read from their indexes)."""
    where = _present(scope_condition(user))
    with uow:
        connection = uow.session.connection()
        departements = connection.execute(select(Case.seat_departement).where(*where).distinct()).scalars().all()
        regions = connection.execute(select(Case.region).where(*where).distinct()).scalars().all()
    return ScopeChoices(tuple(sorted(departements)), tuple(sorted(regions)), follows_any(uow, user))


@dataclass(frozen=True)
class CaseFilters:
    """Which cases of the user's scope a list shows (every field empty: all of them).

    Attributes:
        mine: only the cases the user is the ARS or CPAM referent of (ignored for other roles).
        states: lifecycle states, any of them; None: no filter; (): no case at all.
        departements, regions: seat départements, seat régions (any of them).
        name: a part of the case's name (any letter case; `%` and `_` are literal).
        deployed: True: only contracted cases whose socle missions are all deployed; False: all but those;
            None: no matter.
    """

    mine: bool = False
    states: tuple[str, ...] | None = None
    departements: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    name: str = ""
    deployed: bool | None = None


def case_conditions(user: User, filters: CaseFilters, *, with_states: bool = True, indexed: bool = True) -> list[Any]:
    """WHERE clauses on `cases` for the user's scope and `filters` (`with_states=False`: leave out the states
    and the deployment filter, e.g. to count the cases by state).

    `indexed=False` keeps the indexes of `cases` out of the plan: a list of deadlines joined to their cases is
    then read from the (status, due) index of `deadlines` — a few thousand entries — rather than case by case
    through `deadlines.case_id`, which reads every deadline row of every case in scope."""
    column = col if indexed else _unindexed
    conditions = _present(scope_condition(user, indexed=indexed))
    if filters.mine and (mine := referent_condition(user)) is not None:
        conditions.append(mine)
    if filters.departements:
        conditions.append(column(Case.seat_departement).in_(filters.departements))
    if filters.regions:
        conditions.append(column(Case.region).in_(filters.regions))
    if filters.name.strip():
        escaped = filters.name.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(col(Case.name).ilike(f"%{escaped}%", escape="\\"))
    if with_states:
        if filters.states is not None:
            conditions.append(column(Case.state).in_(filters.states) if filters.states else false())
        if filters.deployed is not None:
            deployed = socle_deployed()
            conditions.append(deployed if filters.deployed else not_(deployed))
    return conditions


def socle_deployed() -> Any:
    """The condition "a contract whose socle missions are all deployed": the case is `contracted` and none of
    its socle missions' deployment deadlines (ACI art. 6) is still pending or breached — each is met, on time
    or late (`mission_deployed` completes it)."""
    open_deployment = (
        select(literal(1)).select_from(DeadlineRow.__table__)
        .where(col(DeadlineRow.case_id) == col(Case.id), col(DeadlineRow.key).in_(_socle_deployment_keys()),
               col(DeadlineRow.status).not_in((MET, MET_LATE)))
    )
    return and_(col(Case.state) == "contracted", not_(exists(open_deployment)))


@lru_cache(maxsize=1)
def _socle_deployment_keys() -> tuple[str, ...]:
    """The deployment deadlines of the socle missions of every version of the accord (a case has the rows of the
    missions it is under: the crisis mission's only under ACI avenant 2)."""
    rules = load_ruleset(ruleset_id=DEFAULT_RULESET)
    socle = {m for version in rules.versions or (rules,) for m in version.socle_missions}
    return tuple(sorted(r.key for r in rules.lineage_deadlines.values()
                        if r.mission in socle and "mission_deployed" in r.completed_by))


def _present(*conditions: Any) -> list[Any]:
    return [c for c in conditions if c is not None]


# ------------------------------------------------------------------------------------------- À traiter
@dataclass(frozen=True)
class TodoItem:
    """A deadline of the *À traiter* list.

    Attributes:
        case_id, case_name, departement, case_state: the case, its seat département and lifecycle state.
        ident, key, rule: the deadline (`ident` unique within its case; `key` as stored, e.g.
            `annual_review.2`; `rule` its ruleset rule, e.g. `annual_review`).
        label: the obligation, in French (from the ruleset).
        due, days_left: its date, and the days from today to it (negative: past).
        status: as the list shows it (see the module's docstring): pending, overdue, window_closed, breached,
            met, met_late, elapsed or cancelled.
        stored_status: as of the case's last refresh.
        kind: procedural, effect, contractual or service.
        met_on: when it was done.
        at_expiry: breach, system_event or none (what happens when its date passes).
        expiry_event: the event the engine records when the window closes (`health_project_tacitly_validated`).
        actor: who must act before the date, as the ruleset says (binome, ars, am, cpts, cpl, funders; none: a
            date of effect).
        recipients: who is notified besides the binôme (cpts, legal).
        reason: why it falls on its date.
    """

    case_id: int
    case_name: str
    departement: str
    case_state: str
    ident: str
    key: str
    rule: str
    label: str
    due: date
    days_left: int
    status: str
    stored_status: str
    kind: str
    met_on: date | None
    at_expiry: str
    expiry_event: str | None
    actor: str
    recipients: tuple[str, ...]
    reason: DueDateReason


@dataclass(frozen=True)
class TodoCounts:
    """The figures at the top of *À traiter*, over the cases and deadline kinds filtered (not the status).

    Attributes:
        breached: deadlines breached (swept).
        overdue: pending deadlines past their date whose expiry is a breach (breached at the next sweep).
        window_closed: windows past their end whose effect the next sweep writes.
        due_soon: pending deadlines due from today to today + 7 days.
        due_later: pending deadlines due from today to today + 30 days (those of `due_soon` included).
    """

    breached: int = 0
    overdue: int = 0
    window_closed: int = 0
    due_soon: int = 0
    due_later: int = 0


@dataclass(frozen=True)
class DeadlineFilters:
    """Which deadlines of the cases filtered *À traiter* lists.

    Attributes:
        status: one of TODO_STATUSES; None: everything to act on (breached, overdue, windows closed, and pending
            deadlines due within `horizon_days`). `met` lists the deadlines met (on time or late) whose date
            lies from MET_LOOKBACK_DAYS days ago to the horizon.
        rules: ruleset rules (`first_meeting`, `annual_review`, `mission_start.access`…), any of them.
        kinds: procedural, effect, contractual, service (any of them).
        horizon_days: how far ahead pending deadlines are listed; None: all of them.
    """

    status: str | None = None
    rules: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    horizon_days: int | None = DEFAULT_HORIZON


@dataclass(frozen=True)
class TodoPage:
    """One page of *À traiter*, sorted by due date (then case and deadline).

    Attributes:
        items: the deadlines of this page.
        total: how many deadlines match, over all pages.
        page, pages, per_page: this page (1-based), how many there are (at least 1), their size.
        counts: the figures at the top.
        today: the day "overdue" and "days left" are measured from.
    """

    items: tuple[TodoItem, ...]
    total: int
    page: int
    pages: int
    per_page: int
    counts: TodoCounts
    today: date


def todo_page(uow: SqlUnitOfWork, user: User, *, today: date, cases: CaseFilters = CaseFilters(),
              deadlines: DeadlineFilters = DeadlineFilters(), page: int = 1, per_page: int = PAGE_SIZE) -> TodoPage:
    """A page of the deadlines to act on across the cases in the user's scope, with the counts at the top.

    Read from the (status, due) index of `deadlines` — the counts, then the page's ids; the page's fifty rows
    are then read by id — joined to `cases` only when a condition is on the case (scope, filters): the cost
    grows with the deadlines in the window, not with the portfolio."""
    d, c = DeadlineRow.__table__.c, Case.__table__.c
    # SQLite's planner must be kept from starting at `cases` (see `_unindexed`); PostgreSQL plans it well as is.
    on_cases = case_conditions(user, cases, indexed=uow.engine.dialect.name != "sqlite")
    # From each deadline to its case, never the other way (`+ 0` keeps `deadlines.case_id`'s index out of it).
    source = (DeadlineRow.__table__.join(Case.__table__, c.id == d.case_id + 0) if on_cases
              else DeadlineRow.__table__)
    common = [*on_cases, *_deadline_kind_conditions(deadlines)]
    with uow:
        connection = uow.session.connection()
        counts, total = _todo_counts(connection, source, common, deadlines, today)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        ids = connection.execute(
            select(d.id).select_from(source).where(*common, _status_condition(deadlines, today))
            .order_by(d.due, d.case_id, d.key).limit(per_page).offset((page - 1) * per_page)
        ).scalars().all()
        found = {row.id: row for row in connection.execute(
            select(d.id, d.case_id, c.name, c.seat_departement, c.state, c.ruleset_id, d.ident, d.key, d.label,
                   d.due, d.status, d.kind, d.met_on, d.at_expiry, d.recipients, d.explanation)
            .select_from(DeadlineRow.__table__.join(Case.__table__, c.id == d.case_id))
            .where(d.id.in_(ids)))} if ids else {}
    items = tuple(_todo_item(found[i], today) for i in ids if i in found)
    return TodoPage(items, total, page, pages, per_page, counts, today)


def _deadline_kind_conditions(filters: DeadlineFilters) -> list[Any]:
    key = col(DeadlineRow.key)
    conditions = []
    if filters.rules:
        # A rule counted per contract year is stored as `annual_review.K`: its key, or the key and a year.
        conditions.append(or_(key.in_(filters.rules), *(key.like(f"{rule}.%") for rule in filters.rules
                                                           if _is_yearly(rule))))
    if filters.kinds:
        conditions.append(col(DeadlineRow.kind).in_(filters.kinds))
    return conditions


def _status_condition(filters: DeadlineFilters, today: date) -> Any:
    status, due, expiry = col(DeadlineRow.status), col(DeadlineRow.due), col(DeadlineRow.at_expiry)
    horizon = None if filters.horizon_days is None else today + timedelta(days=filters.horizon_days)
    upcoming = and_(status == PENDING, due >= today, *([due <= horizon] if horizon else []))
    if filters.status == PENDING:
        return upcoming
    if filters.status == OVERDUE:
        return and_(status == PENDING, due < today, expiry == "breach")
    if filters.status == WINDOW_CLOSED:
        return and_(status == PENDING, due < today, expiry != "breach")
    if filters.status == BREACHED:
        return status == BREACHED
    if filters.status == MET:
        since = today - timedelta(days=MET_LOOKBACK_DAYS)
        return and_(status.in_((MET, MET_LATE)), due >= since, *([due <= horizon] if horizon else []))
    # Everything to act on: breached, pending past its date, pending within the horizon.
    return or_(status == BREACHED, and_(status == PENDING, *([due <= horizon] if horizon else [])))


def _todo_counts(connection: Any, source: Any, common: list[Any], filters: DeadlineFilters,
                 today: date) -> tuple[TodoCounts, int]:
    """The counts at the top, and how many deadlines the list holds.

    Two passes: one over the (status, due) index alone; one over the few pending deadlines past their date,
    split by what their expiry is (`at_expiry` is not in the index: asking it of every row would read them all).
    """
    status, due, expiry = col(DeadlineRow.status), col(DeadlineRow.due), col(DeadlineRow.at_expiry)
    pending = status == PENDING
    counted = or_(status == BREACHED, and_(pending, due <= today + timedelta(days=LATER)))
    by_expiry = filters.status in (OVERDUE, WINDOW_CLOSED)  # the list is one side of the split below
    selected = _status_condition(filters, today)

    def tally(condition: Any) -> Any:
        return func.coalesce(func.sum(_when(condition)), 0)

    figures = [tally(status == BREACHED), tally(and_(pending, due >= today, due <= today + timedelta(days=SOON))),
               tally(and_(pending, due >= today, due <= today + timedelta(days=LATER)))]
    if not by_expiry:
        figures.append(tally(selected))
    row = connection.execute(select(*figures).select_from(source)
                             .where(*common, counted if by_expiry else or_(counted, selected))).one()
    breached, soon, later, *total = (int(value) for value in row)
    past = dict(connection.execute(select(expiry, func.count()).select_from(source)
                                   .where(*common, pending, due < today).group_by(expiry)).all())
    overdue = int(past.pop("breach", 0))
    closed = sum(int(n) for n in past.values())
    if by_expiry:
        total = [overdue if filters.status == OVERDUE else closed]
    return TodoCounts(breached, overdue, closed, soon, later), total[0]


def _when(condition: Any) -> Any:
    return case((condition, 1), else_=0)


def _todo_item(row: Any, today: date) -> TodoItem:
    (_, case_id, name, departement, state, ruleset_id, ident, key, label, due, stored, kind, met_on, at_expiry,
     recipients, explanation) = row
    rule = _rule(ruleset_id, key)
    return TodoItem(
        case_id=case_id, case_name=name, departement=departement, case_state=state, ident=ident, key=key,
        rule=rule.key if rule else key, label=label, due=due, days_left=(due - today).days,
        status=status_as_of(stored, due, at_expiry, today), stored_status=stored, kind=kind, met_on=met_on,
        at_expiry=at_expiry, expiry_event=rule.event if rule and at_expiry == "system_event" else None,
        actor=rule.actor if rule else "binome", recipients=recipient_roles(recipients),
        reason=due_date_reason(explanation, rule),
    )


@lru_cache(maxsize=1024)
def _rule(ruleset_id: str, key: str) -> DeadlineRule | None:
    """The ruleset rule of a stored deadline key (`annual_review.2` → `annual_review`)."""
    return deadline_rule(_ruleset(ruleset_id), key)


def _ruleset(ruleset_id: str) -> Ruleset:
    try:
        return load_ruleset(ruleset_id=ruleset_id)
    except RulesetError:  # a case of a ruleset this build does not ship: the default one's words
        return load_ruleset(ruleset_id=DEFAULT_RULESET)


def _is_yearly(rule: str) -> bool:
    found = load_ruleset(ruleset_id=DEFAULT_RULESET).lineage_deadlines.get(rule)
    return bool(found and found.per_contract_year)


def deadline_rules(ruleset_id: str = DEFAULT_RULESET) -> tuple[DeadlineRule, ...]:
    """The deadline rules of a ruleset, in its order (what the "deadline" filter offers)."""
    return tuple(load_ruleset(ruleset_id=ruleset_id).lineage_deadlines.values())


# ------------------------------------------------------------------------------------------ Portefeuille
@dataclass(frozen=True)
class NextDeadline:
    """A case's earliest pending deadline.

    Attributes:
        due, label, key: its date, its French label, its key.
        at_expiry: breach, system_event or none: past its date (not swept yet), a deadline whose expiry is a
            breach is overdue, another one is a closed window (see the module's docstring).
    """

    due: date
    label: str
    key: str
    at_expiry: str

    def status(self, today: date) -> str:
        """pending, overdue or window_closed, as of `today`."""
        return status_as_of(PENDING, self.due, self.at_expiry, today)


@dataclass(frozen=True)
class PortfolioRow:
    """One case of *Portefeuille*.

    Attributes:
        id, name: the case.
        state: its lifecycle state (as of its last refresh).
        deployed: a contract whose socle missions are all deployed.
        size, population: as refreshed by the last event.
        departement, region: its seat.
        ars_referent, cpam_referent: the binôme's names (None: not assigned).
        next_deadline: its earliest pending deadline (possibly past: overdue), None when none is pending.
        signed_on: the contract's signature date, None before signature.
    """

    id: int
    name: str
    state: str
    deployed: bool
    size: int
    population: int
    departement: str
    region: str
    ars_referent: str | None
    cpam_referent: str | None
    next_deadline: NextDeadline | None
    signed_on: date | None


@dataclass(frozen=True)
class StateCounts:
    """How many cases of the filtered set are in each state (the state and phase filters left out).

    Attributes:
        by_state: state → number of cases (states without a case are absent).
        deployed: contracted cases whose socle missions are all deployed (counted in `by_state["contracted"]`).
    """

    by_state: dict[str, int] = field(default_factory=dict)
    deployed: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


@dataclass(frozen=True)
class PortfolioPage:
    """One page of *Portefeuille*.

    Attributes:
        rows: the cases of this page, in the order asked for.
        total: how many cases match, over all pages.
        page, pages, per_page: this page (1-based), how many there are (at least 1), their size.
        counts: the cases by state, for the chart.
    """

    rows: tuple[PortfolioRow, ...]
    total: int
    page: int
    pages: int
    per_page: int
    counts: StateCounts


def portfolio_page(uow: SqlUnitOfWork, user: User, filters: CaseFilters = CaseFilters(), *, sort: str = "name",
                   descending: bool = False, page: int = 1, per_page: int = PAGE_SIZE) -> PortfolioPage:
    """A page of the cases in the user's scope, filtered and sorted (`sort` one of PORTFOLIO_SORTS, ties by
    case number), with the counts by state."""
    conditions = case_conditions(user, filters)
    with uow:
        connection = uow.session.connection()
        counts = _state_counts(connection, case_conditions(user, filters, with_states=False))
        if filters.deployed:  # the cases deployed are counted already (the deployment check costs a lookup a case)
            total = counts.deployed if filters.states is None or "contracted" in filters.states else 0
        else:
            total = connection.execute(select(func.count()).select_from(Case.__table__)
                                       .where(*conditions)).scalar_one()
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        ids = _sorted_ids(connection, conditions, sort, descending, limit=per_page, offset=(page - 1) * per_page)
        rows = _portfolio_rows(connection, ids)
    return PortfolioPage(tuple(rows), total, page, pages, per_page, counts)


def portfolio_rows(uow: SqlUnitOfWork, user: User, filters: CaseFilters = CaseFilters(), *, sort: str = "name",
                   descending: bool = False, batch: int = 500) -> list[PortfolioRow]:
    """Every case `portfolio_page` would show over all its pages, in the same order (for the exports)."""
    conditions = case_conditions(user, filters)
    with uow:
        connection = uow.session.connection()
        ids = _sorted_ids(connection, conditions, sort, descending)
        rows: list[PortfolioRow] = []
        for start in range(0, len(ids), batch):
            rows += _portfolio_rows(connection, ids[start:start + batch])
    return rows


def _sorted_ids(connection: Any, conditions: list[Any], sort: str, descending: bool, *, limit: int | None = None,
                offset: int = 0) -> list[int]:
    c = Case.__table__.c
    query = select(c.id).select_from(Case.__table__).where(*conditions)
    if sort == "next_deadline":
        # Earliest pending deadline per case, read from the (status, due) index: the `due` bound makes that
        # index the obvious choice for SQLite's planner (otherwise it may walk `case_id` and read every row).
        d = DeadlineRow.__table__.c
        nexts = (select(d.case_id.label("case_id"), func.min(d.due).label("due"))
                 .where(d.status == PENDING, d.due >= FIRST_CALENDAR_DATE).group_by(d.case_id).subquery())
        query = query.outerjoin(nexts, nexts.c.case_id == c.id)
        # Cases without a pending deadline come last, whichever the direction.
        keys = [nexts.c.due.is_(None), nexts.c.due.desc() if descending else nexts.c.due]
    elif sort == "state":
        order = _state_order()
        keys = [order.desc() if descending else order]
    elif sort == "population":
        keys = [c.population.desc() if descending else c.population]
    else:  # by name, whatever the letter case (accented capitals aside on SQLite, whose lower() is ASCII)
        name = func.lower(c.name)
        keys = [name.desc() if descending else name]
    query = query.order_by(*keys, c.id.desc() if descending else c.id)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(connection.execute(query).scalars())


def _state_order() -> Any:
    """The lifecycle order of the states (new, prospect, …, terminated, expired, abandoned)."""
    return case({state: index for index, state in enumerate(STATES)}, value=col(Case.state), else_=len(STATES))


def _portfolio_rows(connection: Any, ids: Sequence[int]) -> list[PortfolioRow]:
    if not ids:
        return []
    c, d = Case.__table__.c, DeadlineRow.__table__.c
    ars, cpam = aliased(User.__table__), aliased(User.__table__)
    found = {
        row.id: row for row in connection.execute(
            select(c.id, c.name, c.state, c.size, c.population, c.seat_departement, c.region,
                   ars.c.name.label("ars_name"), cpam.c.name.label("cpam_name"))
            .select_from(Case.__table__.outerjoin(ars, ars.c.id == c.ars_referent_id)
                         .outerjoin(cpam, cpam.c.id == c.cpam_referent_id))
            .where(c.id.in_(ids)))
    }
    nexts: dict[int, NextDeadline] = {}
    for case_id, due, label, key, at_expiry in connection.execute(
            select(d.case_id, d.due, d.label, d.key, d.at_expiry).where(d.case_id.in_(ids), d.status == PENDING)
            .order_by(d.case_id, d.due, d.key)):
        nexts.setdefault(case_id, NextDeadline(due, label, key, at_expiry))
    signed: dict[int, date] = {}
    for case_id, ident in connection.execute(select(d.case_id, d.ident).where(d.case_id.in_(ids),
                                                                                 d.key == "contract_end")):
        # The contract's end is counted from its signature: the deadline's identity is "contract_end:<signed>".
        signed[case_id] = date.fromisoformat(ident.split(":", 1)[1])
    contracted = [i for i in ids if i in found and found[i].state == "contracted"]
    open_deployment = set(connection.execute(
        select(d.case_id).where(d.case_id.in_(contracted), d.key.in_(_socle_deployment_keys()),
                                d.status.not_in((MET, MET_LATE))).distinct()).scalars()) if contracted else set()
    return [
        PortfolioRow(
            id=row.id, name=row.name, state=row.state, deployed=row.state == "contracted" and row.id not in
            open_deployment, size=row.size, population=row.population, departement=row.seat_departement,
            region=row.region, ars_referent=row.ars_name, cpam_referent=row.cpam_name, next_deadline=nexts.get(row.id),
            signed_on=signed.get(row.id))
        for row in (found[i] for i in ids if i in found)
    ]


def _state_counts(connection: Any, conditions: list[Any]) -> StateCounts:
    c = Case.__table__.c
    by_state = {state: count for state, count in connection.execute(
        select(c.state, func.count()).select_from(Case.__table__).where(*conditions).group_by(c.state))}
    deployed = 0
    if by_state.get("contracted"):
        deployed = connection.execute(select(func.count()).select_from(Case.__table__)
                                      .where(*conditions, socle_deployed())).scalar_one()
    return StateCounts(by_state, deployed)


def known(values: Iterable[str], allowed: Iterable[str]) -> tuple[str, ...]:
    """The values that are among `allowed`, in their order, without repeats (a URL's filters, cleaned)."""
    allowed_set = set(allowed)
    return tuple(dict.fromkeys(v for v in values if v in allowed_set))
