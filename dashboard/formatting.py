"""French dates, amounts and counts for the pages, with Babel (never formatted by hand).

`long_date(date(2025, 4, 22))` → "mardi 22 avril 2025"; `euros(Decimal("9727.74"))` → "9 727,74 €" (Babel's
French group separator is a narrow no-break space, and a no-break space comes before the sign).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent

LOCALE = "fr_FR"
# A page formats the same dates and amounts many times (a case page: ~300 amounts, ~300 dates) and Babel takes
# ~0.1 ms a call: the pure formatters are memoised. Equal keys format alike (Decimal("1.5") and Decimal("1.50")
# give the same "1,50 €"), so sharing an entry between them is safe.
_MEMO = 8192


@lru_cache(maxsize=_MEMO)
def long_date(day: date | None) -> str:
    """"mardi 22 avril 2025", "jeudi 1er mai 2025" (French writes the first of the month as an ordinal, which
    Babel does not); "" for None."""
    if day is None:
        return ""
    return format_date(day, "EEEE '1er' MMMM y" if day.day == 1 else "EEEE d MMMM y", locale=LOCALE)


@lru_cache(maxsize=_MEMO)
def short_date(day: date | None) -> str:
    """"22/04/2025"; "" for None."""
    return format_date(day, "dd/MM/y", locale=LOCALE) if day is not None else ""


def date_time(moment: datetime | None, zone: str = "Europe/Paris") -> str:
    """"22 avr. 2025, 09:30" in Paris time; "" for None."""
    if moment is None:
        return ""
    from zoneinfo import ZoneInfo

    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment, "d MMM y, HH:mm", tzinfo=ZoneInfo(zone), locale=LOCALE)


@lru_cache(maxsize=_MEMO)
def euros(amount: Decimal | int | str | None) -> str:
    """"9 727,74 €"; "—" for None (an amount not known yet, e.g. a variable part awaiting its assessment)."""
    if amount is None:
        return "—"
    return format_currency(Decimal(amount), "EUR", locale=LOCALE)


@lru_cache(maxsize=_MEMO)
def number(value: int | Decimal | None) -> str:
    """"24 310"; "—" for None."""
    return format_decimal(value, locale=LOCALE) if value is not None else "—"


def percent(ratio: Decimal | float | None, digits: int = 1) -> str:
    """A ratio as a French percentage: 0.875 → "87,5 %"; "—" for None."""
    if ratio is None:
        return "—"
    return format_percent(ratio, format="#,##0." + "#" * digits + " %", locale=LOCALE)


def days_left(days: int) -> str:
    """"dans 3 jours", "demain", "aujourd'hui", "hier", "en retard de 12 jours"."""
    if days == 0:
        return "aujourd'hui"
    if days == 1:
        return "demain"
    if days == -1:
        return "hier (en retard d'un jour)"
    if days > 0:
        return f"dans {number(days)} jours"
    return f"en retard de {number(-days)} jours"
