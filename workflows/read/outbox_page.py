"""The outbox as the web pages read it: a page of notifications with the count of each status, and the notices
of one case. Bodies are never read (a listing needs neither the text nor the HTML of the e-mails)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import col, select

from lifecycle.errors import DomainError
from workflows.persistence.tables import Case, OutboxRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.outbox import STATUSES

PER_PAGE = 50


@dataclass(frozen=True)
class Recipient:
    """Someone a notification goes to: name, address and the role they receive it as (ars, cpam, cpts, legal)."""

    name: str
    email: str
    role: str


@dataclass(frozen=True)
class OutboxLine:
    """A notification as the pages list it.

    Attributes:
        id: the outbox entry (what `cpts outbox retry ID` and the page's "Renvoyer" take).
        status: pending | sending | sent | dead | unaddressed.
        kind: reminder | breach | digest.
        case_id, case_name: the case a reminder or breach notice is about (None for a referent's digest).
        deadline_key, deadline_label, due: the deadline it is about and its due date (None for a digest).
        send_on: the day it may go (at the seat; in Paris for a digest).
        recipients: who it goes to, as stored on the row.
        attempts, last_error, next_attempt_at: the delivery so far.
        message_id: the Message-ID it is (or will be) sent with, the same on every attempt.
        sent_at: when the SMTP server accepted it (UTC), None until then.
    """

    id: int
    status: str
    kind: str
    case_id: int | None
    case_name: str | None
    deadline_key: str | None
    deadline_label: str | None
    due: date | None
    send_on: date
    recipients: tuple[Recipient, ...]
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    message_id: str
    sent_at: datetime | None

    @property
    def retryable(self) -> bool:
        """Whether it may be put back in the queue (every status but sent)."""
        return self.status != "sent"


@dataclass(frozen=True)
class OutboxPage:
    """One page of the outbox, newest first.

    Attributes:
        lines: the notifications of this page.
        status: the status filtered on (None: every status).
        counts: how many notifications have each status (all of STATUSES, zeros included), whatever the filter.
        total: how many notifications the filter keeps; page, pages: this page (1-based) and how many there are.
    """

    lines: tuple[OutboxLine, ...]
    status: str | None
    counts: dict[str, int]
    total: int
    page: int
    pages: int
    per_page: int


_COLUMNS = (OutboxRow.id, OutboxRow.status, OutboxRow.kind, OutboxRow.case_id, Case.name, OutboxRow.deadline_key,
            OutboxRow.notice, OutboxRow.due, OutboxRow.send_on, OutboxRow.recipients, OutboxRow.attempts,
            OutboxRow.last_error, OutboxRow.next_attempt_at, OutboxRow.message_id, OutboxRow.sent_at)


def outbox_page(uow: SqlUnitOfWork, *, status: str | None = None, page: int = 1,
                per_page: int = PER_PAGE) -> OutboxPage:
    """The notifications with `status` (every one if None), newest first, page `page` (past the last: the last)."""
    if status is not None and status not in STATUSES:
        raise DomainError(f"unknown outbox status {status!r}: expected one of {', '.join(STATUSES)}")
    with uow:
        counted = dict(uow.session.exec(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())
        counts = {s: int(counted.get(s, 0)) for s in STATUSES}
        total = counts[status] if status is not None else sum(counted.values())
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        # The page's ids first (from the status index alone), then their rows: a filtered page never sorts wide
        # rows, however many notifications have that status.
        ids = select(OutboxRow.id).order_by(col(OutboxRow.id).desc()).offset((page - 1) * per_page).limit(per_page)
        if status is not None:
            ids = ids.where(OutboxRow.status == status)
        chosen = list(uow.session.exec(ids).all())
        query = _listing().where(col(OutboxRow.id).in_(chosen)).order_by(col(OutboxRow.id).desc())
        lines = tuple(_line(row) for row in uow.session.exec(query).all()) if chosen else ()
    return OutboxPage(lines, status, counts, total, page, pages, per_page)


def case_notices(uow: SqlUnitOfWork, case_id: int) -> list[OutboxLine]:
    """Every notification about one case (reminders and breach notices), newest first."""
    query = _listing().where(OutboxRow.case_id == case_id).order_by(col(OutboxRow.id).desc())
    with uow:
        return [_line(row) for row in uow.session.exec(query).all()]


def _listing():  # type: ignore[no-untyped-def]
    return select(*_COLUMNS).select_from(OutboxRow).outerjoin(Case, col(Case.id) == OutboxRow.case_id)


def _line(row) -> OutboxLine:  # type: ignore[no-untyped-def]
    (id_, status, kind, case_id, case_name, deadline_key, notice, due, send_on, recipients, attempts, last_error,
     next_attempt_at, message_id, sent_at) = row
    label = json.loads(notice).get("deadline_label") if notice else None
    people = tuple(Recipient(str(r.get("name") or ""), str(r.get("email") or ""), str(r.get("role") or ""))
                   for r in json.loads(recipients or "[]"))
    return OutboxLine(id_, status, kind, case_id, case_name, deadline_key, label, due, send_on, people, attempts,
                      last_error, next_attempt_at, message_id, sent_at)
