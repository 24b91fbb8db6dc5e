"""The legal calendar: periods in days or months, roll-over over non-working days (SPEC §6).

Pure functions of dates and the CPTS's seat département; nothing here reads the clock.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from lifecycle.errors import CalendarError


class DeadlineKind(StrEnum):
    """How a period's end is treated (SPEC §5): only procedural deadlines roll over."""

    PROCEDURAL = "procedural"
    EFFECT = "effect"
    CONTRACTUAL = "contractual"
    SERVICE = "service"


# SPEC §6: the seat's local time zone decides which calendar day "today" is.
_OVERSEAS_TIME_ZONES = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "976": "Indian/Mayotte",
}
# Subdivisions of the `holidays` package that add days to the national list.
_HOLIDAY_SUBDIVISIONS = {
    "57": "57",  # Moselle: Good Friday, 26 December
    "67": "6AE",  # Bas-Rhin (Alsace)
    "68": "6AE",  # Haut-Rhin (Alsace)
    **{code: code for code in _OVERSEAS_TIME_ZONES},
}
_WEEKDAYS_FR = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS_FR = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


def normalise_departement(code: str) -> str:
    """Return the département code as INSEE writes it ('1' → '01', '2a' → '2A'); reject anything else."""
    text = str(code).strip().upper()
    if text.isdigit() and len(text) == 1:
        text = "0" + text
    valid = (
        (len(text) == 2 and text.isdigit() and text not in {"00", "20", "96", "97", "98", "99"})
        or text in {"2A", "2B"}
        or text in _OVERSEAS_TIME_ZONES
    )
    if not valid:
        raise CalendarError(
            f"unknown département {code!r}: expected an INSEE code such as 01, 2A, 57, 95 or 971–976"
        )
    return text


def time_zone(departement: str) -> ZoneInfo:
    """Local time zone of a département (SPEC §6)."""
    return ZoneInfo(_OVERSEAS_TIME_ZONES.get(normalise_departement(departement), "Europe/Paris"))


def holiday_subdivision(departement: str) -> str | None:
    """The `holidays` subdivision whose extra days apply to this département, if any."""
    return _HOLIDAY_SUBDIVISIONS.get(normalise_departement(departement))


# The legal calendar counts within these dates: two centuries around the business dates (2016-01-26 to
# 2100-12-31, lifecycle.events), so every period counted from one of them fits, and a period of thousands of
# years (a typing slip) is refused with this range rather than overflowing.
FIRST_CALENDAR_DATE = date(1900, 1, 1)
LAST_CALENDAR_DATE = date(2199, 12, 31)
CALENDAR_RANGE = f"from {FIRST_CALENDAR_DATE.isoformat()} to {LAST_CALENDAR_DATE.isoformat()}"


def add_months(anchor: date, months: int) -> date:
    """Same day number `months` later (or earlier); the month's last day when it has no such day.

    CPC art. 641: 31 August + 6 months = 28 (or 29) February. CalendarError past the years a date can have.
    """
    index = anchor.year * 12 + (anchor.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if not 1 <= year <= 9999:
        raise CalendarError(f"{anchor.isoformat()} {'+' if months >= 0 else '−'} {abs(months)} months falls in "
                            f"year {year}, beyond the years a date can have (1 to 9999)")
    day = anchor.day
    if day > 28:  # only then can the month lack the day (monthrange also computes a weekday: slower)
        day = min(day, _stdlib_calendar.mdays[month] + (month == 2 and _stdlib_calendar.isleap(year)))
    return date(year, month, day)


def contract_anniversary(signed: date, year: int) -> date:
    """Anniversary `year` of a contract signed on `signed` (year 0 is the signature itself).

    SPEC §6: signature + 12·year months, the month's last day when it has no such day (CPC art. 641).
    """
    return add_months(signed, 12 * year)


def french_date(day: date) -> str:
    """'lundi 12 mai 2025', 'jeudi 1er mai 2025'."""
    number = "1er" if day.day == 1 else str(day.day)
    return f"{_WEEKDAYS_FR[day.weekday()]} {number} {_MONTHS_FR[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class Period:
    """A legal period: N days or N months (never both)."""

    days: int = 0
    months: int = 0

    def __post_init__(self) -> None:
        if self.days and self.months:
            raise CalendarError("a period is counted in days or in months, not both")
        if self.days < 0 or self.months < 0:
            raise CalendarError("a period cannot be negative; use before=True for a backward period")

    def describe(self) -> str:
        if self.months:
            return f"{self.months} month" + ("s" if self.months != 1 else "")
        return f"{self.days} day" + ("s" if self.days != 1 else "")


@dataclass(frozen=True)
class RollStep:
    """One day skipped by the roll-over, and why (weekend or the holiday's name)."""

    day: date
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"date": self.day.isoformat(), "reason": self.reason}


@dataclass(frozen=True)
class DateExplanation:
    """Why a computed date is that date: anchor, rule, raw date, roll-over steps, source article."""

    anchor: date
    period: Period
    before: bool
    kind: DeadlineKind
    departement: str
    raw: date
    due: date
    steps: tuple[RollStep, ...] = field(default_factory=tuple)
    franc: bool = False
    source: str = ""
    anchor_label: str = ""

    @property
    def rule(self) -> str:
        direction = "before" if self.before else "after"
        rule = f"{self.period.describe()} {direction} {self.anchor_label or 'the anchor'}"
        if self.period.months:
            rule += " (same day number, last day of the month if it has none; CPC art. 641)"
        elif not self.before:
            rule += " (anchor day not counted; CPC art. 640-641)"
        if self.franc:
            rule += ", délai franc (last day not counted either)"
        return rule

    def text(self) -> str:
        """One paragraph a legal officer can read."""
        anchor = f"{self.anchor_label + ' on ' if self.anchor_label else 'anchor '}{self.anchor.isoformat()}"
        parts = [f"{anchor}; {self.rule} → {self.raw.isoformat()} ({french_date(self.raw)})"]
        if self.steps:
            skipped = ", ".join(f"{s.day.isoformat()} {s.reason}" for s in self.steps)
            way = "previous" if self.before else "next"
            parts.append(f"rolled to the {way} working day over {skipped} (CPC art. 642)")
        elif self.kind is DeadlineKind.PROCEDURAL:
            parts.append("a working day, no roll-over")
        else:
            parts.append(f"{self.kind.value} date: no roll-over")
        parts.append(f"due {self.due.isoformat()} ({french_date(self.due)})")
        if self.source:
            parts.append(f"source: {self.source}")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, object]:
        return {
            "anchor": self.anchor.isoformat(),
            "anchor_label": self.anchor_label,
            "rule": self.rule,
            "kind": self.kind.value,
            "departement": self.departement,
            "raw": self.raw.isoformat(),
            "due": self.due.isoformat(),
            "steps": [s.as_dict() for s in self.steps],
            "franc": self.franc,
            "source": self.source,
            "explanation": self.text(),
        }


class LegalCalendar:
    """Working days and period arithmetic for one CPTS seat département."""

    def __init__(self, departement: str) -> None:
        self.departement = normalise_departement(departement)
        self.subdivision = holiday_subdivision(self.departement)
        self.time_zone = time_zone(self.departement)

    def holiday_name(self, day: date) -> str | None:
        """French name of the public holiday on `day` at the seat, or None."""
        return _holiday_table(self.subdivision, day.year).get(day)

    def non_working_reason(self, day: date) -> str | None:
        """Why `day` is not a working day (Saturday, Sunday or the holiday's name), or None."""
        name = self.holiday_name(day)
        if name:
            return f"{_WEEKDAYS_FR[day.weekday()]}, {name}"
        if day.weekday() >= 5:
            return _WEEKDAYS_FR[day.weekday()]
        return None

    def is_working_day(self, day: date) -> bool:
        return self.non_working_reason(day) is None

    def roll(self, day: date, *, backward: bool = False) -> tuple[date, tuple[RollStep, ...]]:
        """Move a non-working day to the next (or previous) working day (CPC art. 642)."""
        steps: list[RollStep] = []
        step = timedelta(days=-1 if backward else 1)
        while (reason := self.non_working_reason(day)) is not None:
            steps.append(RollStep(day, reason))
            day += step
        return day, tuple(steps)

    def add(
        self,
        anchor: date,
        period: Period,
        *,
        kind: DeadlineKind | str,
        before: bool = False,
        franc: bool = False,
        source: str = "",
        anchor_label: str = "",
    ) -> DateExplanation:
        """The due date `period` after (or before) `anchor`, with its explanation (SPEC §6)."""
        kind = DeadlineKind(kind)
        sign = -1 if before else 1
        _check_in_range(anchor, "anchor")
        # CPC art. 641: months keep the day number (clamped); days do not count the anchor day.
        raw: date | None = None
        if period.months:
            with suppress(CalendarError):
                raw = add_months(anchor, sign * period.months)
        elif 1 <= anchor.toordinal() + sign * period.days <= date.max.toordinal():
            raw = anchor + timedelta(days=sign * period.days)
        if raw is None or not FIRST_CALENDAR_DATE <= raw <= LAST_CALENDAR_DATE:
            direction = "before" if before else "after"
            raise CalendarError(f"{period.describe()} {direction} {anchor.isoformat()} falls outside the legal "
                                f"calendar, which counts {CALENDAR_RANGE}: give a shorter period")
        due, steps = raw, ()
        if franc and not before:
            # Délai franc: the last day does not count either, so the act may still be done the next day.
            due = raw + timedelta(days=1)
        if kind is DeadlineKind.PROCEDURAL:
            due, steps = self.roll(due, backward=before)
        return DateExplanation(
            anchor=anchor,
            period=period,
            before=before,
            kind=kind,
            departement=self.departement,
            raw=raw,
            due=due,
            steps=steps,
            franc=franc,
            source=source,
            anchor_label=anchor_label,
        )

    def fixed(self, day: date, *, kind: DeadlineKind | str, source: str = "", anchor_label: str = "") -> (
        DateExplanation
    ):
        """A date that is its own anchor (period 0), e.g. a contract anniversary."""
        return self.add(day, Period(), kind=kind, source=source, anchor_label=anchor_label)


def _check_in_range(day: date, what: str) -> None:
    if not FIRST_CALENDAR_DATE <= day <= LAST_CALENDAR_DATE:
        raise CalendarError(f"{what} {day.isoformat()} is outside the legal calendar, which counts {CALENDAR_RANGE}")


@lru_cache(maxsize=512)
def _holiday_table(subdivision: str | None, year: int) -> dict[date, str]:
    table = holidays.France(subdiv=subdivision, years=year, language="fr")
    return dict(table.items())
