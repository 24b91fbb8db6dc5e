"""The ACI-2019 ruleset (SPEC §5, §7): amounts, sizes, deadlines, the accord's validity, and the loader's refusals.

Expected values are literals copied out of SPEC.md, not read back from the TOML file.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from importlib import resources
from pathlib import Path

import pytest

from lifecycle.calendar import DeadlineKind, Period
from lifecycle.errors import RulesetError
from lifecycle.ruleset import load_ruleset

PACKAGED_TEXT = resources.files("lifecycle.rulesets").joinpath("aci-2019.toml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rules():
    return load_ruleset()


# --- amounts (SPEC §7) --------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "total"), [(1, 185_000), (2, 242_000), (3, 315_000), (4, 380_000)])
def test_the_annual_total_without_the_snp_orientation_service(rules, size, total):
    assert rules.annual_total(size, snp_orientation=False) == total


@pytest.mark.parametrize(("size", "total"), [(1, 220_000), (2, 287_000), (3, 370_000), (4, 450_000)])
def test_the_annual_total_with_the_snp_orientation_service(rules, size, total):
    assert rules.annual_total(size, snp_orientation=True) == total


def test_fonctionnement_is_50_000_60_000_75_000_90_000(rules):
    assert rules.fonctionnement == (50_000, 60_000, 75_000, 90_000)


@pytest.mark.parametrize(
    ("mission", "component", "amounts"),
    [
        ("access", "fixed", (15_000, 17_500, 25_000, 30_000)),
        ("access", "variable", (15_000, 17_500, 25_000, 30_000)),
        ("access", "snp_compensation", (10_000, 12_000, 15_000, 20_000)),
        ("access", "snp_orientation", (35_000, 45_000, 55_000, 70_000)),
        ("parcours", "fixed", (25_000, 35_000, 45_000, 50_000)),
        ("parcours", "variable", (25_000, 35_000, 45_000, 50_000)),
        ("prevention", "fixed", (10_000, 15_000, 17_500, 20_000)),
        ("prevention", "variable", (10_000, 15_000, 17_500, 20_000)),
        ("quality", "fixed", (7_500, 10_000, 15_000, 20_000)),
        ("quality", "variable", (7_500, 10_000, 15_000, 20_000)),
        ("support", "fixed", (5_000, 7_500, 10_000, 15_000)),
        ("support", "variable", (5_000, 7_500, 10_000, 15_000)),
    ],
)
def test_each_row_of_the_amounts_table(rules, mission, component, amounts):
    assert getattr(rules.missions[mission], component) == amounts


def test_only_the_access_mission_carries_snp_components(rules):
    for mission in ("parcours", "prevention", "quality", "support"):
        assert rules.missions[mission].snp_compensation == ()
        assert rules.missions[mission].snp_orientation == ()


def test_the_socle_missions_alone_with_snp_compensation_for_a_size_2_territory(rules):
    # 60 000 + access 17 500·2 + 12 000 + parcours 35 000·2 + prevention 15 000·2 = 207 000
    assert rules.annual_total(2, snp_orientation=False, missions=("access", "parcours", "prevention")) == 207_000


def test_advances_are_three_quarters_and_settlement_comes_two_months_after_the_anniversary(rules):
    assert rules.advance_rate == Fraction(3, 4)
    assert rules.settlement_delay_months == 2


def test_the_contract_runs_five_years_with_three_socle_and_two_optional_missions(rules):
    assert (rules.contract_years, rules.contract_months) == (5, 60)
    assert set(rules.socle_missions) == {"access", "parcours", "prevention"}
    assert set(rules.optional_missions) == {"quality", "support"}


# --- sizes (ACI art. 7.1) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("population", "size"),
    [
        (0, 1),
        (39_999, 1),
        (40_000, 2),
        (79_999, 2),
        (80_000, 2),  # named by two bands: size 2 (interpretation, SPEC §3)
        (80_001, 3),
        (174_999, 3),
        (175_000, 3),  # "> 175 000" is size 4: exactly 175 000 is size 3 (ACI art. 7.1, SPEC §3)
        (175_001, 4),
        (2_000_000, 4),
    ],
)
def test_a_territory_s_size_follows_its_population(rules, population, size):
    assert rules.size_for(population) == size


# --- deadlines (SPEC §5) ------------------------------------------------------------------------------

PROCEDURAL, EFFECT, CONTRACTUAL, SERVICE = (
    DeadlineKind.PROCEDURAL,
    DeadlineKind.EFFECT,
    DeadlineKind.CONTRACTUAL,
    DeadlineKind.SERVICE,
)
# key, anchors, period, kind, backward — one row of SPEC §5 each. Anniversary K rows are one rule per
# contract year; "cpl_meeting_scheduled (date M)" is the meeting date; "termination effective date" likewise.
SPEC_DEADLINES = [
    ("first_meeting", ("contact_recorded",), Period(days=15), SERVICE, False),
    ("fir_followup_meeting", ("fir_granted",), Period(months=6), SERVICE, False),
    ("fir_renewal", ("fir_granted", "fir_renewed"), Period(months=12), SERVICE, False),
    ("health_project_opposition", ("health_project_received",), Period(months=2), PROCEDURAL, False),
    ("contract_refusal_cpl_window", ("contract_refusal_received",), Period(months=2), PROCEDURAL, False),
    ("mission_start.access", ("contract_signed",), Period(months=6), CONTRACTUAL, False),
    ("mission_deployment.access", ("contract_signed",), Period(months=18), CONTRACTUAL, False),
    ("mission_start.parcours", ("contract_signed",), Period(months=12), CONTRACTUAL, False),
    ("mission_start.prevention", ("contract_signed",), Period(months=12), CONTRACTUAL, False),
    ("mission_deployment.parcours", ("contract_signed",), Period(months=24), CONTRACTUAL, False),
    ("mission_deployment.prevention", ("contract_signed",), Period(months=24), CONTRACTUAL, False),
    ("annual_review", ("anniversary",), Period(months=2), CONTRACTUAL, False),
    ("members_update", ("anniversary",), Period(), CONTRACTUAL, False),
    ("contract_end", ("contract_signed",), Period(months=60), EFFECT, False),
    ("termination_effective", ("termination_notice_received",), Period(months=2), EFFECT, False),
    ("termination_cpl_window", ("termination_notice_received",), Period(months=2), PROCEDURAL, False),
    ("cpl_meeting", ("cpl_referral_received",), Period(months=2), PROCEDURAL, False),
    ("cpl_convocation", ("cpl_meeting_date",), Period(days=15), PROCEDURAL, True),
    ("cpl_agenda", ("cpl_meeting_date",), Period(days=5), PROCEDURAL, True),
    ("cpl_opinion", ("cpl_meeting_held",), Period(days=30), PROCEDURAL, False),
    ("funders_new_decision", ("cpl_opinion_notified", "cpl_opinion_deemed"), Period(days=30), PROCEDURAL, False),
    ("cpl_minutes", ("cpl_meeting_held",), Period(months=2), PROCEDURAL, False),
    # Not in SPEC §5: the règlement intérieur's carence (annex 5 art. 4), added with issue 12 (interpretation).
    ("cpl_carence_window", ("cpl_carence_recorded",), Period(months=1), PROCEDURAL, False),
    ("refund", ("termination_effective_date",), Period(months=2), PROCEDURAL, False),
]


@pytest.mark.parametrize(
    ("key", "anchors", "period", "kind", "before"), SPEC_DEADLINES, ids=[row[0] for row in SPEC_DEADLINES]
)
def test_each_deadline_of_spec_section_5_has_its_anchor_period_and_kind(rules, key, anchors, period, kind, before):
    rule = rules.deadline(key)
    assert (rule.anchors, rule.period, rule.kind, rule.before) == (anchors, period, kind, before)


def test_the_ruleset_holds_no_deadline_spec_section_5_does_not_list(rules):
    assert set(rules.deadlines) == {row[0] for row in SPEC_DEADLINES}


def test_annual_review_and_members_update_are_counted_per_contract_year(rules):
    assert rules.deadline("annual_review").per_contract_year
    assert rules.deadline("members_update").per_contract_year


@pytest.mark.parametrize(
    ("key", "event"),
    [
        ("health_project_opposition", "health_project_tacitly_validated"),
        ("contract_end", "contract_expired"),
        ("termination_effective", "termination_effective"),
        ("cpl_opinion", "cpl_opinion_deemed"),
    ],
)
def test_a_deadline_whose_expiry_is_a_system_event_names_it(rules, key, event):
    rule = rules.deadline(key)
    assert (rule.at_expiry, rule.event) == ("system_event", event)


@pytest.mark.parametrize(
    ("key", "mission"),
    [
        ("mission_start.access", "access"),
        ("mission_deployment.access", "access"),
        ("mission_start.parcours", "parcours"),
        ("mission_deployment.parcours", "parcours"),
        ("mission_start.prevention", "prevention"),
        ("mission_deployment.prevention", "prevention"),
    ],
)
def test_mission_deadlines_name_their_mission(rules, key, mission):
    assert rules.deadline(key).mission == mission


def test_the_cpl_window_against_a_termination_opens_only_when_the_funders_terminate(rules):
    assert rules.deadline("termination_cpl_window").only_if == {"initiator": "funders"}


def test_a_cpl_referral_suspends_the_effect_of_a_termination(rules):
    assert "cpl_referral_received" in rules.deadline("termination_effective").cancelled_by


def test_aci_2019_declares_no_deadline_franc(rules):
    assert not any(rule.franc for rule in rules.deadlines.values())


def test_an_unknown_deadline_key_is_refused_naming_the_key(rules):
    with pytest.raises(RulesetError, match=r"deadlines\.no_such_deadline"):
        rules.deadline("no_such_deadline")


def test_reminders_go_out_30_7_and_1_days_before_a_due_date(rules):
    assert rules.reminder_offsets == (30, 7, 1)


# --- the accord's validity (ACI art. 14.1) ------------------------------------------------------------


def test_the_accord_is_valid_5_years_from_25_august_2019_renewed_tacitly(rules):
    assert (rules.validity_start, rules.validity_years, rules.tacit_renewal) == (date(2019, 8, 25), 5, True)


def test_the_accord_is_not_in_force_on_24_august_2019(rules):
    assert not rules.accord_in_force(date(2019, 8, 24))


def test_the_accord_is_in_force_from_25_august_2019(rules):
    assert rules.accord_in_force(date(2019, 8, 25))


def test_the_accord_is_still_in_force_in_2031_by_tacit_renewal(rules):
    assert rules.accord_in_force(date(2031, 1, 1))


def test_the_packaged_ruleset_is_loaded_once_and_shared():
    assert load_ruleset() is load_ruleset()


def test_an_unknown_ruleset_id_is_refused():
    with pytest.raises(RulesetError, match="ACI-2099"):
        load_ruleset(ruleset_id="ACI-2099")


# --- the loader's refusals ----------------------------------------------------------------------------


def _write_variant(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the packaged file with exactly one passage replaced."""
    assert PACKAGED_TEXT.count(old) == 1, f"the passage to replace must occur once: {old!r}"
    path = tmp_path / "aci-variant.toml"
    path.write_text(PACKAGED_TEXT.replace(old, new), encoding="utf-8")
    return path


def _refusal(path: Path) -> RulesetError:
    with pytest.raises(RulesetError) as caught:
        load_ruleset(path)
    return caught.value


FIRST_MEETING = 'anchor = "contact_recorded"\ndays = 15\nkind = "service"\n'


def test_an_unmodified_copy_of_the_packaged_file_loads(tmp_path):
    path = tmp_path / "aci-copy.toml"
    path.write_text(PACKAGED_TEXT, encoding="utf-8")
    assert load_ruleset(path).annual_total(4, snp_orientation=True) == 450_000


def test_a_missing_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "absent.toml"
    error = _refusal(path)
    assert str(path) in str(error)


def test_malformed_toml_is_refused_naming_the_file(tmp_path):
    path = _write_variant(tmp_path, "fonctionnement = [50000, 60000, 75000, 90000]", "fonctionnement = [50000,,")
    error = _refusal(path)
    assert error.key == "<file>"
    assert str(path) in str(error)
    assert "not valid TOML" in str(error)


def test_a_missing_fonctionnement_is_refused_naming_the_key(tmp_path):
    path = _write_variant(tmp_path, "fonctionnement = [50000, 60000, 75000, 90000]\n", "")
    error = _refusal(path)
    assert error.key == "amounts.fonctionnement"
    assert str(path) in str(error)
    assert "amounts.fonctionnement" in str(error)
    assert "missing" in str(error)


def test_an_amount_that_breaks_the_totals_without_orientation_is_refused(tmp_path):
    path = _write_variant(
        tmp_path, "fonctionnement = [50000, 60000, 75000, 90000]", "fonctionnement = [51000, 60000, 75000, 90000]"
    )
    error = _refusal(path)
    assert error.key == "amounts.totals.without_snp_orientation"
    assert str(path) in str(error)
    assert "amounts.totals.without_snp_orientation" in str(error)
    assert "186000" in str(error)


def test_an_orientation_amount_that_breaks_the_totals_with_orientation_is_refused(tmp_path):
    path = _write_variant(
        tmp_path, "snp_orientation = [35000, 45000, 55000, 70000]", "snp_orientation = [35000, 45000, 55000, 71000]"
    )
    error = _refusal(path)
    assert error.key == "amounts.totals.with_snp_orientation"
    assert str(path) in str(error)
    assert "amounts.totals.with_snp_orientation" in str(error)


def test_an_amount_that_is_not_four_whole_euros_is_refused(tmp_path):
    path = _write_variant(
        tmp_path, "fonctionnement = [50000, 60000, 75000, 90000]", "fonctionnement = [50000, 60000, 75000]"
    )
    error = _refusal(path)
    assert error.key == "amounts.fonctionnement"
    assert str(path) in str(error)


def test_an_unknown_deadline_kind_is_refused(tmp_path):
    path = _write_variant(tmp_path, FIRST_MEETING, FIRST_MEETING.replace('"service"', '"administrative"'))
    error = _refusal(path)
    assert error.key == "deadlines.first_meeting.kind"
    assert str(path) in str(error)
    assert "deadlines.first_meeting.kind" in str(error)
    assert "administrative" in str(error)


def test_an_unknown_anchor_event_is_refused(tmp_path):
    path = _write_variant(tmp_path, FIRST_MEETING, FIRST_MEETING.replace("contact_recorded", "contact_made"))
    error = _refusal(path)
    assert error.key == "deadlines.first_meeting.anchor"
    assert str(path) in str(error)
    assert "deadlines.first_meeting.anchor" in str(error)
    assert "contact_made" in str(error)


def test_a_period_in_days_and_months_at_once_is_refused(tmp_path):
    path = _write_variant(tmp_path, FIRST_MEETING, FIRST_MEETING.replace("days = 15\n", "days = 15\nmonths = 1\n"))
    error = _refusal(path)
    assert error.key == "deadlines.first_meeting"
    assert str(path) in str(error)
    assert "deadlines.first_meeting" in str(error)
    assert "not both" in str(error)


def test_a_deadline_without_a_period_is_refused(tmp_path):
    path = _write_variant(tmp_path, FIRST_MEETING, FIRST_MEETING.replace("days = 15\n", ""))
    error = _refusal(path)
    assert error.key == "deadlines.first_meeting"
    assert "missing period" in str(error)


def test_a_negative_period_is_refused(tmp_path):
    path = _write_variant(tmp_path, FIRST_MEETING, FIRST_MEETING.replace("days = 15", "days = -15"))
    error = _refusal(path)
    assert error.key == "deadlines.first_meeting"
    assert str(path) in str(error)
    assert "negative" in str(error)


def test_a_system_event_expiry_without_its_event_is_refused(tmp_path):
    path = _write_variant(tmp_path, 'event = "health_project_tacitly_validated"\n', "")
    error = _refusal(path)
    assert error.key == "deadlines.health_project_opposition.event"
    assert str(path) in str(error)
    assert "deadlines.health_project_opposition.event" in str(error)
    assert "system_event" in str(error)


def test_a_system_event_expiry_naming_a_user_event_is_refused(tmp_path):
    path = _write_variant(tmp_path, 'event = "health_project_tacitly_validated"', 'event = "health_project_validated"')
    error = _refusal(path)
    assert error.key == "deadlines.health_project_opposition.event"


def test_an_unknown_mission_among_the_amounts_is_refused(tmp_path):
    path = _write_variant(
        tmp_path,
        "[amounts.totals]\n",
        "[amounts.missions.telehealth]\nfixed = [1, 1, 1, 1]\nvariable = [1, 1, 1, 1]\n\n[amounts.totals]\n",
    )
    error = _refusal(path)
    assert error.key == "amounts.missions"
    assert str(path) in str(error)
    assert "telehealth" in str(error)


def test_an_unknown_mission_on_a_deadline_is_refused(tmp_path):
    path = _write_variant(
        tmp_path,
        'mission = "access"\nmonths = 6\n',
        'mission = "telehealth"\nmonths = 6\n',
    )
    error = _refusal(path)
    assert error.key == "deadlines.mission_start.access.mission"
    assert str(path) in str(error)
    assert "deadlines.mission_start.access.mission" in str(error)
    assert "telehealth" in str(error)


def test_a_missing_mission_among_the_amounts_is_refused(tmp_path):
    path = _write_variant(
        tmp_path,
        "[amounts.missions.support]\nfixed = [5000, 7500, 10000, 15000]\nvariable = [5000, 7500, 10000, 15000]\n",
        "",
    )
    error = _refusal(path)
    assert error.key == "amounts.missions.support"
    assert "missing" in str(error)


def test_size_bands_that_do_not_increase_are_refused(tmp_path):
    path = _write_variant(tmp_path, "{ size = 2, up_to = 80000 }", "{ size = 2, up_to = 30000 }")
    error = _refusal(path)
    assert error.key == "sizes.bands"
    assert str(path) in str(error)
    assert "sizes.bands" in str(error)
    assert "increase" in str(error)


def test_size_bands_out_of_order_are_refused(tmp_path):
    path = _write_variant(tmp_path, "{ size = 2, up_to = 80000 }", "{ size = 3, up_to = 80000 }")
    error = _refusal(path)
    assert error.key == "sizes.bands[1].size"
    assert str(path) in str(error)


def test_every_deadline_says_who_must_act_and_a_date_of_effect_names_nobody(rules):
    assert rules.deadline("health_project_opposition").actor == "ars"
    assert rules.deadline("mission_deployment.access").actor == "cpts"
    assert rules.deadline("cpl_opinion").actor == "cpl"
    assert rules.deadline("termination_effective").actor == "none"


def test_an_unknown_actor_is_refused_naming_the_deadline(tmp_path):
    first = PACKAGED_TEXT.index('[deadlines.first_meeting]')
    actor_line = PACKAGED_TEXT.index('actor = "binome"', first)
    text = PACKAGED_TEXT[:actor_line] + 'actor = "the mayor"' + PACKAGED_TEXT[actor_line + len('actor = "binome"'):]
    path = tmp_path / "aci-variant.toml"
    path.write_text(text, encoding="utf-8")
    error = _refusal(path)
    assert error.key == "deadlines.first_meeting.actor" and "unknown actor 'the mayor'" in str(error)
