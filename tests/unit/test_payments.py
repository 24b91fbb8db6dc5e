"""Payments and the variable part (SPEC §7, §9; ACI art. 7–9, 11.3, annex 4).

Expected amounts are literals from SPEC §7's worked example or worked by hand from the ACI amounts
(size 2: fonctionnement 60 000; access fixed 17 500 + SNP compensation 12 000 = 29 500, variable 17 500;
parcours 35 000; prevention 15 000; quality 10 000), never computed by the code under test.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spec_example import WORKED_EXAMPLE_LINES

from lifecycle.calendar import add_months
from lifecycle.errors import EventRejected
from lifecycle.events import JournalEntry
from lifecycle.indicators import NATIONAL_ACCESS_INDICATORS, attainment, missing_national_indicators
from lifecycle.payments import PaymentLine, PaymentSchedule, payment_schedule
from lifecycle.ruleset import load_ruleset

RULES = load_ruleset()
SIZE_2 = 50_000


def journal(*events: tuple[str, str, dict]) -> list[JournalEntry]:
    return [JournalEntry(seq, kind, date.fromisoformat(at), data)
            for seq, (at, kind, data) in enumerate(events, 1)]


def signed(at: str, **data) -> tuple[str, str, dict]:
    return at, "contract_signed", {"missions": [], "snp_compensation": True, "snp_orientation": False, **data}


def started(at: str, mission: str) -> tuple[str, str, dict]:
    return at, "mission_started", {"mission": mission}


def schedule(events, today="2025-06-01", termination=None, population=SIZE_2) -> PaymentSchedule:
    end = None if termination is None else date.fromisoformat(termination)
    return payment_schedule(journal(*events), RULES, date.fromisoformat(today), population=population,
                            termination_effective=end)


def line(result: PaymentSchedule, component: str, year: int, *, cancelled: bool = False) -> PaymentLine:
    found = [x for x in result.lines if x.component == component and x.year == year
             and (x.status == "cancelled") == cancelled]
    assert len(found) == 1, f"{component} year {year}: {found}"
    return found[0]


def money(result: PaymentSchedule) -> set[tuple[str, str, int, str | None]]:
    return {(x.due.isoformat(), x.component, x.year, None if x.amount is None else str(x.amount))
            for x in result.lines}


WORKED_EXAMPLE = [
    signed("2024-03-15", missions=["quality"]),
    started("2024-06-03", "access"),
    started("2024-09-02", "quality"),
    started("2025-01-06", "parcours"),
    started("2025-03-15", "prevention"),
    ("2025-04-30", "indicators_reported",
     {"year": 1, "missions": {"access": {"attainment": 0.8}, "quality": {"attainment": 1.0},
                              "parcours": {"attainment": "0.5"}}}),
]


# --- SPEC §7 worked example --------------------------------------------------------------------------


def test_the_worked_example_reproduces_every_line_of_the_spec_to_the_cent():
    result = schedule(WORKED_EXAMPLE)
    paid_by_settlement_1 = {x for x in money(result) if x[0] <= "2025-05-15"}
    assert paid_by_settlement_1 == set(WORKED_EXAMPLE_LINES)


def test_the_worked_example_access_advance_explains_its_arithmetic():
    explanation = line(schedule(WORKED_EXAMPLE), "access.fixed.advance", 1).explanation
    assert explanation.startswith("0.75 × 29 500 × 285/365 (access started 2024-06-03, "
                                  "anniversary 2025-03-15")
    assert "SNP compensation 12 000" in explanation


def test_the_worked_example_termination_on_2025_11_20_owes_a_refund_of_9_727_74_by_2026_01_20():
    result = schedule(WORKED_EXAMPLE, today="2025-11-20", termination="2025-11-20")
    assert result.termination_year_due == Decimal("102397.26")
    assert result.refund_owed == Decimal("9727.74")
    refund = line(result, "refund", 2)
    assert (refund.due, refund.amount, refund.status) == (date(2026, 1, 20), Decimal("9727.74"), "scheduled")
    assert "112 125.00 − 102 397.26" in refund.explanation


def test_the_worked_example_lines_before_the_termination_are_unchanged_by_it():
    result = schedule(WORKED_EXAMPLE, today="2025-11-20", termination="2025-11-20")
    assert money(result) >= set(WORKED_EXAMPLE_LINES)


# --- annex 4: start before, after, on the anniversary ------------------------------------------------


def test_annex_4_cas_1_a_start_before_the_anniversary_is_prorated_to_it():
    result = schedule([signed("2023-01-10"), started("2023-10-11", "parcours")], today="2023-10-11")
    advance, balance = line(result, "parcours.fixed.advance", 1), line(result, "parcours.fixed.balance", 1)
    assert (advance.due, advance.amount) == (date(2023, 10, 11), Decimal("6544.52"))  # 0.75·35 000·91/365
    assert (balance.due, balance.amount) == (date(2024, 3, 10), Decimal("2181.51"))  # 0.25·35 000·91/365
    assert line(result, "parcours.fixed.advance", 2).amount == Decimal("26250.00")


def test_annex_4_cas_2_a_start_after_the_anniversary_opens_the_mission_in_year_2():
    result = schedule([signed("2022-01-10"), started("2022-02-01", "access"),
                       started("2023-04-11", "prevention")], today="2023-04-11")
    assert not [x for x in result.lines if x.mission == "prevention" and x.year == 1]
    advance = line(result, "prevention.fixed.advance", 2)
    assert (advance.due, advance.amount) == (date(2023, 4, 11), Decimal("8445.21"))  # 0.75·15 000·274/365
    assert line(result, "prevention.fixed.balance", 2).amount == Decimal("2815.07")


def test_annex_4_cas_3_a_start_on_the_anniversary_is_a_full_year_with_no_prorata():
    result = schedule([signed("2024-03-15"), started("2024-06-03", "access"),
                       started("2025-03-15", "prevention")])
    advance = line(result, "prevention.fixed.advance", 2)
    assert (advance.due, advance.amount) == (date(2025, 3, 15), Decimal("11250.00"))
    assert line(result, "prevention.fixed.balance", 2).amount == Decimal("3750.00")
    assert not [x for x in result.lines if x.mission == "prevention" and x.year == 1]


def test_a_mission_started_on_signature_day_gets_a_full_first_year():
    result = schedule([signed("2024-03-15"), started("2024-03-15", "access")])
    assert line(result, "access.fixed.advance", 1).amount == Decimal("22125.00")


def test_a_mission_started_after_the_last_contract_year_pays_nothing():
    result = schedule([signed("2020-01-10"), started("2020-02-01", "access"),
                       started("2025-01-10", "parcours")])
    assert not [x for x in result.lines if x.mission == "parcours"]


# --- leap years and month ends -----------------------------------------------------------------------


def test_a_contract_year_containing_29_february_has_366_days():
    reported = ("2024-06-10", "indicators_reported", {"year": 1, "missions": {"access": {"attainment": 1}}})
    result = schedule([signed("2023-06-01"), started("2023-12-02", "access"), reported], today="2024-06-10")
    assert line(result, "access.fixed.advance", 1).amount == Decimal("11002.05")  # 0.75·29 500·182/366
    assert line(result, "access.fixed.balance", 1).amount == Decimal("3667.35")
    assert line(result, "access.variable", 1).amount == Decimal("8702.19")  # 17 500·182/366


def test_a_contract_signed_on_29_february_has_its_anniversaries_on_28_february_except_in_leap_years():
    result = schedule([signed("2024-02-29"), started("2024-08-30", "access")], today="2024-09-01")
    assert line(result, "access.fixed.advance", 1).amount == Decimal("11032.19")  # 0.75·29 500·182/365
    assert line(result, "fonctionnement.advance", 2).due == date(2025, 2, 28)
    assert line(result, "fonctionnement.advance", 5).due == date(2028, 2, 29)
    assert line(result, "access.fixed.balance", 1).due == date(2025, 4, 28)


# --- fonctionnement ----------------------------------------------------------------------------------


def test_without_a_started_mission_only_the_signature_fonctionnement_is_paid():
    result = schedule([signed("2024-03-15")])
    assert money(result) == {("2024-03-15", "fonctionnement.advance", 1, "60000.00")}


def test_a_first_mission_started_after_the_anniversary_triggers_the_fonctionnement_advance_on_its_start():
    result = schedule([signed("2024-03-15"), started("2025-04-02", "access")])
    advance = line(result, "fonctionnement.advance", 2)
    assert (advance.due, advance.amount) == (date(2025, 4, 2), Decimal("45000.00"))
    assert line(result, "fonctionnement.balance", 2).due == date(2026, 5, 15)


def test_a_full_contract_ends_with_the_year_5_settlement_and_no_year_6_advance():
    result = schedule([signed("2024-03-15"), started("2024-03-15", "access")])
    assert max(x.year for x in result.lines) == 5
    assert line(result, "access.fixed.balance", 5).due == date(2029, 5, 15)


# --- avenants ----------------------------------------------------------------------------------------


def test_an_avenant_changing_the_size_applies_from_the_next_anniversary():
    result = schedule([signed("2024-03-15"), started("2024-03-15", "access"),
                       ("2024-09-01", "avenant_signed", {"population": 90_000})])
    assert line(result, "access.fixed.balance", 1).amount == Decimal("7375.00")  # size 2: 0.25·29 500
    assert line(result, "fonctionnement.advance", 2).amount == Decimal("56250.00")  # size 3: 0.75·75 000
    assert line(result, "access.fixed.advance", 2).amount == Decimal("30000.00")  # 0.75·(25 000 + 15 000)


def test_an_avenant_signed_on_an_anniversary_waits_for_the_following_one():
    result = schedule([signed("2024-03-15"), started("2024-03-15", "access"),
                       ("2025-03-15", "avenant_signed", {"population": 90_000})])
    assert line(result, "fonctionnement.advance", 2).amount == Decimal("45000.00")
    assert line(result, "fonctionnement.advance", 3).amount == Decimal("56250.00")


def test_an_avenant_adding_a_mission_pays_it_from_the_next_anniversary_at_the_full_rate():
    result = schedule([signed("2024-03-15"), started("2024-03-15", "access"),
                       ("2024-06-01", "avenant_signed", {"add_missions": ["quality"]}),
                       started("2024-07-01", "quality")])
    assert not [x for x in result.lines if x.mission == "quality" and x.year == 1]
    advance = line(result, "quality.fixed.advance", 2)
    assert (advance.due, advance.amount) == (date(2025, 3, 15), Decimal("7500.00"))


def test_an_avenant_choosing_the_snp_orientation_service_raises_the_access_envelope_next_year():
    result = schedule([signed("2024-03-15"), started("2024-03-15", "access"),
                       ("2024-10-01", "avenant_signed", {"snp_orientation": True})])
    assert line(result, "access.fixed.advance", 2).amount == Decimal("55875.00")  # 0.75·(29 500 + 45 000)


def test_an_avenant_dropping_a_mission_stops_its_advances_from_the_next_anniversary():
    result = schedule([signed("2024-03-15", missions=["quality"]), started("2024-03-15", "quality"),
                       ("2024-11-01", "avenant_signed", {"drop_missions": ["quality"]})])
    assert line(result, "quality.fixed.balance", 1).amount == Decimal("2500.00")
    assert not [x for x in result.lines if x.mission == "quality" and x.year >= 2]


# --- terminations (ACI art. 11.3) --------------------------------------------------------------------


def test_a_cpts_termination_cancels_the_payments_scheduled_after_it_takes_effect():
    result = schedule(WORKED_EXAMPLE, today="2025-11-20", termination="2025-11-20")
    assert line(result, "fonctionnement.balance", 2, cancelled=True).due == date(2026, 5, 15)
    assert line(result, "access.fixed.advance", 3, cancelled=True).status == "cancelled"
    assert all(x.status == "cancelled" for x in result.lines if x.year >= 3)


def test_a_funders_termination_early_in_a_year_keeps_the_previous_year_settlement_and_refunds_the_rest():
    # Effective 36 days into year 2, before settle(1): only the year-2 fonctionnement and prevention
    # advances (56 250) had been paid; 149 500 × 36/365 = 14 745.21 was due.
    result = schedule(WORKED_EXAMPLE, today="2025-04-20", termination="2025-04-20")
    assert line(result, "access.fixed.balance", 1).status == "scheduled"
    assert line(result, "access.variable", 1).amount == Decimal("10931.51")
    assert line(result, "access.fixed.advance", 2, cancelled=True).due == date(2025, 5, 15)
    assert result.termination_year_due == Decimal("14745.21")
    refund = line(result, "refund", 2)
    assert (refund.due, refund.amount) == (date(2025, 6, 20), Decimal("41504.79"))


def test_a_termination_late_in_the_year_leaves_the_cpts_owed_a_balance_and_no_refund():
    # A funders' termination maintained after a CPL referral, effective 332 days into year 2.
    result = schedule(WORKED_EXAMPLE, today="2026-02-10", termination="2026-02-10")
    assert result.refund_owed == Decimal("0.00")
    assert result.termination_year_due == Decimal("135983.56")
    assert not [x for x in result.lines if x.component == "refund"]
    owed = {x.component: x.amount for x in result.lines
            if x.year == 2 and x.due == date(2026, 4, 10) and x.component.endswith("balance")}
    assert owed == {
        "fonctionnement.balance": Decimal("9575.34"),  # 60 000·332/365 − 45 000
        "access.fixed.balance": Decimal("4707.88"),
        "parcours.fixed.balance": Decimal("5585.62"),
        "prevention.fixed.balance": Decimal("2393.84"),
        "quality.fixed.balance": Decimal("1595.89"),
    }


def test_the_termination_year_variable_part_is_prorated_and_awaits_its_assessment():
    result = schedule(WORKED_EXAMPLE, today="2025-11-20", termination="2025-11-20")
    variable = line(result, "access.variable", 2)
    assert (variable.due, variable.amount) == (date(2026, 1, 20), None)
    assert variable.status == "awaiting_assessment"
    reported = [*WORKED_EXAMPLE, ("2025-12-01", "indicators_reported",
                                  {"year": 2, "missions": {"access": {"attainment": 1}}})]
    result = schedule(reported, today="2025-12-01", termination="2025-11-20")
    assert line(result, "access.variable", 2).amount == Decimal("11986.30")  # 17 500·250/365


def test_a_received_refund_marks_the_refund_paid():
    events = [*WORKED_EXAMPLE, ("2026-01-05", "refund_received", {"amount": "9727.74"})]
    result = schedule(events, today="2026-02-01", termination="2025-11-20")
    assert line(result, "refund", 2).status == "paid"


def test_an_unpaid_refund_is_overdue_after_its_due_date():
    result = schedule(WORKED_EXAMPLE, today="2026-01-21", termination="2025-11-20")
    assert line(result, "refund", 2).status == "overdue"


def test_the_journal_termination_event_is_used_when_no_date_is_given():
    events = [*WORKED_EXAMPLE, ("2025-11-20", "termination_effective", {})]
    assert schedule(events, today="2025-11-20").refund_owed == Decimal("9727.74")


# --- statuses ----------------------------------------------------------------------------------------


def test_variable_payments_await_assessment_until_the_year_is_reported():
    result = schedule(WORKED_EXAMPLE[:-1])
    variable = line(result, "access.variable", 1)
    assert (variable.amount, variable.status) == (None, "awaiting_assessment")
    assert variable.as_dict()["amount"] is None


def test_a_later_report_for_the_same_year_replaces_the_earlier_one():
    events = [*WORKED_EXAMPLE, ("2025-05-02", "indicators_reported",
                                {"year": 1, "missions": {"access": {"attainment": 1}}})]
    assert line(schedule(events), "access.variable", 1).amount == Decimal("13664.38")  # 17 500·285/365


def test_a_recorded_payment_marks_its_line_paid():
    events = [*WORKED_EXAMPLE, ("2024-06-10", "payment_recorded",
                                {"component": "access.fixed.advance", "year": 1, "amount": "17275.68"})]
    result = schedule(events)
    assert line(result, "access.fixed.advance", 1).status == "paid"
    assert line(result, "access.fixed.advance", 2).status == "overdue"


def test_an_unpaid_line_is_overdue_the_day_after_its_due_date_and_scheduled_on_it():
    assert line(schedule(WORKED_EXAMPLE, today="2025-05-15"), "access.fixed.advance", 2).status == "scheduled"
    assert line(schedule(WORKED_EXAMPLE, today="2025-05-16"), "access.fixed.advance", 2).status == "overdue"


def test_a_line_serialises_to_the_spec_11_shape():
    assert line(schedule(WORKED_EXAMPLE), "access.fixed.advance", 1).as_dict() == {
        "component": "access.fixed.advance", "year": 1, "due": "2024-06-03", "amount": "17275.68",
        "status": "overdue", "paid": "0.00", "remaining": "17275.68",
        "explanation": "0.75 × 29 500 × 285/365 (access started 2024-06-03, anniversary 2025-03-15; "
                       "29 500 = fixed 17 500 + SNP compensation 12 000); due 2024-06-03: the access mission's "
                       "start (ACI art. 9.2, annex 4)",
        "ruleset": "ACI-2019", "row": "amounts.missions.access", "verified": True,
    }


def test_every_due_date_says_which_rule_set_it():
    lines = {(p.component, p.year): p.explanation for p in schedule(WORKED_EXAMPLE).lines}

    assert lines[("fonctionnement.advance", 1)].endswith("due 2024-03-15: at signature (ACI art. 9.1)")
    assert lines[("access.fixed.balance", 1)].endswith(
        "due 2025-05-15: settle(1) = anniversary 1 (2025-03-15) + 2 months (ACI art. 9.2)")
    assert lines[("fonctionnement.advance", 2)].endswith(
        "due 2025-03-15: anniversary 1 of the contract, which opens year 2 (ACI art. 9.1)")


def test_the_signature_population_wins_over_the_case_population():
    result = schedule([signed("2024-03-15", population=200_000)], population=SIZE_2)
    assert line(result, "fonctionnement.advance", 1).amount == Decimal("90000.00")


def test_a_case_without_a_signed_contract_has_no_payments():
    assert schedule([("2024-01-10", "contact_recorded", {"source": "ars"})]).lines == ()


# --- indicators and attainment (SPEC §9) -------------------------------------------------------------

INDICATORS = {"indicators": [
    {"name": "increasing", "baseline": 100, "target": 200, "actual": 150, "weight": 2},  # 0.5
    {"name": "decreasing", "baseline": 30, "target": 20, "actual": 22},  # 0.8
    {"name": "beyond target", "baseline": 10, "target": 20, "actual": 40},  # clamped to 1
    {"name": "regressed", "baseline": 50, "target": 60, "actual": 40},  # clamped to 0
]}


def test_attainment_given_as_a_rate_is_taken_exactly():
    assert attainment({"attainment": 0.8}) == Fraction(4, 5)


def test_attainment_from_indicators_is_their_weighted_clamped_progress():
    assert attainment(INDICATORS) == Fraction(14, 25)  # (2·0.5 + 0.8 + 1 + 0) / 5 = 0.56


def test_a_decreasing_indicator_that_reaches_its_target_counts_in_full():
    assert attainment({"indicators": [{"name": "urgences", "baseline": 40, "target": 30, "actual": 30}]}) == 1


def test_the_variable_part_uses_the_attainment_computed_from_indicators():
    events = [signed("2024-03-15"), started("2024-03-15", "access"),
              ("2025-04-01", "indicators_reported", {"year": 1, "missions": {"access": INDICATORS}})]
    assert line(schedule(events), "access.variable", 1).amount == Decimal("9800.00")  # 17 500·0.56


def test_the_five_national_access_indicators_are_known_with_their_direction():
    assert [(i.name, i.direction) for i in NATIONAL_ACCESS_INDICATORS] == [
        ("patients_with_medecin_traitant", "increasing"),
        ("patients_without_medecin_traitant_ald_70_cmuc", "decreasing"),
        ("emergency_visits_without_hospitalisation", "decreasing"),
        ("direct_admissions_referred_by_city_professional", "increasing"),
        ("snp_orientation_consultations", "increasing"),
    ]


def test_missing_national_indicators_are_listed_for_the_engine_to_flag():
    report = {"indicators": [
        {"name": "patients_with_medecin_traitant", "baseline": 1, "target": 2, "actual": 2},
        {"name": "emergency_visits_without_hospitalisation", "baseline": 9, "target": 7, "actual": 8},
    ]}
    assert missing_national_indicators(report) == [
        "patients_without_medecin_traitant_ald_70_cmuc",
        "direct_admissions_referred_by_city_professional",
        "snp_orientation_consultations",
    ]
    assert len(missing_national_indicators({"attainment": 1})) == 5


# --- properties --------------------------------------------------------------------------------------

SIGNATURES = st.dates(min_value=date(2019, 8, 25), max_value=date(2040, 12, 31))
# Contracts signed once avenant 2 and its crisis mission were in force: one version governs all five years.
AMENDED_SIGNATURES = st.dates(min_value=date(2022, 9, 3), max_value=date(2040, 12, 31))


@settings(max_examples=60, deadline=None)
@given(AMENDED_SIGNATURES, st.integers(min_value=1, max_value=300_000), st.booleans())
def test_a_full_contract_started_on_signature_at_full_attainment_pays_five_annual_totals(day, people, snp):
    """The five missions of ACI-2019 (the crisis mission never started): five annual totals of ACI-2019."""
    events = [signed(day.isoformat(), missions=["quality", "support"], snp_orientation=snp)]
    events += [started(day.isoformat(), m) for m in RULES.missions]
    events += [(add_months(day, 12 * k + 1).isoformat(), "indicators_reported",
                {"year": k, "missions": {m: {"attainment": 1} for m in RULES.missions}}) for k in range(1, 6)]
    result = schedule(events, today=day.isoformat(), population=people)
    expected = 5 * RULES.annual_total(RULES.size_for(people), snp_orientation=snp)
    assert sum(x.amount for x in result.lines) == expected


@settings(max_examples=80, deadline=None)
@given(SIGNATURES, st.lists(st.integers(min_value=0, max_value=1900), min_size=1, max_size=5),
       st.integers(min_value=0, max_value=1830))
def test_amounts_are_never_negative_and_a_refund_never_exceeds_the_advances(day, offsets, end_offset):
    events = [signed(day.isoformat(), missions=["quality", "support"])]
    events += [started(date.fromordinal(day.toordinal() + offset).isoformat(), mission)
               for offset, mission in zip(offsets, RULES.missions, strict=False)]
    events.sort(key=lambda e: e[0])
    end = date.fromordinal(day.toordinal() + end_offset)
    result = schedule(events, today=day.isoformat(), termination=end.isoformat())
    assert all(x.amount is None or x.amount >= 0 for x in result.lines)
    refunds = [x for x in result.lines if x.component == "refund"]
    if not refunds:
        assert result.refund_owed == 0
        return
    advanced = sum(x.amount for x in result.lines
                   if x.year == refunds[0].year and x.component.endswith("advance") and x.due <= end)
    assert 0 < result.refund_owed <= advanced


@pytest.mark.parametrize("weight", [0, "0"])
def test_indicators_whose_weights_add_up_to_zero_are_refused(weight):
    with pytest.raises(EventRejected, match="weights add up to zero"):
        attainment({"indicators": [{"name": "x", "baseline": 0, "target": 1, "actual": 1, "weight": weight}]})
