"""`cpts ruleset list|show|diff|check` and CPTS_RULESETS_DIR (issue 13): the versions of the accord, their
effective rows with source and verification, the differences, the unverified values the cases use, a deployment's
own files (a copy of ACI-2019+A2 checked against the JO text and marked verified), and the loader's refusals
through the command line, each on one line naming the file, the key and the problem.

The packaged ACI-2019+A2 (lifecycle/rulesets/aci-2019-a2.toml) marks `verified = false` on the file and writes
`verified = true` only where the value is certain (the crisis mission's socle status and its 6 / 18 months), so
its file row, transition, crisis amounts, LOI support, fonctionnement raise and totals are "à confirmer": 6 rows.
A lettre d'intention validated on 12 Nov 2024 (LOI_VALIDATED_2024: the AM's approval after the ARS's) is under
ACI-2019+A2 (in force from 1 Apr 2022): its support payment comes from `amounts.loi_support`, unverified.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from builders import LOI_VALIDATED_2024, new_case, record_all, signed_on_2_june_2025
from cli_runner import assert_one_line_error, make_runner

ROOT = Path(__file__).resolve().parents[2]
A2_TEXT = (ROOT / "lifecycle" / "rulesets" / "aci-2019-a2.toml").read_text(encoding="utf-8")
# The same file, every value checked against the signed text: the file's `verified` is the only false one.
VERIFIED_A2 = A2_TEXT.replace("\nverified = false\n", "\nverified = true\n", 1)


# Each test may load a deployment's directory: the next test starts from the packaged files.
pytestmark = pytest.mark.usefixtures("packaged_rulesets_afterwards")



def _deployment(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "rulesets"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.toml").write_text(text, encoding="utf-8")
    return folder


# ------------------------------------------------------------------------------------------------ list / show
def test_list_names_both_versions_their_parent_in_force_date_and_unverified_rows(cpts):
    outcome = cpts("ruleset", "list", "--json")

    assert outcome.code == 0, outcome.err
    found = {r["id"]: r for r in outcome.json()}
    assert found["ACI-2019"]["parent"] is None and found["ACI-2019"]["effective"] == "2019-08-25"
    assert found["ACI-2019"]["unverified"] == 0
    a2 = found["ACI-2019+A2"]
    assert (a2["parent"], a2["effective"], a2["unverified"]) == ("ACI-2019", "2022-04-01", 6)
    assert a2["file"].endswith("aci-2019-a2.toml")


def test_list_in_text_says_how_many_rows_are_a_confirmer(cpts):
    outcome = cpts("ruleset", "list")

    assert "ACI-2019+A2  in force from 2022-04-01  extends ACI-2019  6 row(s) à confirmer" in outcome.out


def test_show_gives_the_effective_rows_with_the_file_that_wrote_each(cpts):
    outcome = cpts("ruleset", "show", "ACI-2019+A2", "--json")

    rows = {r["key"]: r for r in outcome.json()["rows"]}
    crisis = rows["amounts.missions.crisis"]
    assert crisis["values"]["first_year"] == [25000, 35000, 45000, 50000]
    assert (crisis["ruleset"], crisis["verified"], crisis["interpretation"]) == ("ACI-2019+A2", False, True)
    assert crisis["file"].endswith("aci-2019-a2.toml")
    access = rows["amounts.missions.access"]  # inherited, unchanged
    assert (access["ruleset"], access["verified"]) == ("ACI-2019", True)
    assert access["file"].endswith("aci-2019.toml")
    assert rows["contract"]["values"]["socle_missions"] == ["access", "parcours", "prevention", "crisis"]
    assert rows["deadlines.mission_start.crisis"]["values"]["months"] == 6


def test_show_in_text_marks_unverified_rows_a_confirmer_with_their_source(cpts):
    outcome = cpts("ruleset", "show", "ACI-2019+A2")

    lines = outcome.out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("amounts.loi_support "))
    assert "[à confirmer]" in lines[at] and "from ACI-2019+A2" in lines[at]
    assert lines[at + 1].strip() == "amounts = [15000, 17500, 25000, 30000]"
    assert lines[at + 2].strip().startswith("source: Le Quotidien du médecin")


def test_show_of_an_unknown_ruleset_is_a_one_line_error_naming_the_known_ones(cpts):
    assert_one_line_error(cpts("ruleset", "show", "ACI-2030"), "unknown ruleset 'ACI-2030'", "ACI-2019+A2")


# ------------------------------------------------------------------------------------------------ diff
def test_diff_lists_the_rows_added_and_changed_with_both_sides_values_and_sources(cpts):
    outcome = cpts("ruleset", "diff", "ACI-2019", "ACI-2019+A2", "--json")

    changes = {c["key"]: c for c in outcome.json()["changes"]}
    assert changes["amounts.missions.crisis"]["change"] == "added"
    assert changes["amounts.missions.crisis"]["before"] is None
    contract = changes["contract"]
    assert contract["change"] == "changed"
    assert contract["before"]["values"]["socle_missions"] == ["access", "parcours", "prevention"]
    assert contract["after"]["values"]["socle_missions"][-1] == "crisis"
    assert contract["before"]["source"] == "ACI art. 4, 6"
    assert "amounts.missions.access" not in changes  # same values on both sides
    assert "sizes" not in changes


def test_diff_the_other_way_round_removes_what_the_avenant_added(cpts):
    outcome = cpts("ruleset", "diff", "ACI-2019+A2", "ACI-2019")

    assert "- amounts.missions.crisis  (removed)" in outcome.out
    assert "~ contract  (changed)" in outcome.out


# ------------------------------------------------------------------------------------------------ check
def test_check_without_a_database_lists_the_unverified_rows_and_exits_0(tmp_path, monkeypatch, capsys):
    cpts = make_runner(monkeypatch, capsys, f"sqlite:///{tmp_path / 'none.db'}")
    outcome = cpts("ruleset", "check")

    assert outcome.code == 0, outcome.err
    assert "6 unverified row(s):" in outcome.out
    assert "ACI-2019+A2 amounts.missions.crisis: à confirmer (montants rapportés" in outcome.out
    assert "no database checked" in outcome.out


def test_check_with_no_case_using_an_unverified_value_exits_0(cpts, engine):
    new_case(engine, "CPTS du Nord Mosellan")

    outcome = cpts("ruleset", "check")

    assert outcome.code == 0, outcome.err
    assert "no case uses an unverified value" in outcome.out


def test_check_lists_the_case_whose_loi_support_payment_is_a_confirmer_and_exits_1(cpts, engine):
    case_id = new_case(engine, "CPTS du Pays Messin", population=122_572)
    record_all(engine, case_id, LOI_VALIDATED_2024)

    outcome = cpts("ruleset", "check")

    assert outcome.code == 1
    assert re.search(rf"case {case_id} CPTS du Pays Messin: payment loi_support, due 2024-11-12 — "
                     r"ACI-2019\+A2 amounts.loi_support: à confirmer \(Le Quotidien du médecin", outcome.out)
    assert len(outcome.err.splitlines()) == 1
    assert outcome.err.startswith(
        f"error: 1 case(s) use values not checked against the signed text (case(s) {case_id})")
    used = cpts("ruleset", "check", "--json").json()["cases"]
    assert [(u["case"], u["what"], u["origin"]) for u in used] == [
        (case_id, "payment", "ACI-2019+A2 amounts.loi_support")]


# ------------------------------------------------------------------------------------------------ deployment
def test_a_verified_copy_of_the_avenant_in_the_deployment_directory_leaves_nothing_to_confirm(
        cpts, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("CPTS_RULESETS_DIR", str(_deployment(tmp_path, aci_2019_a2=VERIFIED_A2)))
    listed = cpts("ruleset", "list", "--json")
    a2 = next(r for r in listed.json() if r["id"] == "ACI-2019+A2")
    assert a2["unverified"] == 0 and a2["file"].endswith("rulesets/aci_2019_a2.toml")
    case_id = new_case(engine, "CPTS du Pays Messin", population=122_572)
    record_all(engine, case_id, LOI_VALIDATED_2024)

    outcome = cpts("ruleset", "check")

    assert outcome.code == 0, outcome.err
    assert outcome.out.splitlines() == ["every row is verified", "no case uses an unverified value"]
    payments = cpts("case", "payments", str(case_id), "--json").json()
    assert [(p["component"], p["ruleset"], p["row"], p["verified"]) for p in payments] == [
        ("loi_support", "ACI-2019+A2", "amounts.loi_support", True)]


def test_lines_written_before_a_verified_copy_was_installed_are_listed_as_such_and_do_not_count(
        cpts, engine, tmp_path, monkeypatch):
    case_id = new_case(engine, "CPTS du Pays Messin", population=122_572)
    record_all(engine, case_id, LOI_VALIDATED_2024)  # stored under the packaged, unverified avenant
    monkeypatch.setenv("CPTS_RULESETS_DIR", str(_deployment(tmp_path, aci_2019_a2=VERIFIED_A2)))

    outcome = cpts("ruleset", "check")

    assert outcome.code == 0, outcome.err
    assert f"case {case_id} CPTS du Pays Messin: payment loi_support, due 2024-11-12" in outcome.out
    assert "(now verified: rewritten at the case's next write or sweep)" in outcome.out
    assert cpts("ruleset", "check", "--json").json()["cases"][0]["stale"] is True


def test_a_rulesets_dir_that_is_not_a_directory_is_a_one_line_error_naming_the_variable(
        cpts, tmp_path, monkeypatch):
    monkeypatch.setenv("CPTS_RULESETS_DIR", str(tmp_path / "missing"))

    assert_one_line_error(cpts("ruleset", "list"), "CPTS_RULESETS_DIR", "is not a directory")


@pytest.mark.parametrize(("files", "fragments"), [
    pytest.param({"a2": A2_TEXT.replace('parent = "ACI-2019"', 'parent = "ACI-2017"')},
                 ("a2.toml: parent: no ruleset 'ACI-2017' to extend",), id="missing-parent"),
    pytest.param({"a2": A2_TEXT.replace("without_snp_orientation = [247500,", "without_snp_orientation = [247000,")},
                 ("a2.toml: amounts.totals.without_snp_orientation: components add up to [247500",),
                 id="totals-do-not-add-up"),
    pytest.param({"a3": 'id = "ACI-2019+A3"\nparent = "ACI-2019+A2"\ntitle = "A3"\neffective = 2022-04-01\n'
                        'verified = true\n'},
                 ("a3.toml: effective: 2022-04-01 overlaps ACI-2019+A2",), id="overlapping-dates"),
    pytest.param({"a2": A2_TEXT.replace("\nverified = false\n", "\n", 1)},
                 ("a2.toml: verified: expected true or false",), id="missing-verified"),
    pytest.param({"a2": A2_TEXT.replace("\nverified = false\n", '\nverified = "no"\n', 1)},
                 ("a2.toml: verified: expected true or false", "'no'"), id="verified-not-a-boolean"),
    pytest.param({"a2": A2_TEXT, "a2_copy": VERIFIED_A2},
                 ("a2_copy.toml: id: 'ACI-2019+A2' is also the id of", "a2.toml"), id="same-id-twice"),
])
def test_the_loader_refuses_a_malformed_deployment_file_on_one_line(cpts, tmp_path, monkeypatch, files, fragments):
    monkeypatch.setenv("CPTS_RULESETS_DIR", str(_deployment(tmp_path, **files)))

    assert_one_line_error(cpts("ruleset", "list"), *fragments)
    # Every command loads the settings, and so the rulesets: none runs on a refused file.
    assert_one_line_error(cpts("case", "list"), *fragments)


# ------------------------------------------------------------------------------------------------ case outputs
def test_case_payments_marks_the_unverified_line_and_its_json_names_the_row(cpts, engine):
    case_id = new_case(engine, "CPTS du Pays Messin", population=122_572)
    record_all(engine, case_id, LOI_VALIDATED_2024)

    text = cpts("case", "payments", str(case_id)).out
    lines = cpts("case", "payments", str(case_id), "--json").json()

    assert "[à confirmer] 25 000 for a size-3 territory (ACI-2019+A2: support from the lettre d'intention)" in text
    assert text.rstrip().endswith("à confirmer (Le Quotidien du médecin, déc. 2021 (compromis de la CNAM : "
                                  "15 000 € en taille 1 à 30 000 € en taille 4) ; un autre compte rendu : "
                                  "15 000 / 17 500 / 20 000 / 25 000 €)")
    assert [(p["ruleset"], p["row"], p["verified"]) for p in lines] == [
        ("ACI-2019+A2", "amounts.loi_support", False)]


def test_case_payments_csv_has_the_row_and_a_confirmer_columns(cpts, engine):
    case_id = new_case(engine, "CPTS du Pays Messin", population=122_572)
    record_all(engine, case_id, LOI_VALIDATED_2024)

    header, line = list(csv.reader(io.StringIO(cpts("case", "payments", str(case_id), "--csv").out)))[:2]

    assert header[-3:] == ["ruleset", "row", "a_confirmer"]
    assert line[-3:-1] == ["ACI-2019+A2", "amounts.loi_support"]
    assert line[-1].startswith("Le Quotidien du médecin")


def test_case_show_says_which_version_governs_the_case_and_since_when(cpts, engine):
    case_id = new_case(engine, "CPTS de Sarreguemines", population=65_000)
    record_all(engine, case_id, signed_on_2_june_2025())

    text = cpts("case", "show", str(case_id), "--today", "2025-07-01").out
    shown = cpts("case", "show", str(case_id), "--today", "2025-07-01", "--json").json()

    assert "ruleset: ACI-2019+A2 depuis le 2025-06-02" in text.splitlines()
    assert shown["governing"] == {"ruleset": "ACI-2019+A2", "since": "2025-06-02", "verified": False}
    crisis = next(d for d in shown["deadlines"] if d["key"] == "mission_start.crisis")
    assert (crisis["ruleset"], crisis["row"], crisis["verified"], crisis["due"]) == (
        "ACI-2019+A2", "deadlines.mission_start.crisis", True, "2025-12-02")
    loi = next(p for p in shown["payments"] if p["component"] == "loi_support")
    assert (loi["ruleset"], loi["row"], loi["verified"]) == ("ACI-2019+A2", "amounts.loi_support", False)


def test_case_show_marks_a_deadline_computed_from_an_unverified_row(cpts, engine, tmp_path, monkeypatch):
    # A deployment that has not yet checked the crisis mission's calendar marks that row unverified.
    doubtful = VERIFIED_A2.replace(
        'source = "avenant 2 ; ARS Hauts-de-France, « Le financement de la CPTS : l\'ACI » (30 nov. 2023) : 6 mois"\n'
        "verified = true",
        'source = "calendrier à vérifier"\nverified = false')
    assert doubtful != VERIFIED_A2
    monkeypatch.setenv("CPTS_RULESETS_DIR", str(_deployment(tmp_path, a2=doubtful)))
    assert cpts("ruleset", "list").code == 0
    case_id = new_case(engine, "CPTS de Sarreguemines", population=65_000)
    record_all(engine, case_id, signed_on_2_june_2025())

    text = cpts("case", "show", str(case_id), "--today", "2025-07-01").out
    check = cpts("ruleset", "check")

    assert "      à confirmer: ACI-2019+A2 deadlines.mission_start.crisis (calendrier à vérifier)" in text
    assert check.code == 1
    assert "deadline démarrage de la mission de réponse aux crises sanitaires graves, due 2025-12-02" in check.out


def test_forecast_says_how_much_of_its_total_is_a_confirmer(cpts, engine):
    case_id = new_case(engine, "CPTS du Pays Messin", population=122_572)
    record_all(engine, case_id, LOI_VALIDATED_2024)

    last = cpts("forecast", "--year", "2024").out.splitlines()[-1]

    assert last.startswith("including 25 000.00 € à confirmer (1 line(s); source: Le Quotidien du médecin")


# ------------------------------------------------------------------------------------------------ territory
def test_territory_size_follows_the_size_bands_of_the_deployment_s_copy_of_the_accord(cpts, monkeypatch, tmp_path):
    """Metz (57463, 122 572 inhabitants) is a size-3 territory under the packaged bands (80 000 to 175 000); a
    deployment whose copy of ACI-2019 ends size 3 at 120 000 makes it size 4, in `cpts territory size` too."""
    assert "population 122572 → size 3" in cpts("territory", "size", "57463").out
    packaged = (ROOT / "lifecycle" / "rulesets" / "aci-2019.toml").read_text(encoding="utf-8")
    narrower = packaged.replace("{ size = 3, up_to = 175000 }", "{ size = 3, up_to = 120000 }")
    assert narrower != packaged
    monkeypatch.setenv("CPTS_RULESETS_DIR", str(_deployment(tmp_path, **{"aci-2019": narrower})))
    outcome = cpts("territory", "size", "57463")
    assert outcome.code == 0, outcome.err
    assert "population 122572 → size 4" in outcome.out
