"""The transactional outbox: notifications are written with the sweep that causes them, then drained.

Enqueue runs inside the sweep's unit of work, so a notice exists if and only if the sweep that decided it
committed; its unique key (case, deadline, due date, kind, offset) makes it exist once. Drain claims a row
(pending → sending, committed), hands it to the SMTP server, then marks it sent. A process that dies after
the server accepted the message but before `sent` was committed leaves a `sending` row, which is reclaimed
after `CLAIM_TIMEOUT` and sent again with the same Message-ID: the only duplicate possible.

A notice is never sent before its `send_on` day at the CPTS's seat (a digest: in Paris), and its text is
rendered again when it is sent, so that its countdown ("demain", "échéance dépassée depuis 2 jours") is true on
the day it arrives. Nothing stored can stall the drain: a recipient whose address is unusable is left out (and
noted in `last_error`), and a message that cannot be built at all is recorded `dead` with the reason, the
batch going on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from lifecycle import territory
from lifecycle.reminders import DueNotice
from notifications.addresses import clip, display_name
from notifications.explain import explain_fr
from notifications.model import Digest, DigestItem, Notice, Recipient
from notifications.render import RenderedEmail, build_message, render_digest, render_notice, usable_recipients
from notifications.smtp import DeliveryError, SmtpConnection, SmtpSettings
from workflows.persistence.errors import UnknownOutboxEntry
from workflows.persistence.tables import Case, DeadlineRow, OutboxRow
from workflows.persistence.unit_of_work import UnitOfWork
from workflows.services.people import scope_of
from workflows.settings import DEFAULT_MAIL_DOMAIN, DEFAULT_MAX_ATTEMPTS

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=6)
CLAIM_TIMEOUT = timedelta(minutes=10)
DIGEST_HORIZON_DAYS = 30
DIGEST_ZONE = ZoneInfo("Europe/Paris")  # digests are enqueued for the day in Paris (see workflows.scheduler)
STATUSES = ("pending", "sending", "sent", "dead", "unaddressed")
MAX_ERROR = 1000


# ------------------------------------------------------------------------------------------- recipients
def recipients_for(uow: UnitOfWork, case: Case, roles: Iterable[str]) -> tuple[Recipient, ...]:
    """Resolve roles to people: the case's binôme, its CPTS contact, the legal staff whose scope covers it."""
    found: list[Recipient] = []
    for role in roles:
        if role in ("ars", "cpam"):
            user_id = case.ars_referent_id if role == "ars" else case.cpam_referent_id
            user = uow.users.get(user_id) if user_id else None
            if user is not None:
                found.append(_recipient(user.name, user.email, role))
        elif role == "cpts" and case.cpts_contact_email:
            found.append(_recipient(case.cpts_contact_name or case.name, case.cpts_contact_email, "cpts"))
        elif role == "legal":
            # Typed scopes: a legal officer for département 44 is not one for région 44 (SPEC §2).
            for user in uow.users.with_roles(["legal"]):
                if scope_of(user).covers(case.seat_departement, case.region):
                    found.append(_recipient(user.name, user.email, "legal"))
    unique: dict[str, Recipient] = {}
    for r in found:
        unique.setdefault(r.email.lower(), r)
    return tuple(unique.values())


def _recipient(name: str, email: str, role: str) -> Recipient:
    # Names and addresses are checked when entered; what is stored is bounded here anyway (a megabyte
    # written around the checks must not be copied into every row), and checked again at delivery.
    return Recipient(display_name(name), clip(email.strip(), 320), role)


def _recipients_json(recipients: Iterable[Recipient]) -> str:
    return json.dumps([{"name": r.name, "email": r.email, "role": r.role} for r in recipients])


# ------------------------------------------------------------------------------------------- enqueue
def enqueue_notices(uow: UnitOfWork, case: Case, notices: Iterable[DueNotice], now: datetime, *,
                    mail_domain: str = DEFAULT_MAIL_DOMAIN) -> int:
    """Write the notices not yet in the outbox (inside the caller's unit of work); how many were written."""
    written = 0
    zone = territory.time_zone(case.seat_departement)
    for due in notices:
        d = due.deadline
        notice = Notice(
            case_id=str(case.id), case_name=display_name(case.name) or str(case.id),
            departement=case.seat_departement, deadline_key=d.key, deadline_label=d.label, due=d.due,
            explanation=explain_fr(d), kind=due.kind, offset_days=due.offset_days, on=due.send_on,
            anchor_key=d.ident, recipients=recipients_for(uow, case, due.roles),
            to_confirm=None if d.verified else d.source,
        )
        # The stored text is what the notice says on the day the sweep found it owed; the drain renders it
        # again on the day it goes.
        preview = render_notice(notice, sent_on=max(due.send_on, due.found_on or due.send_on))
        written += _add_row(uow, notice.unique_key, preview, notice.message_id(mail_domain), notice.recipients,
                            now, not_before=_start_of(due.send_on, zone), case_id=case.id, kind=due.kind,
                            deadline_key=d.key, due=d.due, offset_days=due.offset_days, send_on=due.send_on,
                            roles=due.roles, notice=_notice_json(notice))
    return written


def _notice_json(notice: Notice) -> str:
    return json.dumps({
        "case_id": notice.case_id, "case_name": notice.case_name, "departement": notice.departement,
        "deadline_key": notice.deadline_key, "deadline_label": notice.deadline_label,
        "due": notice.due.isoformat(), "explanation": notice.explanation, "kind": notice.kind,
        "offset_days": notice.offset_days, "on": notice.on.isoformat(), "anchor_key": notice.anchor_key,
        "status_url": notice.status_url, "to_confirm": notice.to_confirm,
    }, ensure_ascii=False)


def _stored_notice(text: str) -> Notice:
    parts: dict[str, Any] = json.loads(text)
    return Notice(**{**parts, "due": date.fromisoformat(parts["due"]), "on": date.fromisoformat(parts["on"]),
                     "recipients": ()})


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    """Midnight starting `day` in `zone`, in UTC (the form every stored instant has)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _add_row(uow: UnitOfWork, key: str, rendered: RenderedEmail, message_id: str,
             recipients: tuple[Recipient, ...], now: datetime, *, not_before: datetime, **fields: object) -> bool:
    if uow.outbox.has(key):
        return False
    roles = fields.pop("roles", ())
    uow.outbox.add(OutboxRow(
        unique_key=key, subject=rendered.subject, text_body=rendered.text, html_body=rendered.html,
        message_id=message_id, roles=json.dumps(list(roles)), recipients=_recipients_json(recipients),
        status="pending" if recipients else "unaddressed", attempts=0,
        next_attempt_at=max(now, not_before), created_at=now, **fields,
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
                referent=_recipient(user.name, user.email, user.role), on=day,
                overdue=tuple(item(d) for d in rows if d.status == "breached"),
                upcoming=tuple(item(d) for d in rows if d.status == "pending"),
            )
            if digest.is_empty:
                continue
            written += _add_row(uow, digest.unique_key, render_digest(digest), digest.message_id(mail_domain),
                                (digest.referent,), now, not_before=_start_of(day, DIGEST_ZONE), kind="digest",
                                send_on=day, roles=(user.role,))
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
    drainers at once: a row is claimed by one of them only. One message failing, for whatever reason, is
    recorded on its row and the batch goes on."""
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


def _stored_zone(row: OutboxRow) -> ZoneInfo | None:
    """The time zone whose calendar the row's `send_on` is a day of, when the row says: its seat's, Paris for a
    digest; None for a notice written before rows kept their parts (its case says)."""
    if row.notice:
        return territory.time_zone(json.loads(row.notice)["departement"])
    return DIGEST_ZONE if row.case_id is None else None


def _seat_zone(uow: UnitOfWork, case_id: int) -> ZoneInfo:
    """The time zone of a case's seat (inside the caller's unit of work)."""
    return territory.time_zone(uow.cases.get(case_id).seat_departement)


def _deliver(uow: UnitOfWork, sender: Sender, row: OutboxRow, now: datetime, from_address: str,
             max_attempts: int) -> str:
    """Send one claimed row and commit its outcome: `sent` right after the server's acceptance."""
    try:
        zone = _stored_zone(row)
        if zone is None:
            with uow:
                zone = _seat_zone(uow, row.case_id)
        not_before = _start_of(row.send_on, zone)
        if now < not_before:
            # Written before notices waited for their day (or by hand): back in the queue, no attempt counted.
            _record(uow, row.id, {"status": "pending", "claimed_at": None, "next_attempt_at": not_before})
            return "waiting"
        rendered = _rendered(row, now.astimezone(zone).date())
        recipients, left_out = usable_recipients(json.loads(row.recipients))
        if not recipients:
            raise ValueError("no recipient has a usable address: " + "; ".join(left_out or ["none listed"]))
        message = build_message(rendered, sender=from_address, recipients=recipients, message_id=row.message_id,
                                sent_at=now)
    except Exception as exc:  # noqa: BLE001 - whatever is stored, the drain records it and goes on
        # Built again it would fail again: dead at once, like a permanent refusal; correct the data (`cpts user
        # edit`, `cpts case assign`) and `cpts outbox retry ID`.
        return _failed(uow, row, now, f"cannot build the message: {exc}", permanent=True, max_attempts=max_attempts)
    try:
        sender(message)
    except DeliveryError as exc:
        return _failed(uow, row, now, str(exc), permanent=exc.permanent, max_attempts=max_attempts)
    except Exception as exc:  # noqa: BLE001 - an unexpected failure of the sender is retried like a 4xx
        return _failed(uow, row, now, f"{type(exc).__name__}: {exc}", permanent=False, max_attempts=max_attempts)
    note = "; ".join(left_out) if left_out else None
    _record(uow, row.id, {"status": "sent", "sent_at": now, "attempts": row.attempts + 1,
                          "last_error": clip(note, MAX_ERROR) if note else None, "subject": rendered.subject,
                          "text_body": rendered.text, "html_body": rendered.html})
    return "sent"


def _rendered(row: OutboxRow, today: date) -> RenderedEmail:
    """A notice rendered for `today` at its seat (its countdown true on the day it goes); a digest, or a row
    written before notices kept their parts, as stored."""
    if row.notice:
        return render_notice(_stored_notice(row.notice), sent_on=today)
    return RenderedEmail(row.subject, row.text_body, row.html_body)


def _failed(uow: UnitOfWork, row: OutboxRow, now: datetime, error: str, *, permanent: bool,
            max_attempts: int) -> str:
    attempts = row.attempts + 1
    status = "dead" if permanent or attempts >= max_attempts else "pending"
    delay = min(BACKOFF_BASE * (2 ** (attempts - 1)), BACKOFF_CAP)
    _record(uow, row.id, {"status": status, "attempts": attempts, "last_error": clip(error, MAX_ERROR),
                          "next_attempt_at": now + delay})
    return status


def _record(uow: UnitOfWork, row_id: int, values: dict[str, object]) -> None:
    with uow:
        uow.outbox.update(row_id, values)
        uow.commit()


def retry(uow: UnitOfWork, entry_id: int, now: datetime) -> OutboxRow:
    """Put a notification that is not sent back in the queue, now (or on its day, if that is still to come):
    a dead, unaddressed, pending or stuck `sending` one. A case's notice goes to the case's people as they
    are now (referents assigned or corrected since it was written)."""
    with uow:
        row = uow.outbox.get(entry_id)
        if row is None:
            raise UnknownOutboxEntry(f"no outbox entry {entry_id}: see `cpts outbox list`")
        if row.status == "sent":
            sent = f" on {row.sent_at:%Y-%m-%d %H:%M} UTC" if row.sent_at else ""
            raise UnknownOutboxEntry(f"outbox entry {entry_id} was sent{sent}; only entries not sent (pending, "
                                     "sending, dead, unaddressed) can be retried")
        values: dict[str, object] = {"status": "pending", "attempts": 0, "last_error": None, "claimed_at": None,
                                     "next_attempt_at": now}
        zone = _stored_zone(row) or _seat_zone(uow, row.case_id)
        values["next_attempt_at"] = max(now, _start_of(row.send_on, zone))
        if row.case_id is not None and row.kind != "digest":
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
