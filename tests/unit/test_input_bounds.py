"""Bounded input in the domain (issue 10): every error a user can cause is one DomainError line, nothing else.

Dates lie between 2016-01-26 (loi n° 2016-41, which created the CPTS) and 2100-12-31; the legal calendar
counts within 1900–2199; event data are at most 64 KB of JSON nested at most 20 deep, with printable texts;
declared populations lie between 1 and 100 000 000; a FIR is granted once, then renewed (I §4); no accepted
journal opens two deadlines with one identity.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spec_example import ALL_DOCUMENTS

from lifecycle import territory
from lifecycle.calendar import LegalCalendar, Period, add_months
from lifecycle.errors import CalendarError, DomainError, EventRejected
from lifecycle.events import (
    MAX_DATA_BYTES,
    JournalEntry,
    parse_data_json,
    parse_date,
    validate_data,
    validate_evidence,
)
from lifecycle.projection import Projection, project
from lifecycle.ruleset import load_ruleset
from workflows.simulation.scenario import MAX_SCENARIO_EVENTS, parse_scenario

RULES = load_ruleset()
D = date.fromisoformat


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(error.value)
    assert "\n" not in text and "\r" not in text and len(text) < 400, text
    return text


# --- business dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0001-01-01", "2016-01-25", "2101-01-01", "9999-12-31"])
def test_an_event_date_outside_2016_01_26_to_2100_12_31_is_refused_naming_the_range(text):
    with pytest.raises(EventRejected) as refused:
        parse_date(text, "event date")

    assert one_line(refused) == (f"event date {text} is out of range: business dates lie between 2016-01-26 "
                                 "(loi n° 2016-41, which created the CPTS) and 2100-12-31")


@pytest.mark.parametrize("text", ["2016-01-26", "2100-12-31"])
def test_the_first_and_last_business_dates_are_accepted(text):
    assert parse_date(text) == D(text)


def test_a_date_object_is_held_to_the_same_range():
    with pytest.raises(EventRejected, match="out of range"):
        parse_date(date(1, 1, 1), "at")


def test_a_date_inside_event_data_is_held_to_the_same_range():
    with pytest.raises(EventRejected, match="date 9999-12-31 is out of range"):
        validate_data("cpl_meeting_scheduled", {"date": "9999-12-31"})


def test_a_malformed_date_of_any_length_is_one_short_line():
    with pytest.raises(EventRejected) as refused:
        parse_date("2025-" * 10_000, "until")

    assert "expected a calendar date as YYYY-MM-DD" in one_line(refused)


# --- the legal calendar's range -------------------------------------------------------------------------


@pytest.mark.parametrize("period", [Period(days=99_999_999), Period(months=999_999), Period(days=10**15)])
@pytest.mark.parametrize("before", [False, True])
def test_a_period_leaving_the_calendar_is_a_calendar_error_naming_its_range(period, before):
    with pytest.raises(CalendarError) as refused:
        LegalCalendar("57").add(D("2025-01-01"), period, kind="procedural", before=before)

    assert one_line(refused).endswith("falls outside the legal calendar, which counts from 1900-01-01 to "
                                      "2199-12-31: give a shorter period")


def test_an_anchor_outside_the_calendar_is_a_calendar_error():
    with pytest.raises(CalendarError, match="anchor 0001-01-01 is outside the legal calendar"):
        LegalCalendar("57").add(date(1, 1, 1), Period(days=1), kind="procedural", before=True)


def test_months_beyond_the_year_9999_are_a_calendar_error_not_a_value_error():
    with pytest.raises(CalendarError, match="year 10000"):
        add_months(date(9999, 12, 1), 1)


def test_the_contract_of_the_last_business_day_still_has_its_five_years_counted():
    explained = LegalCalendar("57").add(D("2100-12-31"), Period(months=62), kind="effect")
    assert explained.due == D("2106-02-28")


# --- event data --------------------------------------------------------------------------------------


def test_data_nested_5000_deep_is_refused_before_the_parser_recurses():
    text = '{"reason": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(EventRejected) as refused:
        parse_data_json(text)

    assert one_line(refused) == "event data is nested 5001 levels deep: at most 20"


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert parse_data_json(json.dumps({"reason": "[" * 100})) == {"reason": "[" * 100}


def test_data_over_64_kb_is_refused():
    with pytest.raises(EventRejected) as refused:
        parse_data_json(json.dumps({"reason": "x" * MAX_DATA_BYTES}))

    assert one_line(refused) == "event data is 65550 bytes of JSON: at most 65536 (64 KB)"


@pytest.mark.parametrize(("text", "expected"), [
    ("[1, 2]", "event data must be a JSON object"),
    ("{\"reason\": ", "event data is not valid JSON"),
    ("{\"population\": NaN}", "event data is not accepted (NaN is not a number JSON data may hold)"),
    ("{\"population\": 1" + "0" * 5000 + "}", "event data is not accepted (Exceeds the limit"),
])
def test_json_text_that_is_not_an_object_of_finite_values_is_refused(text, expected):
    with pytest.raises(EventRejected) as refused:
        parse_data_json(text)

    assert one_line(refused).startswith(expected)


def test_parsed_data_deeper_than_20_levels_is_refused_without_recursion():
    deep: object = "x"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(EventRejected, match="nested more than 20 levels deep"):
        validate_data("project_abandoned", {"reason": deep})


@pytest.mark.parametrize(("text", "problem"), [
    ("line one\nline two", "a control character U+000A (line feed)"),
    ("a\rb", "a control character U+000D (carriage return)"),
    ("nul\x00", "a control character U+0000 (NUL)"),
    ("\ud800", "an unpaired surrogate U+D800 (not valid Unicode)"),
])
def test_a_text_in_data_with_a_control_character_or_a_lone_surrogate_is_refused(text, problem):
    with pytest.raises(EventRejected) as refused:
        validate_data("project_abandoned", {"reason": text})

    assert one_line(refused) == f"project_abandoned data.reason contains {problem}: expected one line of printable text"


def test_a_lone_surrogate_escaped_in_json_text_is_refused_cleanly():
    with pytest.raises(EventRejected, match="unpaired surrogate U\\+D800"):
        validate_data("project_abandoned", parse_data_json('{"reason": "a\\ud800"}'))


@pytest.mark.parametrize(("event", "data", "expected"), [
    ("project_abandoned", {"reason": None}, "reason=None is not accepted: expected a non-empty text"),
    ("contact_recorded", {"source": None}, "source=None is not accepted: expected one of ars, cpam, msa, porteur"),
    ("cpl_meeting_scheduled", {"date": None}, "malformed date None"),
    ("indicators_reported", {"year": 1, "missions": {"access": {"indicators": [
        {"name": None, "baseline": 1, "target": 2, "actual": 1}]}}},
     "missions.access.indicators[0].name=None is not accepted: expected a non-empty text"),
])
def test_a_null_where_a_text_is_required_is_refused(event, data, expected):
    with pytest.raises(EventRejected) as refused:
        validate_data(event, data)

    assert expected in one_line(refused)


def test_a_huge_value_is_not_echoed_whole_in_the_message():
    with pytest.raises(EventRejected) as refused:
        validate_data("contact_recorded", {"source": "x" * 60_000})

    assert "… (60002 characters)" in one_line(refused)


# --- evidence ----------------------------------------------------------------------------------------


def test_evidence_is_trimmed_and_kept():
    assert validate_evidence("  LRAR 1A 123 456 7890 1 ") == "LRAR 1A 123 456 7890 1"
    assert validate_evidence(None) is None


@pytest.mark.parametrize(("evidence", "expected"), [
    ("x" * 501, "evidence has 501 characters: at most 500 (a reference to the letter or file, not its text)"),
    ("LRAR\n1A", "evidence contains a control character U+000A (line feed): expected one line of printable text"),
    ("\ud800", "evidence contains an unpaired surrogate U+D800 (not valid Unicode): expected one line of "
               "printable text"),
    (12, 'evidence=12 is not accepted: expected a text such as "LRAR 1A 123 456 7890 1"'),
])
def test_evidence_over_500_characters_or_not_one_line_is_refused(evidence, expected):
    with pytest.raises(EventRejected) as refused:
        validate_evidence(evidence)

    assert one_line(refused) == expected


# --- populations and the territory -------------------------------------------------------------------


@pytest.mark.parametrize("declared", [0, -1, 100_000_001, 10**20, True, 2.5])
def test_a_declared_population_outside_1_to_100_million_is_refused(declared):
    with pytest.raises(territory.TerritoryError) as refused:
        territory.summarise(["57463"], declared_population=declared)

    assert one_line(refused).endswith("expected a whole number of inhabitants from 1 to 100 000 000")


@pytest.mark.parametrize("declared", [1, 100_000_000])
def test_the_population_bounds_themselves_are_accepted(declared):
    assert territory.check_population(declared) == declared


@pytest.mark.parametrize("event", ["contract_signed", "avenant_signed"])
def test_a_population_in_event_data_has_the_same_bounds(event):
    with pytest.raises(EventRejected, match="from 1 to 100 000 000"):
        validate_data(event, {"population": 2**31})


def test_a_commune_outside_the_seats_region_is_a_warning_not_a_refusal():
    summary = territory.summarise(["75056", "57463"], seat="57")

    assert summary.warnings == ("commune 75056 Paris is in région 11 Île-de-France, outside the seat's région "
                                "44 Grand Est (seat département 57)",)
    assert summary.as_dict()["warnings"] == list(summary.warnings)


def test_communes_inside_the_seats_region_give_no_warning():
    assert territory.summarise(["57463", "67482"], seat="57").warnings == ()


# --- scenario files ------------------------------------------------------------------------------------


def test_a_scenario_of_more_than_20000_events_is_refused_before_any_is_read():
    events = [{"at": "2025-01-06", "type": "contact_recorded"}] * (MAX_SCENARIO_EVENTS + 1)
    with pytest.raises(EventRejected) as refused:
        parse_scenario({"name": "big", "seat_departement": "57", "population": 50_000, "events": events,
                        "until": "2025-12-31"}, source="big.json")

    assert one_line(refused) == ("big.json: 20001 events: a scenario holds at most 20000 (one CPTS's lifecycle "
                                 "has about a hundred); split it into several files")


# --- one FIR, then renewals (I §4); one deadline per identity ---------------------------------------------


def journal(*facts: tuple[str, str, dict]) -> list[JournalEntry]:
    return [JournalEntry(seq, kind, D(at), validate_data(kind, data, allow_system=True))
            for seq, (at, kind, data) in enumerate(facts, start=1)]


def replay(facts: list[tuple[str, str, dict]], today: str = "2027-01-01") -> Projection:
    return project(journal(*facts), RULES, D(today), departement="57", population=50_000)


LOI_VALIDATED = [
    ("2025-01-06", "contact_recorded", {"source": "ars"}),
    ("2025-01-15", "first_meeting_held", {}),
    ("2025-01-30", "loi_submitted", {}),
    ("2025-02-05", "loi_decision", {"party": "ars", "decision": "approve"}),
    ("2025-02-07", "loi_decision", {"party": "am", "decision": "approve"}),
    ("2025-02-10", "fir_granted", {"amount": "40000.00"}),
]


@pytest.mark.parametrize("second", ["2025-02-10", "2025-09-01"])
def test_a_second_fir_grant_is_refused_the_renewal_is_fir_renewed(second):
    projection = replay([*LOI_VALIDATED, (second, "fir_granted", {"amount": "40000.00"})])

    assert [r.error for r in projection.rejected] == [
        "fir_granted rejected in state loi_validated: the FIR seed funding was already granted on 2025-02-10 "
        "(I §4: granted once, on an annual basis, then renewed); record fir_renewed instead"]
    assert [d.ident for d in projection.deadlines if d.key == "fir_renewal"] == ["fir_renewal:2025-02-10"]


def test_a_renewal_on_the_day_of_the_grant_is_refused_a_later_one_counts_a_new_year():
    projection = replay([*LOI_VALIDATED, ("2025-02-10", "fir_renewed", {}), ("2026-02-02", "fir_renewed", {})])

    assert [r.error for r in projection.rejected] == [
        "fir_renewed rejected in state loi_validated: the FIR funding was already granted on 2025-02-10; a "
        "renewal of this annual funding (I §4) is dated after it"]
    renewals = [(d.ident, d.due.isoformat(), d.status) for d in projection.deadlines if d.key == "fir_renewal"]
    assert renewals == [("fir_renewal:2025-02-10", "2026-02-10", "met"),
                        ("fir_renewal:2026-02-02", "2027-02-02", "pending")]


def test_a_project_resubmitted_on_the_day_of_the_first_receipt_is_refused_a_later_one_is_counted():
    facts = [*LOI_VALIDATED,
             ("2025-03-03", "health_project_received", {}),
             ("2025-03-03", "health_project_opposed", {"grounds": "territory"}),
             ("2025-03-03", "health_project_received", {}),
             ("2025-03-04", "health_project_received", {})]
    projection = replay(facts, today="2025-03-05")

    assert [r.error for r in projection.rejected] == [
        "health_project_received rejected in state health_project_opposed: a health_project_opposition deadline "
        "was already counted from 2025-03-03; the same deadline cannot be counted twice from one day: record "
        "this event on the day after, or void the earlier one"]
    assert projection.state == "health_project_submitted"


def test_a_cpl_meeting_scheduled_again_on_the_same_date_is_refused():
    facts = [*LOI_VALIDATED,
             ("2025-03-03", "health_project_received", {}),
             ("2025-03-10", "health_project_validated", {}),
             ("2025-03-17", "adhesion_requested", ALL_DOCUMENTS),
             ("2025-04-01", "contract_refusal_received", {}),
             ("2025-04-15", "cpl_referral_received", {"subject": "contract_refusal"}),
             ("2025-04-16", "cpl_meeting_scheduled", {"date": "2025-05-20"}),
             ("2025-04-17", "cpl_meeting_scheduled", {"date": "2025-05-20"})]
    projection = replay(facts, today="2025-04-18")

    assert [r.error for r in projection.rejected] == [
        "cpl_meeting_scheduled rejected in state contract_refused: the CPL meeting is already scheduled on "
        "2025-05-20; record cpl_meeting_scheduled again only to move it to another date"]


# Generated journals: events drawn from the whole vocabulary, most on the same day as the previous one, so
# that same-day repetitions and cycles (refusal → referral → granted → refusal…) are frequent.
_MISSION = st.sampled_from(["access", "parcours", "prevention", "quality", "support"])
_CHOICES = {
    "contact_recorded": st.just({"source": "ars"}),
    "first_meeting_held": st.just({}),
    "loi_submitted": st.just({}),
    "loi_decision": st.fixed_dictionaries({"party": st.sampled_from(["ars", "am"]),
                                           "decision": st.sampled_from(["approve", "approve", "reject"])}),
    "fir_granted": st.just({}),
    "fir_followup_meeting_held": st.just({}),
    "fir_renewed": st.just({}),
    "health_project_received": st.just({}),
    "health_project_opposed": st.just({"grounds": "territory"}),
    "health_project_validated": st.just({}),
    "adhesion_requested": st.just(ALL_DOCUMENTS),
    "contract_refusal_received": st.just({}),
    "contract_signed": st.just({"missions": ["quality"]}),
    "mission_started": st.fixed_dictionaries({"mission": _MISSION}),
    "mission_deployed": st.fixed_dictionaries({"mission": _MISSION}),
    "annual_review_held": st.fixed_dictionaries({"year": st.integers(1, 5)}),
    "members_list_updated": st.just({}),
    "termination_notice_received": st.sampled_from([{"initiator": "funders", "grounds": "non_compliance"},
                                                    {"initiator": "cpts"}]),
    "cpl_referral_received": st.fixed_dictionaries({"subject": st.sampled_from(["termination",
                                                                                "contract_refusal"])}),
    "cpl_meeting_scheduled": st.integers(0, 3),  # days after the event: the meeting date
    "cpl_meeting_held": st.just({}),
    "cpl_opinion_notified": st.just({"opinion": "unfavourable"}),
    "funders_decision_notified": st.fixed_dictionaries({"outcome": st.sampled_from(["maintained", "withdrawn",
                                                                                    "granted"])}),
    "payment_recorded": st.fixed_dictionaries({"component": st.just("fonctionnement.advance"),
                                               "year": st.integers(1, 2),
                                               "amount": st.sampled_from(["1000.00", "30000.00", "60000.00"])}),
    "refund_received": st.just({}),
}
_STEP = st.sampled_from(sorted(_CHOICES)).flatmap(
    lambda kind: st.tuples(st.just(kind), _CHOICES[kind], st.sampled_from([0, 0, 0, 0, 1, 2, 45, 70])))


_SUBMITTED = [*LOI_VALIDATED, ("2025-03-03", "health_project_received", {})]
_ADHESION = [*_SUBMITTED, ("2025-03-10", "health_project_validated", {}),
             ("2025-03-17", "adhesion_requested", ALL_DOCUMENTS)]
_CONTRACTED = [*_ADHESION, ("2025-04-01", "contract_signed", {"missions": ["quality"]}),
               ("2025-04-02", "mission_started", {"mission": "access"})]
# Where generated journals start: every stage from which events can repeat on one day.
_STARTS = {
    "new": [],
    "loi_validated": LOI_VALIDATED,
    "submitted": _SUBMITTED,
    "refused": [*_ADHESION, ("2025-03-20", "contract_refusal_received", {})],
    "contracted": _CONTRACTED,
    "funders_termination": [*_CONTRACTED, ("2025-06-02", "termination_notice_received",
                                           {"initiator": "funders", "grounds": "non_compliance"})],
}


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(start=st.sampled_from(sorted(_STARTS)), steps=st.lists(_STEP, max_size=30))
def test_no_generated_journal_opens_two_deadlines_with_one_identity(start, steps):
    facts = list(_STARTS[start])
    day = D(facts[-1][0]) if facts else D("2025-01-06")
    for kind, data, gap in steps:
        day += timedelta(days=gap)
        if kind == "cpl_meeting_scheduled":
            data = {"date": (day + timedelta(days=data)).isoformat()}
        facts.append((day.isoformat(), kind, data))
    try:
        projection = replay(facts, today=(day + timedelta(days=400)).isoformat())
    except DomainError as exc:  # a DuplicateDeadline would be the projection's safeguard firing
        pytest.fail(f"{type(exc).__name__}: {exc}")
    idents = [d.ident for d in projection.deadlines]
    assert len(idents) == len(set(idents))
    for line in projection.payments.lines if projection.payments else ():
        assert line.remaining is None or line.remaining >= 0


def test_every_data_key_of_the_vocabulary_says_what_it_holds_so_that_a_form_can_offer_it():
    from lifecycle.events import EVENT_SPECS, field_shape

    shapes = {(name, key): field_shape(checker) for name, spec in EVENT_SPECS.items()
              for key, checker in {**spec.required, **spec.optional}.items()}
    assert shapes[("loi_decision", "party")].kind == "choice"
    assert shapes[("loi_decision", "party")].allowed == ("ars", "am")
    assert shapes[("contract_signed", "missions")].allowed == ("quality", "support")
    assert shapes[("adhesion_requested", "documents")].kind == "choices"
    assert shapes[("payment_recorded", "amount")].kind == "paid_amount"
    assert shapes[("cpl_meeting_scheduled", "date")].kind == "date"
    assert shapes[("indicators_reported", "missions")].kind == "indicators"
