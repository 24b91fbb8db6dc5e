"""Read models of cases: what a page or a command shows, as typed data (rendering is the caller's).

Each function takes a `SqlUnitOfWork` and reads inside one transaction. `case_view` replays the case's
journal (the projection is the truth for explanations and payments); lists read the projection tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from lifecycle import territory
from lifecycle.deadlines import STATUSES, Deadline
from lifecycle.errors import EventRejected
from lifecycle.events import SYSTEM_EVENTS, Evidence, read_evidence
from lifecycle.indicators import YearIndicators, indicator_tracking
from lifecycle.machine import STATES, TERRITORY_CLAIMING
from lifecycle.payments import PaymentLine
from lifecycle.projection import HistoryItem, SystemEvent
from lifecycle.rates import rate_4dp
from notifications.addresses import MAX_NAME
from workflows.persistence.errors import TamperedJournal
from workflows.persistence.journal import chain_problems
from workflows.persistence.tables import Case, DeadlineRow, JournalRow, OutboxRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.cases import find_overlaps, project_case, ruleset_for
from workflows.services.clock import local_date, local_today, utc_now


@dataclass(frozen=True)
class CaseSummary:
    """One line of the portfolio.

    Attributes:
        id, name, seat_departement, region: the case and its seat.
        population, size: as refreshed by the last event (an avenant may change them).
        state: the lifecycle state as of the last refresh.
        ruleset: the ruleset id the case is governed by.
        communes: INSEE codes of its territory.
        version: grows with every event (optimistic concurrency).
    """

    id: int
    name: str
    seat_departement: str
    region: str
    population: int
    size: int
    state: str
    ruleset: str
    communes: tuple[str, ...]
    version: int

    @classmethod
    def of(cls, case: Case) -> CaseSummary:
        return cls(case.id, case.name, case.seat_departement, case.region, case.population, case.size, case.state,
                   case.ruleset_id, tuple(json.loads(case.communes)), case.version)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "seat_departement": self.seat_departement, "region": self.region,
            "population": self.population, "size": self.size, "state": self.state, "ruleset": self.ruleset,
            "communes": list(self.communes), "version": self.version,
        }


@dataclass(frozen=True)
class JournalLine:
    """A journal row as shown, with the seq of the entry that voided it and whether a later entry superseded it
    (known where the journal was replayed, `case_view`; the case page, which reads no replay, leaves it False)."""

    seq: int
    type: str
    at: date
    actor: str
    recorded_at: datetime
    data: dict[str, Any]
    evidence: str | None
    voided_by: int | None
    superseded: bool = False

    @property
    def proof(self) -> Evidence | None:
        """The evidence read back: a free reference, or the registered letter's number and dates."""
        return read_evidence(self.evidence)

    @property
    def is_system(self) -> bool:
        return self.type in SYSTEM_EVENTS

    @property
    def voidable(self) -> bool:
        """Whether `event_voided` may name it (the engine refuses a system event, a voiding, a voided entry)."""
        return self.voided_by is None and not self.is_system and self.type != "event_voided"

    def as_dict(self) -> dict[str, Any]:
        # "evidence" is the text the journal stores (and hashes); "evidence_parts" its parts, read back.
        proof = self.proof
        return {"seq": self.seq, "type": self.type, "at": self.at.isoformat(), "actor": self.actor,
                "recorded_at": self.recorded_at.isoformat(), "data": self.data, "evidence": self.evidence,
                "evidence_parts": proof.as_dict() if proof is not None else None,
                "voided_by": self.voided_by, "superseded": self.superseded}


@dataclass(frozen=True)
class CaseView:
    """Everything known of a case as of `today` (the page of a case, `cpts case show`).

    Attributes:
        summary: the stored case (its `state` is the one of the last refresh; `state` below is as of today).
        today: the local date the projection was computed for.
        state: the lifecycle state as of `today`.
        cpl: the name of the seat's CPL (or commission paritaire territoriale overseas).
        contract_signed_on, contract_missions: the contract, once signed.
        deadlines: every deadline with the explanation of its date.
        history: transitions in business-date order (system events due but not yet swept have seq None).
        due_system_events: timers due that the sweep has not written yet.
        legal_flags: breached missions (grounds for a termination).
        overlaps: other CPTS claiming some of this territory (only while this one claims it too).
        journal: the journal as recorded.
        payments: the échéancier, None before signature.
        indicators: per completed contract year, attainment and missing national indicators (SPEC §9).
        integrity: what the journal's integrity check found (empty when intact): shown as a warning.
        recorded_later: journal rows recorded after `today` (at the seat), left out of a view of the past.
    """

    summary: CaseSummary
    today: date
    state: str
    cpl: str
    contract_signed_on: date | None
    contract_missions: tuple[str, ...]
    deadlines: tuple[Deadline, ...]
    history: tuple[HistoryItem, ...]
    due_system_events: tuple[SystemEvent, ...]
    legal_flags: tuple[str, ...]
    overlaps: tuple[str, ...]
    journal: tuple[JournalLine, ...]
    payments: tuple[PaymentLine, ...] | None
    indicators: tuple[YearIndicators, ...]
    integrity: tuple[str, ...] = ()
    recorded_later: int = 0

    def as_dict(self) -> dict[str, Any]:
        view = self.summary.as_dict()
        view.update({
            "today": self.today.isoformat(),
            "state": self.state,
            "cpl": self.cpl,
            "contract_signed_on": self.contract_signed_on.isoformat() if self.contract_signed_on else None,
            "contract_missions": list(self.contract_missions),
            "deadlines": [d.as_dict() for d in self.deadlines],
            "history": [h.as_dict() for h in self.history],
            "due_system_events": [{"type": e.type, "at": e.at.isoformat(), "deadline": e.deadline}
                                  for e in self.due_system_events],
            "legal_flags": list(self.legal_flags),
            "overlaps": list(self.overlaps),
            "journal": [j.as_dict() for j in self.journal],
        })
        if self.payments is not None:
            view["payments"] = [line.as_dict() for line in self.payments]
        view["indicators"] = [
            {"year": y.year, "attainment": {m: rate_4dp(r) for m, r in y.attainment.items()},
             "national_indicators_missing": list(y.national_indicators_missing)}
            for y in self.indicators
        ]
        view["integrity"] = list(self.integrity)
        view["recorded_later"] = self.recorded_later
        return view


def case_view(uow: SqlUnitOfWork, case_id: int | str, *, today: date | None = None) -> CaseView:
    """Everything `cpts case show` prints: state, deadlines with explanations, history, journal.

    As of an earlier `today`, the case as it was known that day: rows recorded later (at the seat's local date)
    are left out, a backdated event included."""
    with uow:
        case = uow.cases.get(case_id)
        now = utc_now()
        today = today or local_today(case, now)
        stored = uow.journal.rows(case.id)
        integrity = chain_problems(case, stored, uow.keys, strict=False)
        rows = [r for r in stored if local_date(case, r.recorded_at) <= today]
        try:
            projection = project_case(case, rows, today)
        except Exception:
            if not integrity:
                raise
            raise TamperedJournal(f"case {case.id}: its journal fails its integrity check ({integrity[0]}) and "
                                  f"cannot be replayed; run `cpts case verify {case.id}`") from None
        overlaps = find_overlaps(uow, case) if projection.state in TERRITORY_CLAIMING else []
        return CaseView(
            summary=CaseSummary.of(case),
            today=today,
            state=projection.state,
            cpl=territory.cpl_name(case.seat_departement),
            contract_signed_on=projection.contract_signed_on,
            contract_missions=tuple(projection.contract_missions),
            deadlines=projection.deadlines,
            history=projection.history,
            due_system_events=projection.due_system_events,
            legal_flags=projection.legal_flags,
            overlaps=tuple(overlaps),
            journal=tuple(
                JournalLine(r.seq, r.type, r.at, r.actor, r.recorded_at, json.loads(r.data), r.evidence,
                            projection.voided.get(r.seq), r.seq in projection.superseded)
                for r in rows
            ),
            payments=projection.payments.lines if projection.payments is not None else None,
            indicators=indicator_tracking(projection, ruleset_for(case)),
            integrity=tuple(integrity),
            recorded_later=len(stored) - len(rows),
        )


Several = str | Sequence[str] | None  # one value, several (any of them), or None (no filter)


@dataclass(frozen=True)
class CasePage:
    """One page of the portfolio, by case number.

    Attributes:
        cases: the cases of this page.
        total: how many cases match the filters, over all pages.
        limit, offset: the page asked for (`limit` None: every matching case from `offset` on).
    """

    cases: tuple[CaseSummary, ...]
    total: int
    limit: int | None
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {"total": self.total, "limit": self.limit, "offset": self.offset,
                "cases": [c.as_dict() for c in self.cases]}


def list_cases(uow: SqlUnitOfWork, *, state: Several = None, departement: Several = None, region: Several = None,
               size: int | Sequence[int] | None = None, name: str | None = None, limit: int | None = None,
               offset: int = 0) -> list[CaseSummary]:
    """The portfolio, by case number: the cases in one of `state`, seated in one of `departement` or `region`,
    of one of `size`, whose name contains `name` (any case), from `offset`, at most `limit` of them."""
    query = _paged(select(Case).where(*_case_filters(state, departement, region, size, name)), limit, offset)
    with uow:
        return [CaseSummary.of(c) for c in uow.session.exec(query)]


def case_page(uow: SqlUnitOfWork, *, state: Several = None, departement: Several = None, region: Several = None,
              size: int | Sequence[int] | None = None, name: str | None = None, limit: int | None = 50,
              offset: int = 0) -> CasePage:
    """A page of `list_cases` (same filters) with the number of matching cases, in one transaction."""
    filters = _case_filters(state, departement, region, size, name)
    with uow:
        cases = [CaseSummary.of(c) for c in uow.session.exec(_paged(select(Case).where(*filters), limit, offset))]
        if (cases or not offset) and (limit is None or len(cases) < limit):
            total = offset + len(cases)  # the last page: no need to count
        else:
            total = uow.session.exec(select(func.count()).select_from(Case).where(*filters)).one()
    return CasePage(tuple(cases), total, limit, offset)


def _case_filters(state: Several, departement: Several, region: Several, size: int | Sequence[int] | None,
                  name: str | None) -> list[Any]:
    """WHERE clauses of a portfolio query; unknown states, départements, régions or sizes are refused."""
    filters: list[Any] = []
    if states := _several(state):
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise EventRejected(f"unknown state {unknown[0]!r}: expected one of {', '.join(STATES)}")
        filters.append(col(Case.state).in_(states))
    if departements := _several(departement):
        filters.append(col(Case.seat_departement).in_([territory.departement(d).code for d in departements]))
    if regions := _several(region):
        filters.append(col(Case.region).in_([territory.region(r).code for r in regions]))
    if size is not None:
        sizes = [size] if isinstance(size, int) else list(size)
        if any(isinstance(s, bool) or s not in (1, 2, 3, 4) for s in sizes):
            raise EventRejected(f"unknown size in {sizes}: a CPTS is of size 1, 2, 3 or 4")
        filters.append(col(Case.size).in_(sizes))
    if name and name.strip():
        if len(name.strip()) > MAX_NAME:  # no name can contain it (and SQLite refuses so long a pattern)
            raise EventRejected(f"the name searched for is {len(name.strip())} characters long: a case's name has "
                                f"at most {MAX_NAME}")
        # Case-insensitive substring; % and _ typed by a user are literal characters, not wildcards.
        escaped = name.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        filters.append(col(Case.name).ilike(f"%{escaped}%", escape="\\"))
    return filters


def _several(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _paged(query: Any, limit: int | None, offset: int) -> Any:
    if (limit is not None and limit < 0) or offset < 0:
        raise EventRejected("a page needs a limit and an offset of 0 or more")
    query = query.order_by(Case.id)
    if offset:
        query = query.offset(offset)
    return query if limit is None else query.limit(limit)


@dataclass(frozen=True)
class DeadlineListing:
    """A deadline across the portfolio, as stored by the last refresh (with its explanation's text)."""

    case: int
    case_name: str
    departement: str
    key: str
    label: str
    due: date
    status: str
    kind: str
    met_on: date | None
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case, "case_name": self.case_name, "departement": self.departement, "key": self.key,
                "label": self.label, "due": self.due.isoformat(), "status": self.status, "kind": self.kind,
                "met_on": self.met_on.isoformat() if self.met_on else None, "explanation": self.explanation}


def list_deadlines(uow: SqlUnitOfWork, *, due_before: date | None = None,
                   status: str | None = None) -> list[DeadlineListing]:
    """Deadlines across the portfolio, by due date, case and key."""
    if status is not None and status not in STATUSES:
        raise EventRejected(f"unknown status {status!r}: expected one of {', '.join(STATUSES)}")
    query = select(DeadlineRow, Case).join(Case, col(Case.id) == DeadlineRow.case_id)
    if due_before:
        query = query.where(DeadlineRow.due < due_before)
    if status:
        query = query.where(DeadlineRow.status == status)
    query = query.order_by(DeadlineRow.due, DeadlineRow.case_id, DeadlineRow.key)
    with uow:
        return [
            DeadlineListing(case.id, case.name, case.seat_departement, d.key, d.label, d.due, d.status, d.kind,
                            d.met_on, json.loads(d.explanation)["text"])
            for d, case in uow.session.exec(query)
        ]


def verify_journal(uow: SqlUnitOfWork, case_id: int | str) -> list[str]:
    """Recompute the case's hash chain from its genesis entry; one line per finding (empty when intact)."""
    with uow:
        case = uow.cases.get(case_id)
        return chain_problems(case, uow.journal.rows(case.id), uow.keys)


def verify_all(uow: SqlUnitOfWork, *, batch: int = 500) -> list[tuple[int, list[str]]]:
    """Every case's findings, by case number (cases whose journal is intact are left out)."""
    with uow:
        ids = list(uow.session.exec(select(Case.id).order_by(Case.id)))
    findings: list[tuple[int, list[str]]] = []
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        with uow:
            cases = {c.id: c for c in uow.session.exec(select(Case).where(col(Case.id).in_(chunk)))}
            rows: dict[int, list[JournalRow]] = {case_id: [] for case_id in chunk}
            for row in uow.session.exec(select(JournalRow).where(col(JournalRow.case_id).in_(chunk))
                                        .order_by(JournalRow.case_id, JournalRow.seq)):
                rows[row.case_id].append(row)
            for case_id in chunk:
                problems = chain_problems(cases[case_id], rows[case_id], uow.keys)
                if problems:
                    findings.append((case_id, problems))
    return findings


@dataclass(frozen=True)
class SimulatedNotification:
    """A notification enqueued for a case, in the SPEC §11 shape."""

    deadline: str | None
    kind: str
    on: date
    roles: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"deadline": self.deadline, "kind": self.kind, "on": self.on.isoformat(), "roles": list(self.roles)}


def case_notifications(uow: SqlUnitOfWork, case_id: int) -> list[SimulatedNotification]:
    """Notifications enqueued for a case, by day sent and order written."""
    query = select(OutboxRow).where(OutboxRow.case_id == case_id).order_by(OutboxRow.send_on, OutboxRow.id)
    with uow:
        return [SimulatedNotification(r.deadline_key, r.kind, r.send_on, tuple(json.loads(r.roles)))
                for r in uow.session.exec(query)]
