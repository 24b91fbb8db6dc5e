"""The CPL procedure completed by events (issue 12 part 1; ACI art. 12.4, annex 5 règlement intérieur):
convocations, agenda, the deliberation (quorum, parity, proxies, votes), the opinion, the minutes, a carence.

Every expected date below was counted by hand from the texts:
- days: the anchor day is not counted (CPC art. 640-641); months: same day number N months later (art. 641);
- procedural deadlines roll to the next working day (art. 642), backward ones ("at least N days before the
  meeting") to the previous working day; a deadline is breached from the first day after its due date;
- the seat is Paris (75): national holidays only (Easter Monday 21 April 2025).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from spec_example import ALL_DOCUMENTS

from lifecycle.errors import EventRejected
from lifecycle.events import JournalEntry, validate_data
from lifecycle.projection import Projection, project
from lifecycle.reminders import notices_due
from lifecycle.ruleset import Ruleset, load_ruleset

RULES = load_ruleset()
D = date.fromisoformat
Fact = tuple[str, str, dict]

# A CPTS refused its contract on Monday 6 January 2025, which refers the refusal to the CPL on Monday 3 February
# (ACI art. 12.4.1); the CPL meeting is fixed on Thursday 20 March 2025.
REFERRED: list[Fact] = [
    ("2019-09-02", "contact_recorded", {"source": "ars"}),
    ("2019-09-16", "first_meeting_held", {}),
    ("2019-10-07", "loi_submitted", {}),
    ("2019-11-04", "loi_decision", {"party": "ars", "decision": "approve"}),
    ("2019-11-12", "loi_decision", {"party": "am", "decision": "approve"}),
    ("2024-09-02", "health_project_received", {}),
    ("2024-10-01", "health_project_validated", {}),
    ("2024-11-04", "adhesion_requested", ALL_DOCUMENTS),
    ("2025-01-06", "contract_refusal_received", {}),
    ("2025-02-03", "cpl_referral_received", {"subject": "contract_refusal"}),
    ("2025-02-10", "cpl_meeting_scheduled", {"date": "2025-03-20"}),
]
# Four members of each section present or represented (6 seats each by default: quorum 3), one proxy each.
DELIBERATION = {
    "present": {"professional": 3, "social": 3},
    "represented": {"professional": 1, "social": 1},
    "proxies": [{"holder": "Dr Martin", "count": 1}, {"holder": "Mme Durand", "count": 1}],
    "votes": {"for": 4, "against": 3, "blank": 1, "abstention": 0},
}
TIE_KEPT = {
    "present": {"professional": 4, "social": 4},
    "votes": {"for": 3, "against": 3, "blank": 0, "abstention": 2},
    "second_vote": {"for": 4, "against": 4, "blank": 0, "abstention": 0},
}


def journal(facts: list[Fact]) -> list[JournalEntry]:
    return [JournalEntry(seq=seq, type=kind, at=D(at), data=validate_data(kind, data, allow_system=True))
            for seq, (at, kind, data) in enumerate(facts, start=1)]


def replay(facts: list[Fact], today: str, rules: Ruleset = RULES) -> Projection:
    return project(journal(facts), rules, D(today), departement="75", population=50_000)


def ruleset_with(tmp_path: Path, old: str, new: str) -> Ruleset:
    """The packaged ruleset with one setting changed, as a deployment would set its own."""
    text = Path(RULES.path).read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "ruleset.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_ruleset(path)


# ------------------------------------------------------------------------------ convocations and agenda
def test_convocations_are_due_on_5_march_and_the_agenda_on_friday_14_march_for_a_meeting_on_20_march():
    # 20 March − 15 days = Wednesday 5 March 2025 (a working day).
    # 20 March − 5 days = Saturday 15 March → backward roll-over to Friday 14 March.
    projection = replay(REFERRED, today="2025-02-11")

    convocation, agenda = projection.deadline("cpl_convocation"), projection.deadline("cpl_agenda")
    assert (convocation.due, convocation.status, convocation.at_expiry) == (D("2025-03-05"), "pending", "breach")
    assert (agenda.explanation.raw, agenda.due) == (D("2025-03-15"), D("2025-03-14"))
    assert "legal" in convocation.recipients and "legal" in agenda.recipients


def test_a_convocation_sent_14_days_before_the_meeting_is_breached():
    # Due Wednesday 5 March; sent Thursday 6 March, 14 days before 20 March: breached from 6 March, and once
    # sent it stays a late completion, never `met`.
    unsent = replay(REFERRED, today="2025-03-06")
    assert unsent.deadline("cpl_convocation").status == "breached"
    breach = [n for n in notices_due(unsent, RULES, D("2025-03-06")) if n.deadline.key == "cpl_convocation"]
    assert [(n.kind, n.send_on) for n in breach] == [("breach", D("2025-03-06"))]
    assert "legal" in breach[0].roles

    sent_late = replay([*REFERRED, ("2025-03-06", "cpl_convocations_sent", {})], today="2025-03-07")
    convocation = sent_late.deadline("cpl_convocation")
    assert (convocation.status, convocation.met_on) == ("met_late", D("2025-03-06"))


def test_convocations_sent_on_5_march_and_the_agenda_on_14_march_are_met():
    facts = [*REFERRED, ("2025-03-05", "cpl_convocations_sent", {}), ("2025-03-14", "cpl_agenda_sent", {})]
    projection = replay(facts, today="2025-03-15")

    assert projection.deadline("cpl_convocation").status == "met"
    assert (projection.deadline("cpl_agenda").status, projection.deadline("cpl_agenda").met_on) == (
        "met", D("2025-03-14"))


def test_an_agenda_not_sent_by_friday_14_march_is_breached_on_saturday_15_march():
    assert replay(REFERRED, today="2025-03-14").deadline("cpl_agenda").status == "pending"
    assert replay(REFERRED, today="2025-03-15").deadline("cpl_agenda").status == "breached"


def test_convocations_are_refused_before_a_meeting_is_fixed_on_the_meeting_day_and_twice():
    before_scheduling = replay([*REFERRED[:-1], ("2025-02-05", "cpl_convocations_sent", {})], today="2025-02-06")
    assert "no CPL meeting is scheduled" in before_scheduling.rejected[-1].error

    on_the_day = replay([*REFERRED, ("2025-03-20", "cpl_agenda_sent", {})], today="2025-03-21")
    assert "must be dated before the CPL meeting of 2025-03-20" in on_the_day.rejected[-1].error

    twice = replay([*REFERRED, ("2025-03-03", "cpl_convocations_sent", {}),
                    ("2025-03-04", "cpl_convocations_sent", {})], today="2025-03-05")
    assert "was already recorded on 2025-03-03 for the meeting of 2025-03-20" in twice.rejected[-1].error


def test_a_meeting_moved_to_3_april_is_convened_anew_by_19_march():
    # Convocations sent 3 March for 20 March; the meeting is moved on 10 March to Thursday 3 April:
    # 3 April − 15 days = Wednesday 19 March. The first convocations stay met; the new ones are owed.
    facts = [*REFERRED, ("2025-03-03", "cpl_convocations_sent", {}),
             ("2025-03-10", "cpl_meeting_scheduled", {"date": "2025-04-03"})]
    projection = replay(facts, today="2025-03-11")

    convocations = [d for d in projection.deadlines if d.key == "cpl_convocation"]
    assert [(d.due, d.status) for d in convocations] == [(D("2025-03-05"), "met"), (D("2025-03-19"), "pending")]
    resent = replay([*facts, ("2025-03-18", "cpl_convocations_sent", {})], today="2025-03-19")
    assert resent.deadline("cpl_convocation").status == "met"


# ------------------------------------------------------------------------------ the deliberation
def test_a_meeting_recorded_without_its_deliberation_is_still_accepted():
    projection = replay([*REFERRED, ("2025-03-20", "cpl_meeting_held", {})], today="2025-03-21")

    assert projection.rejected == ()
    assert projection.history[-1].event == "cpl_meeting_held"


def test_a_deliberation_with_quorum_and_parity_is_accepted():
    projection = replay([*REFERRED, ("2025-03-20", "cpl_meeting_held", DELIBERATION)], today="2025-03-21")

    assert projection.rejected == ()
    assert projection.accepted[-1].data["proxies"][0] == {"holder": "Dr Martin", "count": 1}


def test_a_deliberation_with_3_professional_and_4_social_members_present_is_refused_for_parity():
    # Quorum holds (3 and 4 of 6, at least 3 each); parity does not.
    data = {"present": {"professional": 3, "social": 4}, "votes": {"for": 4, "against": 3, "blank": 0,
                                                                    "abstention": 0}}
    projection = replay([*REFERRED, ("2025-03-20", "cpl_meeting_held", data)], today="2025-03-21")

    error = projection.rejected[-1].error
    assert "the CPL cannot deliberate: no parity (3 professional and 4 social members" in error
    assert "quorum" not in error
    assert projection.history[-1].event == "cpl_meeting_scheduled"


def test_a_deliberation_without_quorum_is_refused_naming_the_section(tmp_path):
    # A CPL whose professional section has 8 seats (quorum 4) and social section 6 (quorum 3): 3 and 3 present.
    rules = ruleset_with(tmp_path, "professional_members = 6", "professional_members = 8")
    data = {"present": {"professional": 3, "social": 3},
            "votes": {"for": 4, "against": 2, "blank": 0, "abstention": 0}}
    projection = replay([*REFERRED, ("2025-03-20", "cpl_meeting_held", data)], today="2025-03-21", rules=rules)

    error = projection.rejected[-1].error
    assert "no quorum in the professional section (3 present or represented, at least 4 of 8 needed)" in error
    assert "social section" not in error and "parity" not in error


def test_a_member_holding_4_proxies_is_refused():
    data = {"present": {"professional": 1, "social": 5}, "represented": {"professional": 4, "social": 0},
            "proxies": [{"holder": "Dr Martin", "count": 4}],
            "votes": {"for": 6, "against": 4, "blank": 0, "abstention": 0}}
    projection = replay([*REFERRED, ("2025-03-20", "cpl_meeting_held", data)], today="2025-03-21")

    assert "Dr Martin holds 4 proxies: no member holds more than 3" in projection.rejected[-1].error


@pytest.mark.parametrize(("data", "says"), [
    ({"votes": {"for": 1, "against": 0, "blank": 0, "abstention": 0}}, "a deliberation needs present"),
    ({"present": {"professional": 3, "social": 3}, "votes": {"for": 3, "against": 3, "blank": 0,
                                                              "abstention": 0}}, "the vote is tied"),
    ({**DELIBERATION, "second_vote": {"for": 4, "against": 3, "blank": 1, "abstention": 0}},
     "a second vote follows only a tied vote"),
    ({"present": {"professional": 3, "social": 3}, "votes": {"for": 5, "against": 2, "blank": 0,
                                                              "abstention": 0}}, "counts 7 ballots for 6 members"),
    ({**DELIBERATION, "proxies": [{"holder": "Dr Martin", "count": 0}]}, "holds at least 1"),
    ({"present": {"professional": 3}, "votes": {"for": 1, "against": 0, "blank": 0, "abstention": 0}},
     "present="),
])
def test_a_malformed_deliberation_is_refused_when_recorded(data, says):
    with pytest.raises(EventRejected, match=says):
        validate_data("cpl_meeting_held", data)


def test_the_form_may_send_the_deliberation_as_json_text():
    data = validate_data("cpl_meeting_held", {"present": '{"professional": 3, "social": 3}',
                                              "votes": '{"for": 4, "against": 2, "blank": 0, "abstention": 0}',
                                              "proxies": "[]"})
    assert data == {"present": {"professional": 3, "social": 3}, "proxies": [],
                    "votes": {"for": 4, "against": 2, "blank": 0, "abstention": 0}}


# ------------------------------------------------------------------------------ the opinion
def test_a_tie_kept_after_the_second_vote_gives_no_agreement():
    held = [*REFERRED, ("2025-03-20", "cpl_meeting_held", TIE_KEPT)]

    favourable = replay([*held, ("2025-03-27", "cpl_opinion_notified", {"opinion": "favourable"})], "2025-03-28")
    assert "stayed tied after the second vote: its opinion is no_agreement" in favourable.rejected[-1].error

    projection = replay([*held, ("2025-03-27", "cpl_opinion_notified", {"opinion": "no_agreement"})], "2025-03-28")
    assert projection.rejected == ()
    # The funders' new decision is due 30 days after the notification: 27 March + 30 days = Saturday 26 April
    # → Monday 28 April 2025.
    assert projection.deadline("funders_new_decision").due == D("2025-04-28")


def test_no_agreement_is_refused_after_a_majority_vote():
    facts = [*REFERRED, ("2025-03-20", "cpl_meeting_held", DELIBERATION),
             ("2025-03-27", "cpl_opinion_notified", {"opinion": "no_agreement"})]

    assert "reached a majority" in replay(facts, today="2025-03-28").rejected[-1].error


def test_a_deemed_opinion_stays_distinct_from_no_agreement():
    # Meeting 20 March + 30 days = Saturday 19 April → Tuesday 22 April (Easter Monday 21 April): deemed then.
    projection = replay([*REFERRED, ("2025-03-20", "cpl_meeting_held", TIE_KEPT)], today="2025-04-23")

    assert projection.deadline("cpl_opinion").due == D("2025-04-22")
    assert [e.type for e in projection.due_system_events] == ["cpl_opinion_deemed"]


# ------------------------------------------------------------------------------ the minutes
def test_minutes_are_due_within_two_months_of_the_meeting_and_breached_after():
    # 20 March + 2 months = Tuesday 20 May 2025.
    held = [*REFERRED, ("2025-03-20", "cpl_meeting_held", DELIBERATION)]

    assert replay(held, today="2025-05-20").deadline("cpl_minutes").due == D("2025-05-20")
    assert replay(held, today="2025-05-21").deadline("cpl_minutes").status == "breached"
    signed = replay([*held, ("2025-05-15", "cpl_minutes_signed", {})], today="2025-05-21")
    assert signed.deadline("cpl_minutes").status == "met"


def test_minutes_are_refused_before_the_meeting_and_twice():
    early = replay([*REFERRED, ("2025-03-01", "cpl_minutes_signed", {})], today="2025-03-02")
    assert "the CPL has not met yet" in early.rejected[-1].error

    held = [*REFERRED, ("2025-03-20", "cpl_meeting_held", {}), ("2025-04-01", "cpl_minutes_signed", {}),
            ("2025-04-02", "cpl_minutes_signed", {})]
    assert "were already signed on 2025-04-01" in replay(held, today="2025-04-03").rejected[-1].error


def test_minutes_may_be_signed_after_the_funders_granted_the_contract():
    facts = [*REFERRED, ("2025-03-20", "cpl_meeting_held", DELIBERATION),
             ("2025-03-27", "cpl_opinion_notified", {"opinion": "favourable"}),
             ("2025-04-10", "funders_decision_notified", {"outcome": "granted"}),
             ("2025-05-02", "cpl_minutes_signed", {})]
    projection = replay(facts, today="2025-05-03")

    assert projection.state == "adhesion_requested"
    assert projection.deadline("cpl_minutes").status == "met"


# ------------------------------------------------------------------------------ a carence (annex 5 art. 4)
# The one-month window is the packaged ruleset's row `cpl_carence_window` (an interpretation: not in SPEC §5).
CARENCE = [*REFERRED, ("2025-03-21", "cpl_carence_recorded", {"section": "social", "reason": "quorum absent "
                                                              "twice, social section"})]
PROFESSIONAL_ALONE = {"present": {"professional": 4, "social": 0},
                      "votes": {"for": 3, "against": 1, "blank": 0, "abstention": 0}}


@pytest.fixture
def carence_rules() -> Ruleset:
    return load_ruleset()


def test_a_carence_opens_a_one_month_window(carence_rules):
    # Friday 21 March 2025 + 1 month = Monday 21 April, Easter Monday → Tuesday 22 April 2025.
    projection = replay(CARENCE, today="2025-03-22", rules=carence_rules)

    window = projection.deadline("cpl_carence_window")
    assert (window.explanation.raw, window.due, window.status) == (D("2025-04-21"), D("2025-04-22"), "pending")
    assert "legal" in window.recipients
    assert replay(CARENCE, today="2025-04-23", rules=carence_rules).deadline("cpl_carence_window").status == (
        "elapsed")


def test_after_the_carence_window_the_other_section_deliberates_alone(carence_rules):
    within = replay([*CARENCE, ("2025-04-22", "cpl_meeting_held", PROFESSIONAL_ALONE)], "2025-04-23",
                    rules=carence_rules)
    assert "no quorum in the social section" in within.rejected[-1].error

    after = replay([*CARENCE, ("2025-04-23", "cpl_meeting_held", PROFESSIONAL_ALONE)], "2025-04-24",
                   rules=carence_rules)
    assert after.rejected == ()


def test_a_carence_needs_its_section_and_a_pending_referral():
    with pytest.raises(EventRejected, match="section"):
        validate_data("cpl_carence_recorded", {"section": "both", "reason": "x"})
    before = replay([*REFERRED[:-2], ("2025-01-20", "cpl_carence_recorded", {"section": "social", "reason": "r"})],
                    today="2025-01-21")
    assert "no CPL referral is pending" in before.rejected[-1].error
