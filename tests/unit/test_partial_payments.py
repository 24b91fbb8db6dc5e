"""Recorded payments against the échéancier (SPEC §7; ACI art. 9, 11.3): a payment settles what its line still
owes, in one or more instalments, never more; the échéancier says per line what was paid and what remains.

The contract below is SPEC §7's worked example (seat 01, size 2, signed 2024-03-15, access started
2024-06-03): fonctionnement 60 000.00 at signature, access advance 17 275.68 on 2024-06-03.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from spec_example import SIGNED_2024_03_15

from lifecycle.errors import EventRejected
from lifecycle.events import JournalEntry, validate_data
from lifecycle.payments import PaymentLine
from lifecycle.projection import Projection, project
from lifecycle.ruleset import load_ruleset

RULES = load_ruleset()
D = date.fromisoformat


def paid(at: str, component: str, year: int, amount: str) -> tuple[str, str, dict]:
    return at, "payment_recorded", {"component": component, "year": year, "amount": amount}


def replay(*facts: tuple[str, str, dict], today: str = "2024-07-01") -> Projection:
    entries = [JournalEntry(seq, kind, D(at), validate_data(kind, data, allow_system=True))
               for seq, (at, kind, data) in enumerate([*SIGNED_2024_03_15, *facts], start=1)]
    return project(entries, RULES, D(today), departement="01", population=50_000)


def line(projection: Projection, component: str, year: int) -> PaymentLine:
    assert projection.payments is not None
    found = [x for x in projection.payments.lines if (x.component, x.year) == (component, year)]
    assert len(found) == 1, found
    return found[0]


def refusals(projection: Projection) -> list[str]:
    return [r.error for r in projection.rejected]


def test_a_line_paid_in_two_instalments_is_partially_paid_then_paid():
    first = replay(paid("2024-03-20", "fonctionnement.advance", 1, "45000.00"))
    advance = line(first, "fonctionnement.advance", 1)
    assert (advance.status, advance.paid, advance.remaining) == ("partially_paid", Decimal("45000.00"),
                                                                 Decimal("15000.00"))

    both = replay(paid("2024-03-20", "fonctionnement.advance", 1, "45000.00"),
                  paid("2024-04-19", "fonctionnement.advance", 1, "15000.00"))
    advance = line(both, "fonctionnement.advance", 1)
    assert (advance.status, advance.paid, advance.remaining) == ("paid", Decimal("60000.00"), Decimal("0.00"))


def test_the_echeancier_line_shows_what_was_paid_and_what_remains():
    projection = replay(paid("2024-06-10", "access.fixed.advance", 1, "10000.00"))

    shown = line(projection, "access.fixed.advance", 1).as_dict()
    assert (shown["amount"], shown["status"], shown["paid"], shown["remaining"]) == (
        "17275.68", "partially_paid", "10000.00", "7275.68")


def test_a_payment_over_what_the_line_still_owes_is_refused_and_changes_nothing():
    projection = replay(paid("2024-03-20", "fonctionnement.advance", 1, "45000.00"),
                        paid("2024-04-19", "fonctionnement.advance", 1, "15000.01"))

    assert refusals(projection) == [
        "payment_recorded rejected in state contracted: 15000.01 € is more than the 15000.00 € still owed on "
        "fonctionnement.advance of year 1; record at most 15000.00 €"]
    assert line(projection, "fonctionnement.advance", 1).paid == Decimal("45000.00")


def test_a_line_paid_in_full_takes_no_further_payment():
    projection = replay(paid("2024-03-20", "fonctionnement.advance", 1, "60000.00"),
                        paid("2024-03-21", "fonctionnement.advance", 1, "0.01"))

    assert refusals(projection) == [
        "payment_recorded rejected in state contracted: nothing more is owed on fonctionnement.advance of year 1 "
        "(paid in full)"]


def test_a_line_not_yet_due_may_be_paid_early_but_not_beyond_its_amount():
    projection = replay(paid("2024-06-10", "fonctionnement.advance", 2, "45000.00"),
                        paid("2024-06-10", "access.fixed.advance", 2, "1000000.00"))

    assert line(projection, "fonctionnement.advance", 2).status == "paid"  # due 2025-03-15
    assert refusals(projection) == [
        "payment_recorded rejected in state contracted: 1000000.00 € is more than the 22125.00 € still owed on "
        "access.fixed.advance of year 2; record at most 22125.00 €"]


def test_a_variable_part_awaiting_its_assessment_cannot_be_paid_yet():
    projection = replay(paid("2024-06-10", "access.variable", 1, "100.00"))

    assert refusals(projection) == [
        "payment_recorded rejected in state contracted: access.variable of year 1 awaits its year's assessment "
        "(record indicators_reported first): its amount is not known yet"]


def test_a_payment_of_a_line_the_contract_does_not_have_is_refused():
    projection = replay(paid("2024-06-10", "quality.fixed.advance", 1, "100.00"))

    assert refusals(projection) == [
        "payment_recorded rejected in state contracted: the échéancier has no quality.fixed.advance of year 1: "
        "check the component and the contract year"]


@pytest.mark.parametrize(("amount", "expected"), [
    ("99999999999999999999999.99", "with at most 2 decimals and at most 999 999 999 999.99"),
    ("0.00", "a payment is an amount > 0"),
    ("-5.00", "a payment is an amount > 0"),
    ("10.001", "with at most 2 decimals"),
    ("NaN", "expected an amount in euros"),
    (True, "expected an amount in euros"),
])
def test_a_payment_amount_is_more_than_0_with_at_most_2_decimals(amount, expected):
    with pytest.raises(EventRejected, match=expected):
        validate_data("payment_recorded", {"component": "fonctionnement.advance", "year": 1, "amount": amount})


def test_amounts_stay_exact_decimals():
    data = validate_data("payment_recorded", {"component": "fonctionnement.advance", "year": 1, "amount": 0.1})
    projection = replay(*[paid("2024-03-20", "fonctionnement.advance", 1, "0.10")] * 3)

    assert data["amount"] == "0.10"
    assert line(projection, "fonctionnement.advance", 1).paid == Decimal("0.30")


# --- the refund of a termination (ACI art. 11.3; SPEC §7's worked example: 9 727.74 by 2026-01-20) -------

WORKED_EXAMPLE_TO_TERMINATION = [
    ("2024-09-02", "mission_started", {"mission": "quality"}),
    ("2025-01-06", "mission_started", {"mission": "parcours"}),
    ("2025-03-15", "mission_started", {"mission": "prevention"}),
    ("2025-05-01", "indicators_reported",
     {"year": 1, "missions": {"access": {"attainment": 0.8}, "quality": {"attainment": 1},
                              "parcours": {"attainment": 0.5}}}),
    ("2025-09-20", "termination_notice_received", {"initiator": "cpts"}),
]


def test_the_refund_is_received_in_two_instalments():
    projection = _terminated(("2026-01-05", "refund_received", {"amount": "9000.00"}),
                             ("2026-01-12", "refund_received", {"amount": "727.75"}),
                             ("2026-01-19", "refund_received", {"amount": "727.74"}))

    refund = line(projection, "refund", 2)
    assert (refund.amount, refund.paid, refund.status) == (Decimal("9727.74"), Decimal("9727.74"), "paid")
    assert refusals(projection) == [
        "refund_received rejected in state terminated: 727.75 € is more than the 727.74 € still owed on the "
        "refund; record at most 727.74 €"]


def test_a_refund_received_without_an_amount_settles_what_remains():
    projection = _terminated(("2026-01-05", "refund_received", {"amount": "9000.00"}),
                             ("2026-01-12", "refund_received", {}))

    assert line(projection, "refund", 2).status == "paid"
    assert line(projection, "refund", 2).paid == Decimal("9727.74")


def test_a_line_cancelled_by_the_termination_takes_no_payment():
    projection = _terminated(paid("2025-11-21", "access.fixed.advance", 3, "100.00"))

    assert refusals(projection)[-1] == (
        "payment_recorded rejected in state terminated: access.fixed.advance of year 3 was cancelled by the "
        "termination: nothing is owed on it")


def _terminated(*facts: tuple[str, str, dict]) -> Projection:
    signed = [f if f[1] != "contract_signed" else (f[0], f[1], {"missions": ["quality"]})
              for f in SIGNED_2024_03_15]
    entries = [JournalEntry(seq, kind, D(at), validate_data(kind, data, allow_system=True))
               for seq, (at, kind, data) in enumerate([*signed, *WORKED_EXAMPLE_TO_TERMINATION], start=1)]
    entries.append(JournalEntry(len(entries) + 1, "termination_effective", D("2025-11-20"), {}))
    for at, kind, data in facts:
        entries.append(JournalEntry(len(entries) + 1, kind, D(at), validate_data(kind, data)))
    return project(entries, RULES, D("2026-02-01"), departement="01", population=50_000)
