"""Values that flow into rendering and delivery: recipients, notices (reminder/breach) and daily digests.

Plain frozen dataclasses; the engine builds them from its deadline rows and passes them in (SPEC §10).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

ROLES = ("ars", "cpam", "cpts", "legal")
NOTICE_KINDS = ("reminder", "breach")


def _message_id(unique_key: str, domain: str) -> str:
    """RFC 5322 msg-id `<hex@domain>` derived from `unique_key`: a resend carries the same Message-ID."""
    domain = domain.strip()
    if not domain or any(c in domain for c in "<>@ \t\r\n"):
        raise ValueError(f"unusable Message-ID domain {domain!r}: expected a host name such as ars.sante.fr")
    digest = hashlib.sha256(unique_key.encode("utf-8")).hexdigest()
    return f"<{digest}@{domain}>"


@dataclass(frozen=True)
class Recipient:
    """Someone a notification goes to; `role` is one of ars, cpam, cpts, legal.

    The address is checked when a message is built (`notifications.render.usable_recipients`), where an unusable
    one is left out and noted, rather than here, where it would stop whoever is listing the recipients.
    """

    name: str
    email: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown recipient role {self.role!r}: expected one of {', '.join(ROLES)}")


@dataclass(frozen=True)
class Notice:
    """One reminder (`offset_days` before `due`) or breach notice (`offset_days` after) for one deadline."""

    case_id: str
    case_name: str
    departement: str
    deadline_key: str
    deadline_label: str
    due: date
    explanation: str
    kind: str
    offset_days: int
    on: date
    anchor_key: str
    recipients: tuple[Recipient, ...]
    status_url: str | None = None
    # The source of the ruleset row the due date was computed from, when that row was not checked against the
    # signed text (ACI avenant 2): the e-mail then says "Date à confirmer : …". None: a certain date.
    to_confirm: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in NOTICE_KINDS:
            raise ValueError(f"unknown notice kind {self.kind!r}: expected reminder or breach")

    @property
    def unique_key(self) -> str:
        """Identity of the notification in the outbox: (case, deadline instance, due date, kind, offset)."""
        return f"{self.case_id}|{self.anchor_key}|{self.due.isoformat()}|{self.kind}|{self.offset_days}"

    def message_id(self, domain: str) -> str:
        """Deterministic Message-ID, so a resend after a crash is recognisable as the same message."""
        return _message_id(self.unique_key, domain)


@dataclass(frozen=True)
class DigestItem:
    """One line of a referent's daily digest; `status` is the deadline's (pending, breached, …)."""

    case_id: str
    case_name: str
    deadline_key: str
    label: str
    due: date
    status: str
    status_url: str | None = None


@dataclass(frozen=True)
class Digest:
    """A referent's daily summary: their overdue deadlines and those coming up."""

    referent: Recipient
    on: date
    overdue: tuple[DigestItem, ...] = field(default_factory=tuple)
    upcoming: tuple[DigestItem, ...] = field(default_factory=tuple)

    @property
    def unique_key(self) -> str:
        """One digest per referent and day."""
        return f"digest|{self.referent.email.lower()}|{self.on.isoformat()}"

    @property
    def is_empty(self) -> bool:
        return not self.overdue and not self.upcoming

    def message_id(self, domain: str) -> str:
        return _message_id(self.unique_key, domain)
