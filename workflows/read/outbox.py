"""Read model of the outbox: notifications waiting, sent or dead, with their delivery status."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import select

from lifecycle.errors import DomainError
from workflows.persistence.tables import OutboxRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.outbox import STATUSES


@dataclass(frozen=True)
class OutboxEntry:
    """A notification as `cpts outbox list` shows it (recipients by address)."""

    id: int
    status: str
    kind: str
    case: int | None
    deadline: str | None
    due: date | None
    offset_days: int | None
    send_on: date
    roles: tuple[str, ...]
    recipients: tuple[str, ...]
    subject: str
    message_id: str
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    sent_at: datetime | None

    @classmethod
    def of(cls, row: OutboxRow) -> OutboxEntry:
        return cls(row.id, row.status, row.kind, row.case_id, row.deadline_key, row.due, row.offset_days,
                   row.send_on, tuple(json.loads(row.roles)), tuple(r["email"] for r in json.loads(row.recipients)),
                   row.subject, row.message_id, row.attempts, row.next_attempt_at, row.last_error, row.sent_at)

    def as_dict(self) -> dict[str, Any]:
        def stamp(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id, "status": self.status, "kind": self.kind, "case": self.case, "deadline": self.deadline,
            "due": self.due.isoformat() if self.due else None, "offset_days": self.offset_days,
            "send_on": self.send_on.isoformat(), "roles": list(self.roles), "recipients": list(self.recipients),
            "subject": self.subject, "message_id": self.message_id, "attempts": self.attempts,
            "next_attempt_at": stamp(self.next_attempt_at), "last_error": self.last_error,
            "sent_at": stamp(self.sent_at),
        }


def outbox_entries(uow: SqlUnitOfWork, *, status: str | None = None, limit: int | None = None) -> list[OutboxEntry]:
    """Notifications in the outbox, oldest first."""
    if status is not None and status not in STATUSES:
        raise DomainError(f"unknown outbox status {status!r}: expected one of {', '.join(STATUSES)}")
    query = select(OutboxRow).order_by(OutboxRow.id)
    if status is not None:
        query = query.where(OutboxRow.status == status)
    if limit is not None:
        query = query.limit(limit)
    with uow:
        return [OutboxEntry.of(r) for r in uow.session.exec(query)]
