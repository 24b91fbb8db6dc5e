"""The service layer: create cases, `apply` events, `sweep` due timers. One call = one transaction.

`apply` validates the event, replays the case's journal with it (lifecycle.projection), appends one
hash-chained journal row, and refreshes the projections (case state, deadlines) under an optimistic version
check. Any failure leaves the journal and projections as they were.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from lifecycle import territory
from lifecycle.errors import DomainError, EventRejected, TransitionRejected
from lifecycle.events import SYSTEM_EVENTS, JournalEntry, parse_date, validate_data
from lifecycle.machine import TERRITORY_CLAIMING
from lifecycle.projection import NewEventCheck, Projection, project
from lifecycle.reminders import next_notice_day, notices_due
from lifecycle.ruleset import DEFAULT_RULESET, Ruleset, load_ruleset
from notifications.outbox import enqueue_notices
from workflows.tables import Case, DeadlineRow, JournalRow, PaymentRow

GENESIS_HASH = "0" * 64
SYSTEM_ACTOR = "system"


class UnknownCase(DomainError):
    def __init__(self, case_id: object) -> None:
        super().__init__(f"unknown case {case_id!r}: see `cpts case list` for the existing cases")


class ConcurrentModification(DomainError):
    """Someone else changed the case between our read and our write; retry or report."""


@dataclass(frozen=True)
class NewEvent:
    """An event as a user (or the scheduler) submits it."""

    type: str
    at: date
    data: dict[str, Any] = field(default_factory=dict)
    evidence: str | None = None


@dataclass(frozen=True)
class ApplyResult:
    """`state_before`/`state_after`: the case as of today, before and after; `event_from`/`event_to`: the
    transition of the event itself at its business date (they differ when timers fired since, or when the
    event was backdated)."""

    case_id: int
    seq: int
    state_before: str
    state_after: str
    projection: Projection
    event_from: str = ""
    event_to: str = ""


@dataclass(frozen=True)
class SweepReport:
    today: date | None
    cases: int = 0
    system_events: tuple[tuple[int, str, date], ...] = ()
    breached: tuple[tuple[int, str], ...] = ()
    notifications: int = 0


# ----------------------------------------------------------------------------------------------- helpers
def utc_now() -> datetime:
    return datetime.now(UTC)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def row_hash(row: JournalRow) -> str:
    """sha256 over the row's content and the previous row's hash (the chain `cpts case verify` checks)."""
    recorded = row.recorded_at.astimezone(UTC).isoformat(timespec="microseconds")
    payload = canonical_json({
        "case_id": row.case_id, "seq": row.seq, "type": row.type, "at": row.at.isoformat(),
        "recorded_at": recorded, "actor": row.actor, "data": json.loads(row.data),
        "evidence": row.evidence, "prev_hash": row.prev_hash,
    })
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def to_entry(row: JournalRow) -> JournalEntry:
    return JournalEntry(seq=row.seq, type=row.type, at=row.at, data=json.loads(row.data), actor=row.actor,
                        evidence=row.evidence, recorded_at=row.recorded_at)


def local_today(case: Case, now: datetime) -> date:
    """Today at the CPTS's seat (SPEC §6: deadlines are evaluated in local time)."""
    return now.astimezone(territory.time_zone(case.seat_departement)).date()


def journal_rows(session: Session, case_id: int) -> list[JournalRow]:
    return list(session.exec(select(JournalRow).where(JournalRow.case_id == case_id).order_by(JournalRow.seq)))


def get_case(session: Session, case_id: int | str) -> Case:
    try:
        key = int(case_id)
    except (TypeError, ValueError):
        raise UnknownCase(case_id) from None
    case = session.get(Case, key)
    if case is None:
        raise UnknownCase(case_id)
    return case


def ruleset_for(case: Case) -> Ruleset:
    return load_ruleset(ruleset_id=case.ruleset_id)


def project_case(session: Session, case: Case, today: date, *, rows: Sequence[JournalRow] | None = None,
                 with_payments: bool = True) -> Projection:
    """The case's projection as of `today`, from its journal."""
    entries = [to_entry(r) for r in (rows if rows is not None else journal_rows(session, case.id))]
    return project(entries, ruleset_for(case), today, departement=case.seat_departement,
                   population=case.population, with_payments=with_payments)


# ----------------------------------------------------------------------------------------------- cases
def create_case(
    engine: Engine,
    *,
    name: str,
    departement: str,
    communes: Iterable[str] = (),
    population: int | None = None,
    ruleset_id: str = DEFAULT_RULESET,
    now: datetime | None = None,
) -> Case:
    """Register a CPTS project: its seat, territory (communes and/or declared population) and ruleset."""
    name = name.strip()
    if not name:
        raise EventRejected("a case needs a name, e.g. --name \"CPTS du Pays Messin\"")
    dept = territory.departement(departement).code
    codes = [c.code for c in territory.communes(communes)] if communes else []
    if not codes and population is None:
        raise EventRejected("a case needs a territory: --communes INSEE… or --population N")
    rules = load_ruleset(ruleset_id=ruleset_id)
    summary = territory.summarise(codes, declared_population=population, ruleset=rules)
    now = now or utc_now()
    case = Case(
        name=name, seat_departement=dept, region=territory.region_of(dept).code, communes=json.dumps(codes),
        declared_population=population, population=summary.population, size=summary.size,
        ruleset_id=rules.id, state="new", version=0, created_at=now, updated_at=now,
    )
    with Session(engine) as session, session.begin():
        session.add(case)
        session.flush()
        session.refresh(case)
        session.expunge(case)
    return case


# ----------------------------------------------------------------------------------------------- apply
def apply(
    engine: Engine,
    case_id: int | str,
    event: NewEvent,
    actor: str,
    *,
    today: date | None = None,
    now: datetime | None = None,
    _before_commit: Callable[[Session], None] | None = None,
) -> ApplyResult:
    """Record `event` on the case in one transaction, or raise a DomainError and write nothing."""
    now = now or utc_now()
    if not actor.strip():
        raise EventRejected("an event needs an actor (who records it)")
    try:
        return _apply(engine, case_id, event, actor, today=today, now=now, before_commit=_before_commit)
    except IntegrityError:
        # Another writer appended the same sequence number first (the version check is the usual guard).
        raise ConcurrentModification(f"case {case_id} was changed by someone else meanwhile; reload and retry") \
            from None


def _apply(engine: Engine, case_id: int | str, event: NewEvent, actor: str, *, today: date | None,
           now: datetime, before_commit: Callable[[Session], None] | None) -> ApplyResult:
    with Session(engine) as session, session.begin():
        case = get_case(session, case_id)
        today = today or local_today(case, now)
        allow_system = actor == SYSTEM_ACTOR
        data = validate_data(event.type, event.data, allow_system=allow_system)
        at = parse_date(event.at, "event date")
        if at > today:
            raise EventRejected(f"{event.type} dated {at.isoformat()} is in the future (today is "
                                f"{today.isoformat()} at the seat): record events on or after the day they happen")
        rows = journal_rows(session, case.id)
        entries = [to_entry(r) for r in rows]
        seq = (rows[-1].seq if rows else 0) + 1
        if event.type == "event_voided":
            _check_void(entries, data["seq"])
        new_entry = JournalEntry(seq=seq, type=event.type, at=at, data=data, actor=actor,
                                 evidence=event.evidence, recorded_at=now)
        rules = ruleset_for(case)
        check = NewEventCheck(seq, find_overlaps(session, case)) if event.type == "health_project_validated" else None
        # Only the state and the rejections of the journal as it stands are compared: no échéancier needed.
        before = project(entries, rules, today, departement=case.seat_departement, population=case.population,
                         with_payments=False)
        after = project([*entries, new_entry], rules, today, departement=case.seat_departement,
                        population=case.population, check=check)
        _check_replay(before, after, new_entry)
        prev_hash = rows[-1].hash if rows else GENESIS_HASH
        row = JournalRow(case_id=case.id, seq=seq, type=event.type, at=at, recorded_at=now, actor=actor,
                         data=canonical_json(data), evidence=event.evidence, prev_hash=prev_hash, hash="")
        row.hash = row_hash(row)
        # The version check runs first: a concurrent writer holding the case makes it fail cleanly.
        _refresh(session, case, after, now, row.hash, notices_from=today)
        session.add(row)
        if before_commit is not None:
            before_commit(session)
        own = next(h for h in after.history if h.seq == seq) if event.type != "event_voided" else None
        return ApplyResult(case.id, seq, before.state, after.state, after,
                           own.source if own else before.state, own.dest if own else after.state)


def _check_void(entries: Sequence[JournalEntry], target: int) -> None:
    by_seq = {e.seq: e for e in entries}
    voided = {e.data["seq"] for e in entries if e.type == "event_voided"}
    entry = by_seq.get(target)
    if entry is None:
        raise EventRejected(f"event_voided: there is no journal entry #{target} in this case")
    if target in voided:
        raise EventRejected(f"event_voided: entry #{target} is already voided")
    if entry.type == "event_voided":
        raise EventRejected("event_voided: a voiding cannot itself be voided; record the event again instead")
    if entry.type in SYSTEM_EVENTS:
        raise EventRejected(f"event_voided: #{target} {entry.type} was fired by a timer; void the event that "
                            "caused it, and the engine derives the timers again")


def _check_replay(before: Projection, after: Projection, new_entry: JournalEntry) -> None:
    """The new event must be accepted, and must not make an already recorded event invalid."""
    for rejection in after.rejected:
        if rejection.seq == new_entry.seq:
            raise TransitionRejected(f"{rejection.error} (event dated {new_entry.at.isoformat()})")
    previously_rejected = {r.seq for r in before.rejected}
    broken = [r for r in after.rejected if r.seq not in previously_rejected and r.seq is not None]
    if broken:
        first = broken[0]
        what = "voiding" if new_entry.type == "event_voided" else f"recording {new_entry.type} on {new_entry.at}"
        raise TransitionRejected(
            f"{what} would invalidate #{first.seq} {first.type} of {first.at.isoformat()} ({first.error}); "
            "void that entry first or correct the date"
        )


def find_overlaps(session: Session, case: Case) -> list[str]:
    """Other CPTS with a validated or submitted health project sharing communes with this case (I §6.1)."""
    mine = set(json.loads(case.communes))
    if not mine:
        return []
    found = []
    others = session.exec(select(Case).where(Case.id != case.id, col(Case.state).in_(TERRITORY_CLAIMING)))
    for other in others:
        common = territory.overlap(mine, json.loads(other.communes))
        if common:
            shown = ", ".join(common[:10]) + (" …" if len(common) > 10 else "")
            found.append(f"communes {shown} are also claimed by case {other.id} {other.name!r} ({other.state})")
    return found


def wake_on(projection: Projection, rules: Ruleset, *, notices_from: date) -> date | None:
    """The first local day on which the sweep has something to do for this case: a system event already
    due, the day after a pending deadline's due date (it fires or becomes breached then), or a day on or
    after `notices_from` when a reminder or breach notice is owed."""
    days = [e.at for e in projection.due_system_events]
    days += [d.due + timedelta(days=1) for d in projection.deadlines
             if d.status == "pending" and d.due >= projection.today]
    notice_day = next_notice_day(projection, rules, notices_from)
    if notice_day is not None:
        days.append(notice_day)
    return min(days, default=None)


def _refresh(session: Session, case: Case, projection: Projection, now: datetime, head: str,
             *, notices_from: date) -> None:
    """Write the projections (case state, deadlines, payments) and the journal head under the optimistic
    version check."""
    rules = ruleset_for(case)
    result = session.execute(
        update(Case)
        .where(col(Case.id) == case.id, col(Case.version) == case.version)
        .values(state=projection.state, version=case.version + 1, population=projection.population,
                size=rules.size_for(projection.population), updated_at=now,
                journal_head=head, wake_on=wake_on(projection, rules, notices_from=notices_from))
    )
    if result.rowcount != 1:
        raise ConcurrentModification(
            f"case {case.id} was changed by someone else meanwhile (version {case.version}); reload and retry"
        )
    # Projection rows are replaced wholesale, with Core statements (executemany): the ORM's unit of work
    # costs more than the replay itself on the sweep's hot path.
    connection = session.connection()
    deadlines, payments = DeadlineRow.__table__, PaymentRow.__table__
    connection.execute(deadlines.delete().where(deadlines.c.case_id == case.id))
    if projection.deadlines:
        connection.execute(deadlines.insert(), [
            {"case_id": case.id, "ident": d.ident, "key": d.key, "label": d.label, "due": d.due, "status": d.status,
             "kind": d.kind, "met_on": d.met_on, "at_expiry": d.at_expiry,
             "recipients": json.dumps(list(d.recipients)),
             "explanation": canonical_json({**d.explanation.as_dict(), "note": d.note, "text": d.explain()})}
            for d in projection.deadlines
        ])
    lines = projection.payments.lines if projection.payments else ()
    connection.execute(payments.delete().where(payments.c.case_id == case.id))
    if lines:
        connection.execute(payments.insert(), [
            {"case_id": case.id, "component": line.component, "mission": line.mission, "year": line.year,
             "due": line.due, "amount": line.amount, "ceiling": line.ceiling, "status": line.status,
             "explanation": line.explanation}
            for line in lines
        ])
    session.expire(case)


# ----------------------------------------------------------------------------------------------- sweep
def latest_local_date(now: datetime) -> date:
    """The latest calendar date any seat is living at `now` (Réunion and Mayotte are ahead of Paris)."""
    return max(now.astimezone(territory.time_zone(d)).date() for d in ("974", "75", "971"))


def due_case_ids(session: Session, horizon: date, case_ids: Iterable[int] | None = None) -> list[int]:
    """Cases whose sweep has work on or before `horizon` (their `wake_on`), by id."""
    query = select(Case.id).where(col(Case.wake_on) <= horizon).order_by(Case.id)
    if case_ids is not None:
        query = query.where(col(Case.id).in_(list(case_ids)))
    return list(session.exec(query))


def sweep(engine: Engine, *, today: date | None = None, now: datetime | None = None,
          case_ids: Iterable[int] | None = None) -> SweepReport:
    """Fire every due timer exactly once: system events into the journal, deadlines marked breached.

    `today` fixes the local date for every case (simulation, `cpts sweep --today`); otherwise each case's
    own local date is derived from `now`. Each case is swept in its own transaction; on PostgreSQL a case
    locked by another sweeper is skipped (FOR UPDATE SKIP LOCKED), so concurrent sweepers never double-fire.
    """
    now = now or utc_now()
    with Session(engine) as session:
        candidates = due_case_ids(session, today or latest_local_date(now), case_ids)
    fired: list[tuple[int, str, date]] = []
    breached: list[tuple[int, str]] = []
    swept = notifications = 0
    for case_id in candidates:
        outcome = _sweep_case(engine, case_id, today, now)
        if outcome is not None:
            swept += 1
            fired.extend((case_id, t, at) for t, at in outcome[0])
            breached.extend((case_id, ident) for ident in outcome[1])
            notifications += outcome[2]
    return SweepReport(today=today, cases=swept, system_events=tuple(fired), breached=tuple(breached),
                       notifications=notifications)


def _sweep_case(engine: Engine, case_id: int, today: date | None,
                now: datetime) -> tuple[list[tuple[str, date]], list[str], int] | None:
    with Session(engine) as session, session.begin():
        query = select(Case).where(Case.id == case_id)
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        case = session.exec(query).first()
        if case is None:
            return None  # another sweeper holds it; it will fire the timers
        case_today = today or local_today(case, now)
        rows = journal_rows(session, case.id)
        old = {d.ident: d.status for d in session.exec(select(DeadlineRow).where(DeadlineRow.case_id == case.id))}
        projection = project_case(session, case, case_today, rows=rows)
        fired: list[tuple[str, date]] = []
        # The replay already fired every due timer in order, chains included (an opinion deemed opening the
        # funders' decision window…): write them all, dated their windows' last days, then replay once.
        for due in projection.due_system_events:
            prev = rows[-1]
            row = JournalRow(case_id=case.id, seq=prev.seq + 1, type=due.type, at=due.at, recorded_at=now,
                             actor=SYSTEM_ACTOR, data="{}", evidence=f"timer {due.deadline}",
                             prev_hash=prev.hash, hash="")
            row.hash = row_hash(row)
            session.add(row)
            rows.append(row)
            fired.append((due.type, due.at))
        if fired:
            projection = project_case(session, case, case_today, rows=rows)
        newly_breached = [d.ident for d in projection.deadlines
                          if d.status == "breached" and old.get(d.ident) != "breached"]
        rules = ruleset_for(case)
        enqueued = enqueue_notices(session, case, notices_due(projection, rules, case_today), now)
        # Today's notices are now in the outbox: the next wake-up is for tomorrow's at the earliest.
        next_day = case_today + timedelta(days=1)
        changed = fired or any(old.get(d.ident) != d.status for d in projection.deadlines)
        if changed or case.wake_on != wake_on(projection, rules, notices_from=next_day):
            _refresh(session, case, projection, now, rows[-1].hash, notices_from=next_day)
        return fired, newly_breached, len(enqueued)
