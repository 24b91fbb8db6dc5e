"""The sweep use case: fire every due timer exactly once, mark breaches, enqueue the notices owed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lifecycle.projection import Checkpoint, Projection, replay, resume
from lifecycle.reminders import notices_due
from lifecycle.ruleset import Ruleset
from workflows.persistence.errors import ClockRefused, TamperedJournal
from workflows.persistence.journal import JournalKeys, chained_row, to_entry
from workflows.persistence.projection_writer import wake_on, write_projection
from workflows.persistence.tables import Case, JournalRow
from workflows.persistence.unit_of_work import UnitOfWork
from workflows.services.cases import SYSTEM_ACTOR, ChainEnds, check_cached, check_chain, checked_ruleset, fits_case
from workflows.services.clock import has_begun, latest_local_date, local_today, utc_now
from workflows.services.outbox import enqueue_notices
from workflows.settings import DEFAULT_MAIL_DOMAIN


@dataclass(frozen=True)
class SweepReport:
    today: date | None
    cases: int = 0
    system_events: tuple[tuple[int, str, date], ...] = ()
    breached: tuple[tuple[int, str], ...] = ()
    notifications: int = 0
    refused: tuple[tuple[int, str], ...] = ()  # cases left alone: their journal fails its integrity check


@dataclass(frozen=True)
class CaseSweep:
    """What sweeping one case did: system events written, deadlines newly breached, notices enqueued."""

    fired: tuple[tuple[str, date], ...]
    breached: tuple[str, ...]
    notices: int


def due_case_ids(uow: UnitOfWork, horizon: date, case_ids: Iterable[int] | None = None) -> list[int]:
    """Cases whose sweep has work on or before `horizon` (their `wake_on`), by id: an indexed probe, whose
    cost follows the number of due cases, not the size of the portfolio."""
    return uow.due_case_ids(horizon, case_ids)


def sweep(uow: UnitOfWork, *, today: date | None = None, now: datetime | None = None,
          case_ids: Iterable[int] | None = None, mail_domain: str = DEFAULT_MAIL_DOMAIN,
          cases_per_transaction: int = 1) -> SweepReport:
    """Fire every due timer exactly once: system events into the journal, deadlines marked breached.

    `today` fixes the local date for every case (simulation, `cpts sweep --today`); otherwise each case's
    own local date is derived from `now`. Cases are swept `cases_per_transaction` at a time, each group in one
    unit of work (one commit, hence one disk sync, for the group; a failure rolls the whole group back, and the
    caller may sweep its cases one by one). On PostgreSQL a case locked by another sweeper is skipped
    (FOR UPDATE SKIP LOCKED), so concurrent sweepers never double-fire; the outbox's unique keys and the
    version check hold within a group as they do for one case.
    """
    now = now or utc_now()
    if today is not None and not has_begun(today, now):
        raise ClockRefused(f"--today {today.isoformat()} is after today's date at every seat "
                           f"({latest_local_date(now).isoformat()}): a sweep cannot run ahead of the clock; to see "
                           "the future, use `cpts simulate`")
    candidates = due_case_ids(uow, today or latest_local_date(now), case_ids)
    return _sweep_all(uow, candidates, today, now, mail_domain, cases_per_transaction)


def refresh(uow: UnitOfWork, *, today: date | None = None, now: datetime | None = None,
            case_ids: Iterable[int] | None = None, mail_domain: str = DEFAULT_MAIL_DOMAIN) -> SweepReport:
    """Project every case (or `case_ids`) afresh as of its seat's today and write its rows, even when no status
    changed — after an upgrade whose rows hold more (migration 0010: each line's ruleset row), or new ruleset
    files (`CPTS_RULESETS_DIR`: a version of the accord, values now verified). It is a sweep of every case: due
    timers fire exactly once and notices are enqueued as the sweep does; only rows that differ are written.
    `today` as in `sweep` (never after the clock)."""
    now = now or utc_now()
    latest = latest_local_date(now)
    if today is not None and today > latest:
        raise ClockRefused(f"--today {today.isoformat()} is after today's date at every seat ({latest.isoformat()}"
                           "): a refresh cannot run ahead of the clock; to see the future, use `cpts simulate`")
    with uow:
        candidates = list(case_ids) if case_ids is not None else uow.cases.ids()
    return _sweep_all(uow, candidates, today, now, mail_domain, 1, write_always=True)


def _sweep_all(uow: UnitOfWork, candidates: list[int], today: date | None, now: datetime, mail_domain: str,
               cases_per_transaction: int, *, write_always: bool = False) -> SweepReport:
    """Sweep `candidates`, `cases_per_transaction` at a time (see `sweep`), and report."""
    fired: list[tuple[int, str, date]] = []
    breached: list[tuple[int, str]] = []
    refused: list[tuple[int, str]] = []
    swept = notifications = 0
    size = max(1, cases_per_transaction)
    for start in range(0, len(candidates), size):
        group = candidates[start:start + size]
        outcomes: list[tuple[int, CaseSweep | None]] = []
        with uow:
            for case_id in group:
                try:
                    outcomes.append((case_id, _sweep_locked(uow, case_id, today, now, mail_domain,
                                                            write_always=write_always)))
                except TamperedJournal as exc:  # checked before anything is written for the case
                    refused.append((case_id, str(exc)))
            uow.commit()
        for case_id, outcome in outcomes:
            if outcome is not None:
                swept += 1
                fired.extend((case_id, t, at) for t, at in outcome.fired)
                breached.extend((case_id, ident) for ident in outcome.breached)
                notifications += outcome.notices
    return SweepReport(today=today, cases=swept, system_events=tuple(fired), breached=tuple(breached),
                       notifications=notifications, refused=tuple(refused))


def sweep_case(uow: UnitOfWork, case_id: int, *, today: date | None, now: datetime,
               mail_domain: str = DEFAULT_MAIL_DOMAIN) -> CaseSweep | None:
    """Sweep one case in one unit of work; None when another sweeper holds it (it fires the timers)."""
    with uow:
        outcome = _sweep_locked(uow, case_id, today, now, mail_domain)
        uow.commit()
        return outcome


def _sweep_locked(uow: UnitOfWork, case_id: int, today: date | None, now: datetime,
                  mail_domain: str, *, write_always: bool = False) -> CaseSweep | None:
    """Sweep one case inside the caller's unit of work (which commits); `write_always`: write its rows even
    when no status changed (`refresh`)."""
    case = uow.cases.lock_for_sweep(case_id)
    if case is None:
        return None
    real_today = local_today(case, now)
    case_today = today or real_today
    if case_today > real_today:
        return None  # that day has not come yet at this seat (the seats span several time zones)
    rules = checked_ruleset(uow, case)
    swept = _from_checkpoint(uow, case, rules, case_today, now) or _from_journal(uow, case, rules, case_today, now)
    projection = swept.projection
    newly_breached = [d.ident for d in projection.deadlines
                      if d.status == "breached" and swept.old.get(d.ident) != "breached"]
    # Today's notices go into the outbox below: the next wake-up is for tomorrow's at the earliest.
    next_day = case_today + timedelta(days=1)
    changed = swept.fired or any(swept.old.get(d.ident) != d.status for d in projection.deadlines)
    if write_always or changed or case.wake_on != wake_on(projection, rules, notices_from=next_day):
        # First, so that a journal cut short behind the engine's back is refused before anything is written.
        # The timers fired (`changed`) are journaled with the projection.
        write_projection(uow, case, projection, rules, now=now, head=swept.head, notices_from=next_day,
                         tail=swept.ends.tail, genesis=swept.ends.genesis, checkpoint=swept.checkpoint,
                         rows=swept.fired)
    enqueued = enqueue_notices(uow, case, notices_due(projection, rules, case_today), now, mail_domain=mail_domain)
    return CaseSweep(tuple((r.type, r.at) for r in swept.fired), tuple(newly_breached), enqueued)


@dataclass(frozen=True)
class _Swept:
    """The case once its due timers are fired: projection, journal rows to write, new head; the ends of the
    journal as verified before them."""

    projection: Projection
    checkpoint: Checkpoint | None
    fired: tuple[JournalRow, ...]
    head: str
    old: dict[str, str]  # deadline ident → status as stored before this sweep
    ends: ChainEnds


def _system_rows(case: Case, head: tuple[int, str], projection: Projection, now: datetime,
                 keys: JournalKeys) -> list[JournalRow]:
    """The replay already fired every due timer in order, chains included (an opinion deemed opening the
    funders' decision window…): journal them all, dated their windows' last days."""
    rows: list[JournalRow] = []
    for due in projection.due_system_events:
        row = chained_row(case.id, rows[-1] if rows else head, type=due.type, at=due.at, recorded_at=now,
                          actor=SYSTEM_ACTOR, data={}, evidence=f"timer {due.deadline}", keys=keys)
        rows.append(row)
    return rows


def _from_checkpoint(uow: UnitOfWork, case: Case, rules: Ruleset, today: date, now: datetime) -> _Swept | None:
    """From the replay kept at the journal head (no journal read), when there is one and it can go on."""
    cached = uow.checkpoints.get(case.id, version=case.version, head=case.journal_head)
    if cached is None or cached.checkpoint is None or not fits_case(cached.checkpoint, case):
        return None
    checkpoint = cached.checkpoint
    ends = check_cached(uow, case, cached)
    resumed = resume(checkpoint, (), rules, today)
    if resumed is None:
        return None
    projection = resumed[0]
    fired = _system_rows(case, (checkpoint.head_seq, case.journal_head), projection, now, uow.keys)
    if fired:
        after = resume(checkpoint, [to_entry(r) for r in fired], rules, today)
        if after is None:
            return None
        projection, checkpoint = after
    old = {ident: row["status"] for ident, row in cached.deadlines.items()}
    return _Swept(projection, checkpoint, tuple(fired), fired[-1].hash if fired else case.journal_head, old, ends)


def _from_journal(uow: UnitOfWork, case: Case, rules: Ruleset, today: date, now: datetime) -> _Swept:
    """By replaying the whole journal (once more if timers fired, unless the replay can go on from where it was)."""
    rows = uow.journal.rows(case.id)
    ends = check_chain(uow, case, rows)
    old = uow.projections.deadline_statuses(case.id)
    entries = [to_entry(r) for r in rows]
    projection, checkpoint = replay(entries, rules, today, departement=case.seat_departement,
                                    population=case.population)
    fired = _system_rows(case, (rows[-1].seq, rows[-1].hash) if rows else (0, case.journal_head), projection, now,
                         uow.keys)
    if fired:
        written = [to_entry(r) for r in fired]
        projection, checkpoint = resume(checkpoint, written, rules, today) or replay(
            [*entries, *written], rules, today, departement=case.seat_departement, population=case.population)
    return _Swept(projection, checkpoint, tuple(fired), fired[-1].hash if fired else case.journal_head, old, ends)
