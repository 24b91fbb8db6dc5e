"""*Financements*: the funders' forecast over the user's scope, its htmx fragment, its CSV and XLSX exports.

Besides the portfolio's contract in Moselle (CPTS de Sarreguemines, 65 000 inhabitants, signed on 2 Jun 2025),
each test has a second contract in Gironde (région Nouvelle-Aquitaine 75): the CPTS du Médoc, 100 000
inhabitants, signed on 3 Mar 2025, on which the funders have paid 20 000 € so far. Amounts expected below are
worked out by hand from SPEC §3 and §7:

- Sarreguemines: 40 000 ≤ 65 000 < 80 000 → size 2; fonctionnement F = 60 000 €, paid in full at signature
  (SPEC §7 rule 1), so 60 000,00 € falls due on 2 Jun 2025; no mission has started, so nothing else is due in 2025.
- Médoc: 80 000 < 100 000 ≤ 175 000 → size 3; F = 75 000 € due on 3 Mar 2025; 20 000 € paid leaves 55 000 €.
- National total for 2025: 60 000 + 75 000 = 135 000 €; paid 20 000 €; remaining 115 000 €.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from html import unescape

import pytest
from builders import LOI_VALIDATED_2024, new_case, record, record_all
from openpyxl import load_workbook
from spec_example import ALL_DOCUMENTS

from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.finance import FORECAST_GROUPS, forecast
from workflows.services.people import Scope

NNBSP, NBSP = "\u202f", "\u00a0"  # Babel's French thousands separator and the space before the sign


def eur(text: str) -> str:
    """An amount as a French reader sees it: "60 000,00 €" (written here with ordinary spaces)."""
    whole, cents = text.split(",")
    return whole.replace(" ", NNBSP) + "," + cents + NBSP + "€"


SARREGUEMINES_2025 = eur("60 000,00")
MEDOC_2025 = eur("75 000,00")
NATIONAL_2025 = eur("135 000,00")


@pytest.fixture
def medoc(portfolio) -> int:
    """A contract in Gironde, signed on 3 Mar 2025, 20 000 € of its fonctionnement paid on 10 Jun 2025."""
    engine = make_engine(f"sqlite:///{portfolio.path}")
    case_id = new_case(engine, "CPTS du Médoc", departement="33", population=100_000)
    record_all(engine, case_id, [
        *LOI_VALIDATED_2024,
        ("2024-12-02", "health_project_received", {}),
        ("2025-01-13", "health_project_validated", {}),
        ("2025-02-03", "adhesion_requested", ALL_DOCUMENTS),
        ("2025-03-03", "contract_signed", {"missions": []}),
        ("2025-06-10", "payment_recorded", {"component": "fonctionnement.advance", "year": 1, "amount": "20000.00"}),
    ])
    engine.dispose()
    return case_id


def _text(response) -> str:  # noqa: ANN001
    """A page's HTML with its character references read (an apostrophe is sent as &#39;)."""
    return unescape(response.text)


def _row(html: str, header: str) -> str:
    """The table row whose row header is `header` (its HTML, up to the row's end)."""
    start = html.index(f'<th scope="row">{header}</th>', html.index('id="tableau"'))
    return html[start:html.index("</tr>", start)]


# ------------------------------------------------------------------------------------------- the figures
def test_the_sarreguemines_contract_shows_its_2025_fonctionnement_as_spec_7_computes_it(client_as, medoc):
    page = client_as("cpam").get("/financements?annee=2025&par=composante")
    assert page.status_code == 200
    row = _row(page.text, "Fonctionnement — avance")
    assert SARREGUEMINES_2025 in row
    assert "Déjà payé" in page.text and eur("0,00") in row


def test_what_was_paid_and_what_remains_are_shown_per_group_with_a_total_row(client_as, medoc):
    page = client_as("national").get("/financements?annee=2025&par=region").text
    nouvelle_aquitaine = _row(page, "Nouvelle-Aquitaine")
    assert MEDOC_2025 in nouvelle_aquitaine
    assert eur("20 000,00") in nouvelle_aquitaine and eur("55 000,00") in nouvelle_aquitaine
    assert SARREGUEMINES_2025 in _row(page, "Grand Est")
    total = page[page.index("<strong>Total</strong>"):]
    assert NATIONAL_2025 in total and eur("115 000,00") in total
    assert 'class="bar-chart"' in page and "Montant engagé en 2025 par région" in page


def test_the_forecast_defaults_to_this_year_grouped_by_region(client_as, medoc):
    page = client_as("admin").get("/financements").text
    assert '<option value="2025" selected>2025</option>' in page
    assert '<option value="region" selected>Région</option>' in page
    assert "Versements 2025 par région" in page


def test_a_year_without_payments_says_so(client_as, medoc):
    page = _text(client_as("national").get("/financements?annee=2031"))
    assert "Aucun versement n'est prévu en 2031" in page
    assert 'id="tableau"' not in page


@pytest.mark.parametrize("query", ["annee=1999", "annee=deux-mille", "par=commune"])
def test_a_meaningless_filter_is_a_bad_request(client_as, query):
    assert client_as("national").get(f"/financements?{query}").status_code == 400


def test_by_departement_names_the_seat_departements(client_as, medoc):
    page = client_as("national").get("/financements?annee=2025&par=departement").text
    assert SARREGUEMINES_2025 in _row(page, "Moselle")
    assert MEDOC_2025 in _row(page, "Gironde")


# ------------------------------------------------------------------------------------------- scope
SEES = {  # role → (amount it must see, amount it must not see), as the page shows them and as exported
    "ars": (SARREGUEMINES_2025, MEDOC_2025, "60000.00", "75000.00"),
    "cpam": (SARREGUEMINES_2025, MEDOC_2025, "60000.00", "75000.00"),
    "legal": (SARREGUEMINES_2025, MEDOC_2025, "60000.00", "75000.00"),
    "ars_other": (MEDOC_2025, SARREGUEMINES_2025, "75000.00", "60000.00"),
    "cpam_other": (MEDOC_2025, SARREGUEMINES_2025, "75000.00", "60000.00"),
}


@pytest.mark.parametrize("role", sorted(SEES))
def test_each_user_sees_only_the_money_of_their_scope(client_as, medoc, role):
    seen, hidden, seen_exported, hidden_exported = SEES[role]
    client = client_as(role)
    page = client.get("/financements?annee=2025&par=region").text
    fragment = client.get("/financements?annee=2025&par=departement", headers={"HX-Request": "true"}).text
    for shown in (page, fragment):
        assert seen in shown and hidden not in shown
    exported = client.get("/financements.csv?annee=2025&par=composante").content.decode("utf-8-sig")
    assert seen_exported in exported and hidden_exported not in exported
    sheet = load_workbook(io.BytesIO(client.get("/financements.xlsx?annee=2025").content)).active
    committed = [row[2] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert committed == [Decimal(seen_exported)] * 2  # its région, then the total


@pytest.mark.parametrize("role", ["national", "admin"])
def test_national_staff_and_administrators_see_every_region(client_as, medoc, role):
    page = client_as(role).get("/financements?annee=2025&par=region").text
    assert "Grand Est" in page and "Nouvelle-Aquitaine" in page and NATIONAL_2025 in page


def test_a_user_whose_scope_holds_no_contract_sees_no_money(client_as):
    page = _text(client_as("ars_other").get("/financements?annee=2025"))  # Bordeaux has no contract yet
    assert "Aucun versement n'est prévu en 2025" in page
    assert SARREGUEMINES_2025 not in page


@pytest.mark.parametrize("url", ["/financements", "/financements?annee=2025&par=composante", "/financements.csv",
                                 "/financements.xlsx?annee=2025"])
def test_signed_out_visitors_are_sent_to_sign_in(client_as, url):
    response = client_as(None).get(url, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion?suite=")


def test_a_signed_out_htmx_refresh_is_redirected_by_header(client_as):
    response = client_as(None).get("/financements?annee=2025", headers={"HX-Request": "true"})
    assert response.headers["HX-Redirect"].startswith("/connexion?suite=")
    assert "60" not in response.text


# ------------------------------------------------------------------------------------------- htmx and no JS
def test_the_filters_are_a_plain_get_form_that_htmx_refreshes_in_place(client_as, medoc):
    page = client_as("cpam").get("/financements").text
    assert '<form method="get" action="/financements"' in page
    assert 'hx-get="/financements"' in page and 'hx-target="#resultats"' in page and 'hx-push-url="true"' in page
    assert 'name="annee"' in page and 'name="par"' in page and '<button type="submit">' in page


def test_an_htmx_refresh_answers_the_results_alone(client_as, medoc):
    response = client_as("cpam").get("/financements?annee=2025&par=composante", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="resultats"')
    assert "<html" not in response.text and "Fonctionnement — avance" in response.text
    # Going back in the browser history restores the whole page.
    restored = client_as("cpam").get("/financements?annee=2025", headers={
        "HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "<html" in restored.text


def test_the_export_links_keep_the_filters_shown(client_as, medoc):
    page = client_as("cpam").get("/financements?annee=2026&par=departement").text
    assert 'href="/financements.csv?annee=2026&amp;par=departement"' in page
    assert 'href="/financements.xlsx?annee=2026&amp;par=departement"' in page


# ------------------------------------------------------------------------------------------- exports
def test_the_csv_holds_the_rows_and_total_shown_with_french_headers(client_as, medoc):
    response = client_as("national").get("/financements.csv?annee=2025&par=region")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert 'filename="financements-2025-par-region.csv"' in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Région", "Code", "Montant engagé", "Déjà payé"]
    # The last two columns: the part computed from unverified ruleset rows and their source (issue 13); none in
    # 2025 here (tests/web/test_ruleset_marks.py has a year with some).
    assert rows[1:] == [
        ["Grand Est", "44", "60000.00", "0.00", "60000.00", "0.00", "60000.00", "1", "1", "0.00", ""],
        ["Nouvelle-Aquitaine", "75", "75000.00", "20000.00", "55000.00", "0.00", "75000.00", "1", "1", "0.00", ""],
        ["Total", "", "135000.00", "20000.00", "115000.00", "0.00", "135000.00", "2", "2", "0.00", ""],
    ]


def test_the_xlsx_opens_with_amounts_as_numbers_with_two_decimals(client_as, medoc):
    response = client_as("national").get("/financements.xlsx?annee=2025&par=departement")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.active
    assert [cell.value for cell in sheet[1]][:3] == ["Département", "Code", "Montant engagé"]
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert [row[:5] for row in rows] == [
        ["Gironde", "33", 75000, 20000, 55000],
        ["Moselle", "57", 60000, 0, 60000],
        ["Total", None, 135000, 20000, 115000],
    ]
    amount = sheet.cell(row=2, column=3)
    assert isinstance(amount.value, int | float) and amount.number_format.startswith("#,##0.00")


# ------------------------------------------------------------------------------------------- the read model
@pytest.mark.parametrize("by", FORECAST_GROUPS)
def test_a_scope_over_every_region_gives_the_national_forecast(portfolio, medoc, by):
    uow = SqlUnitOfWork(make_engine(f"sqlite:///{portfolio.path}"))
    everywhere = forecast(uow, 2025, by=by, scope=Scope(regions=("44", "75")))
    national = forecast(uow, 2025, by=by)
    assert list(everywhere) == list(national) and everywhere.total == national.total
    assert forecast(uow, 2025, by=by, scope=Scope(national=True)).total == national.total


def test_a_departement_scope_keeps_only_its_seats(portfolio, medoc):
    uow = SqlUnitOfWork(make_engine(f"sqlite:///{portfolio.path}"))
    gironde = forecast(uow, 2025, by="component", scope=Scope(departements=("33",)))
    assert [(g.key, g.committed, g.paid) for g in gironde] == [
        ("fonctionnement.advance", Decimal("75000.00"), Decimal("20000.00"))]
    assert list(forecast(uow, 2025, by="region", scope=Scope())) == []


def test_a_contract_signed_later_moves_its_money_to_its_year(client_as, portfolio):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    case_id = new_case(engine, "CPTS des Landes", departement="40", population=30_000)  # size 1: F = 50 000 €
    record_all(engine, case_id, [*LOI_VALIDATED_2024, ("2025-01-06", "health_project_received", {}),
                                 ("2025-02-03", "health_project_validated", {})])
    record(engine, case_id, "2025-03-03", "adhesion_requested",
           ALL_DOCUMENTS)
    record(engine, case_id, "2025-06-16", "contract_signed", {"missions": []})
    engine.dispose()
    page = client_as("ars_other").get("/financements?annee=2025&par=departement").text
    assert eur("50 000,00") in _row(page, "Landes")


def test_a_scoped_forecast_sums_alike_on_sqlite_and_postgresql(db):
    contract = [*LOI_VALIDATED_2024, ("2024-12-02", "health_project_received", {}),
                ("2025-01-13", "health_project_validated", {}),
                ("2025-02-03", "adhesion_requested", ALL_DOCUMENTS),
                ("2025-03-03", "contract_signed", {"missions": []})]
    for name, departement, population in (("Sarreguemines", "57", 65_000), ("Médoc", "33", 100_000)):
        record_all(db, new_case(db, f"CPTS {name}", departement=departement, population=population), contract)
    uow = SqlUnitOfWork(db)
    for by in FORECAST_GROUPS:
        everywhere = forecast(uow, 2025, by=by, scope=Scope(regions=("44", "75")))
        assert list(everywhere) == list(forecast(uow, 2025, by=by))
    gironde = forecast(uow, 2025, by="region", scope=Scope(departements=("33",)))
    assert [(g.key, g.committed) for g in gironde] == [("75", Decimal("75000.00"))]  # size 3: F = 75 000 €
    assert gironde.total.committed == Decimal("75000.00") and gironde.total.cases == 1
