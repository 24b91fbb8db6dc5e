"""The transactional outbox: notifications are written with the sweep that causes them, then drained.

Enqueue runs inside the sweep's transaction, so a notice exists if and only if the sweep that decided it
committed; its unique key (case, deadline, due date, kind, offset) makes it exist once. Drain claims a row
(pending → sending, committed), hands it to the SMTP server, then marks it sent. A process that dies after
the server accepted the message but before `sent` was committed leaves a `sending` row, which is reclaimed
after `CLAIM_TIMEOUT` and sent again with the same Message-ID: the only duplicate possible.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from lifecycle.errors import DomainError
from lifecycle.reminders import DueNotice
from notifications.explain import explain_fr
from notifications.model import Digest, DigestItem, Notice, Recipient
from notifications.render import RenderedEmail, build_message, render_digest, render_notice
from notifications.smtp import DeliveryError, SmtpConnection, SmtpSettings
from workflows.tables import Case, DeadlineRow, OutboxRow, User

MAIL_DOMAIN_ENV = "CPTS_MAIL_DOMAIN"
MAX_ATTEMPTS_ENV = "CPTS_OUTBOX_MAX_ATTEMPTS"
# Backoff 1, 2, 4 … min, capped at 6 h: the 12th failure comes about 20 h after the first, so an SMTP outage
# of most of a day delays the notices without making them dead.
DEFAULT_MAX_ATTEMPTS = 12
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
CLAIM_TIMEOUT = timedelta(minutes=10)
STATUSES = ("pending", "sending", "sent", "dead", "unaddressed")


class UnknownOutboxEntry(DomainError):
    pass


def mail_domain() -> str:
    return os.environ.get(MAIL_DOMAIN_ENV, "cpts-lifecycle.local")


def max_attempts() -> int:
    try:
        return max(1, int(os.environ.get(MAX_ATTEMPTS_ENV, DEFAULT_MAX_ATTEMPTS)))
    except ValueError:
        return DEFAULT_MAX_ATTEMPTS


# ------------------------------------------------------------------------------------------- recipients
def recipients_for(session: Session, case: Case, roles: Iterable[str]) -> tuple[Recipient, ...]:
    """Resolve roles to people: the case's binôme, its CPTS contact, the legal staff whose scope covers it."""
    found: list[Recipient] = []
    for role in roles:
        if role in ("ars", "cpam"):
            user_id = case.ars_referent_id if role == "ars" else case.cpam_referent_id
            user = session.get(User, user_id) if user_id else None
            if user is not None:
                found.append(Recipient(user.name, user.email, role))
        elif role == "cpts" and case.cpts_contact_email:
            found.append(Recipient(case.cpts_contact_name or case.name, case.cpts_contact_email, "cpts"))
        elif role == "legal":
            for user in session.exec(select(User).where(User.role == "legal").order_by(User.id)):
                scope = json.loads(user.scope)
                if not scope or case.seat_departement in scope or case.region in scope:
                    found.append(Recipient(user.name, user.email, "legal"))
    unique: dict[str, Recipient] = {}
    for r in found:
        unique.setdefault(r.email.lower(), r)
    return tuple(unique.values())


# ------------------------------------------------------------------------------------------- enqueue
def enqueue_notices(session: Session, case: Case, notices: Iterable[DueNotice], now: datetime) -> list[OutboxRow]:
    """Write the notices not yet in the outbox (same transaction as the caller's sweep)."""
    rows = []
    for due in notices:
        d = due.deadline
        notice = Notice(
            case_id=str(case.id), case_name=case.name, departement=case.seat_departement, deadline_key=d.key,
            deadline_label=d.label, due=d.due, explanation=explain_fr(d), kind=due.kind,
            offset_days=due.offset_days, on=due.send_on, anchor_key=d.ident,
            recipients=recipients_for(session, case, due.roles),
        )
        rows.append(_outbox_row(session, notice.unique_key, render_notice(notice), notice.message_id(mail_domain()),
                                notice.recipients, now, case_id=case.id, kind=due.kind, deadline_key=d.key,
                                due=d.due, offset_days=due.offset_days, send_on=due.send_on, roles=due.roles))
    return [r for r in rows if r is not None]


def _outbox_row(session: Session, key: str, rendered: RenderedEmail, message_id: str,
                recipients: tuple[Recipient, ...], now: datetime, **fields: object) -> OutboxRow | None:
    if session.exec(select(OutboxRow.id).where(OutboxRow.unique_key == key)).first() is not None:
        return None
    roles = fields.pop("roles", ())
    row = OutboxRow(
        unique_key=key, subject=rendered.subject, text_body=rendered.text, html_body=rendered.html,
        message_id=message_id, roles=json.dumps(list(roles)),
        recipients=json.dumps([{"name": r.name, "email": r.email, "role": r.role} for r in recipients]),
        status="pending" if recipients else "unaddressed", attempts=0, next_attempt_at=now, created_at=now,
        **fields,
    )
    session.add(row)
    return row


def enqueue_digests(engine: Engine, day: date, now: datetime, *, horizon_days: int = 30) -> int:
    """One digest per referent for `day`: overdue deadlines and those due within `horizon_days`."""
    written = 0
    with Session(engine) as session, session.begin():
        referents = session.exec(select(User).where(col(User.role).in_(["ars", "cpam"])).order_by(User.id)).all()
        for user in referents:
            column = Case.ars_referent_id if user.role == "ars" else Case.cpam_referent_id
            cases = {c.id: c for c in session.exec(select(Case).where(column == user.id))}
            if not cases:
                continue
            rows = session.exec(
                select(DeadlineRow)
                .where(col(DeadlineRow.case_id).in_(list(cases)))
                .where(or_(DeadlineRow.status == "breached",
                           (DeadlineRow.status == "pending") & (col(DeadlineRow.due) >= day)
                           & (col(DeadlineRow.due) <= day + timedelta(days=horizon_days))))
                .order_by(DeadlineRow.due)
            ).all()

            def item(d: DeadlineRow, cases: dict[int, Case] = cases) -> DigestItem:
                return DigestItem(str(d.case_id), cases[d.case_id].name, d.key, d.label, d.due, d.status)

            digest = Digest(
                referent=Recipient(user.name, user.email, user.role), on=day,
                overdue=tuple(item(d) for d in rows if d.status == "breached"),
                upcoming=tuple(item(d) for d in rows if d.status == "pending"),
            )
            if digest.is_empty:
                continue
            row = _outbox_row(session, digest.unique_key, render_digest(digest), digest.message_id(mail_domain()),
                              (digest.referent,), now, kind="digest", send_on=day, roles=(user.role,))
            written += row is not None
    return written


# ------------------------------------------------------------------------------------------- drain
Sender = Callable[[EmailMessage], object]


@dataclass(frozen=True)
class DrainReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def smtp_sender(settings: SmtpSettings) -> Sender:
    """A sender that carries a whole drain pass over one SMTP session (closed by `drain`)."""
    return SmtpConnection(settings)


def _claimable(now: datetime):  # type: ignore[no-untyped-def]
    return or_(
        (OutboxRow.status == "pending") & (col(OutboxRow.next_attempt_at) <= now),
        (OutboxRow.status == "sending") & (col(OutboxRow.claimed_at) <= now - CLAIM_TIMEOUT),
    )


def drain(engine: Engine, sender: Sender, *, now: datetime, from_address: str, limit: int = 500) -> DrainReport:
    """Send what is due: claim a batch, send each message, record each outcome at once. Safe with several
    drainers at once: a row is claimed by one of them only."""
    sent = retried = dead = 0
    with Session(engine) as session:
        candidates = session.exec(select(OutboxRow.id).where(_claimable(now)).order_by(OutboxRow.id).limit(limit))
        candidates = list(candidates)
    try:
        for row_id in candidates:
            # Claimed one at a time, just before sending: `sending` means "handed to the server, outcome not
            # yet recorded", so after a crash only that one message is in doubt.
            row = _claim(engine, row_id, now)
            if row is None:
                continue  # another drainer has it
            outcome = _deliver(engine, sender, row, now, from_address)
            sent += outcome == "sent"
            dead += outcome == "dead"
            retried += outcome == "pending"
    finally:
        close = getattr(sender, "close", None)
        if close is not None:
            close()
    return DrainReport(sent, retried, dead)


def _claim(engine: Engine, row_id: int, now: datetime) -> OutboxRow | None:
    """pending (due) or expired `sending` → sending, in one statement; None if another drainer won it."""
    with Session(engine) as session, session.begin():
        won = session.execute(
            update(OutboxRow).where(col(OutboxRow.id) == row_id).where(_claimable(now))
            .values(status="sending", claimed_at=now).returning(OutboxRow.id)
        ).scalar_one_or_none()
        if won is None:
            return None
        row = session.get(OutboxRow, won)
        session.expunge(row)
        return row


def _deliver(engine: Engine, sender: Sender, row: OutboxRow, now: datetime, from_address: str) -> str:
    """Send one claimed row and commit its outcome: `sent` right after the server's acceptance."""
    message = build_message(
        RenderedEmail(row.subject, row.text_body, row.html_body), sender=from_address,
        recipients=[Recipient(**r) for r in json.loads(row.recipients)], message_id=row.message_id, sent_at=now,
    )
    try:
        sender(message)
    except DeliveryError as exc:
        return _record_failure(engine, row, exc, now)
    with Session(engine) as session, session.begin():
        session.execute(update(OutboxRow).where(col(OutboxRow.id) == row.id)
                        .values(status="sent", sent_at=now, attempts=row.attempts + 1, last_error=None))
    return "sent"


def _record_failure(engine: Engine, row: OutboxRow, error: DeliveryError, now: datetime) -> str:
    attempts = row.attempts + 1
    status = "dead" if error.permanent or attempts >= max_attempts() else "pending"
    delay = min(BACKOFF_BASE * (2 ** (attempts - 1)), BACKOFF_CAP)
    with Session(engine) as session, session.begin():
        session.execute(update(OutboxRow).where(col(OutboxRow.id) == row.id).values(
            status=status, attempts=attempts, last_error=str(error)[:1000], next_attempt_at=now + delay))
    return status


def retry(engine: Engine, entry_id: int, now: datetime) -> OutboxRow:
    """Put a dead (or unaddressed, once referents are assigned) notification back in the queue."""
    with Session(engine) as session, session.begin():
        row = session.get(OutboxRow, entry_id)
        if row is None:
            raise UnknownOutboxEntry(f"no outbox entry {entry_id}: see `cpts outbox list`")
        if row.status not in ("dead", "unaddressed"):
            raise UnknownOutboxEntry(f"outbox entry {entry_id} is {row.status}; only dead or unaddressed entries "
                                     "can be retried")
        if row.status == "unaddressed" and row.case_id is not None:
            case = session.get(Case, row.case_id)
            recipients = recipients_for(session, case, json.loads(row.roles))
            if not recipients:
                raise UnknownOutboxEntry(f"outbox entry {entry_id} still has nobody to go to: assign the case's "
                                         "referents first (`cpts case assign`)")
            row.recipients = json.dumps([{"name": r.name, "email": r.email, "role": r.role} for r in recipients])
        row.status, row.attempts, row.next_attempt_at, row.last_error = "pending", 0, now, None
        session.add(row)
        session.flush()
        session.refresh(row)
        session.expunge(row)
        return row

