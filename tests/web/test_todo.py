"""*À traiter* (`/a-traiter`): the deadlines breached, overdue and due soon of the CPTS in one's scope.

Dates below are computed by hand from the ruleset (SPEC §5-6):
- Nord Mosellan: first contact Mon 2 Jun 2025; first meeting within 15 days, the anchor day not counted, a
  service deadline (no roll-over): due Tue 17 Jun 2025. On Fri 20 Jun 2025 it is 3 days late.
- Pays Messin: health project received Tue 18 Feb 2025; the ARS may oppose within 2 months: Fri 18 Apr 2025,
  Good Friday in Moselle, then the weekend and Easter Monday: the window ends Tue 22 Apr 2025. On 20 Jun 2025 it
  has closed without opposition, not swept yet: "délai écoulé", the tacit validation to be recorded.
- Bordeaux Rive Droite: first contact 2 Jun 2025, first meeting due 17 Jun 2025 too (Gironde).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from builders import new_case, record

from web.conftest import NOW
from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import sweep

HX = {"HX-Request": "true"}
MOSELLE = {"CPTS du Pays Messin", "CPTS du Nord Mosellan"}  # the Moselle cases with a deadline to act on


def results(page: str) -> str:
    """The results section (what htmx swaps), unescaped."""
    found = re.search(r'<section id="a-traiter".*?</section>', page, re.S)
    assert found, "no results section on the page"
    return html.unescape(found.group(0))


def listed(page: str) -> list[str]:
    """The CPTS of the table's rows, in order."""
    return re.findall(r'<a href="/cpts/\d+">([^<]+)</a>', results(page))


def _rows(page: str, case_name: str) -> list[str]:
    return [r for r in re.findall(r"<tr>.*?</tr>", results(page), re.S) if f">{case_name}</a>" in r]


def row_of(page: str, case_name: str) -> str:
    """The text of the case's only row."""
    rows = _rows(page, case_name)
    assert len(rows) == 1, f"{case_name}: {len(rows)} rows"
    return _text(rows[0])


def cells_of(page: str, case_name: str) -> list[str]:
    """The text of each cell of the case's only row."""
    rows = _rows(page, case_name)
    assert len(rows) == 1, f"{case_name}: {len(rows)} rows"
    return [_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", rows[0], re.S)]


def cells_of_row(row: str) -> list[str]:
    return [_text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]


def _text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def counts(page: str) -> dict[str, int]:
    figures = re.findall(r"<li><a [^>]*>([^<]+)<strong>([\d\u202f ]+)</strong>", results(page))
    return {label.strip(): int(re.sub(r"\D", "", number)) for label, number in figures}


# ------------------------------------------------------------------------------------------------ scope
@pytest.mark.parametrize(("role", "expected"), [
    ("ars", MOSELLE), ("cpam", MOSELLE), ("legal", MOSELLE),
    ("ars_other", {"CPTS Bordeaux Rive Droite"}), ("cpam_other", {"CPTS Bordeaux Rive Droite"}),
    ("national", MOSELLE | {"CPTS Bordeaux Rive Droite"}), ("admin", MOSELLE | {"CPTS Bordeaux Rive Droite"}),
])
def test_each_role_sees_the_deadlines_of_the_cases_of_its_scope_only(client_as, role, expected):
    client = client_as(role)
    page = client.get("/a-traiter")
    assert page.status_code == 200
    assert set(listed(page.text)) == expected
    fragment = client.get("/a-traiter", headers=HX)
    assert set(listed(fragment.text)) == expected


def test_the_cpam_agent_of_gironde_never_sees_a_moselle_case_even_when_asking_for_it(client_as):
    page = client_as("cpam_other").get("/a-traiter?departement=57&perimetre=tout&horizon=tout")
    assert "Pays Messin" not in page.text and "Nord Mosellan" not in page.text
    assert listed(page.text) == ["CPTS Bordeaux Rive Droite"]


def test_signed_out_the_page_redirects_to_the_sign_in_page(client_as):
    response = client_as(None).get("/a-traiter?statut=overdue", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion")


def test_signed_out_an_htmx_refresh_sends_the_browser_to_the_sign_in_page_and_shows_nothing(client_as):
    response = client_as(None).get("/a-traiter", headers=HX, follow_redirects=False)
    assert response.headers["HX-Redirect"].startswith("/connexion")
    assert "Nord Mosellan" not in response.text


# ------------------------------------------------------------------------------------------- scenarios
def test_the_first_meeting_of_the_nord_mosellan_due_on_17_june_shows_three_days_late(client_as):
    page = client_as("ars").get("/a-traiter")
    row = row_of(page.text, "CPTS du Nord Mosellan")
    assert "mardi 17 juin 2025" in row
    assert "Premier rendez-vous avec les porteurs de projet" in row
    assert "en retard de 3 jours" in row
    assert "En retard" in row
    assert cells_of(page.text, "CPTS du Nord Mosellan")[3] == "Binôme ARS/CPAM"
    # Its explanation: the anchor, the rule, no roll-over for a service deadline, the article.
    assert "Le premier contact, le lundi 2 juin 2025" in row
    assert "15 jours après" in row and "I §2" in row


def test_ten_days_earlier_the_same_first_meeting_is_due_within_seven_days(client_as):
    page = client_as("ars", now=datetime(2025, 6, 10, 12, tzinfo=UTC)).get("/a-traiter")
    assert "dans 7 jours" in row_of(page.text, "CPTS du Nord Mosellan")
    assert counts(page.text)["Sous 7 jours"] == 1
    assert counts(page.text)["En retard"] == 0


def test_the_metz_opposition_window_ended_on_22_april_shows_as_elapsed_with_its_easter_roll_over(client_as):
    page = client_as("ars").get("/a-traiter")
    row = row_of(page.text, "CPTS du Pays Messin")
    assert "mardi 22 avril 2025" in row
    assert "Délai d'opposition de l'ARS au projet de santé" in row
    assert "Délai écoulé" in row and "délai écoulé depuis 59 jours" in row
    assert "en retard" not in row  # nobody is late: the ARS simply did not oppose
    assert cells_of(page.text, "CPTS du Pays Messin")[3] == "ARS"  # who had to act
    # Why 22 April: 2 months after 18 February is Good Friday, a holiday in Moselle, then the weekend and Easter Monday.
    assert "La réception du projet de santé par l'ARS, le mardi 18 février 2025" in row
    assert "vendredi 18 avril 2025 (Vendredi saint)" in row
    assert "samedi 19 avril 2025" in row and "dimanche 20 avril 2025" in row
    assert "lundi 21 avril 2025 (Lundi de Pâques)" in row
    assert "art. 642" in row and "I §6" in row
    assert "projet de santé validé tacitement" in row
    assert counts(page.text)["Délais écoulés"] == 1


def test_before_it_closed_the_opposition_window_was_due_in_21_days(client_as):
    page = client_as("cpam", now=datetime(2025, 4, 1, 10, tzinfo=UTC)).get("/a-traiter")
    row = row_of(page.text, "CPTS du Pays Messin")
    assert "dans 21 jours" in row and "À venir" in row


def test_the_explanation_is_a_details_element_that_works_without_javascript(client_as):
    page = client_as("ars").get("/a-traiter")
    section = results(page.text)
    assert section.count("<details>") == 2
    assert "<summary>Pourquoi cette date ?</summary>" in section


def test_rows_are_sorted_by_due_date(client_as):
    page = client_as("national").get("/a-traiter")
    # 22 April first, then the two meetings of 17 June (by case number).
    assert listed(page.text) == ["CPTS du Pays Messin", "CPTS du Nord Mosellan", "CPTS Bordeaux Rive Droite"]


def test_after_the_sweep_the_first_meeting_is_breached_and_the_closed_window_has_left_the_list(portfolio, client_as):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    sweep(SqlUnitOfWork(engine), now=NOW)
    engine.dispose()
    page = client_as("ars").get("/a-traiter")
    assert listed(page.text) == ["CPTS du Nord Mosellan"]
    assert "Dépassée" in row_of(page.text, "CPTS du Nord Mosellan")
    assert counts(page.text)["Dépassées"] == 1
    assert "Délais écoulés" not in counts(page.text)


def test_a_meeting_held_late_shows_among_the_met_deadlines(portfolio, client_as):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    record(engine, portfolio.thionville, "2025-06-19", "first_meeting_held")
    engine.dispose()
    client = client_as("ars")
    assert "Nord Mosellan" not in results(client.get("/a-traiter").text)
    met = client.get("/a-traiter?statut=met")
    row = row_of(met.text, "CPTS du Nord Mosellan")
    assert "respectée le jeudi 19 juin 2025" in row and "Respectée en retard" in row


# --------------------------------------------------------------------------------------------- filters
def test_my_cpts_is_the_default_of_a_binome_and_the_whole_scope_is_one_choice_away(portfolio, client_as):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    fensch = new_case(engine, "CPTS du Val de Fensch", population=30_000)  # Moselle, nobody assigned
    record(engine, fensch, "2025-06-10", "contact_recorded", {"source": "cpam"})  # first meeting due 25 June
    engine.dispose()
    client = client_as("ars")
    assert "Val de Fensch" not in client.get("/a-traiter").text
    everything = client.get("/a-traiter?perimetre=tout")
    assert "dans 5 jours" in row_of(everything.text, "CPTS du Val de Fensch")
    # Legal staff follow nobody's cases: they see the whole scope, without the choice.
    legal = client_as("legal").get("/a-traiter")
    assert "Val de Fensch" in results(legal.text)
    assert 'name="perimetre"' not in legal.text


def test_filters_by_departement_state_deadline_and_status(client_as):
    client = client_as("national")
    assert listed(client.get("/a-traiter?departement=33").text) == ["CPTS Bordeaux Rive Droite"]
    assert listed(client.get("/a-traiter?etat=health_project_submitted").text) == ["CPTS du Pays Messin"]
    assert listed(client.get("/a-traiter?echeance=first_meeting").text) == [
        "CPTS du Nord Mosellan", "CPTS Bordeaux Rive Droite"]
    assert listed(client.get("/a-traiter?nature=procedural").text) == ["CPTS du Pays Messin"]
    assert listed(client.get("/a-traiter?statut=overdue").text) == ["CPTS du Nord Mosellan",
                                                                    "CPTS Bordeaux Rive Droite"]
    assert listed(client.get("/a-traiter?statut=window_closed").text) == ["CPTS du Pays Messin"]
    assert "Aucune échéance ne correspond" in client.get("/a-traiter?statut=breached").text


def test_the_counts_stay_those_of_the_cases_filtered_whatever_the_status_shown(client_as):
    page = client_as("national").get("/a-traiter?statut=overdue&departement=57")
    assert counts(page.text) == {"Dépassées": 0, "En retard": 1, "Délais écoulés": 1, "Sous 7 jours": 0,
                                 "Sous 30 jours": 0}


def test_a_longer_horizon_brings_the_contract_deadlines_in(client_as):
    client = client_as("ars")
    assert "Sarreguemines" not in client.get("/a-traiter").text
    page = client.get("/a-traiter?horizon=365")
    starts = [r for r in _rows(page.text, "CPTS de Sarreguemines") if "mission d'accès aux soins" in html.unescape(r)]
    assert len(starts) == 1
    assert "mardi 2 décembre 2025" in _text(starts[0])  # signed on 2 June 2025, + 6 months
    assert "CPTS" in cells_of_row(starts[0])[3]  # the CPTS starts its missions


def test_the_fragment_holds_the_results_only_and_keeps_the_filters_in_its_links(client_as):
    fragment = client_as("national").get("/a-traiter?departement=57", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<form" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="a-traiter"')
    assert "departement=57&amp;statut=overdue" in fragment.text
    assert "HX-Request" in fragment.headers["vary"]


def test_the_form_refreshes_the_results_in_place_and_works_without_javascript(client_as):
    page = client_as("ars").get("/a-traiter").text
    form = re.search(r"<form method=\"get\" action=\"/a-traiter\"[^>]*>", page).group(0)
    assert 'hx-get="/a-traiter"' in form and 'hx-target="#a-traiter"' in form and 'hx-push-url="true"' in form


def test_unknown_filter_values_are_ignored_and_a_bad_page_number_is_refused(client_as):
    client = client_as("national")
    assert set(listed(client.get("/a-traiter?etat=nonsense&statut=whatever&horizon=x").text)) == MOSELLE | {
        "CPTS Bordeaux Rive Droite"}
    assert client.get("/a-traiter?page=abc").status_code == 400
    assert client.get("/a-traiter?page=99").status_code == 200  # past the end: the last page


# ------------------------------------------------------------------------------------------ PostgreSQL
@pytest.mark.postgres
def test_the_same_list_on_postgresql(postgres_db):
    from fastapi.testclient import TestClient

    from web.conftest import USERS, add_users, app_on, sign_in
    from workflows.services.people import assign

    uow = SqlUnitOfWork(postgres_db)
    add_users(uow, ("ars", "cpam", "cpam_other"))
    thionville = new_case(postgres_db, "CPTS du Nord Mosellan", population=42_658)
    record(postgres_db, thionville, "2025-06-02", "contact_recorded", {"source": "ars"})
    fensch = new_case(postgres_db, "CPTS du Val de Fensch", population=30_000)
    record(postgres_db, fensch, "2025-06-10", "contact_recorded", {"source": "cpam"})
    bordeaux = new_case(postgres_db, "CPTS Bordeaux Rive Droite", departement="33", population=80_000)
    record(postgres_db, bordeaux, "2025-06-02", "contact_recorded", {"source": "cpam"})
    assign(uow, thionville, ars_email=USERS["ars"][1], cpam_email=USERS["cpam"][1])
    app = app_on(uow)
    with TestClient(app) as client:
        sign_in(client, USERS["ars"][1])
        page = client.get("/a-traiter")
        assert listed(page.text) == ["CPTS du Nord Mosellan"]
        assert "en retard de 3 jours" in row_of(page.text, "CPTS du Nord Mosellan")
        assert counts(page.text)["En retard"] == 1
        assert listed(client.get("/a-traiter?perimetre=tout&statut=pending").text) == ["CPTS du Val de Fensch"]
    with TestClient(app) as client:
        sign_in(client, USERS["cpam_other"][1])
        assert listed(client.get("/a-traiter", headers=HX).text) == ["CPTS Bordeaux Rive Droite"]
