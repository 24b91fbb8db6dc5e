"""Read model of a case's page (*Fiche CPTS*): everything it shows, from the projection tables, without a replay.

`case_view` (workflows.read.cases) replays the journal; a page must not (ARCHITECTURE: reads never replay). This
reads what the last write stored — the case row, its deadline and payment rows, its journal rows (read, not
replayed), its referents and the cases sharing its territory — and brings the statuses that only time changes up
to `today` with the domain's own rules:

- a pending deadline whose due date has passed is overdue (its rule says `at_expiry = breach`, SPEC §6: the
  next sweep records the breach), or a closed window (`window_closed`: the window simply closes, or a timer's
  system event is due, which the next sweep records) — `workflows.read.deadlines.status_as_of`;
- a scheduled payment line whose due date has passed is overdue (SPEC §7).

What a replay alone knows is left to the sweep that runs every few minutes (the state a due timer leads to,
e.g. a tacit validation): the page says which timers are due. The journal's hash chain is checked on demand
(`chain_status`), not on every view: it recomputes every row's hash.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from sqlmodel import select

from lifecycle import territory
from lifecycle.deadlines import PENDING
from lifecycle.errors import DomainError
from lifecycle.events import SYSTEM_EVENTS, JournalEntry
from lifecycle.indicators import YearIndicators, indicator_tracking
from lifecycle.machine import TERRITORY_CLAIMING
from lifecycle.payments import remaining_on
from lifecycle.ruleset import Ruleset
from workflows.persistence.journal import to_entry
from workflows.persistence.tables import Case, DeadlineRow, JournalRow, PaymentRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import JournalLine, verify_journal
from workflows.read.deadlines import DueDateReason, deadline_rule, due_date_reason, recipient_roles, status_as_of
from workflows.services.cases import ruleset_for

ZERO = Decimal("0.00")
MET_STATUSES = ("met", "met_late")


@dataclass(frozen=True)
class Person:
    """A referent of the case (ARS or CPAM agent)."""

    id: int
    name: str
    email: str


@dataclass(frozen=True)
class DeadlineLine:
    """A deadline of the case as of `today`.

    Attributes:
        ident, key, rule_key: its identity, its key (`annual_review.2`) and the ruleset row (`annual_review`).
        label: French, from the ruleset. due, kind, met_on: as stored.
        status: as of `today` (pending, overdue, window_closed, met, met_late, breached, elapsed, cancelled:
            `workflows.read.deadlines.status_as_of`).
        actor: who must act before the date, as the ruleset says (binome, ars, am, cpts, cpl, funders; none: a
            date of effect).
        recipients: roles told besides the binôme (cpts, legal).
        expiry_event: the system event a timer records when the window closes (e.g. tacit validation), else None.
        timer_due: that event is due and the sweep has not recorded it yet.
        reason: why the due date is that date.
        origin: the ruleset row of its period ("ACI-2019+A2 deadlines.mission_start.crisis"; "" before 0010).
        to_confirm: that row's source when it was not checked against the signed text (the date is then shown
            "à confirmer"), else None.
    """

    ident: str
    key: str
    rule_key: str
    label: str
    due: date
    status: str
    kind: str
    met_on: date | None
    actor: str
    recipients: tuple[str, ...]
    expiry_event: str | None
    timer_due: bool
    reason: DueDateReason
    origin: str = ""
    to_confirm: str | None = None


@dataclass(frozen=True)
class PaymentLineView:
    """A line of the échéancier as of `today` (status: scheduled, partially_paid, paid, overdue,
    awaiting_assessment, cancelled); `amount` None while a variable part awaits its assessment."""

    component: str
    mission: str | None
    year: int
    due: date
    amount: Decimal | None
    ceiling: Decimal | None
    paid: Decimal
    status: str
    explanation: str = ""  # how the engine computed the line (its stored text, English, e.g. a refund's terms)
    origin: str = ""  # the ruleset row of its amount ("ACI-2019+A2 amounts.missions.crisis"; "" before 0010)
    to_confirm: str | None = None  # that row's source when not checked against the signed text: "à confirmer"

    @property
    def remaining(self) -> Decimal | None:
        """What the line still owes (the domain's rule: `lifecycle.payments.remaining_on`)."""
        return remaining_on(self.amount, self.paid, self.status)

    @property
    def is_refund(self) -> bool:
        return self.component == "refund"


@dataclass(frozen=True)
class PaymentTotals:
    """Sums of the lines that are not cancelled, a refund counted negative (money back to the funders).

    Attributes:
        amount, paid, remaining: of the lines whose amount is known.
        awaiting_ceiling: lines awaiting their assessment, at full attainment (their most).
    """

    amount: Decimal
    paid: Decimal
    remaining: Decimal
    awaiting_ceiling: Decimal


@dataclass(frozen=True)
class OverlappingCase:
    """Another CPTS whose health project claims some of this case's communes (I §6.1)."""

    id: int
    name: str
    state: str
    seat_departement: str
    region: str
    communes: tuple[str, ...]


@dataclass(frozen=True)
class Commune:
    code: str
    name: str


@dataclass(frozen=True)
class CaseSheet:
    """Everything the case page shows, as of `today` (the local date at the seat).

    Attributes:
        id, name, state, version: the case as stored by its last write.
        seat_departement, departement_name, region, region_name, cpl: its seat and the seat's CPL.
        communes: its territory (INSEE code and name), by code.
        population, size: as refreshed by the last event.
        ruleset_id, ruleset_title: the ruleset it is governed by.
        ars, cpam: its referents (None: not assigned); contact_name, contact_email: its contact at the CPTS.
        milestones: user events recorded (voided ones left out): how far the case went (the stepper).
        socle_deployed: every socle mission's deployment deadline met (the phase "missions déployées").
        contract_signed_on: the date of the contract, None before.
        deadlines: by due date and key. journal: every row, by sequence number. timers_due: system events due.
        payments: the échéancier by due date (empty before signature); totals: its sums.
        indicators: per contract year, what was reported and which national indicators are missing (SPEC §9).
        overlaps: other CPTS claiming some of its communes (only while this one claims them too).
    """

    id: int
    name: str
    state: str
    version: int
    today: date
    seat_departement: str
    departement_name: str
    region: str
    region_name: str
    cpl: str
    communes: tuple[Commune, ...]
    population: int
    size: int
    ruleset_id: str
    ruleset_title: str
    ars: Person | None
    cpam: Person | None
    contact_name: str | None
    contact_email: str | None
    milestones: frozenset[str]
    socle_deployed: bool
    contract_signed_on: date | None
    deadlines: tuple[DeadlineLine, ...]
    journal: tuple[JournalLine, ...]
    payments: tuple[PaymentLineView, ...]
    totals: PaymentTotals
    indicators: tuple[YearIndicators, ...]
    overlaps: tuple[OverlappingCase, ...]

    @property
    def timers_due(self) -> tuple[DeadlineLine, ...]:
        return tuple(d for d in self.deadlines if d.timer_due)


def case_sheet(uow: SqlUnitOfWork, case: Case, *, today: date) -> CaseSheet:
    """The page of `case` (as found by the caller, who checked the user may see it) as of `today`."""
    rules = ruleset_for(case)
    with uow:
        stored = uow.cases.get(case.id)
        ars = uow.users.get(stored.ars_referent_id) if stored.ars_referent_id else None
        cpam = uow.users.get(stored.cpam_referent_id) if stored.cpam_referent_id else None
        deadline_rows = list(uow.session.exec(select(DeadlineRow).where(DeadlineRow.case_id == stored.id)))
        payment_rows = list(uow.session.exec(select(PaymentRow).where(PaymentRow.case_id == stored.id)))
        journal_rows = uow.journal.rows(stored.id)
        overlaps = _overlaps(uow, stored) if stored.state in TERRITORY_CLAIMING else ()
    voided = _voided(journal_rows)
    live = [to_entry(r) for r in journal_rows if r.seq not in voided and r.type != "event_voided"]
    signed_on = max((e.at for e in live if e.type == "contract_signed"), default=None)
    deadlines = tuple(sorted((_deadline(row, rules, today) for row in deadline_rows), key=lambda d: (d.due, d.key)))
    payments = tuple(sorted((_payment(row, today) for row in payment_rows),
                            key=lambda p: (p.due, p.year, p.component)))
    codes = json.loads(stored.communes or "[]")
    return CaseSheet(
        id=stored.id, name=stored.name, state=stored.state, version=stored.version, today=today,
        seat_departement=stored.seat_departement, departement_name=territory.departement(stored.seat_departement).name,
        region=stored.region, region_name=territory.region(stored.region).name,
        cpl=territory.cpl_name(stored.seat_departement),
        communes=tuple(Commune(c.code, c.name) for c in _communes(codes)),
        population=stored.population, size=stored.size, ruleset_id=rules.id, ruleset_title=rules.title,
        ars=Person(ars.id, ars.name, ars.email) if ars else None,
        cpam=Person(cpam.id, cpam.name, cpam.email) if cpam else None,
        contact_name=stored.cpts_contact_name, contact_email=stored.cpts_contact_email,
        milestones=frozenset(e.type for e in live if e.type not in SYSTEM_EVENTS),
        socle_deployed=_socle_deployed(deadlines, rules),
        contract_signed_on=signed_on,
        deadlines=deadlines,
        journal=tuple(JournalLine(r.seq, r.type, r.at, r.actor, r.recorded_at, json.loads(r.data), r.evidence,
                                  voided.get(r.seq)) for r in journal_rows),
        payments=payments,
        totals=_totals(payments),
        indicators=_indicators(signed_on, live, rules, today),
        overlaps=overlaps,
    )


# ------------------------------------------------------------------------------------------------ deadlines
def _deadline(row: DeadlineRow, rules: Ruleset, today: date) -> DeadlineLine:
    rule = deadline_rule(rules, row.key)
    event = rule.event if rule is not None and row.at_expiry == "system_event" else None
    return DeadlineLine(
        ident=row.ident, key=row.key, rule_key=rule.key if rule is not None else row.key, label=row.label,
        due=row.due, status=status_as_of(row.status, row.due, row.at_expiry, today), kind=row.kind,
        met_on=row.met_on, actor=rule.actor if rule is not None else "binome",
        recipients=recipient_roles(row.recipients), expiry_event=event,
        timer_due=event is not None and row.status == PENDING and row.due < today,
        reason=due_date_reason(row.explanation, rule),
        origin=row.origin or "", to_confirm=row.to_confirm,
    )


def _socle_deployed(deadlines: Sequence[DeadlineLine], rules: Ruleset) -> bool:
    deployed = {d.key.split(".", 1)[1] for d in deadlines
                if d.key.startswith("mission_deployment.") and d.status in MET_STATUSES}
    return bool(rules.socle_missions) and set(rules.socle_missions) <= deployed


# ------------------------------------------------------------------------------------------------ payments
def payment_status(stored: str, due: date, today: date) -> str:
    """A payment line's status as of `today` (SPEC §7: a line not paid by its due date is overdue)."""
    return "overdue" if stored == "scheduled" and due < today else stored


def _payment(row: PaymentRow, today: date) -> PaymentLineView:
    return PaymentLineView(row.component, row.mission, row.year, row.due, _cents(row.amount), _cents(row.ceiling),
                           _cents(row.paid) or ZERO, payment_status(row.status, row.due, today), row.explanation,
                           row.origin or "", row.to_confirm)


def _cents(value: Decimal | int | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def _totals(lines: Sequence[PaymentLineView]) -> PaymentTotals:
    amount = paid = remaining = awaiting = ZERO
    for line in lines:
        if line.status == "cancelled":
            continue
        sign = -1 if line.is_refund else 1
        if line.amount is None:
            awaiting += line.ceiling or ZERO
            continue
        amount += sign * line.amount
        paid += sign * line.paid
        remaining += sign * (line.remaining or ZERO)
    return PaymentTotals(amount, paid, remaining, awaiting)


# ------------------------------------------------------------------------------------------------ journal
def _voided(rows: Sequence[JournalRow]) -> dict[int, int]:
    """Voided seq → seq of the `event_voided` entry that voided it."""
    voided: dict[int, int] = {}
    for row in rows:
        if row.type == "event_voided":
            target = json.loads(row.data).get("seq")
            if isinstance(target, int):
                voided[target] = row.seq
    return voided


@dataclass(frozen=True)
class _Reports:
    """What `indicator_tracking` reads of a case (`lifecycle.indicators.ReportedCase`), from journal rows."""

    contract_signed_on: date | None
    accepted: tuple[JournalEntry, ...]
    today: date


def _indicators(signed_on: date | None, live: Sequence[JournalEntry], rules: Ruleset,
                today: date) -> tuple[YearIndicators, ...]:
    """Per contract year, the attainment reported and the national indicators missing (as `cpts case show`).

    Every entry still in the journal and not voided was accepted when recorded, and no later write may make it
    invalid (`services.cases._check_replay`): the reports are those entries, no replay needed."""
    reports = tuple(e for e in live if e.type == "indicators_reported")
    try:
        return indicator_tracking(_Reports(signed_on, reports, today), rules)
    except DomainError:  # a report the engine can no longer read: the page still shows the rest
        return ()


# ------------------------------------------------------------------------------------------------ territory
def _communes(codes: Sequence[str]) -> list[territory.Commune]:
    try:
        return territory.communes(codes)
    except DomainError:  # a commune since merged away: shown by code only
        return [territory.Commune(code, code, "", "", 0) for code in sorted(codes)]


def _overlaps(uow: SqlUnitOfWork, case: Case) -> tuple[OverlappingCase, ...]:
    """Other CPTS with a health project submitted or validated sharing communes with this one (I §6.1)."""
    mine = json.loads(case.communes or "[]")
    if not mine:
        return ()
    found = []
    for other in uow.cases.sharing_communes(sorted(mine), TERRITORY_CLAIMING, besides=case.id):
        common = territory.overlap(mine, json.loads(other.communes or "[]"))
        if common:
            found.append(OverlappingCase(other.id, other.name, other.state, other.seat_departement, other.region,
                                         tuple(common)))
    return tuple(found)


# ------------------------------------------------------------------------------------------------ the chain
@dataclass(frozen=True)
class ChainStatus:
    """What `cpts case verify` says of the case's journal.

    Attributes:
        findings: one line per problem (a row edited, removed or inserted, the identity edited…); empty: intact.
        keyed: the hashes are keyed (HMAC with CPTS_JOURNAL_KEY); unkeyed, a rewrite of the whole chain by
            someone with database access would not be detected.
        rows: how many journal rows were checked.
    """

    findings: tuple[str, ...]
    keyed: bool
    rows: int

    @property
    def intact(self) -> bool:
        return not self.findings


def chain_status(uow: SqlUnitOfWork, case_id: int) -> ChainStatus:
    """Recompute the case's hash chain from its genesis entry (every row's hash: on demand, not on each view)."""
    findings = verify_journal(uow, case_id)
    with uow:
        rows = len(uow.session.exec(select(JournalRow.seq).where(JournalRow.case_id == case_id)).all())
    return ChainStatus(tuple(findings), uow.keys.keyed, rows)


def attainment_percent(rate: Fraction) -> Decimal:
    """An attainment rate as a percentage with one decimal, half-up (80.0, 66.7): what a page shows."""
    return (Decimal(rate.numerator) * 100 / Decimal(rate.denominator)).quantize(Decimal("0.1"), ROUND_HALF_UP)
