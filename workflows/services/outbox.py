"""The transactional outbox: notifications are written with the sweep that causes them, then drained.

Enqueue runs inside the sweep's unit of work, so a notice exists if and only if the sweep that decided it
committed; its unique key (case, deadline, due date, kind, offset) makes it exist once. Drain claims a row
(pending → sending, committed), hands it to the SMTP server, then marks it sent. A process that dies after
the server accepted the message but before `sent` was committed leaves a `sending` row, which is reclaimed
after `CLAIM_TIMEOUT` and sent again with the same Message-ID: the only duplicate possible.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage

from lifecycle.reminders import DueNotice
from notifications.explain import explain_fr
from notifications.model import Digest, DigestItem, Notice, Recipient
from notifications.render import RenderedEmail, build_message, render_digest, render_notice
from notifications.smtp import DeliveryError, SmtpConnection, SmtpSettings
from workflows.persistence.errors import UnknownOutboxEntry
from workflows.persistence.tables import Case, DeadlineRow, OutboxRow
from workflows.persistence.unit_of_work import UnitOfWork
from workflows.settings import DEFAULT_MAIL_DOMAIN, DEFAULT_MAX_ATTEMPTS

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
CLAIM_TIMEOUT = timedelta(minutes=10)
DIGEST_HORIZON_DAYS = 30
STATUSES = ("pending", "sending", "sent", "dead", "unaddressed")


# ------------------------------------------------------------------------------------------- recipients
def recipients_for(uow: UnitOfWork, case: Case, roles: Iterable[str]) -> tuple[Recipient, ...]:
    """Resolve roles to people: the case's binôme, its CPTS contact, the legal staff whose scope covers it."""
    found: list[Recipient] = []
    for role in roles:
        if role in ("ars", "cpam"):
            user_id = case.ars_referent_id if role == "ars" else case.cpam_referent_id
            user = uow.users.get(user_id) if user_id else None
            if user is not None:
                found.append(Recipient(user.name, user.email, role))
        elif role == "cpts" and case.cpts_contact_email:
            found.append(Recipient(case.cpts_contact_name or case.name, case.cpts_contact_email, "cpts"))
        elif role == "legal":
            for user in uow.users.with_roles(["legal"]):
                scope = json.loads(user.scope)
                if not scope or case.seat_departement in scope or case.region in scope:
                    found.append(Recipient(user.name, user.email, "legal"))
    unique: dict[str, Recipient] = {}
    for r in found:
        unique.setdefault(r.email.lower(), r)
    return tuple(unique.values())


def _recipients_json(recipients: Iterable[Recipient]) -> str:
    return json.dumps([{"name": r.name, "email": r.email, "role": r.role} for r in recipients])


# ------------------------------------------------------------------------------------------- enqueue
def enqueue_notices(uow: UnitOfWork, case: Case, notices: Iterable[DueNotice], now: datetime, *,
                    mail_domain: str = DEFAULT_MAIL_DOMAIN) -> int:
    """Write the notices not yet in the outbox (inside the caller's unit of work); how many were written."""
    written = 0
    for due in notices:
        d = due.deadline
        notice = Notice(
            case_id=str(case.id), case_name=case.name, departement=case.seat_departement, deadline_key=d.key,
            deadline_label=d.label, due=d.due, explanation=explain_fr(d), kind=due.kind,
            offset_days=due.offset_days, on=due.send_on, anchor_key=d.ident,
            recipients=recipients_for(uow, case, due.roles),
        )
        written += _add_row(uow, notice.unique_key, render_notice(notice), notice.message_id(mail_domain),
                            notice.recipients, now, case_id=case.id, kind=due.kind, deadline_key=d.key,
                            due=d.due, offset_days=due.offset_days, send_on=due.send_on, roles=due.roles)
    return written


def _add_row(uow: UnitOfWork, key: str, rendered: RenderedEmail, message_id: str,
             recipients: tuple[Recipient, ...], now: datetime, **fields: object) -> bool:
    if uow.outbox.has(key):
        return False
    roles = fields.pop("roles", ())
    uow.outbox.add(OutboxRow(
        unique_key=key, subject=rendered.subject, text_body=rendered.text, html_body=rendered.html,
        message_id=message_id, roles=json.dumps(list(roles)), recipients=_recipients_json(recipients),
        status="pending" if recipients else "unaddressed", attempts=0, next_attempt_at=now, created_at=now,
        **fields,
    ))
    return True


def enqueue_digests(uow: UnitOfWork, day: date, now: datetime, *, horizon_days: int = DIGEST_HORIZON_DAYS,
                    mail_domain: str = DEFAULT_MAIL_DOMAIN) -> int:
    """One digest per referent for `day`: overdue deadlines and those due within `horizon_days`."""
    written = 0
    with uow:
        for user in uow.users.with_roles(["ars", "cpam"]):
            cases = {c.id: c for c in uow.cases.followed_by(user)}
            if not cases:
                continue
            rows = uow.projections.for_digest(list(cases), day, day + timedelta(days=horizon_days))

            def item(d: DeadlineRow, cases: dict[int, Case] = cases) -> DigestItem:
                return DigestItem(str(d.case_id), cases[d.case_id].name, d.key, d.label, d.due, d.status)

            digest = Digest(
                referent=Recipient(user.name, user.email, user.role), on=day,
                overdue=tuple(item(d) for d in rows if d.status == "breached"),
                upcoming=tuple(item(d) for d in rows if d.status == "pending"),
            )
            if digest.is_empty:
                continue
            written += _add_row(uow, digest.unique_key, render_digest(digest), digest.message_id(mail_domain),
                                (digest.referent,), now, kind="digest", send_on=day, roles=(user.role,))
        uow.commit()
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


def drain(uow: UnitOfWork, sender: Sender, *, now: datetime, from_address: str, limit: int = 500,
          max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> DrainReport:
    """Send what is due: claim a batch, send each message, record each outcome at once. Safe with several
    drainers at once: a row is claimed by one of them only."""
    sent = retried = dead = 0
    with uow:
        candidates = uow.outbox.claimable_ids(now, CLAIM_TIMEOUT, limit)
    try:
        for row_id in candidates:
            # Claimed one at a time, just before sending: `sending` means "handed to the server, outcome not
            # yet recorded", so after a crash only that one message is in doubt.
            row = _claim(uow, row_id, now)
            if row is None:
                continue  # another drainer has it
            outcome = _deliver(uow, sender, row, now, from_address, max_attempts)
            sent += outcome == "sent"
            dead += outcome == "dead"
            retried += outcome == "pending"
    finally:
        close = getattr(sender, "close", None)
        if close is not None:
            close()
    return DrainReport(sent, retried, dead)


def _claim(uow: UnitOfWork, row_id: int, now: datetime) -> OutboxRow | None:
    """pending (due) or expired `sending` → sending, in one statement; None if another drainer won it."""
    with uow:
        row = uow.outbox.claim(row_id, now, CLAIM_TIMEOUT)
        uow.commit()
        return row


def _deliver(uow: UnitOfWork, sender: Sender, row: OutboxRow, now: datetime, from_address: str,
             max_attempts: int) -> str:
    """Send one claimed row and commit its outcome: `sent` right after the server's acceptance."""
    message = build_message(
        RenderedEmail(row.subject, row.text_body, row.html_body), sender=from_address,
        recipients=[Recipient(**r) for r in json.loads(row.recipients)], message_id=row.message_id, sent_at=now,
    )
    try:
        sender(message)
    except DeliveryError as exc:
        attempts = row.attempts + 1
        status = "dead" if exc.permanent or attempts >= max_attempts else "pending"
        delay = min(BACKOFF_BASE * (2 ** (attempts - 1)), BACKOFF_CAP)
        _record(uow, row.id, {"status": status, "attempts": attempts, "last_error": str(exc)[:1000],
                              "next_attempt_at": now + delay})
        return status
    _record(uow, row.id, {"status": "sent", "sent_at": now, "attempts": row.attempts + 1, "last_error": None})
    return "sent"


def _record(uow: UnitOfWork, row_id: int, values: dict[str, object]) -> None:
    with uow:
        uow.outbox.update(row_id, values)
        uow.commit()


def retry(uow: UnitOfWork, entry_id: int, now: datetime) -> OutboxRow:
    """Put a dead (or unaddressed, once referents are assigned) notification back in the queue."""
    with uow:
        row = uow.outbox.get(entry_id)
        if row is None:
            raise UnknownOutboxEntry(f"no outbox entry {entry_id}: see `cpts outbox list`")
        if row.status not in ("dead", "unaddressed"):
            raise UnknownOutboxEntry(f"outbox entry {entry_id} is {row.status}; only dead or unaddressed entries "
                                     "can be retried")
        values: dict[str, object] = {"status": "pending", "attempts": 0, "next_attempt_at": now, "last_error": None}
        if row.status == "unaddressed" and row.case_id is not None:
            case = uow.cases.get(row.case_id)
            recipients = recipients_for(uow, case, json.loads(row.roles))
            if not recipients:
                raise UnknownOutboxEntry(f"outbox entry {entry_id} still has nobody to go to: assign the case's "
                                         "referents first (`cpts case assign`)")
            values["recipients"] = _recipients_json(recipients)
        uow.outbox.update(entry_id, values)
        row = uow.outbox.get(entry_id)
        uow.commit()
        return row
