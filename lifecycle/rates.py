"""Rates (the advance rate, an attainment rate r) as text: exact in explanations, rounded for display."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

_DISPLAY_QUANTUM = Decimal("0.0001")  # display precision of a rate, not a rule of the accord


def rate_text(value: Fraction) -> str:
    """The exact rate: '0.75', '0.8'; a rate with no finite decimal form as 'a/b' (payment explanations)."""
    denominator = value.denominator
    for factor in (2, 5):
        while denominator % factor == 0:
            denominator //= factor
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    return f"{Decimal(value.numerator) / Decimal(value.denominator):f}"


def rate_4dp(value: Fraction) -> str:
    """The rate rounded to 4 decimals for display: '0.6000', '0.3333' (case views, indicator tracking)."""
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(_DISPLAY_QUANTUM))
