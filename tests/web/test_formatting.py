"""French dates and amounts as the pages write them (`dashboard.formatting`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dashboard.formatting import euros, long_date


def _plain(text: str) -> str:
    """Babel's narrow no-break and no-break spaces as ordinary spaces: what a reader sees."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_the_first_of_the_month_is_written_as_an_ordinal():
    assert long_date(date(2025, 5, 1)) == "jeudi 1er mai 2025"


def test_another_day_of_the_month_is_written_as_a_number():
    assert long_date(date(2025, 4, 22)) == "mardi 22 avril 2025"


def test_an_amount_in_euros_has_a_comma_spaces_between_thousands_and_the_sign_after_it():
    assert _plain(euros(Decimal("9727.74"))) == "9 727,74 €"
