"""Errors of the persistence layer a user can act on (each a DomainError: one line, exit 2 at the CLI)."""

from __future__ import annotations

from lifecycle.errors import DomainError


class DatabaseNotReady(DomainError):
    """The database has no schema, or an older one."""


class UnknownCase(DomainError):
    def __init__(self, case_id: object) -> None:
        super().__init__(f"unknown case {case_id!r}: see `cpts case list` for the existing cases")


class ConcurrentModification(DomainError):
    """Someone else changed the case between our read and our write; retry or report."""


class UnknownOutboxEntry(DomainError):
    """No such outbox entry, or one that cannot be retried."""


class DuplicateKey(Exception):  # noqa: N818 - named for what it is, like the constraint that raised it
    """A unique key refused a row (another writer got there first). Not a user error by itself: the use case
    that knows what the key means turns it into one."""


class ReadAgain(Exception):  # noqa: N818 - a condition, caught by the use case, never shown to a user
    """A write that started from the case as the checkpoint cache kept it cannot go on from there: the stored row
    changed since (another process wrote, a rekey, an edit behind the engine's back), or the event needs the whole
    journal. Nothing was written: read the case and decide again."""


class TamperedJournal(DomainError):
    """The case's journal does not end where its recorded head says (rows removed, head edited) or its chain
    fails: nothing is appended to it until an administrator has looked (`cpts case verify`)."""


class ClockRefused(DomainError):
    """A date given as "today" for a write that lies after the real date: only simulations run ahead."""


class JournalKeyError(DomainError):
    """A journal key from the settings that cannot be used (too short)."""


class DatabaseUnavailable(DomainError):
    """The database URL cannot be used: malformed, of an unknown kind, its driver not installed, or an SQLite file
    that cannot be opened."""
