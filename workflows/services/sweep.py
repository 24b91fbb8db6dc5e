"""The sweep use case: fire every due timer exactly once, mark breaches, enqueue the notices owed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lifecycle.reminders import notices_due
from workflows.persistence.journal import chained_row
from workflows.persistence.projection_writer import wake_on, write_projection
from workflows.persistence.unit_of_work import UnitOfWork
from workflows.services.cases import SYSTEM_ACTOR, project_case, ruleset_for
from workflows.services.clock import latest_local_date, local_today, utc_now
from workflows.services.outbox import enqueue_notices
from workflows.settings import DEFAULT_MAIL_DOMAIN


@dataclass(frozen=True)
class SweepReport:
    today: date | None
    cases: int = 0
    system_events: tuple[tuple[int, str, date], ...] = ()
    breached: tuple[tuple[int, str], ...] = ()
    notifications: int = 0


@dataclass(frozen=True)
class CaseSweep:
    """What sweeping one case did: system events written, deadlines newly breached, notices enqueued."""

    fired: tuple[tuple[str, date], ...]
    breached: tuple[str, ...]
    notices: int


def due_case_ids(uow: UnitOfWork, horizon: date, case_ids: Iterable[int] | None = None) -> list[int]:
    """Cases whose sweep has work on or before `horizon` (their `wake_on`), by id."""
    with uow:
        return uow.cases.due_ids(horizon, case_ids)


def sweep(uow: UnitOfWork, *, today: date | None = None, now: datetime | None = None,
          case_ids: Iterable[int] | None = None, mail_domain: str = DEFAULT_MAIL_DOMAIN) -> SweepReport:
    """Fire every due timer exactly once: system events into the journal, deadlines marked breached.

    `today` fixes the local date for every case (simulation, `cpts sweep --today`); otherwise each case's
    own local date is derived from `now`. Each case is swept in its own unit of work; on PostgreSQL a case
    locked by another sweeper is skipped (FOR UPDATE SKIP LOCKED), so concurrent sweepers never double-fire.
    """
    now = now or utc_now()
    candidates = due_case_ids(uow, today or latest_local_date(now), case_ids)
    fired: list[tuple[int, str, date]] = []
    breached: list[tuple[int, str]] = []
    swept = notifications = 0
    for case_id in candidates:
        outcome = sweep_case(uow, case_id, today=today, now=now, mail_domain=mail_domain)
        if outcome is not None:
            swept += 1
            fired.extend((case_id, t, at) for t, at in outcome.fired)
            breached.extend((case_id, ident) for ident in outcome.breached)
            notifications += outcome.notices
    return SweepReport(today=today, cases=swept, system_events=tuple(fired), breached=tuple(breached),
                       notifications=notifications)


def sweep_case(uow: UnitOfWork, case_id: int, *, today: date | None, now: datetime,
               mail_domain: str = DEFAULT_MAIL_DOMAIN) -> CaseSweep | None:
    """Sweep one case in one unit of work; None when another sweeper holds it (it fires the timers)."""
    with uow:
        case = uow.cases.lock_for_sweep(case_id)
        if case is None:
            return None
        case_today = today or local_today(case, now)
        rows = uow.journal.rows(case.id)
        old = uow.projections.deadline_statuses(case.id)
        projection = project_case(case, rows, case_today)
        fired: list[tuple[str, date]] = []
        # The replay already fired every due timer in order, chains included (an opinion deemed opening the
        # funders' decision window…): write them all, dated their windows' last days, then replay once.
        for due in projection.due_system_events:
            row = chained_row(case.id, rows[-1], type=due.type, at=due.at, recorded_at=now, actor=SYSTEM_ACTOR,
                              data={}, evidence=f"timer {due.deadline}")
            uow.journal.append(row)
            rows.append(row)
            fired.append((due.type, due.at))
        if fired:
            projection = project_case(case, rows, case_today)
        newly_breached = [d.ident for d in projection.deadlines
                          if d.status == "breached" and old.get(d.ident) != "breached"]
        rules = ruleset_for(case)
        enqueued = enqueue_notices(uow, case, notices_due(projection, rules, case_today), now,
                                   mail_domain=mail_domain)
        # Today's notices are now in the outbox: the next wake-up is for tomorrow's at the earliest.
        next_day = case_today + timedelta(days=1)
        changed = fired or any(old.get(d.ident) != d.status for d in projection.deadlines)
        if changed or case.wake_on != wake_on(projection, rules, notices_from=next_day):
            write_projection(uow, case, projection, rules, now=now, head=rows[-1].hash, notices_from=next_day)
        uow.commit()
        return CaseSweep(tuple(fired), tuple(newly_breached), enqueued)
