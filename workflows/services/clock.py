"""Wall-clock and local dates: the only place the application reads the time (the core takes `today`)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from lifecycle import territory
from workflows.persistence.tables import Case


def utc_now() -> datetime:
    return datetime.now(UTC)


def local_today(case: Case, now: datetime) -> date:
    """Today at the CPTS's seat (SPEC §6: deadlines are evaluated in local time)."""
    return local_date(case, now)


def local_date(case: Case, instant: datetime) -> date:
    """The date at the CPTS's seat at `instant` (a naive instant, as SQLite returns them, is in UTC)."""
    aware = instant if instant.tzinfo else instant.replace(tzinfo=UTC)
    return aware.astimezone(territory.time_zone(case.seat_departement)).date()


def latest_local_date(now: datetime) -> date:
    """The latest calendar date any seat is living at `now` (Réunion and Mayotte are ahead of Paris)."""
    return max(now.astimezone(zone).date() for zone in territory.seat_time_zones())


def has_begun(day: date, now: datetime) -> bool:
    """Whether `day` has begun at some seat at `now` (`day` ≤ `latest_local_date(now)`), looking at the seats'
    zones only until one says so."""
    return any(day <= now.astimezone(zone).date() for zone in territory.seat_time_zones())
