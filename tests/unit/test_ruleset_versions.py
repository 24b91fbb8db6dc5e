"""Ruleset versions (issue 13): the ACI CPTS as amended by its avenant 2 lives beside ACI-2019, and dates decide
which governs — the crisis mission, the payment at the lettre d'intention, the raised fonctionnement — while
every number computed from an unverified row says so."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from spec_example import ALL_DOCUMENTS

from lifecycle.errors import RulesetError
from lifecycle.events import JournalEntry, validate_data
from lifecycle.projection import Projection, project
from lifecycle.ruleset import known_rulesets, load_ruleset, rulesets_dir, set_rulesets_dir
from workflows.simulation.demo import STAGES, _storyline

RULES = load_ruleset()  # the lineage ACI-2019 → ACI-2019+A2
D = date.fromisoformat
SIZE_2 = 50_000


def packaged(name: str) -> Path:
    with resources.as_file(resources.files("lifecycle.rulesets") / name) as file:
        return Path(file)


# ACI-2019 alone, as the engine knew it before the avenant was encoded (no later version).
ACI_2019_ALONE = load_ruleset(packaged("aci-2019.toml"))


def journal(facts: list[tuple[str, str, dict]]) -> list[JournalEntry]:
    return [JournalEntry(seq, kind, D(at), validate_data(kind, data, allow_system=True))
            for seq, (at, kind, data) in enumerate(facts, start=1)]


def through_loi(contact: str) -> list[tuple[str, str, dict]]:
    """First contact, first meeting, and a lettre d'intention approved by the ARS then the AM (I §2-3)."""
    day = D(contact)
    return [
        (contact, "contact_recorded", {"source": "ars"}),
        ((day + timedelta(days=10)).isoformat(), "first_meeting_held", {}),
        ((day + timedelta(days=30)).isoformat(), "loi_submitted", {"orientations": ["accès aux soins", "parcours"]}),
        ((day + timedelta(days=44)).isoformat(), "loi_decision", {"party": "ars", "decision": "approve"}),
        ((day + timedelta(days=46)).isoformat(), "loi_decision", {"party": "am", "decision": "approve"}),
    ]


def contracted(signed: str) -> list[tuple[str, str, dict]]:
    """The path to a contract signed on `signed`: everything before it happens in the preceding year."""
    day = D(signed)
    return [
        *through_loi((day - timedelta(days=330)).isoformat()),
        ((day - timedelta(days=200)).isoformat(), "health_project_received", {}),
        ((day - timedelta(days=150)).isoformat(), "health_project_validated", {}),
        ((day - timedelta(days=100)).isoformat(), "adhesion_requested", ALL_DOCUMENTS),
        (signed, "contract_signed", {"missions": []}),
    ]


def replay(facts, today: str, rules=RULES, population: int = SIZE_2) -> Projection:
    return project(journal(facts), rules, D(today), departement="75", population=population)


def deadline(projection: Projection, key: str):
    found = [d for d in projection.deadlines if d.key == key]
    assert len(found) == 1, [d.key for d in projection.deadlines]
    return found[0]


def lines(projection: Projection, component: str) -> list:
    assert projection.payments is not None
    return [line for line in projection.payments.lines if line.component == component]


# --------------------------------------------------------------------------------- the crisis mission
def test_a_cpts_signed_on_3_october_2022_must_start_the_crisis_mission_by_3_april_2023_and_deploy_it_by_3_april_2024():
    projection = replay(contracted("2022-10-03"), today="2022-10-04")

    start, deployed = deadline(projection, "mission_start.crisis"), deadline(projection, "mission_deployment.crisis")
    assert (start.due, deployed.due) == (D("2023-04-03"), D("2024-04-03"))
    assert start.ruleset == "ACI-2019+A2"
    assert "crisis" in projection.contract_missions


def test_the_crisis_mission_is_met_when_it_starts_in_time_and_is_paid_its_plan_then_its_updates():
    facts = [*contracted("2022-10-03"), ("2023-01-09", "mission_started", {"mission": "crisis"})]
    projection = replay(facts, today="2023-01-10")

    assert deadline(projection, "mission_start.crisis").status == "met"
    advances = lines(projection, "crisis.fixed.advance")
    # Year 1 (size 2): the plan, 35 000 €, prorated from the start (9 Jan 2023) to the anniversary (3 Oct 2023).
    first = advances[0]
    assert (first.year, first.due) == (1, D("2023-01-09"))
    assert first.amount == Decimal("19202.05")  # 0.75 × 35 000 × 267/365 = 19 202.054…
    # Year 2: an update of the plan, half of it: 0.75 × 17 500 paid with the settlement of year 1.
    assert [(a.year, a.amount) for a in advances[1:2]] == [(2, Decimal("13125.00"))]
    assert not first.verified and "à confirmer" in first.explanation
    assert first.origin is not None and first.origin.cite() == "ACI-2019+A2 amounts.missions.crisis"


def test_under_aci_2019_without_its_avenant_a_crisis_mission_is_refused_as_outside_the_contract():
    facts = [*contracted("2021-03-01"), ("2021-06-01", "mission_started", {"mission": "crisis"})]
    projection = replay(facts, today="2021-06-02", rules=ACI_2019_ALONE)

    assert "crisis" not in projection.contract_missions
    assert projection.rejected[-1].error.endswith(
        "mission crisis is not in the contract (contract missions: access, parcours, prevention)")


def test_a_cpts_signed_on_1_june_2021_comes_under_the_crisis_mission_at_its_anniversary_of_1_june_2023():
    """Default transition (SPEC §7.6 reading): from the first anniversary on or after the mission's in-force
    date (3 Sep 2022): not 1 Jun 2022 (the avenant was in force, its crisis mission not yet), but 1 Jun 2023."""
    projection = replay(contracted("2021-06-01"), today="2021-06-02")

    start, deployed = deadline(projection, "mission_start.crisis"), deadline(projection, "mission_deployment.crisis")
    assert (start.anchor, start.due, deployed.due) == (D("2023-06-01"), D("2023-12-01"), D("2024-12-01"))
    assert not start.verified  # counted from a transition that is our reading: "à confirmer"
    assert "anniversary 2 of the contract signed 2021-06-01" in start.explain()


def test_a_crisis_mission_start_before_the_contract_comes_under_it_is_refused_with_the_day_it_applies_from():
    facts = [*contracted("2021-06-01"), ("2022-10-03", "mission_started", {"mission": "crisis"})]
    projection = replay(facts, today="2022-10-04")

    assert projection.rejected[-1].error.endswith(
        "mission crisis applies to this contract from 2023-06-01 (the anniversary at which it comes under the "
        "amended accord): record its start on or after that day")


def test_a_deployment_that_keeps_older_contracts_as_signed_gives_them_no_crisis_mission(tmp_path):
    text = packaged("aci-2019-a2.toml").read_text(encoding="utf-8")
    (tmp_path / "a2.toml").write_text(text.replace('contracts_signed_before = "next_anniversary"',
                                                   'contracts_signed_before = "at_renewal"'), encoding="utf-8")
    before = rulesets_dir()
    set_rulesets_dir(tmp_path)
    try:
        projection = replay(contracted("2021-06-01"), today="2024-06-02", rules=load_ruleset())
    finally:
        set_rulesets_dir(before)
    assert "crisis" not in projection.contract_missions
    assert not [d for d in projection.deadlines if d.key.endswith(".crisis")]
    assert {line.amount for line in lines(projection, "fonctionnement.advance") if line.year == 1} == {
        Decimal("60000.00")}


# ------------------------------------------------------------------------- the fonctionnement raise
def test_a_cpts_signed_in_2021_is_paid_the_raised_fonctionnement_from_the_year_the_avenant_governs():
    """Signed 1 Jun 2021 (before 31 Dec 2021), size 2: year 1 (from 1 Jun 2021) is ACI-2019's 60 000 €; year 2
    opens on 1 Jun 2022, after the avenant came into force (1 Apr 2022): 105 000 € (+75 %), à confirmer."""
    facts = [*contracted("2021-06-01"), ("2021-09-01", "mission_started", {"mission": "access"})]
    projection = replay(facts, today="2022-06-02")

    advances = {line.year: line for line in lines(projection, "fonctionnement.advance")}
    assert advances[1].amount == Decimal("60000.00") and advances[1].verified
    assert advances[2].amount == Decimal("78750.00")  # 0.75 × 105 000 at anniversary 1
    assert not advances[2].verified and advances[2].origin.key == "amounts.fonctionnement_raise"


def test_a_cpts_signed_in_2024_keeps_aci_2019_s_fonctionnement():
    projection = replay([*contracted("2024-03-15"), ("2024-06-03", "mission_started", {"mission": "access"})],
                        today="2025-06-01")

    assert [line.amount for line in lines(projection, "fonctionnement.advance")] == [
        Decimal("60000.00"), *[Decimal("45000.00")] * 4]
    assert all(line.verified for line in lines(projection, "fonctionnement.advance"))


# ----------------------------------------------------------------- the payment at the lettre d'intention
def test_a_lettre_d_intention_validated_on_7_march_2023_brings_17_500_euros_to_a_size_2_territory_a_confirmer():
    projection = replay(through_loi("2023-01-20"), today="2023-03-08")  # the second approval: 7 Mar 2023

    assert projection.state == "loi_validated"
    (line,) = lines(projection, "loi_support")
    assert (line.year, line.due, line.amount, line.status) == (0, D("2023-03-07"), Decimal("17500.00"), "overdue")
    assert not line.verified and "à confirmer" in line.explanation
    assert "lettre d'intention" in line.explanation


def test_a_lettre_d_intention_validated_under_aci_2019_brings_no_payment():
    projection = replay(through_loi("2021-01-20"), today="2021-03-08")

    assert projection.state == "loi_validated"
    assert projection.payments is None


def test_the_payment_at_the_lettre_d_intention_can_be_recorded_once_and_not_beyond_what_is_owed():
    facts = [*through_loi("2023-01-20"),
             ("2023-04-03", "payment_recorded", {"component": "loi_support", "year": 0, "amount": "17500.00"}),
             ("2023-04-04", "payment_recorded", {"component": "loi_support", "year": 0, "amount": "1.00"})]
    projection = replay(facts, today="2023-04-05")

    (line,) = lines(projection, "loi_support")
    assert (line.status, line.paid) == ("paid", Decimal("17500.00"))
    assert projection.rejected[-1].error.endswith("nothing more is owed on loi_support of year 0 (paid in full)")


def test_the_payment_at_the_lettre_d_intention_stays_in_the_echeancier_once_the_contract_is_signed():
    projection = replay(contracted("2024-03-15"), today="2024-03-16")

    assert [line.component for line in projection.payments.lines][:2] == ["loi_support", "fonctionnement.advance"]


def test_orientations_of_a_lettre_d_intention_may_be_a_list_or_one_text():
    assert validate_data("loi_submitted", {"orientations": ["accès aux soins", "parcours"]}) == {
        "orientations": ["accès aux soins", "parcours"]}
    assert validate_data("loi_submitted", {"orientations": "accès aux soins"}) == {"orientations": "accès aux soins"}


# ------------------------------------------------------------------------------------- sizes
def test_a_175_000_inhabitant_territory_is_size_3_and_80_000_is_size_2():
    assert (RULES.size_for(175_000), RULES.size_for(175_001), RULES.size_for(80_000)) == (3, 4, 2)
    assert RULES.row("sizes").interpretation  # 80 000, named by two bands: our reading, written in the ruleset


# ------------------------------------------------------------------------------------- history
def _demo_journals() -> list[tuple[str, list[JournalEntry], date]]:
    """Every demo storyline (as `cpts demo` records them, today 26 Nov 2026), with its last day."""
    rng, today, found = random.Random(2019), date(2026, 11, 26), []
    for stage, span in STAGES:
        story = _storyline(stage, today - timedelta(days=span + rng.randint(0, 20)), rng)
        entries = [JournalEntry(i, kind, at, validate_data(kind, data, allow_system=True))
                   for i, (at, kind, data) in enumerate(sorted(story.events, key=lambda e: e[0]), start=1)]
        found.append((stage, entries, today))
    # The same storylines five years earlier: contracts signed under ACI-2019 that move to the avenant.
    rng = random.Random(2019)
    for stage, span in STAGES:
        story = _storyline(stage, date(2021, 11, 26) - timedelta(days=span + rng.randint(0, 20)), rng)
        entries = [JournalEntry(i, kind, at, validate_data(kind, data, allow_system=True))
                   for i, (at, kind, data) in enumerate(sorted(story.events, key=lambda e: e[0]), start=1)]
        found.append((f"{stage} (2021)", entries, today))
    return found


@pytest.mark.parametrize(("stage", "entries", "today"), _demo_journals(), ids=lambda v: v if isinstance(v, str)
                         else None)
def test_a_version_of_the_accord_never_rewrites_what_aci_2019_governed(stage, entries, today):
    """Replayed with ACI-2019 alone and with the lineage, a demo case has the same ACI-2019 deadlines and the same
    payment lines for every contract year ACI-2019 still governs; a case entirely under ACI-2019 is the same."""
    alone = project(entries, ACI_2019_ALONE, today, departement="57", population=60_000)
    both = project(entries, RULES, today, departement="57", population=60_000)

    amended = {d.ident: d for d in both.deadlines}
    for d in alone.deadlines:
        if d.key == "refund":  # its date is the same; what it owes counts the crisis mission's advances too
            assert amended[d.ident].due == d.due
            continue
        assert amended.get(d.ident) == d, d.ident
    # The crisis mission's start is refused by ACI-2019 alone: every other act is the same.
    crisis = {e.seq for e in entries if e.type == "mission_started" and e.data["mission"] == "crisis"}
    assert alone.state == both.state
    assert alone.history == tuple(h for h in both.history if h.seq not in crisis)
    if alone.payments is None:
        assert both.payments is None or [line.component for line in both.payments.lines] == ["loi_support"]
        return
    signed = next(e.at for e in entries if e.type == "contract_signed")

    def under_aci_2019(year: int) -> bool:
        from lifecycle.calendar import contract_anniversary
        return RULES.contract_version(signed, contract_anniversary(signed, year - 1)).id == "ACI-2019"

    kept = [line for line in alone.payments.lines if under_aci_2019(line.year)]
    again = [line for line in both.payments.lines if line.year and under_aci_2019(line.year)]
    assert kept == again
    if all(under_aci_2019(year) for year in range(1, 6)):
        assert [line for line in both.payments.lines if line.component != "loi_support"] == list(
            alone.payments.lines)


# ------------------------------------------------------------------------------------- the loader
def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _refused(folder: Path) -> RulesetError:
    before = rulesets_dir()
    with pytest.raises(RulesetError) as caught:
        set_rulesets_dir(folder)
    assert rulesets_dir() == before  # a refused directory leaves the known rulesets as they were
    return caught.value


A2_TEXT = packaged("aci-2019-a2.toml").read_text(encoding="utf-8")


def test_a_ruleset_whose_parent_is_missing_is_refused(tmp_path):
    path = _write(tmp_path, "x.toml", A2_TEXT.replace('id = "ACI-2019+A2"', 'id = "X"').replace(
        'parent = "ACI-2019"', 'parent = "ACI-2015"'))
    error = _refused(tmp_path)
    assert (error.key, str(path) in str(error), "ACI-2015" in str(error)) == ("parent", True, True)


def test_a_ruleset_whose_totals_do_not_add_up_is_refused(tmp_path):
    path = _write(tmp_path, "a2.toml", A2_TEXT.replace("with_snp_orientation = [282500, 374500, 482500, 575000]",
                                                       "with_snp_orientation = [282500, 374500, 482500, 580000]"))
    error = _refused(tmp_path)
    assert error.key == "amounts.totals.with_snp_orientation" and str(path) in str(error)
    assert "575000" in str(error)


def test_a_raise_whose_amounts_are_not_the_fonctionnement_raised_is_refused(tmp_path):
    _write(tmp_path, "a2.toml", A2_TEXT.replace("amounts = [87500, 105000, 131250, 157500]",
                                                "amounts = [87500, 105000, 131250, 160000]"))
    assert _refused(tmp_path).key == "amounts.fonctionnement_raise.amounts"


def test_versions_of_one_accord_in_force_on_the_same_day_overlap_and_are_refused(tmp_path):
    path = _write(tmp_path, "a3.toml", A2_TEXT.replace('id = "ACI-2019+A2"', 'id = "ACI-2019+A3"').replace(
        'parent = "ACI-2019"', 'parent = "ACI-2019+A2"'))
    error = _refused(tmp_path)
    assert (error.key, str(path) in str(error), "overlaps" in str(error)) == ("effective", True, True)


def test_a_file_without_its_verified_flag_is_refused(tmp_path):
    _write(tmp_path, "a2.toml", A2_TEXT.replace("\nverified = false\n", "\n", 1))
    error = _refused(tmp_path)
    assert error.key == "verified" and "true or false" in str(error)


def test_two_files_with_one_id_in_the_deployment_s_directory_are_refused(tmp_path):
    _write(tmp_path, "a.toml", A2_TEXT)
    _write(tmp_path, "b.toml", A2_TEXT)
    assert _refused(tmp_path).key == "id"


def test_a_deployment_s_verified_copy_of_the_avenant_replaces_the_packaged_one(tmp_path):
    _write(tmp_path, "a2.toml", A2_TEXT.replace("verified = false", "verified = true").replace(
        "interpretation = true", "interpretation = false"))
    before = rulesets_dir()
    set_rulesets_dir(tmp_path)
    try:
        amended = known_rulesets()["ACI-2019+A2"]
        assert amended.row("amounts.missions.crisis").verified
        projection = replay(through_loi("2023-01-20"), today="2023-03-08", rules=load_ruleset())
        assert all(line.verified for line in projection.payments.lines)
    finally:
        set_rulesets_dir(before)
    assert not known_rulesets()["ACI-2019+A2"].row("amounts.missions.crisis").verified


def test_every_row_of_the_avenant_says_its_source_and_aci_2019_s_rows_stay_verified():
    amended = known_rulesets()["ACI-2019+A2"]
    assert amended.parent == "ACI-2019" and amended.effective == D("2022-04-01")
    assert amended.row("deadlines.refund").ruleset == "ACI-2019" and amended.row("deadlines.refund").verified
    unverified = {key for key, row in amended.rows.items() if not row.verified}
    assert {"amounts.missions.crisis", "amounts.loi_support", "amounts.fonctionnement_raise"} <= unverified
    assert all(row.source for row in amended.rows.values())
