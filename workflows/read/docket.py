"""Read model of the legal docket (*Contentieux*, `cpts legal docket`): every termination, contract refusal and
CPL referral of a scope, one row per case, with the dates legal staff argue about (ACI art. 11, 12.4; annex 5).

Read from the projection tables only — `cases`, the `journal` rows of the few event types the docket quotes
(the notice, the referral, the scheduled meeting, and the voids that cancel them), `deadlines` and the refund line
of `payments` — never from a journal replay. Scope and filters are SQL conditions on `cases`.

What is "in progress" (the default) and what is "closed":
- in progress: the cases in `termination_pending`, `termination_suspended` or `contract_refused`;
- closed: the other cases that ever received a termination notice, a contract refusal or a CPL referral
  (`terminated` above all; a termination withdrawn by the funders' new decision, a refusal followed by a new
  adhesion request, an expired contract).

The next act due is the case's earliest pending deadline among the rules that concern legal staff (their
`recipients` include `legal`) or the CPL (a key starting with `cpl_`): a rule added to the ruleset later (a
carence window…) shows there without a change here.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import exists, or_, select
from sqlmodel import col

from lifecycle.deadlines import CANCELLED, PENDING
from lifecycle.errors import RulesetError
from lifecycle.events import read_evidence
from lifecycle.ruleset import DEFAULT_RULESET, DeadlineRule, Ruleset, load_ruleset
from workflows.persistence.tables import Case, DeadlineRow, JournalRow, PaymentRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.deadlines import DueDateReason, deadline_rule, due_date_reason, status_as_of
from workflows.read.people import seated_in
from workflows.services.people import Scope

OPEN_STATES = ("termination_pending", "termination_suspended", "contract_refused")
# The events that put a case on the docket (ever received: the case stays reachable once closed).
DOCKET_EVENTS = ("termination_notice_received", "contract_refusal_received", "cpl_referral_received")
# Journal rows the docket quotes, and the voids that may cancel them.
_QUOTED = (*DOCKET_EVENTS, "cpl_meeting_scheduled", "event_voided")
# The docket's dates: field of DocketRow → deadline key (the first of the keys found, for the referral window).
_DATES = {
    "effective": ("termination_effective",),
    "referral_window": ("termination_cpl_window", "contract_refusal_cpl_window"),
    "meeting_deadline": ("cpl_meeting",),
    "convocation": ("cpl_convocation",),
    "agenda": ("cpl_agenda",),
    "opinion": ("cpl_opinion",),
    "new_decision": ("funders_new_decision",),
    "refund_due": ("refund",),
}
STATE_FILTERS = ("open", "closed", "all")
TERMINATION, REFUSAL, REFERRAL = "termination", "contract_refusal", "cpl_referral"


@dataclass(frozen=True)
class DocketDate:
    """A deadline of the docket, as its case's last refresh stored it.

    Attributes:
        key, label: the deadline (its ruleset key, its French label).
        due: its date; `days_left` from today (negative: past).
        status: as the pages show it (`workflows.read.deadlines.status_as_of`): pending, overdue, window_closed,
            met, met_late, breached, elapsed, cancelled.
        met_on: when it was done.
        actor: who must act before the date (ruleset `actor`: cpts, cpl, funders, none…).
        expiry_event: the event the engine records when the window closes, if any.
        reason: why it falls on its date.
    """

    key: str
    label: str
    due: date
    days_left: int
    status: str
    met_on: date | None
    actor: str
    expiry_event: str | None
    reason: DueDateReason


@dataclass(frozen=True)
class DocketRow:
    """One case of the docket.

    Attributes:
        case_id, case_name, departement, region, state: the case.
        matter: termination, contract_refusal or cpl_referral (a referral without a notice or refusal on record).
        closed: the case is no longer in a docket state (see the module's docstring).
        initiator, grounds: of the termination notice (funders / cpts; non_compliance / ineligible), else None.
        notice_on: the date of the notice (or of the contract refusal): the legal anchor.
        notice_evidence: its free evidence reference (e.g. a file name, or an LRAR number typed as text), None
            when none was given.
        notice_lrar, notice_presented_on, notice_received_on: the registered letter's number, its first
            presentation and its signed receipt, from structured evidence (None when not given); the event's
            date (`notice_on`) stays the anchor of every window.
        referral_on: the CPL referral's date, if any.
        suspended: the termination is suspended by a CPL referral (state `termination_suspended`).
        meeting_on: the CPL meeting's date as scheduled (`cpl_meeting_scheduled`), if any.
        effective, referral_window, meeting_deadline, convocation, agenda, opinion, new_decision, refund_due:
            the deadlines (None when the case has none of that rule).
        refund_amount: the refund owed (payment line `refund`), None when none is computed.
        next_act: the earliest pending deadline that concerns legal staff or the CPL, None when none is.
    """

    case_id: int
    case_name: str
    departement: str
    region: str
    state: str
    matter: str
    closed: bool
    initiator: str | None
    grounds: str | None
    notice_on: date | None
    notice_evidence: str | None
    notice_lrar: str | None
    notice_presented_on: date | None
    notice_received_on: date | None
    referral_on: date | None
    suspended: bool
    meeting_on: date | None
    effective: DocketDate | None
    referral_window: DocketDate | None
    meeting_deadline: DocketDate | None
    convocation: DocketDate | None
    agenda: DocketDate | None
    opinion: DocketDate | None
    new_decision: DocketDate | None
    refund_due: DocketDate | None
    refund_amount: Decimal | None
    next_act: DocketDate | None

    def as_dict(self) -> dict[str, Any]:
        """The row as JSON values (dates ISO, amounts as strings, deadlines without their explanation)."""
        def day(value: date | None) -> str | None:
            return value.isoformat() if value else None

        def deadline(value: DocketDate | None) -> dict[str, Any] | None:
            if value is None:
                return None
            return {"key": value.key, "label": value.label, "due": value.due.isoformat(),
                    "days_left": value.days_left, "status": value.status, "met_on": day(value.met_on),
                    "actor": value.actor}

        return {
            "case": self.case_id, "case_name": self.case_name, "departement": self.departement,
            "region": self.region, "state": self.state, "matter": self.matter, "closed": self.closed,
            "initiator": self.initiator, "grounds": self.grounds, "notice_on": day(self.notice_on),
            "notice_evidence": self.notice_evidence, "notice_lrar": self.notice_lrar,
            "notice_presented_on": day(self.notice_presented_on), "notice_received_on": day(self.notice_received_on),
            "referral_on": day(self.referral_on),
            "suspended": self.suspended, "meeting_on": day(self.meeting_on),
            **{name: deadline(getattr(self, name)) for name in _DATES},
            "refund_amount": str(self.refund_amount) if self.refund_amount is not None else None,
            "next_act": deadline(self.next_act),
        }


@dataclass(frozen=True)
class DocketFilters:
    """Which cases of the scope the docket lists.

    Attributes:
        state: open (in progress, the default), closed, or all.
        departements: seat départements (any of them); empty: all.
    """

    state: str = "open"
    departements: tuple[str, ...] = ()


def docket_conditions(scope: Scope, filters: DocketFilters) -> list[Any]:
    """WHERE clauses on `cases`: the scope, the départements, open or closed."""
    conditions = [c for c in (seated_in(scope),) if c is not None]
    if filters.departements:
        conditions.append(col(Case.seat_departement).in_(filters.departements))
    is_open = col(Case.state).in_(OPEN_STATES)
    ever = exists(select(col(JournalRow.id)).where(col(JournalRow.case_id) == col(Case.id),
                                                   col(JournalRow.type).in_(DOCKET_EVENTS)))
    if filters.state == "closed":
        conditions += [col(Case.state).not_in(OPEN_STATES), ever]
    elif filters.state == "all":
        conditions.append(or_(is_open, ever))
    else:
        conditions.append(is_open)
    return conditions


def docket(uow: SqlUnitOfWork, scope: Scope, *, today: date, filters: DocketFilters = DocketFilters()
           ) -> list[DocketRow]:
    """The docket's rows: the cases of `scope` matching `filters`, the most urgent next act first (cases with
    none last), then by name."""
    c = Case.__table__.c
    with uow:
        connection = uow.session.connection()
        cases = list(connection.execute(
            select(c.id, c.name, c.seat_departement, c.region, c.state, c.ruleset_id)
            .where(*docket_conditions(scope, filters)).order_by(c.name, c.id)))
        ids = [row.id for row in cases]
        journal = _journal(connection, ids)
        deadlines = _deadlines(connection, ids)
        refunds = _refunds(connection, ids)
    rows = [_row(case, journal.get(case.id, []), deadlines.get(case.id, []), refunds.get(case.id), today)
            for case in cases]
    far = date.max
    return sorted(rows, key=lambda r: (r.next_act is None, r.next_act.due if r.next_act else far,
                                       r.case_name.lower(), r.case_id))


def docket_departements(uow: SqlUnitOfWork, scope: Scope) -> tuple[str, ...]:
    """The seat départements of the cases in scope that are or were on the docket (what the filter offers)."""
    conditions = docket_conditions(scope, DocketFilters(state="all"))
    with uow:
        found = uow.session.connection().execute(
            select(col(Case.seat_departement)).where(*conditions).distinct()).scalars().all()
    return tuple(sorted(found))


# ------------------------------------------------------------------------------------------------ reading
def _chunks(ids: Sequence[int], size: int = 500) -> list[Sequence[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _journal(connection: Any, ids: Sequence[int]) -> dict[int, list[Any]]:
    j = JournalRow.__table__.c
    found: dict[int, list[Any]] = defaultdict(list)
    for part in _chunks(ids):
        for row in connection.execute(select(j.case_id, j.seq, j.type, j.at, j.data, j.evidence)
                                      .where(j.case_id.in_(part), j.type.in_(_QUOTED)).order_by(j.case_id, j.seq)):
            found[row.case_id].append(row)
    return found


def _deadlines(connection: Any, ids: Sequence[int]) -> dict[int, list[Any]]:
    d = DeadlineRow.__table__.c
    found: dict[int, list[Any]] = defaultdict(list)
    for part in _chunks(ids):
        for row in connection.execute(select(d.id, d.case_id, d.key, d.label, d.due, d.status, d.met_on,
                                             d.at_expiry, d.recipients, d.explanation)
                                      .where(d.case_id.in_(part)).order_by(d.case_id, d.due, d.id)):
            found[row.case_id].append(row)
    return found


def _refunds(connection: Any, ids: Sequence[int]) -> dict[int, Decimal | None]:
    p = PaymentRow.__table__.c
    found: dict[int, Decimal | None] = {}
    for part in _chunks(ids):
        for case_id, amount in connection.execute(select(p.case_id, p.amount)
                                                  .where(p.case_id.in_(part), p.component == "refund")
                                                  .order_by(p.case_id, p.due, p.id)):
            found[case_id] = amount  # the last line by due date: the refund of the latest termination
    return found


def _row(case: Any, journal: list[Any], deadlines: list[Any], refund: Decimal | None, today: date) -> DocketRow:
    rules = _ruleset(case.ruleset_id)
    voided = {json.loads(row.data).get("seq") for row in journal if row.type == "event_voided"}
    live = [row for row in journal if row.type != "event_voided" and row.seq not in voided]

    def last(kind: str) -> Any | None:
        rows = [row for row in live if row.type == kind]
        return rows[-1] if rows else None

    notice, refusal = last("termination_notice_received"), last("contract_refusal_received")
    referral, meeting = last("cpl_referral_received"), last("cpl_meeting_scheduled")
    # The matter: the latest of a termination notice and a contract refusal (a case may have had both).
    anchor = max((r for r in (notice, refusal) if r is not None), key=lambda r: r.seq, default=None)
    matter = REFERRAL if anchor is None else TERMINATION if anchor.type == "termination_notice_received" else REFUSAL
    notice_data = json.loads(anchor.data) if anchor is not None else {}
    proof = read_evidence(anchor.evidence) if anchor is not None else None
    meeting_on = json.loads(meeting.data).get("date") if meeting is not None else None
    dates = {name: _pick([row for row in deadlines if row.key in keys], rules, today)
             for name, keys in _DATES.items()}
    pending = [row for row in deadlines if row.status == PENDING and _concerns_legal(rules, row.key)]
    next_act = _docket_date(pending[0], rules, today) if pending else None  # rows are sorted by due date
    return DocketRow(
        case_id=case.id, case_name=case.name, departement=case.seat_departement, region=case.region,
        state=case.state, matter=matter, closed=case.state not in OPEN_STATES,
        initiator=notice_data.get("initiator") if matter == TERMINATION else None,
        grounds=notice_data.get("grounds") if matter == TERMINATION else None,
        notice_on=anchor.at if anchor is not None else None,
        notice_evidence=proof.reference if proof is not None else None,
        notice_lrar=proof.lrar if proof is not None else None,
        notice_presented_on=proof.presented_on if proof is not None else None,
        notice_received_on=proof.received_on if proof is not None else None,
        referral_on=referral.at if referral is not None else None,
        suspended=case.state == "termination_suspended",
        meeting_on=date.fromisoformat(meeting_on) if meeting_on else None,
        refund_amount=refund, next_act=next_act, **dates,
    )


def _pick(rows: list[Any], rules: Ruleset, today: date) -> DocketDate | None:
    """The deadline of a rule to show: the latest one not cancelled, else the latest one (a cancelled effective
    date still says when the termination would have taken effect, had it not been suspended)."""
    if not rows:
        return None
    live = [row for row in rows if row.status != CANCELLED]
    return _docket_date((live or rows)[-1], rules, today)


def _docket_date(row: Any, rules: Ruleset, today: date) -> DocketDate:
    rule = deadline_rule(rules, row.key)
    return DocketDate(
        key=row.key, label=row.label, due=row.due, days_left=(row.due - today).days,
        status=status_as_of(row.status, row.due, row.at_expiry, today), met_on=row.met_on,
        actor=rule.actor if rule else "binome",
        expiry_event=rule.event if rule and row.at_expiry == "system_event" else None,
        reason=due_date_reason(row.explanation, rule),
    )


def _concerns_legal(rules: Ruleset, key: str) -> bool:
    rule: DeadlineRule | None = deadline_rule(rules, key)
    if rule is None:  # a key of a newer ruleset than this build's: a CPL obligation by its name
        return key.startswith("cpl_")
    return "legal" in rule.recipients or rule.key.startswith("cpl_")


@lru_cache(maxsize=16)
def _ruleset(ruleset_id: str) -> Ruleset:
    try:
        return load_ruleset(ruleset_id=ruleset_id)
    except RulesetError:  # a case of a ruleset this build does not ship: the default one's rules
        return load_ruleset(ruleset_id=DEFAULT_RULESET)
