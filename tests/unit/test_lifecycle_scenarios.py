"""Whole lifecycles replayed by the pure projection (SPEC §4, §5, §6): no database, dated facts in, what a
binôme or a legal officer would read out.

Every expected date below was counted by hand from the texts:
- months: same day number N months later (CPC art. 641); days: the anchor day is not counted (art. 640-641);
- procedural deadlines roll to the next working day over weekends and the seat's holidays (art. 642),
  backward deadlines to the previous working day; effect, contractual and service dates never roll;
- Moselle (57) adds Good Friday and 26 December to the national holidays.
"""

from __future__ import annotations

from datetime import date

import pytest
from spec_example import ALL_DOCUMENTS

from lifecycle.events import JournalEntry, validate_data
from lifecycle.projection import Projection, project
from lifecycle.ruleset import load_ruleset

RULES = load_ruleset()
D = date.fromisoformat

Fact = tuple[str, str, dict]


def journal(*facts: Fact) -> list[JournalEntry]:
    """Journal entries numbered in the order they were recorded, data shaped as the engine stores it."""
    return [
        JournalEntry(seq=seq, type=kind, at=D(at), data=validate_data(kind, data, allow_system=True))
        for seq, (at, kind, data) in enumerate(facts, start=1)
    ]


def replay(facts: list[Fact], today: str, departement: str = "75") -> Projection:
    return project(journal(*facts), RULES, D(today), departement=departement, population=50_000)


def transitions(projection: Projection) -> list[tuple[str, str, str, str]]:
    return [(h.at.isoformat(), h.event, h.source, h.dest) for h in projection.history]


# A project accompanied in autumn 2019 whose lettre d'intention both the ARS and the AM approved (I §2-3).
LOI_VALIDATED: list[Fact] = [
    ("2019-09-02", "contact_recorded", {"source": "ars"}),
    ("2019-09-16", "first_meeting_held", {}),
    ("2019-10-07", "loi_submitted", {"orientations": "accès aux soins, parcours personnes âgées"}),
    ("2019-11-04", "loi_decision", {"party": "ars", "decision": "approve"}),
    ("2019-11-12", "loi_decision", {"party": "am", "decision": "approve"}),
]


def contracted_on(signed: str, *, missions: list[str] | None = None) -> list[Fact]:
    """The LOI path, then a health project validated in early 2020 and a contract signed on `signed`."""
    return [
        *LOI_VALIDATED,
        ("2020-01-06", "health_project_received", {}),
        ("2020-02-03", "health_project_validated", {}),
        ("2020-03-02", "adhesion_requested", ALL_DOCUMENTS),
        (signed, "contract_signed", {"missions": missions or []}),
    ]


# --------------------------------------------------------------------------- happy path to expiry (Paris)

HAPPY_PATH: list[Fact] = [
    *LOI_VALIDATED,
    ("2019-12-02", "fir_granted", {"amount": "30000.00"}),  # follow-up meeting due 2 June 2020: never held
    ("2020-01-06", "health_project_received", {}),
    ("2020-02-03", "health_project_validated", {}),
    ("2020-03-02", "adhesion_requested", ALL_DOCUMENTS),
    ("2020-10-15", "contract_signed", {}),
    ("2021-05-03", "mission_started", {"mission": "access"}),  # due 15 April 2021: late
    ("2021-09-06", "mission_started", {"mission": "parcours"}),  # due 15 October 2021: on time
    # prevention never starts (due 15 October 2021)
]


def test_a_contract_signed_on_15_october_2020_expires_on_15_october_2025():
    projection = replay(HAPPY_PATH, today="2025-11-03")

    assert projection.state == "expired"
    assert transitions(projection)[-1] == ("2025-10-15", "contract_expired", "contracted", "expired")
    assert (projection.deadline("contract_end").due, projection.deadline("contract_end").status) == (
        D("2025-10-15"), "elapsed")


def test_the_contract_still_runs_on_its_last_day_and_has_expired_the_day_after():
    assert replay(HAPPY_PATH, today="2025-10-15").state == "contracted"
    assert replay(HAPPY_PATH, today="2025-10-16").state == "expired"


def test_the_expiry_is_a_system_event_the_sweep_still_has_to_write():
    projection = replay(HAPPY_PATH, today="2025-11-03")

    assert [(e.type, e.at) for e in projection.due_system_events] == [("contract_expired", D("2025-10-15"))]
    assert projection.history[-1].seq is None


def test_the_happy_path_goes_through_every_pre_contract_state_in_order():
    projection = replay(HAPPY_PATH, today="2025-11-03")

    states = [h.dest for h in projection.history if h.dest != h.source]
    assert states == [
        "prospect", "accompanied", "loi_submitted", "loi_validated", "health_project_submitted",
        "health_project_validated", "adhesion_requested", "contracted", "expired",
    ]


def test_obligations_kept_on_time_are_met_late_ones_met_late_and_missed_ones_breached():
    projection = replay(HAPPY_PATH, today="2025-11-03")

    def seen(key: str) -> tuple[str, str, str | None]:
        d = projection.deadline(key)
        return d.due.isoformat(), d.status, d.met_on.isoformat() if d.met_on else None

    assert seen("first_meeting") == ("2019-09-17", "met", "2019-09-16")  # 15 days, service
    assert seen("fir_followup_meeting") == ("2020-06-02", "breached", None)  # 6 months, never held
    assert seen("fir_renewal") == ("2020-12-02", "met", "2020-10-15")  # relayed by the contract
    assert seen("health_project_opposition") == ("2020-03-06", "met", "2020-02-03")  # explicit validation
    assert seen("mission_start.access") == ("2021-04-15", "met_late", "2021-05-03")  # 6 months
    assert seen("mission_start.parcours") == ("2021-10-15", "met", "2021-09-06")  # 12 months
    assert seen("mission_start.prevention") == ("2021-10-15", "breached", None)


def test_a_mission_that_never_started_is_flagged_for_legal_staff():
    projection = replay(HAPPY_PATH, today="2025-11-03")

    assert "mission_start.prevention breached since 2021-10-15" in projection.legal_flags
    assert not any(flag.startswith("mission_start.parcours") for flag in projection.legal_flags)


def test_annual_reviews_fall_two_months_after_each_anniversary_of_the_signature():
    projection = replay(HAPPY_PATH, today="2021-11-02")

    assert [projection.deadline(f"annual_review.{k}").due for k in (1, 2, 5)] == [
        D("2021-12-15"), D("2022-12-15"), D("2025-12-15")]
    assert projection.deadline("annual_review.1").status == "pending"  # not held yet, not late either
    assert replay(HAPPY_PATH, today="2021-12-16").deadline("annual_review.1").status == "breached"


# --------------------------------------------------------------------------- opposition, then resubmission

OPPOSED_THEN_RESUBMITTED: list[Fact] = [
    *LOI_VALIDATED,
    ("2024-03-04", "health_project_received", {}),  # + 2 months = Sat 4 May → Mon 6 May 2024
    ("2024-04-15", "health_project_opposed", {"grounds": "territory"}),
    ("2024-06-10", "health_project_received", {}),  # + 2 months = Sat 10 Aug → Mon 12 Aug 2024
]


def test_an_opposition_within_the_window_sends_the_health_project_back_to_the_porteurs():
    projection = replay(OPPOSED_THEN_RESUBMITTED[:-1], today="2024-05-20")

    assert projection.state == "health_project_opposed"
    assert not projection.due_system_events  # no tacit validation of an opposed project


def test_a_resubmitted_health_project_opens_a_new_window_from_its_new_receipt():
    projection = replay(OPPOSED_THEN_RESUBMITTED, today="2024-07-01")

    windows = [(d.anchor, d.due, d.status, d.met_on) for d in projection.deadlines
               if d.key == "health_project_opposition"]
    assert windows == [
        (D("2024-03-04"), D("2024-05-06"), "met", D("2024-04-15")),
        (D("2024-06-10"), D("2024-08-12"), "pending", None),
    ]
    assert projection.state == "health_project_submitted"


def test_the_resubmitted_project_is_tacitly_validated_on_12_august_2024():
    assert replay(OPPOSED_THEN_RESUBMITTED, today="2024-08-12").state == "health_project_submitted"

    projection = replay(OPPOSED_THEN_RESUBMITTED, today="2024-08-13")
    assert projection.state == "health_project_validated"
    assert transitions(projection)[-1] == (
        "2024-08-12", "health_project_tacitly_validated", "health_project_submitted", "health_project_validated")


# --------------------------------------------------------------------------- tacit validation and holidays

RECEIVED_18_FEB_2025: list[Fact] = [*LOI_VALIDATED, ("2025-02-18", "health_project_received", {})]


def test_a_health_project_received_on_18_feb_2025_in_moselle_is_tacitly_validated_on_22_apr_2025():
    # 18 Feb + 2 months = Fri 18 Apr 2025, Good Friday in Moselle; then Sat, Sun, Easter Monday 21 Apr.
    projection = replay(RECEIVED_18_FEB_2025, today="2025-04-23", departement="57")

    assert projection.state == "health_project_validated"
    assert transitions(projection)[-1] == (
        "2025-04-22", "health_project_tacitly_validated", "health_project_submitted", "health_project_validated")
    window = projection.deadline("health_project_opposition")
    assert (window.explanation.raw, window.due, window.status) == (D("2025-04-18"), D("2025-04-22"), "elapsed")
    assert [s.day for s in window.explanation.steps] == [
        D("2025-04-18"), D("2025-04-19"), D("2025-04-20"), D("2025-04-21")]
    assert "Vendredi saint" in window.explain()


def test_in_moselle_the_project_is_still_awaiting_the_ars_on_22_april_2025():
    assert replay(RECEIVED_18_FEB_2025, today="2025-04-22", departement="57").state == "health_project_submitted"


def test_in_moselle_the_ars_may_still_oppose_on_22_april_2025():
    facts = [*RECEIVED_18_FEB_2025, ("2025-04-22", "health_project_opposed", {"grounds": "prs_objectives"})]
    projection = replay(facts, today="2025-04-30", departement="57")

    assert projection.state == "health_project_opposed"
    assert projection.rejected == ()
    assert projection.deadline("health_project_opposition").met_on == D("2025-04-22")


def test_the_same_receipt_in_paris_is_tacitly_validated_on_good_friday_18_april_2025():
    # Good Friday is a working day in Paris: no roll-over.
    projection = replay(RECEIVED_18_FEB_2025, today="2025-04-23", departement="75")

    assert projection.state == "health_project_validated"
    assert transitions(projection)[-1][:2] == ("2025-04-18", "health_project_tacitly_validated")
    window = projection.deadline("health_project_opposition")
    assert (window.due, window.explanation.steps) == (D("2025-04-18"), ())


# --------------------------------------------------------------------------- contract refusal and the CPL

REFUSED_THEN_GRANTED: list[Fact] = [
    *LOI_VALIDATED,
    ("2023-09-04", "health_project_received", {}),
    ("2023-10-02", "health_project_validated", {}),
    ("2024-01-08", "adhesion_requested", ALL_DOCUMENTS),
    ("2024-02-12", "contract_refusal_received", {}),  # referral window: 12 Apr 2024 (a Friday)
    ("2024-03-20", "cpl_referral_received", {"subject": "contract_refusal"}),
    ("2024-04-02", "cpl_meeting_scheduled", {"date": "2024-05-14"}),
    ("2024-05-14", "cpl_meeting_held", {}),
    ("2024-06-03", "cpl_opinion_notified", {"opinion": "favourable"}),
    ("2024-06-24", "funders_decision_notified", {"outcome": "granted"}),
]


def test_a_refused_cpts_that_refers_to_the_cpl_and_is_granted_returns_to_adhesion_requested():
    projection = replay(REFUSED_THEN_GRANTED, today="2024-06-25")

    assert projection.state == "adhesion_requested"
    assert transitions(projection)[-6:] == [
        ("2024-02-12", "contract_refusal_received", "adhesion_requested", "contract_refused"),
        ("2024-03-20", "cpl_referral_received", "contract_refused", "contract_refused"),
        ("2024-04-02", "cpl_meeting_scheduled", "contract_refused", "contract_refused"),
        ("2024-05-14", "cpl_meeting_held", "contract_refused", "contract_refused"),
        ("2024-06-03", "cpl_opinion_notified", "contract_refused", "contract_refused"),
        ("2024-06-24", "funders_decision_notified", "contract_refused", "adhesion_requested"),
    ]


def test_once_granted_the_contract_can_be_signed():
    facts = [*REFUSED_THEN_GRANTED, ("2024-07-01", "contract_signed", {})]

    assert replay(facts, today="2024-07-02").state == "contracted"


def test_the_refusal_can_be_referred_to_the_cpl_until_12_april_2024():
    window = replay(REFUSED_THEN_GRANTED, today="2024-06-25").deadline("contract_refusal_cpl_window")

    assert (window.due, window.status, window.met_on) == (D("2024-04-12"), "met", D("2024-03-20"))


def test_the_cpl_must_meet_by_21_may_2024_because_whit_monday_20_may_is_a_holiday():
    meeting = replay(REFUSED_THEN_GRANTED, today="2024-06-25").deadline("cpl_meeting")

    assert (meeting.explanation.raw, meeting.due, meeting.status) == (D("2024-05-20"), D("2024-05-21"), "met")


def test_for_a_cpl_meeting_on_14_may_2024_convocations_go_out_by_29_april_and_the_agenda_by_7_may():
    # 5 days before 14 May = Thu 9 May (Ascension) → Wed 8 May (Victoire 1945) → Tue 7 May.
    projection = replay(REFUSED_THEN_GRANTED, today="2024-04-03")

    assert projection.deadline("cpl_convocation").due == D("2024-04-29")
    agenda = projection.deadline("cpl_agenda")
    assert (agenda.explanation.raw, agenda.due) == (D("2024-05-09"), D("2024-05-07"))
    assert [s.day for s in agenda.explanation.steps] == [D("2024-05-09"), D("2024-05-08")]


def test_after_the_meeting_the_cpl_owes_its_opinion_and_its_minutes_and_the_funders_a_new_decision():
    projection = replay(REFUSED_THEN_GRANTED, today="2024-06-25")

    assert (projection.deadline("cpl_opinion").due, projection.deadline("cpl_opinion").status) == (
        D("2024-06-13"), "met")
    # 14 May + 2 months = Sun 14 July 2024, Fête nationale → Mon 15 July.
    assert projection.deadline("cpl_minutes").due == D("2024-07-15")
    decision = projection.deadline("funders_new_decision")
    assert (decision.due, decision.status, decision.met_on) == (D("2024-07-03"), "met", D("2024-06-24"))


def test_a_new_adhesion_is_refused_while_the_cpl_referral_is_pending():
    referred = REFUSED_THEN_GRANTED[:-4]  # up to the referral of 20 March 2024
    facts = [*referred, ("2024-04-08", "adhesion_requested", ALL_DOCUMENTS)]
    projection = replay(facts, today="2024-04-09")

    assert projection.state == "contract_refused"
    assert "a CPL referral against the refusal is pending" in projection.rejected[-1].error


# --------------------------------------------------------------------------- funders' termination (Moselle)

FUNDERS_TERMINATION: list[Fact] = [
    *contracted_on("2022-03-01"),
    # Effect: Sat 2 Nov 2024 (effect dates do not roll). Referral window: Sat 2 → Mon 4 Nov 2024.
    ("2024-09-02", "termination_notice_received", {"initiator": "funders", "grounds": "non_compliance"}),
    ("2024-10-14", "cpl_referral_received", {"subject": "termination"}),
    # Opinion due 25 Nov + 30 days = Wed 25 Dec (Noël) → Thu 26 Dec (Saint-Étienne in Moselle) → Fri 27 Dec.
    ("2024-11-25", "cpl_meeting_held", {}),
    # no opinion: deemed given on 27 Dec 2024; new decision due 27 Dec + 30 days = Sun 26 Jan → Mon 27 Jan 2025
    ("2025-01-20", "funders_decision_notified", {"outcome": "maintained"}),
]


def funders_termination(today: str, facts: list[Fact] = FUNDERS_TERMINATION) -> Projection:
    return replay(facts, today=today, departement="57")


def test_a_funders_termination_notified_on_2_september_2024_would_take_effect_on_2_november_2024():
    projection = funders_termination("2024-09-03", FUNDERS_TERMINATION[:-3])

    assert projection.state == "termination_pending"
    assert projection.deadline("termination_effective").due == D("2024-11-02")
    assert projection.deadline("termination_cpl_window").due == D("2024-11-04")


def test_a_cpl_referral_suspends_the_termination():
    projection = funders_termination("2024-11-20", FUNDERS_TERMINATION[:-2])

    assert projection.state == "termination_suspended"
    assert projection.deadline("termination_effective").status == "cancelled"
    assert projection.deadline("termination_cpl_window").met_on == D("2024-10-14")
    assert projection.termination_effective_on is None


def test_the_cpl_must_meet_by_16_december_2024():
    meeting = funders_termination("2024-11-20", FUNDERS_TERMINATION[:-2]).deadline("cpl_meeting")

    assert (meeting.explanation.raw, meeting.due) == (D("2024-12-14"), D("2024-12-16"))


def test_without_an_opinion_the_cpl_is_deemed_to_have_given_it_on_27_december_2024():
    projection = funders_termination("2025-01-02", FUNDERS_TERMINATION[:-1])

    opinion = projection.deadline("cpl_opinion")
    assert (opinion.explanation.raw, opinion.due, opinion.status) == (D("2024-12-25"), D("2024-12-27"), "elapsed")
    assert ("2024-12-27", "cpl_opinion_deemed", "termination_suspended", "termination_suspended") in transitions(
        projection)
    assert [(e.type, e.at) for e in projection.due_system_events] == [("cpl_opinion_deemed", D("2024-12-27"))]


def test_after_the_deemed_opinion_the_funders_must_decide_by_27_january_2025():
    decision = funders_termination("2025-01-02", FUNDERS_TERMINATION[:-1]).deadline("funders_new_decision")

    assert (decision.anchor, decision.explanation.raw, decision.due) == (
        D("2024-12-27"), D("2025-01-26"), D("2025-01-27"))


def test_a_termination_maintained_on_20_january_2025_takes_effect_then_not_on_2_november_2024():
    assert funders_termination("2025-01-20").state == "termination_pending"

    projection = funders_termination("2025-01-21")
    assert projection.state == "terminated"
    assert projection.termination_effective_on == D("2025-01-20")
    assert transitions(projection)[-1] == ("2025-01-20", "termination_effective", "termination_pending", "terminated")


def test_a_termination_maintained_before_its_original_date_takes_effect_on_the_original_date():
    facts = [
        *contracted_on("2022-03-01"),
        ("2024-09-02", "termination_notice_received", {"initiator": "funders", "grounds": "ineligible"}),
        ("2024-09-10", "cpl_referral_received", {"subject": "termination"}),
        ("2024-09-20", "cpl_meeting_held", {}),
        ("2024-09-27", "cpl_opinion_notified", {"opinion": "unfavourable"}),
        ("2024-10-07", "funders_decision_notified", {"outcome": "maintained"}),
    ]

    assert funders_termination("2024-11-02", facts).state == "termination_pending"
    projection = funders_termination("2024-11-03", facts)
    assert projection.state == "terminated"
    assert projection.termination_effective_on == D("2024-11-02")


def test_a_withdrawn_termination_puts_the_contract_back_in_force():
    facts = [*FUNDERS_TERMINATION[:-1], ("2025-01-20", "funders_decision_notified", {"outcome": "withdrawn"})]
    projection = funders_termination("2025-03-01", facts)

    assert projection.state == "contracted"
    assert projection.termination_effective_on is None


def test_a_referral_on_monday_4_november_2024_the_rolled_last_day_of_the_window_still_suspends_the_termination():
    # The window (procedural) rolled past the effect date (Sat 2 Nov): the referral is admissible, and it
    # suspends the effect that has not happened yet (ACI art. 11.2).
    facts = [*FUNDERS_TERMINATION[:-3], ("2024-11-04", "cpl_referral_received", {"subject": "termination"})]
    projection = funders_termination("2024-11-20", facts)

    assert projection.state == "termination_suspended"
    assert projection.deadline("termination_effective").status == "cancelled"  # not "elapsed" on 2 Nov
    assert projection.rejected == ()  # no termination_effective fired into a suspended case


def test_without_a_referral_the_funders_termination_takes_effect_dated_2_november_2024():
    projection = funders_termination("2024-11-05", FUNDERS_TERMINATION[:-3])

    assert projection.state == "terminated"
    assert projection.termination_effective_on == D("2024-11-02")


# --------------------------------------------------------------------------- termination by the CPTS

CPTS_TERMINATION: list[Fact] = [
    *contracted_on("2022-03-01"),
    ("2024-09-02", "termination_notice_received", {"initiator": "cpts"}),
]


def test_a_termination_by_the_cpts_received_on_2_september_2024_takes_effect_on_saturday_2_november():
    assert replay(CPTS_TERMINATION, today="2024-11-02").state == "termination_pending"

    projection = replay(CPTS_TERMINATION, today="2024-11-03")
    assert projection.state == "terminated"
    assert transitions(projection)[-1] == ("2024-11-02", "termination_effective", "termination_pending", "terminated")


def test_a_termination_by_the_cpts_opens_no_cpl_window():
    projection = replay(CPTS_TERMINATION, today="2024-09-03")

    with pytest.raises(KeyError):
        projection.deadline("termination_cpl_window")


def test_a_cpl_referral_of_a_termination_by_the_cpts_is_rejected():
    facts = [*CPTS_TERMINATION, ("2024-09-16", "cpl_referral_received", {"subject": "termination"})]
    projection = replay(facts, today="2024-09-17")

    assert projection.state == "termination_pending"
    (rejection,) = projection.rejected
    assert rejection.type == "cpl_referral_received"
    assert "initiated by the CPTS" in rejection.error
    assert "ACI art. 11.2" in rejection.error


# --------------------------------------------------------------------------- voided and backdated events

def test_a_voided_opposition_is_left_out_and_the_project_is_tacitly_validated_after_all():
    facts = [
        *RECEIVED_18_FEB_2025,
        ("2025-03-10", "health_project_opposed", {"grounds": "territory"}),  # seq 7
        ("2025-03-11", "event_voided", {"seq": 7, "reason": "recorded on the wrong CPTS"}),  # seq 8
    ]

    projection = replay(facts, today="2025-03-12", departement="57")
    assert projection.state == "health_project_submitted"
    assert projection.voided == {7: 8}
    assert "health_project_opposed" not in [h.event for h in projection.history]
    assert projection.deadline("health_project_opposition").status == "pending"

    assert replay(facts, today="2025-04-23", departement="57").state == "health_project_validated"


def test_voiding_the_second_approval_of_the_lettre_d_intention_brings_it_back_to_loi_submitted():
    facts = [*LOI_VALIDATED, ("2019-11-14", "event_voided", {"seq": 5, "reason": "signed by the wrong CPAM"})]

    assert replay(facts, today="2019-11-15").state == "loi_submitted"


def test_a_first_meeting_recorded_after_the_lettre_d_intention_but_dated_before_it_is_replayed_in_date_order():
    facts: list[Fact] = [
        ("2024-01-08", "contact_recorded", {"source": "cpam"}),  # seq 1
        ("2024-02-20", "loi_submitted", {}),  # seq 2, recorded first
        ("2024-01-15", "first_meeting_held", {}),  # seq 3, recorded late, backdated
    ]
    projection = replay(facts, today="2024-02-21")

    assert projection.state == "loi_submitted"
    assert [(h.seq, h.event) for h in projection.history] == [
        (1, "contact_recorded"), (3, "first_meeting_held"), (2, "loi_submitted")]
    assert projection.rejected == ()
    assert projection.deadline("first_meeting").status == "met"  # due 23 Jan 2024, held 15 Jan


# --------------------------------------------------------------------------- lettre d'intention (I §3)

LOI_SUBMITTED: list[Fact] = [
    ("2024-01-08", "contact_recorded", {"source": "porteur"}),
    ("2024-01-15", "first_meeting_held", {}),
    ("2024-02-05", "loi_submitted", {}),
]


def test_one_approval_of_the_lettre_d_intention_is_not_enough():
    facts = [*LOI_SUBMITTED, ("2024-03-04", "loi_decision", {"party": "ars", "decision": "approve"})]

    assert replay(facts, today="2024-03-05").state == "loi_submitted"


def test_the_second_approval_validates_the_lettre_d_intention():
    facts = [
        *LOI_SUBMITTED,
        ("2024-03-04", "loi_decision", {"party": "ars", "decision": "approve"}),
        ("2024-03-11", "loi_decision", {"party": "am", "decision": "approve"}),
    ]

    assert replay(facts, today="2024-03-12").state == "loi_validated"


def test_a_rejection_by_either_party_sends_the_project_back_to_accompanied():
    facts = [
        *LOI_SUBMITTED,
        ("2024-03-04", "loi_decision", {"party": "ars", "decision": "approve"}),
        ("2024-03-11", "loi_decision", {"party": "am", "decision": "reject"}),
    ]

    assert replay(facts, today="2024-03-12").state == "accompanied"


def test_a_resubmitted_lettre_d_intention_needs_both_approvals_again():
    facts = [
        *LOI_SUBMITTED,
        ("2024-03-04", "loi_decision", {"party": "ars", "decision": "approve"}),
        ("2024-03-11", "loi_decision", {"party": "am", "decision": "reject"}),
        ("2024-04-02", "loi_submitted", {}),
        ("2024-04-15", "loi_decision", {"party": "am", "decision": "approve"}),
    ]

    assert replay(facts, today="2024-04-16").state == "loi_submitted"


def test_the_same_party_cannot_approve_twice():
    facts = [
        *LOI_SUBMITTED,
        ("2024-03-04", "loi_decision", {"party": "ars", "decision": "approve"}),
        ("2024-03-11", "loi_decision", {"party": "ars", "decision": "approve"}),
    ]
    projection = replay(facts, today="2024-03-12")

    assert projection.state == "loi_submitted"
    assert "the ARS has already approved" in projection.rejected[-1].error


# --------------------------------------------------------------------------- guards say why

def test_an_opposition_after_the_window_closed_is_rejected_saying_when_it_closed():
    facts = [*RECEIVED_18_FEB_2025, ("2025-04-22", "health_project_opposed", {"grounds": "territory"})]
    projection = replay(facts, today="2025-04-23", departement="75")

    assert projection.state == "health_project_validated"
    (rejection,) = projection.rejected
    assert rejection.type == "health_project_opposed"
    # The user must learn why: the window closed (and the project was tacitly validated) on 18 April 2025.
    assert "health_project_validated" in rejection.error
    assert "2025-04-18" in rejection.error


def test_starting_a_mission_that_is_not_in_the_contract_is_rejected_and_names_the_contract_missions():
    facts = [*contracted_on("2022-03-01"), ("2022-06-01", "mission_started", {"mission": "quality"})]
    projection = replay(facts, today="2022-06-02")

    assert projection.state == "contracted"
    assert projection.rejected[-1].error.endswith(
        "mission quality is not in the contract (contract missions: access, parcours, prevention, crisis)")


def test_an_optional_mission_chosen_at_signature_can_start():
    facts = [*contracted_on("2022-03-01", missions=["quality"]),
             ("2022-06-01", "mission_started", {"mission": "quality"})]

    assert replay(facts, today="2022-06-02").rejected == ()


def test_an_adhesion_request_with_missing_documents_names_the_missing_ones():
    facts = [
        *LOI_VALIDATED,
        ("2020-01-06", "health_project_received", {}),
        ("2020-02-03", "health_project_validated", {}),
        ("2020-03-02", "adhesion_requested", {"documents": ["health_project", "statutes"]}),
    ]
    projection = replay(facts, today="2020-03-03")

    assert projection.state == "health_project_validated"
    assert "missing territory, members" in projection.rejected[-1].error


def test_a_refusal_referred_after_its_window_closed_is_rejected_saying_when_it_closed():
    refused = REFUSED_THEN_GRANTED[:-5]  # up to the refusal of 12 February 2024
    facts = [*refused, ("2024-04-15", "cpl_referral_received", {"subject": "contract_refusal"})]
    projection = replay(facts, today="2024-04-16")

    assert projection.state == "contract_refused"
    assert "referral no longer admissible" in projection.rejected[-1].error
    assert "2024-04-12" in projection.rejected[-1].error  # when the window closed
