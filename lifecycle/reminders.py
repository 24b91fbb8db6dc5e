"""Which notifications a case owes on a given day (SPEC §10): reminders before due dates, breach notices.

Pure: the sweep calls `notices_due` for its `today` and writes what it returns to the outbox; the outbox's
unique key (case, deadline, due date, kind, offset) makes a second call on the same day a no-op.

A breach notice is owed the day after the due date, or — when the facts that make the deadline breached were
recorded later than that (an event recorded late opening a deadline already past, a completing event voided)
— on the day they were recorded: nobody could be told before, so the catch-up window counts from then.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from lifecycle.deadlines import BREACHED, PENDING, Deadline
from lifecycle.events import JournalEntry
from lifecycle.projection import Projection
from lifecycle.ruleset import Ruleset

BINOME = ("ars", "cpam")
VOIDING = "event_voided"


@dataclass(frozen=True)
class DueNotice:
    """A notice owed: `send_on` is the day it was due to go, `found_on` the day it was found owed (the sweep's
    today; later than `send_on` when it is caught up). Its countdown is computed on the day it is sent."""

    deadline: Deadline
    kind: str  # reminder | breach
    offset_days: int
    send_on: date
    roles: tuple[str, ...]
    found_on: date | None = None


def roles_for(deadline: Deadline) -> tuple[str, ...]:
    """The binôme always; the CPTS contact for its own obligations; legal staff for termination and CPL."""
    return (*BINOME, *deadline.recipients)


class _Recorded:
    """When the facts of a case were recorded: the latest recording day of the user events dated up to a day."""

    def __init__(self, entries: Iterable[JournalEntry]) -> None:
        dated: list[tuple[date, date]] = []  # (business date, recording day)
        self.voided_on: date | None = None  # the latest voiding: it may reopen any deadline
        for entry in entries:
            if entry.recorded_at is None or entry.is_system:
                continue  # the sweep's own events are not facts a person recorded
            day = entry.recorded_at.date()
            if entry.type == VOIDING:
                self.voided_on = max(self.voided_on or day, day)
            else:
                dated.append((entry.at, day))
        dated.sort()
        self.dates = [at for at, _ in dated]
        self.latest: list[date] = []  # latest recording day of the events dated up to self.dates[i]
        for _, day in dated:
            self.latest.append(max(self.latest[-1], day) if self.latest else day)

    def known_on(self, deadline: Deadline) -> date | None:
        """The day the facts deciding this deadline's fate (events dated up to its due date, voidings) were all
        recorded, None if nothing says when."""
        upto = bisect_right(self.dates, deadline.due)
        days = [d for d in (self.latest[upto - 1] if upto else None, self.voided_on) if d is not None]
        return max(days, default=None)


def _breach_day(deadline: Deadline, rules: Ruleset, recorded: _Recorded) -> date:
    """The day a breached deadline's notice is owed: the day after its due date, or the day it became known."""
    day = deadline.due + timedelta(days=rules.breach_notice_days_after)
    known = recorded.known_on(deadline)
    return max(day, known) if known is not None else day


def notices_due(projection: Projection, rules: Ruleset, today: date) -> list[DueNotice]:
    """Notices to send on `today`: for each pending deadline, the latest reminder whose day has come (within
    the catch-up window); for each breached deadline, its breach notice (within the same window, counted from
    the day the breach could first be known)."""
    notices: list[DueNotice] = []
    window = timedelta(days=rules.catch_up_days)
    recorded: _Recorded | None = None
    for deadline in projection.deadlines:
        if deadline.status == PENDING and deadline.due >= today:
            reached = [o for o in rules.reminder_offsets if deadline.due - timedelta(days=o) <= today]
            if reached:
                offset = min(reached)
                send_on = deadline.due - timedelta(days=offset)
                if today - send_on <= window:
                    notices.append(DueNotice(deadline, "reminder", offset, send_on, roles_for(deadline), today))
        elif deadline.status == BREACHED:
            recorded = recorded or _Recorded(projection.accepted)
            send_on = _breach_day(deadline, rules, recorded)
            if send_on <= today and today - send_on <= window:
                notices.append(DueNotice(deadline, "breach", rules.breach_notice_days_after, send_on,
                                         roles_for(deadline), today))
    return notices


def next_notice_day(projection: Projection, rules: Ruleset, after: date,
                    deadlines: Sequence[Deadline] | None = None) -> date | None:
    """The first day on or after `after` on which a deadline owes a reminder or a breach notice (a deadline
    already breached included: recorded late, its notice is owed from the day it was recorded). `deadlines`:
    those of the projection that may owe one (pending or breached), when the caller knows them; else all."""
    first: date | None = None
    recorded: _Recorded | None = None
    steps = _reminder_steps(rules.reminder_offsets)  # latest reminder first: their days ascend
    breach_after = timedelta(days=rules.breach_notice_days_after)
    for deadline in projection.deadlines if deadlines is None else deadlines:
        status = deadline.status
        if status == BREACHED:
            recorded = recorded or _Recorded(projection.accepted)
            day = _breach_day(deadline, rules, recorded)
            if day >= after and (first is None or day < first):
                first = day
            continue
        due = deadline.due
        if status != PENDING or due < projection.today:
            continue
        for step in steps:
            day = due - step
            if day >= after:
                if first is None or day < first:
                    first = day
                break  # the later reminders of this deadline fall after it
        if deadline.at_expiry == "breach":
            day = due + breach_after
            if day >= after and (first is None or day < first):
                first = day
    return first


@cache
def _reminder_steps(offsets: tuple[int, ...]) -> tuple[timedelta, ...]:
    """The reminder offsets as time spans, largest first (computed once per set of offsets)."""
    return tuple(timedelta(days=o) for o in sorted(offsets, reverse=True))
