"""Which notifications a case owes on a given day (SPEC §10): reminders before due dates, breach notices.

Pure: the sweep calls `notices_due` for its `today` and writes what it returns to the outbox; the outbox's
unique key (case, deadline, due date, kind, offset) makes a second call on the same day a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from lifecycle.deadlines import BREACHED, PENDING, Deadline
from lifecycle.projection import Projection
from lifecycle.ruleset import Ruleset

BINOME = ("ars", "cpam")


@dataclass(frozen=True)
class DueNotice:
    deadline: Deadline
    kind: str  # reminder | breach
    offset_days: int
    send_on: date
    roles: tuple[str, ...]


def roles_for(deadline: Deadline) -> tuple[str, ...]:
    """The binôme always; the CPTS contact for its own obligations; legal staff for termination and CPL."""
    return (*BINOME, *deadline.recipients)


def notices_due(projection: Projection, rules: Ruleset, today: date) -> list[DueNotice]:
    """Notices to send on `today`: for each pending deadline, the latest reminder whose day has come (within
    the catch-up window); for each breached deadline, its breach notice (within the same window)."""
    notices: list[DueNotice] = []
    window = timedelta(days=rules.catch_up_days)
    for deadline in projection.deadlines:
        if deadline.status == PENDING and deadline.due >= today:
            reached = [o for o in rules.reminder_offsets if deadline.due - timedelta(days=o) <= today]
            if reached:
                offset = min(reached)
                send_on = deadline.due - timedelta(days=offset)
                if today - send_on <= window:
                    notices.append(DueNotice(deadline, "reminder", offset, send_on, roles_for(deadline)))
        elif deadline.status == BREACHED:
            send_on = deadline.due + timedelta(days=rules.breach_notice_days_after)
            if send_on <= today and today - send_on <= window:
                notices.append(DueNotice(deadline, "breach", rules.breach_notice_days_after, send_on,
                                         roles_for(deadline)))
    return notices


def next_notice_day(projection: Projection, rules: Ruleset, after: date) -> date | None:
    """The first day on or after `after` on which a pending deadline owes a reminder or a breach notice."""
    days: list[date] = []
    for deadline in projection.deadlines:
        if deadline.status != PENDING or deadline.due < projection.today:
            continue
        days += [deadline.due - timedelta(days=o) for o in rules.reminder_offsets]
        if deadline.at_expiry == "breach":
            days.append(deadline.due + timedelta(days=rules.breach_notice_days_after))
    return min((d for d in days if d >= after), default=None)
