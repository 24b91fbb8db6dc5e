"""French e-mails from notices and digests (Jinja2 templates in `templates/emails/`), and MIME assembly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from lifecycle.calendar import french_date
from notifications.actions import action_for
from notifications.addresses import MAX_NAME, InvalidAddress, check_address, clip, display_name
from notifications.model import Digest, DigestItem, Notice, Recipient

# A subject is one header line a mail client shows whole: the CPTS name in it is cut shorter than in the body.
SUBJECT_NAME = 120
MAX_SUBJECT = 250

# Deadline statuses (SPEC §5) as the referents read them.
STATUS_FR = {
    "pending": "en cours",
    "breached": "dépassée",
    "met": "respectée",
    "met_late": "respectée hors délai",
    "cancelled": "annulée",
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The e-mail template environment; HTML templates (`*.html.j2`) are autoescaped."""
    env = Environment(
        loader=PackageLoader("templates", "emails"),
        # `select_autoescape(["html"])` alone would miss "reminder.html.j2": match the full suffix.
        autoescape=select_autoescape(["html", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["upper_first"] = lambda text: text[:1].upper() + text[1:]
    return env


def days_until(due: date, on: date) -> str:
    """'aujourd'hui', 'demain', 'dans 7 jours' (or how late, if `due` has passed)."""
    days = (due - on).days
    if days < 0:
        return "dépassée " + days_since(due, on)
    if days == 0:
        return "aujourd'hui"
    if days == 1:
        return "demain"
    return f"dans {days} jours"


def days_since(due: date, on: date) -> str:
    """How long a deadline due on `due` has been breached on `on`: 'depuis hier', 'depuis 3 jours'."""
    days = (on - due).days
    if days <= 0:
        # Not breached yet: the due day is still open (a breach notice sent early).
        return "à compter de demain" if days == 0 else "prochainement"
    if days == 1:
        return "depuis hier"
    return f"depuis {days} jours"


def render_notice(notice: Notice, *, sent_on: date | None = None) -> RenderedEmail:
    """Subject, plain text and HTML of a reminder or breach notice, its countdown as of `sent_on` (the day it is
    sent at the seat; `notice.on`, the day it was due to go, when omitted). A notice sent after that day says so.
    """
    on = sent_on or notice.on
    action = action_for(notice.deadline_key)
    due_fr = french_date(notice.due)
    text = action.before if notice.kind == "reminder" else action.after
    # Names are at most 200 characters when entered; a longer stored one must not make a megabyte e-mail.
    case_name = display_name(notice.case_name) or notice.case_id
    context = {
        "notice": notice,
        "case_name": case_name,
        "subject_name": clip(case_name, SUBJECT_NAME),
        "departement": notice.departement,
        "label": notice.deadline_label,
        "due_fr": due_fr,
        "on_fr": french_date(on),
        "days_left": (notice.due - on).days,
        "when": days_until(notice.due, on),
        "since": days_since(notice.due, on),
        "late_since_fr": french_date(notice.on) if on > notice.on else None,
        "action": text.format(due=due_fr),
        "explanation": notice.explanation,
        "status_url": notice.status_url,
        "reference": notice.unique_key,
        "to_confirm": notice.to_confirm,
    }
    return _render(notice.kind, context)


def render_digest(digest: Digest) -> RenderedEmail:
    """Subject, plain text and HTML of a referent's daily digest."""
    context = {
        "referent": digest.referent,
        "referent_name": display_name(digest.referent.name),
        "on_fr": french_date(digest.on),
        "overdue": [_digest_line(item, digest.on, overdue=True) for item in digest.overdue],
        "upcoming": [_digest_line(item, digest.on, overdue=False) for item in digest.upcoming],
    }
    return _render("digest", context)


def _digest_line(item: DigestItem, on: date, *, overdue: bool) -> dict[str, Any]:
    return {
        "case_name": display_name(item.case_name) or item.case_id,
        "label": item.label,
        "due_fr": french_date(item.due),
        "relative": days_since(item.due, on) if overdue else days_until(item.due, on),
        "status_fr": STATUS_FR.get(item.status, item.status),
        "status_url": item.status_url,
    }


def _render(name: str, context: dict[str, Any]) -> RenderedEmail:
    env = environment()
    # A subject is one header line whatever the data holds (no header injection through a CPTS name).
    subject = clip(" ".join(env.get_template(f"{name}.subject.j2").render(context).split()), MAX_SUBJECT)
    text = env.get_template(f"{name}.txt.j2").render(context)
    html = env.get_template(f"{name}.html.j2").render({**context, "subject": subject})
    return RenderedEmail(subject=subject, text=text, html=html)


class UnbuildableMessage(ValueError):
    """A message that cannot be built from what is stored (no usable recipient, a malformed header)."""


def usable_recipients(recipients: Iterable[Recipient | dict[str, str]]) -> tuple[list[Recipient], list[str]]:
    """The recipients a message can be addressed to, display names made safe for a header; and one line per
    recipient left out, saying why ("'évé@exämple.fr' (cpam) left out: …")."""
    usable: list[Recipient] = []
    problems: list[str] = []
    for recipient in recipients:
        if isinstance(recipient, Recipient):
            name, email, role = recipient.name, recipient.email, recipient.role
        else:
            name, email, role = recipient.get("name", ""), recipient.get("email", ""), recipient.get("role", "")
        shown = clip(str(email), 80)
        try:
            address = check_address(str(email or ""))
            usable.append(Recipient(display_name(str(name or "")), address, str(role)))
        except (InvalidAddress, ValueError) as error:
            problems.append(f"{shown!r} ({role or 'no role'}) left out: {error}")
    return usable, problems


def build_message(
    rendered: RenderedEmail,
    *,
    sender: str,
    recipients: Iterable[Recipient | str],
    message_id: str,
    sent_at: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative UTF-8 message (text then HTML) with the given Message-ID.

    `sent_at` (timezone-aware) fills the Date header; the current time when omitted. Every address is checked
    again here and display names are made safe (one line, at most 200 characters): an unusable one raises
    UnbuildableMessage (see `usable_recipients` to leave such recipients out instead).
    """
    if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id):
        raise ValueError(f"malformed Message-ID {message_id!r}: expected <unique-part@domain>")
    addresses = [_address(r) for r in recipients]
    if not addresses:
        raise UnbuildableMessage("a message needs at least one recipient")
    sent_at = sent_at or datetime.now(UTC)
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware (the Date header carries the UTC offset)")

    message = EmailMessage()
    message["Subject"] = clip(" ".join(rendered.subject.split()), MAX_SUBJECT)
    message["From"] = sender
    message["To"] = ", ".join(addresses)
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = message_id
    # RFC 3834: an automatic message; well-behaved servers send no auto-replies back to it.
    message["Auto-Submitted"] = "auto-generated"
    # quoted-printable keeps the message 7-bit clean for any relay, with readable French source.
    message.set_content(rendered.text, charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    message["Content-Language"] = "fr"
    return message


def _address(recipient: Recipient | str) -> str:
    name, email = (recipient.name, recipient.email) if isinstance(recipient, Recipient) else ("", recipient)
    try:
        address = check_address(email)
    except InvalidAddress as error:
        raise UnbuildableMessage(f"recipient {clip(email, 80)!r}: {error}") from None
    # Address quotes a display name that needs it ("Dupont, Anne").
    return str(Address(display_name=display_name(name, MAX_NAME), addr_spec=address))
