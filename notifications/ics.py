"""ICS export (RFC 5545) of pending deadlines: an all-day VEVENT per deadline, alarms at the reminder offsets.

The UID is derived from (case, deadline instance), so importing a newer export updates the events
instead of duplicating them; pass a higher `sequence` when a deadline's due date has moved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from icalendar import Alarm, Calendar, Event

from lifecycle.calendar import french_date

PRODID = "-//cpts-lifecycle//Echeances CPTS//FR"
UID_DOMAIN = "cpts-lifecycle"


@dataclass(frozen=True)
class CalendarItem:
    """A pending deadline as a calendar entry; `offsets` are the reminder offsets in days before `due`."""

    case_id: str
    case_name: str
    anchor_key: str
    label: str
    due: date
    explanation: str
    offsets: tuple[int, ...]
    sequence: int = 0
    url: str | None = None
    to_confirm: str | None = None  # the source of an unverified ruleset row the date comes from (ACI avenant 2)

    @property
    def uid(self) -> str:
        """Stable across exports: the same deadline instance always gets the same UID."""
        digest = hashlib.sha256(f"{self.case_id}|{self.anchor_key}".encode()).hexdigest()
        return f"{digest[:32]}@{UID_DOMAIN}"


def export_calendar(items: Iterable[CalendarItem], *, stamp: datetime, name: str = "Échéances CPTS") -> bytes:
    """An iCalendar file of `items`; `stamp` (timezone-aware) is written as DTSTAMP and LAST-MODIFIED."""
    if stamp.tzinfo is None:
        raise ValueError("stamp must be timezone-aware: DTSTAMP is a UTC date-time (RFC 5545 §3.8.7.2)")
    stamp = stamp.astimezone(UTC)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    # Sorted so that the same deadlines give the same bytes whatever order they come in.
    for item in sorted(items, key=lambda i: (i.due, i.uid)):
        calendar.add_component(_event(item, stamp))
    return calendar.to_ical()


def _event(item: CalendarItem, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("dtstamp", stamp)
    event.add("last-modified", stamp)
    event.add("sequence", item.sequence)
    # An all-day event: DTEND is exclusive, the day after the due date (RFC 5545 §3.6.1).
    event.add("dtstart", item.due)
    event.add("dtend", item.due + timedelta(days=1))
    event.add("summary", f"{item.case_name} — {item.label}")
    description = f"Échéance : {french_date(item.due)}.\n{item.explanation}"
    if item.to_confirm:
        description += (f"\nDate à confirmer : elle est calculée d'après une valeur non encore vérifiée contre le "
                        f"texte signé (source : {item.to_confirm}).")
    if item.url:
        description += f"\n{item.url}"
        event.add("url", item.url)
    event.add("description", description)
    event.add("status", "CONFIRMED")
    # A deadline does not make anyone busy that day.
    event.add("transp", "TRANSPARENT")
    for days in sorted(set(item.offsets), reverse=True):
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", timedelta(days=-days))
        alarm.add("description", f"{item.case_name} — {item.label} : échéance {_in_days(days)}")
        event.add_component(alarm)
    return event


def _in_days(days: int) -> str:
    if days == 0:
        return "aujourd'hui"
    return "demain" if days == 1 else f"dans {days} jours"
