"""*Fiche CPTS*: what a binôme, legal or national staff sees of a case, the chain check on demand, voiding an entry,
and assigning referents — with who may see and do what (SPEC §2)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from builders import LOI_VALIDATED_2024, METZ, new_case, record, record_all
from sqlalchemy import text

from web.conftest import NOW, USERS, post_form
from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork

IN_SCOPE_OF_MOSELLE = ("ars", "cpam", "legal", "national", "admin")
OUTSIDE_MOSELLE = ("ars_other", "cpam_other")
NNBSP, NBSP = "\u202f", "\xa0"  # Babel's French group separator, and the space before the euro sign


def _engine(portfolio):
    return make_engine(f"sqlite:///{portfolio.path}")


def _journal(portfolio, case_id: int) -> list:
    uow = SqlUnitOfWork(_engine(portfolio))
    with uow:
        return uow.journal.rows(case_id)


def _visible(html: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities of quotes decoded, blanks collapsed."""
    words = re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')
    return re.sub(r"[ \t\r\n]+", " ", words).strip()  # not str.split: Babel's no-break spaces are kept


# ----------------------------------------------------------------------------------------------- who sees it
@pytest.mark.parametrize("role", IN_SCOPE_OF_MOSELLE)
def test_everyone_whose_scope_takes_in_moselle_sees_the_metz_case(portfolio, client_as, role):
    page = client_as(role).get(f"/cpts/{portfolio.metz}")
    assert page.status_code == 200
    assert "<h1>CPTS du Pays Messin</h1>" in page.text
    assert "Projet de santé déposé" in page.text
    fragment = client_as(role).get(f"/cpts/{portfolio.metz}/verification", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "Chaîne intègre" in fragment.text


@pytest.mark.parametrize("role", OUTSIDE_MOSELLE)
@pytest.mark.parametrize("path", ["", "/verification", "/referents"])
def test_a_case_outside_ones_scope_is_the_same_404_as_a_case_that_does_not_exist(portfolio, client_as, role, path):
    client = client_as(role)
    hidden = client.get(f"/cpts/{portfolio.metz}{path}")
    missing = client.get(f"/cpts/999999{path}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text == missing.text
    assert "CPTS du Pays Messin" not in hidden.text


@pytest.mark.parametrize("path", ["", "/verification", "/referents", "/evenement"])
def test_a_signed_out_visitor_is_sent_to_sign_in_from_every_case_page(portfolio, client_as, path):
    response = client_as(None).get(f"/cpts/{portfolio.metz}{path}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion?suite=%2Fcpts%2F")


def test_a_case_number_that_is_not_a_number_is_not_found(client_as):
    assert client_as("admin").get("/cpts/abc").status_code == 404
    assert client_as("admin").get("/cpts/99999999999999999999").status_code == 404


# ----------------------------------------------------------------------------------------------- what it shows
def test_the_metz_health_project_received_on_18_feb_2025_shows_the_ars_opposition_window_ending_22_april(
        portfolio, client_as):
    page = client_as("ars").get(f"/cpts/{portfolio.metz}")
    seen = _visible(page.text)
    assert "délai d'opposition de l'ARS au projet de santé mardi 22 avril 2025" in seen
    # Explained by Good Friday and Easter Monday, holidays in Moselle (and the weekend between them).
    explanation = seen.split("délai d'opposition de l'ARS au projet de santé", 1)[1]
    assert "La réception du projet de santé par l'ARS, le mardi 18 février 2025" in explanation
    assert "2 mois" in explanation and "vendredi 18 avril 2025" in explanation
    assert "vendredi 18 avril 2025 (Vendredi saint)" in explanation
    assert "lundi 21 avril 2025 (Lundi de Pâques)" in explanation
    assert "département 57" in explanation and "art. 642" in explanation and "I §6" in explanation
    assert "<details>" in page.text and "<summary>Explication</summary>" in page.text


def test_a_window_whose_timer_is_due_shows_as_elapsed_and_says_the_tacit_validation_is_to_be_recorded(
        portfolio, client_as):
    seen = _visible(client_as("cpam").get(f"/cpts/{portfolio.metz}").text)
    assert "délai d'opposition de l'ARS au projet de santé mardi 22 avril 2025 Délai écoulé" in seen
    assert "« Projet de santé validé tacitement »" in seen  # the warning above the deadlines
    assert "projet de santé validé tacitement ; le moteur l'enregistre à son prochain passage" in seen


def _deadline_row(page: str, label: str) -> str:
    """The table row of the deadline `label` (its first letter in either case), its HTML entities read."""
    rows = [r for r in re.findall(r"<tr[^>]*>.*?</tr>", unescape(page), re.S) if label[1:] in r and "<dl>" in r]
    assert len(rows) == 1, f"{label}: {len(rows)} rows"
    return rows[0]


@pytest.mark.parametrize(("case", "label", "actor"), [
    ("metz", "délai d'opposition de l'ARS au projet de santé", "ARS"),
    ("thionville", "premier rendez-vous avec les porteurs de projet", "Binôme ARS/CPAM"),
])
def test_a_deadline_is_explained_and_its_actor_named_with_the_same_words_on_the_case_page_and_a_traiter(
        portfolio, client_as, case, label, actor):
    client = client_as("ars")
    on_case = _deadline_row(client.get(f"/cpts/{getattr(portfolio, case)}").text, label)
    on_todo = _deadline_row(client.get("/a-traiter").text, label)
    case_words, todo_words = (_visible(re.search(r"<dl>.*?</dl>", row, re.S).group(0)) for row in (on_case, on_todo))
    assert case_words == todo_words
    assert "Point de départ" in case_words and "Source" in case_words
    for row in (on_case, on_todo):
        assert f"<td>{actor}</td>" in row


def test_the_header_names_the_seat_the_ruleset_the_referents_and_the_contact(portfolio, client_as):
    seen = _visible(client_as("national").get(f"/cpts/{portfolio.metz}").text)
    assert "Moselle (57), région Grand Est" in seen and "CPL de la Moselle" in seen
    assert "Metz (57463)" in seen
    assert f"122{NNBSP}572 habitants — taille 3" in seen
    assert "ACI-2019" in seen
    assert "Référent ARS Élise Martin" in seen and "Référent CPAM Paul Durand" in seen
    assert "Dr Anne Weber" in seen and "contact@cpts-metz.example.fr" in seen


def test_the_stepper_puts_the_metz_case_at_the_health_project(portfolio, client_as):
    page = client_as("ars").get(f"/cpts/{portfolio.metz}").text
    current = re.search(r'<li class="step step-current" aria-current="step">(.*?)</li>', page, re.S)
    assert current and "Projet de santé" in current.group(1)
    assert _visible(page).count("étape franchie") == 2  # prospect, lettre d'intention


def test_an_abandoned_project_skips_the_phases_it_never_reached(portfolio, client_as):
    record(_engine(portfolio), portfolio.thionville, "2025-06-10", "project_abandoned", {"reason": "porteurs partis"})
    page = client_as("ars").get(f"/cpts/{portfolio.thionville}").text
    seen = _visible(page)
    assert "Abandonné" in seen
    assert seen.count("étape non atteinte") == 4  # LOI, projet de santé, contrat, missions déployées
    assert re.search(r'step-current" aria-current="step">.*?Résilié ou terminé', page, re.S)


def test_the_sarreguemines_echeancier_shows_its_fonctionnement_at_signature_in_euros(portfolio, client_as):
    # SPEC §7.1: a size-2 CPTS (65 000 inhabitants) is paid F = 60 000 € of fonctionnement at signature.
    seen = _visible(client_as("cpam").get(f"/cpts/{portfolio.contract}").text)
    row = seen.split("Fonctionnement — avance", 1)[1].split("Total", 1)[0]
    assert f"lundi 2 juin 2025 60{NNBSP}000,00{NBSP}€ 0,00{NBSP}€ 60{NNBSP}000,00{NBSP}€ En retard" in row
    # With the 17 500 € paid at the lettre d'intention's validation (ACI avenant 2, size 2; à confirmer).
    assert f"Total (hors lignes annulées, remboursements déduits) 77{NNBSP}500,00{NBSP}€" in seen


def test_a_case_before_its_contract_has_no_echeancier(portfolio, client_as):
    seen = _visible(client_as("cpam").get(f"/cpts/{portfolio.thionville}").text)
    assert "Pas d'échéancier : il est établi à la signature du contrat." in seen


def test_indicators_reported_for_year_one_say_which_national_indicators_are_still_missing(portfolio, client_as):
    access = {"indicators": [
        {"name": "patients_with_medecin_traitant", "baseline": 0.6, "target": 0.8, "actual": 0.7},
        {"name": "snp_orientation_consultations", "baseline": 100, "target": 200, "actual": 150},
    ]}
    record(_engine(portfolio), portfolio.contract, "2025-06-18", "indicators_reported",
           {"year": 1, "missions": {"access": access}})
    seen = _visible(client_as("ars").get(f"/cpts/{portfolio.contract}").text)
    tracking = seen.split("Suivi des indicateurs", 1)[1].split("Chevauchements", 1)[0]
    assert "Année 1 Accès aux soins : 50 %" in tracking
    assert "3 sur 5" in tracking
    assert "taux de passages aux urgences générales" in tracking
    assert "progression de la patientèle avec médecin traitant" not in tracking


def test_the_history_lists_the_journal_with_its_data_in_french_and_its_evidence(portfolio, client_as):
    record(_engine(portfolio), portfolio.thionville, "2025-06-16", "first_meeting_held")
    seen = _visible(client_as("legal").get(f"/cpts/{portfolio.thionville}").text)
    history = seen.split("Historique (journal)", 1)[1]
    assert "1 lundi 2 juin 2025 Premier contact enregistré Origine du premier contact : ARS" in history
    assert "2 lundi 16 juin 2025 Premier rendez-vous tenu" in history


def test_overlapping_cases_are_named_and_linked_only_when_the_user_may_see_them(portfolio, client_as):
    engine = _engine(portfolio)
    other = new_case(engine, "CPTS Girondine de Metz", departement="33", communes=(METZ,))
    record_all(engine, other, [*LOI_VALIDATED_2024, ("2025-03-03", "health_project_received", {})])
    as_ars = client_as("ars").get(f"/cpts/{portfolio.metz}").text
    assert "CPTS Girondine de Metz" in as_ars and "hors de votre périmètre" in as_ars
    assert f'href="/cpts/{other}"' not in as_ars
    as_admin = client_as("admin").get(f"/cpts/{portfolio.metz}").text
    assert f'<a href="/cpts/{other}">CPTS Girondine de Metz</a>' in as_admin
    assert "57463" in _visible(as_admin).split("Chevauchements de territoire", 1)[1]


def test_the_case_page_reads_the_tables_and_never_replays_the_journal(portfolio, client_as, monkeypatch):
    from lifecycle import projection

    def no_replay(*_args, **_kwargs):
        raise AssertionError("the case page replayed a journal")

    client = client_as("ars")
    monkeypatch.setattr(projection._Replay, "run", no_replay)
    monkeypatch.setattr(projection._Replay, "finish", no_replay)
    for case in (portfolio.metz, portfolio.thionville, portfolio.contract):
        assert client.get(f"/cpts/{case}").status_code == 200


# ----------------------------------------------------------------------------------------------- the chain
def test_the_chain_is_checked_on_demand_and_found_intact(portfolio, client_as):
    client = client_as("national")
    page = client.get(f"/cpts/{portfolio.metz}").text
    assert f'hx-get="/cpts/{portfolio.metz}/verification"' in page and "Chaîne intègre" not in page
    fragment = client.get(f"/cpts/{portfolio.metz}/verification", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "Chaîne intègre" in fragment.text and "6 saisies" in fragment.text
    full = client.get(f"/cpts/{portfolio.metz}/verification")
    assert "<html" in full.text and "Chaîne intègre" in full.text


def test_a_journal_row_edited_in_the_database_is_reported_as_a_broken_chain(portfolio, client_as):
    with _engine(portfolio).begin() as connection:
        connection.execute(text("UPDATE journal SET data = '{\"source\": \"cpam\"}' WHERE case_id = :case AND seq = 1"),
                           {"case": portfolio.metz})
    fragment = client_as("admin").get(f"/cpts/{portfolio.metz}/verification", headers={"HX-Request": "true"})
    assert "Journal altéré" in fragment.text and 'role="alert"' in fragment.text
    assert "row #1 contact_recorded: content does not match its hash" in fragment.text
    assert "Chaîne intègre" not in fragment.text


# ----------------------------------------------------------------------------------------------- voiding
def test_voiding_the_first_contact_of_the_nord_mosellan_case_marks_it_and_rebuilds_the_case(portfolio, client_as):
    client = client_as("cpam")
    page = f"/cpts/{portfolio.thionville}"
    response = post_form(client, f"{page}/annuler/1", {"motif": "saisi sur le mauvais dossier"}, page=page)
    assert response.status_code == 303 and response.headers["location"] == page
    seen = _visible(client.get(page).text)
    assert "Saisie n° 1 annulée" in seen
    assert "Annulée par la saisie n° 2" in seen
    assert "Nouveau dossier" in seen
    voiding = _journal(portfolio, portfolio.thionville)[-1]
    assert (voiding.type, voiding.actor) == ("event_voided", USERS["cpam"][1])
    assert "saisi sur le mauvais dossier" in voiding.data
    assert "Saisie n° 1 annulée" not in _visible(client.get(page).text)  # the message is shown once


def test_voiding_without_a_reason_is_refused_and_writes_nothing(portfolio, client_as):
    page = f"/cpts/{portfolio.thionville}"
    response = post_form(client_as("ars"), f"{page}/annuler/1", {"motif": "  "}, page=page)
    assert response.status_code == 422
    assert "Indiquez le motif de l'annulation." in _visible(response.text)
    assert len(_journal(portfolio, portfolio.thionville)) == 1


def test_voiding_an_entry_later_ones_depend_on_shows_the_engines_refusal(portfolio, client_as):
    page = f"/cpts/{portfolio.metz}"
    response = post_form(client_as("admin"), f"{page}/annuler/1", {"motif": "erreur"}, page=page)
    assert response.status_code == 422
    assert "Cette annulation rendrait invalide la saisie n° 2" in response.text
    assert len(_journal(portfolio, portfolio.metz)) == 6


@pytest.mark.parametrize("role", ["national", "legal"])
def test_national_and_legal_staff_get_no_void_form_and_403_on_voiding(portfolio, client_as, role):
    client = client_as(role)
    page = f"/cpts/{portfolio.thionville}"
    assert "Annuler cette saisie" not in client.get(page).text
    response = post_form(client, f"{page}/annuler/1", {"motif": "erreur"}, page=page)
    assert response.status_code == 403
    assert len(_journal(portfolio, portfolio.thionville)) == 1


def test_voiding_out_of_scope_is_not_found_and_without_the_token_forbidden(portfolio, client_as):
    outsider = client_as("cpam_other")
    assert post_form(outsider, f"/cpts/{portfolio.thionville}/annuler/1", {"motif": "x"},
                     page=f"/cpts/{portfolio.bordeaux}").status_code == 404
    binome = client_as("ars")
    binome.get(f"/cpts/{portfolio.thionville}")
    no_token = binome.post(f"/cpts/{portfolio.thionville}/annuler/1", data={"motif": "x"}, follow_redirects=False)
    assert no_token.status_code == 403
    assert len(_journal(portfolio, portfolio.thionville)) == 1


# ----------------------------------------------------------------------------------------------- referents
def _referents(portfolio, case_id: int) -> tuple:
    with _engine(portfolio).connect() as connection:
        return connection.execute(text("SELECT ars_referent_id, cpam_referent_id, cpts_contact_name, "
                                       "cpts_contact_email FROM cases WHERE id = :id"), {"id": case_id}).one()


@pytest.mark.parametrize("role", ["ars", "cpam", "admin"])
def test_the_binome_and_administrators_may_assign_from_eligible_users_only(portfolio, client_as, role):
    page = client_as(role).get(f"/cpts/{portfolio.metz}/referents")
    assert page.status_code == 200
    assert "Élise Martin (elise.martin@ars.example.fr)" in page.text
    assert "Paul Durand (paul.durand@cpam.example.fr)" in page.text
    assert "Nadia Benali" not in page.text and "Jean Weber" not in page.text  # ARS 75 and CPAM 33


@pytest.mark.parametrize("role", ["legal", "national"])
def test_legal_and_national_staff_may_not_assign(portfolio, client_as, role):
    client = client_as(role)
    assert "Référents et contact</a>" not in client.get(f"/cpts/{portfolio.metz}").text
    assert client.get(f"/cpts/{portfolio.metz}/referents").status_code == 403
    before = _referents(portfolio, portfolio.metz)
    response = post_form(client, f"/cpts/{portfolio.metz}/referents", {"contact_name": "Quelqu'un"},
                         page=f"/cpts/{portfolio.metz}")
    assert response.status_code == 403
    assert _referents(portfolio, portfolio.metz) == before


def test_an_administrator_sets_the_cpts_contact_and_the_case_page_shows_it(portfolio, client_as):
    client = client_as("admin")
    page = f"/cpts/{portfolio.bordeaux}"
    response = post_form(client, f"{page}/referents", {
        "ars": USERS["ars_other"][1], "cpam": USERS["cpam_other"][1], "contact_name": "Dr Luc Moreau",
        "contact_email": "contact@cpts-bordeaux.example.fr"}, page=page)
    assert response.status_code == 303
    seen = _visible(client.get(page).text)
    assert "Référents et contact de la CPTS enregistrés." in seen
    assert "Contact de la CPTS Dr Luc Moreau ( contact@cpts-bordeaux.example.fr )" in seen


def test_a_malformed_contact_address_is_shown_next_to_its_field_and_nothing_is_written(portfolio, client_as):
    before = _referents(portfolio, portfolio.metz)
    page = f"/cpts/{portfolio.metz}"
    response = post_form(client_as("ars"), f"{page}/referents", {"contact_name": "Dr Anne Weber",
                                                                "contact_email": "pas une adresse"}, page=page)
    assert response.status_code == 422
    error = re.search(r'id="f-contact_email-erreur"[^>]*>([^<]+)<', response.text)
    assert error and "pas une adresse e-mail utilisable" in error.group(1)
    assert 'value="pas une adresse"' in response.text  # kept for correction
    assert _referents(portfolio, portfolio.metz) == before


def test_an_ars_agent_of_another_region_is_refused_as_referent_next_to_the_ars_field(portfolio, client_as):
    before = _referents(portfolio, portfolio.metz)
    page = f"/cpts/{portfolio.metz}"
    response = post_form(client_as("admin"), f"{page}/referents", {"ars": USERS["ars_other"][1]}, page=page)
    assert response.status_code == 422
    error = re.search(r'id="f-ars-erreur"[^>]*>([^<]+)<', response.text)
    assert error and "hors du périmètre de cet agent" in error.group(1)
    assert _referents(portfolio, portfolio.metz) == before


def test_assigning_without_the_token_is_refused(portfolio, client_as):
    client = client_as("admin")
    before = _referents(portfolio, portfolio.metz)
    response = client.post(f"/cpts/{portfolio.metz}/referents", data={"contact_name": "X"}, follow_redirects=False)
    assert response.status_code == 403
    assert _referents(portfolio, portfolio.metz) == before


def test_the_page_is_dated_at_the_seat(portfolio, client_as):
    assert NOW.date().isoformat() == "2025-06-20"
    assert "données du vendredi 20 juin 2025" in client_as("ars").get(f"/cpts/{portfolio.metz}").text
