"""Issue 13 on the web: values computed from ruleset rows not checked against the signed text (ACI avenant 2) are
marked "à confirmer" with their source — the case page's échéancier and deadlines, the Financements page and its
CSV/XLSX exports — and the case page says which version of the accord governs the case now.

The portfolio's cases (tests/web/conftest.py) validated their lettre d'intention on 12 Nov 2024 (the AM's
approval after the ARS's): under ACI-2019+A2 (in force from 1 Apr 2022) that validation brings the support
payment the avenant reportedly added (`amounts.loi_support`, `verified = false` in the packaged file).
Sarreguemines (65 000 inhabitants: size 2) signed its contract on 2 Jun 2025: the crisis mission is a socle
mission of that contract, its start due 6 months later (2 Dec 2025, a row the packaged file marks verified).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from pathlib import Path

import pytest
from openpyxl import load_workbook

from dashboard.app import create_app
from lifecycle.errors import RulesetError
from lifecycle.ruleset import known_rulesets, set_rulesets_dir
from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.settings import load_settings

LOI_ROW = "ACI-2019+A2 · amounts.loi_support"


def _row_of(html: str, table_id: str, fragment: str) -> str:
    table = re.search(rf'id="{table_id}".*?</table>', html, re.S)
    assert table, f"no table {table_id}"
    rows = [row for row in re.findall(r"<tr>.*?</tr>", table.group(0), re.S) if fragment in row]
    assert rows, f"no row with {fragment!r} in {table_id}"
    return rows[0]


def test_the_loi_support_payment_of_the_metz_case_is_marked_a_confirmer_with_its_source_and_its_row(
        portfolio, client_as):
    page = client_as("ars").get(f"/cpts/{portfolio.metz}").text
    row = _row_of(page, "echeancier", LOI_ROW)
    assert "à confirmer" in row
    assert 'title="Source : Le Quotidien du médecin' in row


def test_a_fonctionnement_line_from_a_verified_row_names_its_row_and_carries_no_mark(portfolio, client_as):
    page = client_as("ars").get(f"/cpts/{portfolio.contract}").text
    # The fonctionnement is a value of ACI-2019's [amounts] row, which the avenant does not rewrite.
    row = _row_of(page, "echeancier", "ACI-2019 · amounts</small>")
    assert "Fonctionnement" in row or "fonctionnement" in row
    assert "à confirmer" not in row


def test_the_crisis_mission_deadlines_of_a_contract_signed_in_2025_name_the_avenant_row(portfolio, client_as):
    page = client_as("ars").get(f"/cpts/{portfolio.contract}").text
    row = _row_of(page, "echeances", "ACI-2019+A2 · deadlines.mission_start.crisis")
    assert "2 décembre 2025" in row
    assert "à confirmer" not in row  # its 6 months are certain (ARS Hauts-de-France)


def test_the_case_page_says_which_version_governs_the_case_and_since_when(portfolio, client_as):
    page = client_as("ars").get(f"/cpts/{portfolio.contract}").text
    regime = re.search(r'<span id="regime">(.*?)</span>', page, re.S).group(1)
    assert "ACI-2019+A2" in regime and "2 juin 2025" in regime
    assert "marquées « à confirmer »" in page


def test_before_a_contract_the_version_in_force_today_governs_since_its_in_force_date(portfolio, client_as):
    page = client_as("ars").get(f"/cpts/{portfolio.thionville}").text
    regime = re.search(r'<span id="regime">(.*?)</span>', page, re.S).group(1)
    assert "ACI-2019+A2" in regime and "1er avril 2022" in regime


def test_the_finance_page_of_2024_says_its_totals_include_amounts_a_confirmer(portfolio, client_as):
    page = client_as("national").get("/financements?annee=2024&par=region").text
    assert 'id="a-confirmer"' in page
    note = re.search(r'id="a-confirmer">(.*?)</p>', page, re.S).group(1)
    assert "Ces totaux comprennent" in note and "Le Quotidien du médecin" in note
    assert "Dont à confirmer" in page


def test_the_finance_page_of_a_year_without_unverified_amounts_says_nothing_of_them(portfolio, client_as):
    page = client_as("national").get("/financements?annee=2025&par=region").text
    assert 'id="a-confirmer"' not in page


def test_the_finance_csv_has_a_column_a_confirmer_holding_the_source(portfolio, client_as):
    body = client_as("national").get("/financements.csv?annee=2024&par=composante").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    header = rows[0]
    assert header[-2:] == ["Dont à confirmer", "À confirmer (source)"]
    loi = next(row for row in rows[1:] if row[1] == "loi_support")
    assert loi[-1].startswith("Le Quotidien du médecin")
    assert loi[-2] == loi[2]  # the whole line is unverified: all its committed amount is à confirmer
    total = rows[-1]
    assert total[0] == "Total" and total[-1].startswith("Le Quotidien du médecin")


def test_the_finance_xlsx_has_the_same_column(portfolio, client_as):
    content = client_as("national").get("/financements.xlsx?annee=2024&par=composante").content
    sheet = load_workbook(io.BytesIO(content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][-1] == "À confirmer (source)"
    assert rows[-1][-1].startswith("Le Quotidien du médecin")


def test_the_web_application_loads_the_deployments_ruleset_files_and_refuses_a_malformed_one(tmp_path):
    packaged = (Path(__file__).resolve().parents[2] / "lifecycle" / "rulesets" / "aci-2019-a2.toml").read_text(
        encoding="utf-8")
    folder = tmp_path / "rulesets"
    folder.mkdir()
    (folder / "a2.toml").write_text(packaged.replace("\nverified = false\n", "\nverified = true\n", 1),
                                    encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    settings = replace(load_settings({}), rulesets_dir=folder)
    try:
        create_app(settings, uow=SqlUnitOfWork(engine))
        assert known_rulesets()["ACI-2019+A2"].path == str(folder / "a2.toml")
        (folder / "a2.toml").write_text(packaged.replace('parent = "ACI-2019"', 'parent = "ACI-2017"'),
                                        encoding="utf-8")
        set_rulesets_dir(None)
        with pytest.raises(RulesetError, match="a2.toml: parent: no ruleset 'ACI-2017'"):
            create_app(settings, uow=SqlUnitOfWork(engine))
    finally:
        set_rulesets_dir(None)
        engine.dispose()
