"""*Portefeuille* (`/portefeuille`) and its exports: every CPTS of one's scope, filtered, sorted, paged, counted by
lifecycle phase; the CSV and the XLSX hold exactly what is filtered, all pages, in the same order.

Facts of the portfolio (tests/web/conftest.py), by hand: Sarreguemines signed its contract on Mon 2 Jun 2025; its
access mission must start within 6 months (a contractual date, no roll-over): Tue 2 Dec 2025, its next deadline.
Populations: Pays Messin 122 572 (Metz), Bordeaux Rive Droite 80 000, Sarreguemines 65 000, Nord Mosellan
42 658 (Thionville).
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime

import pytest
from builders import new_case, record, signed_on_2_june_2025
from openpyxl import load_workbook

from workflows.persistence.db import make_engine

HX = {"HX-Request": "true"}
MOSELLE = {"CPTS du Pays Messin", "CPTS du Nord Mosellan", "CPTS de Sarreguemines"}
EVERY = MOSELLE | {"CPTS Bordeaux Rive Droite"}
NNBSP = "\u202f"  # the French thousands separator


def results(page: str) -> str:
    found = re.search(r'<section id="portefeuille".*?</section>', page, re.S)
    assert found, "no results section on the page"
    return html.unescape(found.group(0))


def listed(page: str) -> list[str]:
    """The CPTS of the table, in order."""
    return re.findall(r'<a href="/cpts/\d+"[^>]*>([^<]+)</a>', results(page))


def row_of(page: str, case_name: str) -> list[str]:
    """The text of each cell of the case's row."""
    rows = [r for r in re.findall(r"<tr>.*?</tr>", results(page), re.S) if f">{case_name}</a>" in r]
    assert len(rows) == 1
    # ASCII blanks only: the narrow no-break space of "65 000" is part of what the user reads.
    return [re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
            for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", rows[0], re.S)]


def phases(page: str) -> dict[str, int]:
    """The table that goes with the chart: phase → CPTS."""
    table = re.search(r"CPTS par phase du cycle de vie — tableau.*?</table>", results(page), re.S).group(0)
    return {name: int(number.replace(NNBSP, "")) for name, number in
            re.findall(r'<th scope="row">([^<]+)</th><td class="num">([^<]+)</td>', table)}


def csv_rows(response) -> list[dict[str, str]]:  # noqa: ANN001
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def xlsx_rows(response) -> list[dict[str, object]]:  # noqa: ANN001
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


# ------------------------------------------------------------------------------------------------ scope
@pytest.mark.parametrize(("role", "expected"), [
    ("ars", MOSELLE), ("cpam", MOSELLE), ("legal", MOSELLE),
    ("ars_other", {"CPTS Bordeaux Rive Droite"}), ("cpam_other", {"CPTS Bordeaux Rive Droite"}),
    ("national", EVERY), ("admin", EVERY),
])
def test_each_role_sees_exactly_the_cases_of_its_scope_on_the_page_the_fragment_and_the_exports(client_as, role,
                                                                                                  expected):
    client = client_as(role)
    page = client.get("/portefeuille")
    assert page.status_code == 200
    assert set(listed(page.text)) == expected
    assert set(listed(client.get("/portefeuille", headers=HX).text)) == expected
    assert {row["CPTS"] for row in csv_rows(client.get("/portefeuille.csv"))} == expected
    assert {row["CPTS"] for row in xlsx_rows(client.get("/portefeuille.xlsx"))} == expected


def test_a_departement_outside_ones_scope_in_the_url_shows_nothing_of_it(client_as):
    client = client_as("cpam_other")
    assert listed(client.get("/portefeuille?departement=57").text) == ["CPTS Bordeaux Rive Droite"]
    assert [r["CPTS"] for r in csv_rows(client.get("/portefeuille.csv?departement=57"))] == [
        "CPTS Bordeaux Rive Droite"]


@pytest.mark.parametrize("url", ["/portefeuille", "/portefeuille?tri=population", "/portefeuille.csv",
                                 "/portefeuille.xlsx"])
def test_signed_out_every_view_redirects_to_the_sign_in_page(client_as, url):
    response = client_as(None).get(url, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion")


def test_signed_out_an_htmx_refresh_sends_the_browser_to_the_sign_in_page(client_as):
    response = client_as(None).get("/portefeuille", headers=HX, follow_redirects=False)
    assert response.headers["HX-Redirect"].startswith("/connexion")
    assert "Sarreguemines" not in response.text


# ------------------------------------------------------------------------------------------------ page
def test_a_row_shows_state_size_population_seat_referents_signature_and_next_deadline(client_as):
    page = client_as("ars").get("/portefeuille")
    name, state, size, seat, population, referents, signed, upcoming = row_of(page.text, "CPTS de Sarreguemines")
    assert state == "Sous contrat"
    assert size == "2"
    assert seat == "Moselle (57), Grand Est"
    assert population == f"65{NNBSP}000"
    assert referents == "ARS : Élise Martin CPAM : Paul Durand"
    assert signed == "lundi 2 juin 2025"
    assert upcoming.startswith("mardi 2 décembre 2025 Démarrage de la mission d'accès aux soins — dans 165 jours")


def test_the_metz_case_next_deadline_is_its_closed_opposition_window_not_a_lateness(client_as):
    page = client_as("ars").get("/portefeuille")
    upcoming = row_of(page.text, "CPTS du Pays Messin")[7]
    assert upcoming.startswith("mardi 22 avril 2025 Délai d'opposition de l'ARS au projet de santé")
    assert "délai écoulé depuis 59 jours" in upcoming
    assert row_of(page.text, "CPTS du Pays Messin")[6] == "—"  # no contract yet


def test_cases_are_counted_by_lifecycle_phase_in_a_chart_with_its_table(client_as):
    page = client_as("national").get("/portefeuille")
    assert '<svg class="bar-chart"' in page.text
    assert phases(page.text) == {"Prospect": 2, "Lettre d'intention": 0, "Projet de santé": 1, "Contrat": 1,
                                 "Missions déployées": 0, "Résilié ou terminé": 0}


def test_a_contract_whose_socle_missions_are_all_deployed_counts_as_missions_deployees(portfolio, client_as):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    # Signed on 2 June 2025, under ACI avenant 2: four socle missions, the crisis mission among them.
    for mission in ("access", "parcours", "prevention", "crisis"):
        record(engine, portfolio.contract, "2025-06-10", "mission_started", {"mission": mission})
    for mission in ("access", "parcours", "crisis"):
        record(engine, portfolio.contract, "2025-06-16", "mission_deployed", {"mission": mission})
    client = client_as("ars")
    assert phases(client.get("/portefeuille").text)["Missions déployées"] == 0  # prevention is not deployed yet
    record(engine, portfolio.contract, "2025-06-18", "mission_deployed", {"mission": "prevention"})
    engine.dispose()
    page = client.get("/portefeuille")
    assert phases(page.text)["Missions déployées"] == 1 and phases(page.text)["Contrat"] == 0
    assert listed(client.get("/portefeuille?phase=deployed").text) == ["CPTS de Sarreguemines"]
    assert listed(client.get("/portefeuille?phase=contract").text) == []
    assert [r["Phase"] for r in csv_rows(client.get("/portefeuille.csv?phase=deployed"))] == ["Missions déployées"]


def test_filters_by_state_phase_region_departement_and_name(client_as):
    client = client_as("national")
    assert listed(client.get("/portefeuille?etat=contracted").text) == ["CPTS de Sarreguemines"]
    assert set(listed(client.get("/portefeuille?phase=prospect").text)) == {"CPTS du Nord Mosellan",
                                                                            "CPTS Bordeaux Rive Droite"}
    assert listed(client.get("/portefeuille?region=75").text) == ["CPTS Bordeaux Rive Droite"]
    assert set(listed(client.get("/portefeuille?departement=57").text)) == MOSELLE
    assert listed(client.get("/portefeuille?nom=messin").text) == ["CPTS du Pays Messin"]
    assert listed(client.get("/portefeuille?nom=100%25").text) == []  # % is a character, not a wildcard
    assert "Aucune CPTS ne correspond" in client.get("/portefeuille?etat=terminated").text


def test_the_region_filter_is_offered_to_those_who_see_several_regions(client_as):
    assert 'name="region"' in client_as("national").get("/portefeuille").text
    assert 'name="region"' not in client_as("ars").get("/portefeuille").text


def test_sorts_by_name_state_next_deadline_and_population(client_as):
    client = client_as("national")
    assert listed(client.get("/portefeuille").text) == [
        "CPTS Bordeaux Rive Droite", "CPTS de Sarreguemines", "CPTS du Nord Mosellan", "CPTS du Pays Messin"]
    assert listed(client.get("/portefeuille?tri=population&ordre=desc").text) == [
        "CPTS du Pays Messin", "CPTS Bordeaux Rive Droite", "CPTS de Sarreguemines", "CPTS du Nord Mosellan"]
    # 22 April, 17 June (twice: by case number), 2 December.
    assert listed(client.get("/portefeuille?tri=echeance&ordre=asc").text) == [
        "CPTS du Pays Messin", "CPTS du Nord Mosellan", "CPTS Bordeaux Rive Droite", "CPTS de Sarreguemines"]
    assert listed(client.get("/portefeuille?tri=etat&ordre=desc").text)[0] == "CPTS de Sarreguemines"


def test_the_sorted_column_says_so_and_its_link_reverses_the_order_keeping_the_filters(client_as):
    page = client_as("national").get("/portefeuille?departement=57&tri=population&ordre=desc").text
    header = re.search(r'<th scope="col"[^>]*aria-sort="descending"[^>]*>\s*<a href="([^"]+)">Population</a>',
                       page)
    assert header and html.unescape(header.group(1)) == "/portefeuille?departement=57&tri=population&ordre=asc"


def test_fifty_cases_a_page_and_the_exports_hold_every_page(portfolio, client_as):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    for number in range(1, 56):
        new_case(engine, f"CPTS Test {number:02d}", departement="88", population=10_000 + number)
    engine.dispose()
    client = client_as("national")
    first = client.get("/portefeuille?tri=population")
    assert len(listed(first.text)) == 50
    assert "Page 1 sur 2 (59 résultats)" in html.unescape(first.text)
    second = client.get("/portefeuille?tri=population&page=2")
    assert listed(second.text)[-4:] == ["CPTS du Nord Mosellan", "CPTS de Sarreguemines", "CPTS Bordeaux Rive Droite",
                                        "CPTS du Pays Messin"]  # the largest last
    everything = listed(first.text) + listed(second.text)
    assert len(everything) == 59 and len(set(everything)) == 59
    assert everything[:2] == ["CPTS Test 01", "CPTS Test 02"]  # the smallest populations first
    exported = [r["CPTS"] for r in csv_rows(client.get("/portefeuille.csv?tri=population"))]
    assert exported == everything
    assert [r["CPTS"] for r in xlsx_rows(client.get("/portefeuille.xlsx?tri=population"))] == everything
    filtered = [r["CPTS"] for r in csv_rows(client.get("/portefeuille.csv?departement=88&tri=nom&ordre=desc"))]
    assert filtered == [f"CPTS Test {n:02d}" for n in range(55, 0, -1)]


def test_the_fragment_holds_the_results_only(client_as):
    fragment = client_as("national").get("/portefeuille?departement=57", headers=HX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="portefeuille"')
    assert "<form" not in fragment.text
    assert set(listed(fragment.text)) == MOSELLE
    assert 'href="/portefeuille.csv?departement=57"' in fragment.text


# --------------------------------------------------------------------------------------------- exports
def test_the_csv_has_french_headers_and_the_rows_filtered_in_the_order_shown(client_as):
    response = client_as("national").get("/portefeuille.csv?departement=57&tri=population&ordre=desc")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["content-disposition"].endswith('portefeuille-2025-06-20.csv"')
    rows = csv_rows(response)
    assert [r["CPTS"] for r in rows] == ["CPTS du Pays Messin", "CPTS de Sarreguemines", "CPTS du Nord Mosellan"]
    sarreguemines = rows[1]
    assert sarreguemines["État"] == "Sous contrat"
    assert sarreguemines["Population"] == "65000"
    assert sarreguemines["Département"] == "57" and sarreguemines["Nom de la région"] == "Grand Est"
    assert sarreguemines["Référent ARS"] == "Élise Martin" and sarreguemines["Référent CPAM"] == "Paul Durand"
    assert sarreguemines["Signature du contrat"] == "2025-06-02"
    assert sarreguemines["Prochaine échéance"] == "2025-12-02"
    assert sarreguemines["Objet de la prochaine échéance"] == "Démarrage de la mission d'accès aux soins"


def test_the_xlsx_holds_real_dates_and_numbers(client_as):
    rows = xlsx_rows(client_as("cpam").get("/portefeuille.xlsx?tri=population&ordre=desc"))
    assert [r["CPTS"] for r in rows] == ["CPTS du Pays Messin", "CPTS de Sarreguemines", "CPTS du Nord Mosellan"]
    sarreguemines = rows[1]
    assert sarreguemines["Population"] == 65_000 and sarreguemines["Taille"] == 2
    assert sarreguemines["Signature du contrat"] == datetime(2025, 6, 2)
    assert sarreguemines["Prochaine échéance"] == datetime(2025, 12, 2)
    assert sarreguemines["Phase"] == "Contrat"
    assert rows[0]["Signature du contrat"] is None  # Metz has no contract


def test_a_name_that_looks_like_a_formula_stays_text_in_both_exports(portfolio, client_as):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    new_case(engine, "=HYPERLINK(\"http://example.org\")", departement="33")
    engine.dispose()
    client = client_as("cpam_other")
    assert "'=HYPERLINK(\"http://example.org\")" in [r["CPTS"] for r in csv_rows(client.get("/portefeuille.csv"))]
    sheet = load_workbook(io.BytesIO(client.get("/portefeuille.xlsx").content)).active
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert {c.data_type for c in cells} == {"s"}
    assert "=HYPERLINK(\"http://example.org\")" in [c.value for c in cells]


# ------------------------------------------------------------------------------------------ PostgreSQL
@pytest.mark.postgres
def test_the_same_portfolio_and_exports_on_postgresql(postgres_db):
    from fastapi.testclient import TestClient

    from web.conftest import USERS, add_users, app_on, sign_in
    from workflows.persistence.unit_of_work import SqlUnitOfWork
    from workflows.services.people import assign

    uow = SqlUnitOfWork(postgres_db)
    add_users(uow, ("ars", "cpam", "national"))
    contract = new_case(postgres_db, "CPTS de Sarreguemines", population=65_000)
    for at, kind, data in signed_on_2_june_2025("quality"):
        record(postgres_db, contract, at, kind, data)
    for mission in ("access", "parcours", "prevention", "crisis"):  # ACI avenant 2: four socle missions
        record(postgres_db, contract, "2025-06-10", "mission_started", {"mission": mission})
        record(postgres_db, contract, "2025-06-16", "mission_deployed", {"mission": mission})
    prospect = new_case(postgres_db, "CPTS du Nord Mosellan", population=42_658)
    record(postgres_db, prospect, "2025-06-02", "contact_recorded", {"source": "ars"})
    new_case(postgres_db, "CPTS Bordeaux Rive Droite", departement="33", population=80_000)
    assign(uow, contract, ars_email=USERS["ars"][1], cpam_email=USERS["cpam"][1])
    app = app_on(uow)
    with TestClient(app) as client:
        sign_in(client, USERS["ars"][1])
        page = client.get("/portefeuille?tri=echeance")
        assert listed(page.text) == ["CPTS du Nord Mosellan", "CPTS de Sarreguemines"]
        assert phases(page.text)["Missions déployées"] == 1 and phases(page.text)["Prospect"] == 1
        assert row_of(page.text, "CPTS de Sarreguemines")[6] == "lundi 2 juin 2025"
        assert listed(client.get("/portefeuille?phase=deployed&tri=etat&ordre=desc").text) == [
            "CPTS de Sarreguemines"]
        assert [r["CPTS"] for r in csv_rows(client.get("/portefeuille.csv?perimetre=mes"))] == [
            "CPTS de Sarreguemines"]
    with TestClient(app) as client:
        sign_in(client, USERS["national"][1])
        rows = xlsx_rows(client.get("/portefeuille.xlsx?tri=population&ordre=desc&nom=cpts"))
        assert [r["CPTS"] for r in rows] == ["CPTS Bordeaux Rive Droite", "CPTS de Sarreguemines",
                                            "CPTS du Nord Mosellan"]
        assert rows[1]["Signature du contrat"] == datetime(2025, 6, 2)
