"""Read models of deadlines: the ones coming up across a portfolio (what a dashboard's "due soon" panel shows),
a deadline's status as the pages show it, and why it falls on its date (its stored explanation, typed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import String, cast
from sqlmodel import col, select

from lifecycle.calendar import DeadlineKind
from lifecycle.deadlines import PENDING
from lifecycle.errors import EventRejected
from lifecycle.ruleset import DeadlineRule, Ruleset
from workflows.persistence.tables import Case, DeadlineRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.people import followed_cases
from workflows.services.people import get_user

# A deadline still `pending` in the tables after its due date (the sweep records what its end causes at its next
# pass, within minutes under the scheduler): `overdue` when its expiry is a breach (SPEC §6: breached from the
# first local day after it), `window_closed` when it is a window whose end is nobody's breach (an opposition
# window: the tacit validation follows). Pages show these words so that nobody reads such a row as still open.
OVERDUE, WINDOW_CLOSED = "overdue", "window_closed"


def status_as_of(stored: str, due: date, at_expiry: str, today: date) -> str:
    """A deadline's status as the pages show it on `today`, from the one the last write stored."""
    if stored != PENDING or due >= today:
        return stored
    return OVERDUE if at_expiry == "breach" else WINDOW_CLOSED



def deadline_rule(rules: Ruleset, key: str) -> DeadlineRule | None:
    """The ruleset row of a stored deadline key: `mission_start.access` is a row, `annual_review.2` is year 2 of
    `annual_review`; None for a key the ruleset does not know. A row a later version of the accord added (the
    crisis mission's) is found too."""
    every = rules.lineage_deadlines
    if key in every:
        return every[key]
    return every.get(key.rsplit(".", 1)[0])


# ------------------------------------------------------------------------------------------- why this date
@dataclass(frozen=True)
class SkippedDay:
    """A non-working day a due date rolled over (CPC art. 642).

    Attributes:
        day: the day skipped.
        weekday: its French weekday name ("samedi").
        holiday: the public holiday's French name at the seat ("Vendredi saint"), None for a weekend day.
    """

    day: date
    weekday: str
    holiday: str | None


@dataclass(frozen=True)
class DueDateReason:
    """Why a deadline falls on its date (SPEC §6), as stored with the deadline when its case was refreshed.

    Attributes:
        anchor: the date the period runs from.
        anchor_event: what happened that day: an event type (`health_project_received`), `anniversary`,
            `cpl_meeting_date`, `termination_effective_date`, or "" when the engine fixed the date otherwise.
        anchor_year: for an anniversary, the contract year (1 to 5).
        months, days: the period (both 0: the due date is the anchor itself).
        before: the period is counted back from the anchor ("at least 15 days before the meeting").
        kind: procedural (rolls over non-working days), effect, contractual or service (no roll-over).
        departement: the seat whose calendar (weekends, public holidays) the date was computed with.
        raw: the anchor plus the period, before any roll-over.
        skipped: the non-working days rolled over, in order.
        due: the due date.
        franc: a délai franc (neither the anchor day nor the last day counts).
        source: the article of the rule (`I §6`, `ACI art. 6`).
        note: what the engine added (the interpretation applied, what a refund owes…), in English; often "".
        text: the engine's one-paragraph explanation (English), for when the parts above are not enough.
    """

    anchor: date
    anchor_event: str
    anchor_year: int | None
    months: int
    days: int
    before: bool
    kind: str
    departement: str
    raw: date
    skipped: tuple[SkippedDay, ...]
    due: date
    franc: bool
    source: str
    note: str
    text: str

    @property
    def procedural(self) -> bool:
        """A procedural deadline: one that rolls over non-working days."""
        return self.kind == DeadlineKind.PROCEDURAL.value


_PERIOD = re.compile(r"^(\d+) (day|days|month|months) (before|after)\b")
_ANNIVERSARY = re.compile(r"^anniversary (\d+)\b")
# Anchors the engine names in words rather than by an event type (lifecycle.handlers).
_WORDED_ANCHORS = {"the CPL meeting": "cpl_meeting_date", "the termination's effect": "termination_effective_date"}


def due_date_reason(explanation: str, rule: DeadlineRule | None = None) -> DueDateReason:
    """A deadline row's stored explanation (JSON: `DateExplanation.as_dict`, a note and a text), typed; the period
    is read from the stored rule, else from the ruleset row `rule`."""
    data = json.loads(explanation)
    period = _PERIOD.match(str(data.get("rule", "")))
    if period:
        number, unit, direction = int(period.group(1)), period.group(2), period.group(3)
        months, days = (number, 0) if unit.startswith("month") else (0, number)
        before = direction == "before"
    elif rule is not None:  # an explanation of another shape: the rule's own period
        months, days, before = rule.period.months, rule.period.days, rule.before
    else:
        months, days, before = 0, 0, False
    anchor_event, year = _anchor_event(str(data.get("anchor_label", "")))
    skipped = []
    for step in data.get("steps", ()):
        # A step's reason is "samedi", or "vendredi, Vendredi saint" for a public holiday.
        weekday, _, holiday = str(step.get("reason", "")).partition(", ")
        skipped.append(SkippedDay(date.fromisoformat(step["date"]), weekday, holiday or None))
    return DueDateReason(
        anchor=date.fromisoformat(data["anchor"]), anchor_event=anchor_event, anchor_year=year, months=months,
        days=days, before=before, kind=str(data.get("kind", "")), departement=str(data.get("departement", "")),
        raw=date.fromisoformat(data["raw"]), skipped=tuple(skipped), due=date.fromisoformat(data["due"]),
        franc=bool(data.get("franc")), source=str(data.get("source", "")), note=str(data.get("note", "")),
        text=str(data.get("text", "")),
    )


def _anchor_event(label: str) -> tuple[str, int | None]:
    if (anniversary := _ANNIVERSARY.match(label)) is not None:
        return "anniversary", int(anniversary.group(1))
    if label in _WORDED_ANCHORS:
        return _WORDED_ANCHORS[label], None
    if re.fullmatch(r"[a-z_]+", label):
        return label, None
    return "", None  # a date the engine fixed otherwise (e.g. the later of two dates): see `text`


# ------------------------------------------------------------------------------------------- due soon
@dataclass(frozen=True)
class DueDeadline:
    """A pending deadline of the portfolio, as stored by its case's last refresh.

    Attributes:
        case, case_name, departement: the case and its seat.
        ident, key, label: the deadline (`ident` is unique within the case, `key` names the rule).
        due: its date; `days_left` from the `today` asked for (0: due today).
        kind: procedural, effect, contractual or service.
        recipients: roles it concerns besides the binôme (e.g. legal, cpts).
    """

    case: int
    case_name: str
    departement: str
    ident: str
    key: str
    label: str
    due: date
    days_left: int
    kind: str
    recipients: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case, "case_name": self.case_name, "departement": self.departement,
                "ident": self.ident, "key": self.key, "label": self.label, "due": self.due.isoformat(),
                "days_left": self.days_left, "kind": self.kind, "recipients": list(self.recipients)}


def deadlines_due(uow: SqlUnitOfWork, *, today: date, within_days: int, case_ids: Iterable[int] | None = None,
                  referent: str | None = None, limit: int | None = None) -> list[DueDeadline]:
    """Pending deadlines due from `today` to `today + within_days` included, by due date, case and key.

    Of the cases `case_ids`, or of those the user with e-mail `referent` follows (for a legal officer, only the
    deadlines that concern legal staff, as in their calendar), or of every case. Read through the
    (status, due) index: the cost grows with the deadlines in the window, not with the portfolio.
    """
    if within_days < 0:
        raise EventRejected(f"within {within_days} days: expected a number of days of 0 or more")
    if limit is not None and limit < 0:
        raise EventRejected(f"limit {limit}: expected a number of deadlines of 0 or more")
    query = (
        # The date as ISO text, parsed by date.fromisoformat: the driver's date processing per row cost more.
        select(DeadlineRow.case_id, Case.name, Case.seat_departement, DeadlineRow.ident, DeadlineRow.key,
               DeadlineRow.label, cast(DeadlineRow.due, String), DeadlineRow.kind, DeadlineRow.recipients)
        .join(Case, col(Case.id) == DeadlineRow.case_id)
        .where(DeadlineRow.status == "pending", col(DeadlineRow.due) >= today,
               col(DeadlineRow.due) <= today + timedelta(days=within_days))
        .order_by(DeadlineRow.due, DeadlineRow.case_id, DeadlineRow.key)
    )
    if case_ids is not None:
        query = query.where(col(DeadlineRow.case_id).in_(sorted(set(case_ids))))
    if referent is not None:
        user = get_user(uow, referent)
        condition = followed_cases(user)
        if condition is not None:
            query = query.where(condition)
        if user.role == "legal":
            # `recipients` is a JSON list of role names: a quoted name matches that role only.
            query = query.where(col(DeadlineRow.recipients).contains('"legal"'))
    if limit is not None:
        query = query.limit(limit)
    with uow:
        rows = uow.session.connection().execute(query).all()  # Core rows: no ORM result processing
    deadlines = []
    for case_id, name, departement, ident, key, label, due_text, kind, recipients in rows:
        due = date.fromisoformat(due_text)
        deadlines.append(DueDeadline(case_id, name, departement, ident, key, label, due, (due - today).days, kind,
                                     recipient_roles(recipients)))
    return deadlines


@lru_cache(maxsize=256)
def recipient_roles(recipients: str | None) -> tuple[str, ...]:
    """The roles of a `recipients` column (a handful of distinct lists across the portfolio)."""
    return tuple(json.loads(recipients or "[]"))
