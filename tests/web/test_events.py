"""*Enregistrer un événement*: the forms a case's state allows, who may record what, and what a refused event
looks like (the engine's message next to the field, nothing written)."""

from __future__ import annotations

import json
import re

import pytest
from builders import record
from spec_example import ALL_DOCUMENTS

from dashboard.routes.events import WIDGETS, event_fields
from lifecycle.events import EVENT_SPECS, SYSTEM_EVENTS, field_shape
from web.conftest import USERS, csrf_of, post_form
from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork

NNBSP, NBSP = "\u202f", "\xa0"


def _journal(portfolio, case_id: int) -> list:
    uow = SqlUnitOfWork(make_engine(f"sqlite:///{portfolio.path}"))
    with uow:
        return uow.journal.rows(case_id)


def _visible(html: str) -> str:
    words = re.sub(r"<[^>]+>", " ", html).replace("&#39;", "'").replace("&amp;", "&").replace("&quot;", '"')
    return re.sub(r"[ \t\r\n]+", " ", words).strip()


def _error_of(html: str, field_id: str) -> str | None:
    """The message shown next to a field (the macro's `<small id="…-erreur">`)."""
    found = re.search(rf'id="{field_id}-erreur"[^>]*>([^<]+)<', html)
    return found.group(1).replace("&#39;", "'") if found else None


def _record(client, case_id: int, event_type: str, at: str, **fields):
    page = f"/cpts/{case_id}/evenement?type={event_type}"
    form = client.get(page).text
    data = {"type": event_type, "at": at, "cle": re.search(r'name="cle" value="([^"]+)"', form).group(1), **fields}
    return post_form(client, f"/cpts/{case_id}/evenement", data, page=page)


# ----------------------------------------------------------------------------------------------- who records
@pytest.mark.parametrize("role", ["ars", "cpam", "admin"])
def test_the_binome_and_administrators_get_the_events_the_prospect_state_allows(portfolio, client_as, role):
    page = client_as(role).get(f"/cpts/{portfolio.thionville}/evenement")
    assert page.status_code == 200
    options = re.findall(r'<option value="([a-z_]+)"', page.text)
    assert options == ["first_meeting_held", "project_abandoned"]
    assert "Premier rendez-vous tenu" in page.text


def test_national_staff_see_the_case_but_get_no_form_and_403_on_posting(portfolio, client_as):
    client = client_as("national")
    case_page = client.get(f"/cpts/{portfolio.thionville}").text
    assert "Enregistrer un événement" not in case_page
    assert client.get(f"/cpts/{portfolio.thionville}/evenement").status_code == 403
    response = post_form(client, f"/cpts/{portfolio.thionville}/evenement",
                         {"type": "first_meeting_held", "at": "2025-06-16"}, page=f"/cpts/{portfolio.thionville}")
    assert response.status_code == 403
    assert len(_journal(portfolio, portfolio.thionville)) == 1


def test_legal_staff_are_offered_the_termination_of_a_contract_only(portfolio, client_as):
    page = client_as("legal").get(f"/cpts/{portfolio.contract}/evenement")
    assert re.findall(r'<option value="([a-z_]+)"', page.text) == ["termination_notice_received"]


def test_legal_staff_record_a_termination_notice_and_the_case_is_terminating(portfolio, client_as):
    client = client_as("legal")
    response = _record(client, portfolio.contract, "termination_notice_received", "2025-06-19",
                       d_initiator="funders", d_grounds="non_compliance", evidence="LRAR 1A 123 456 7890 1")
    assert response.status_code == 303
    seen = _visible(client.get(f"/cpts/{portfolio.contract}").text)
    assert "Résiliation en cours" in seen
    assert "Résiliation notifiée" in seen and "LRAR 1A 123 456 7890 1" in seen
    assert "À l'initiative de : Les financeurs (ARS et CPAM)" in seen
    last = _journal(portfolio, portfolio.contract)[-1]
    assert (last.type, last.actor, last.evidence) == ("termination_notice_received", USERS["legal"][1],
                                                      "LRAR 1A 123 456 7890 1")


def test_legal_staff_may_not_record_a_mission_start(portfolio, client_as):
    client = client_as("legal")
    before = len(_journal(portfolio, portfolio.contract))
    response = post_form(client, f"/cpts/{portfolio.contract}/evenement",
                         {"type": "mission_started", "at": "2025-06-16", "d_mission": "access"},
                         page=f"/cpts/{portfolio.contract}")
    assert response.status_code == 403
    assert client.get(f"/cpts/{portfolio.contract}/evenement?type=mission_started").status_code == 422
    assert len(_journal(portfolio, portfolio.contract)) == before


def test_legal_staff_with_nothing_to_record_in_this_state_are_told_so(portfolio, client_as):
    page = client_as("legal").get(f"/cpts/{portfolio.thionville}/evenement")
    assert page.status_code == 200
    assert "Aucun événement que vous puissiez enregistrer" in _visible(page.text)
    assert 'action="/cpts/' not in page.text.split("<main", 1)[1].split("</main>", 1)[0]


@pytest.mark.parametrize("role", ["ars_other", "cpam_other"])
def test_out_of_scope_the_form_and_its_post_are_the_404_of_a_missing_case(portfolio, client_as, role):
    client = client_as(role)
    hidden = client.get(f"/cpts/{portfolio.thionville}/evenement?type=first_meeting_held")
    missing = client.get("/cpts/999999/evenement?type=first_meeting_held")
    assert hidden.status_code == missing.status_code == 404 and hidden.text == missing.text
    response = post_form(client, f"/cpts/{portfolio.thionville}/evenement",
                         {"type": "first_meeting_held", "at": "2025-06-16"}, page=f"/cpts/{portfolio.bordeaux}")
    assert response.status_code == 404
    assert len(_journal(portfolio, portfolio.thionville)) == 1


def test_posting_without_the_forms_token_is_refused_and_writes_nothing(portfolio, client_as):
    client = client_as("ars")
    client.get(f"/cpts/{portfolio.thionville}/evenement")
    response = client.post(f"/cpts/{portfolio.thionville}/evenement",
                           data={"type": "first_meeting_held", "at": "2025-06-16"}, follow_redirects=False)
    assert response.status_code == 403
    assert len(_journal(portfolio, portfolio.thionville)) == 1


def test_a_signed_out_post_with_a_valid_token_is_sent_to_sign_in(portfolio, client_as):
    client = client_as(None)
    token = csrf_of(client.get("/connexion").text)
    response = client.post(f"/cpts/{portfolio.thionville}/evenement",
                           data={"type": "first_meeting_held", "at": "2025-06-16", "csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion")
    assert len(_journal(portfolio, portfolio.thionville)) == 1


# ----------------------------------------------------------------------------------------------- the forms
def test_choosing_an_event_with_htmx_returns_its_form_alone(portfolio, client_as):
    fragment = client_as("ars").get(f"/cpts/{portfolio.contract}/evenement?type=payment_recorded",
                                    headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert 'name="csrf_token"' in fragment.text
    assert '<input id="f-at" name="at" type="date"' in fragment.text
    assert '<option value="fonctionnement.advance" >Fonctionnement — avance</option>' in fragment.text
    assert '<label for="f-d_amount">Montant payé (€)' in fragment.text
    assert "LRAR 1A 123 456 7890 1" in fragment.text  # the evidence field's example


def test_the_contract_form_has_mission_checkboxes_and_the_snp_compensation_ticked_by_default(portfolio, client_as):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    record(engine, portfolio.metz, "2025-03-03", "health_project_validated")
    record(engine, portfolio.metz, "2025-04-01", "adhesion_requested",
           ALL_DOCUMENTS)
    form = client_as("ars").get(f"/cpts/{portfolio.metz}/evenement?type=contract_signed").text
    assert '<input type="checkbox" name="d_missions" value="quality"' in form
    assert re.search(r'name="d_snp_compensation" value="true"\s+checked', form)
    assert not re.search(r'name="d_snp_orientation" value="true"\s+checked', form)


def test_every_data_key_of_every_event_a_person_records_has_a_widget(portfolio):
    for name, spec in EVENT_SPECS.items():
        if name in SYSTEM_EVENTS:
            continue
        for key, checker in {**spec.required, **spec.optional}.items():
            kind = field_shape(checker).kind
            assert kind in WIDGETS, f"{name}.{key}: no widget for data of kind {kind}"
        for field in event_fields(name):
            if field.widget in ("select", "checkboxes"):
                assert field.options, f"{name}.{field.key} has no options"


# ----------------------------------------------------------------------------------------------- scenarios
def test_a_first_meeting_in_the_future_is_refused_then_a_valid_date_meets_the_deadline(portfolio, client_as):
    client = client_as("ars")
    case_page = f"/cpts/{portfolio.thionville}"
    assert "premier rendez-vous avec les porteurs de projet mardi 17 juin 2025 En retard" in \
        _visible(client.get(case_page).text)

    refused = _record(client, portfolio.thionville, "first_meeting_held", "2025-06-21",
                      evidence="compte rendu du 21/06")
    assert refused.status_code == 422
    message = _error_of(refused.text, "f-at")
    assert message and ("daté du samedi 21 juin 2025 est dans le futur (nous sommes le vendredi 20 juin 2025 au "
                        "siège du dossier)") in message
    assert 'aria-invalid="true"' in refused.text
    assert 'value="2025-06-21"' in refused.text and 'value="compte rendu du 21/06"' in refused.text
    assert len(_journal(portfolio, portfolio.thionville)) == 1

    recorded = _record(client, portfolio.thionville, "first_meeting_held", "2025-06-16")
    assert recorded.status_code == 303 and recorded.headers["location"] == case_page
    seen = _visible(client.get(case_page).text)
    assert "Événement enregistré : Premier rendez-vous tenu du lundi 16 juin 2025 (saisie n° 2)." in seen
    assert "premier rendez-vous avec les porteurs de projet mardi 17 juin 2025 fait le lundi 16 juin 2025 " \
           "Respectée" in seen
    assert "Accompagnement" in seen
    last = _journal(portfolio, portfolio.thionville)[-1]
    assert (last.seq, last.type, last.actor) == (2, "first_meeting_held", USERS["ars"][1])


def test_an_event_the_state_does_not_allow_is_refused_with_the_engines_message_at_the_top(portfolio, client_as):
    response = post_form(client_as("admin"), f"/cpts/{portfolio.thionville}/evenement",
                         {"type": "loi_submitted", "at": "2025-06-16"}, page=f"/cpts/{portfolio.thionville}")
    assert response.status_code == 422
    assert ("L'événement « Lettre d'intention reçue » ne peut pas être enregistré dans l'état « Premier contact »"
            in _visible(response.text))
    assert len(_journal(portfolio, portfolio.thionville)) == 1


def test_a_missing_event_date_is_asked_for(portfolio, client_as):
    response = _record(client_as("cpam"), portfolio.thionville, "first_meeting_held", "")
    assert response.status_code == 422
    assert _error_of(response.text, "f-at") == "Indiquez la date de l'événement."
    assert len(_journal(portfolio, portfolio.thionville)) == 1


def test_a_malformed_date_is_refused_next_to_the_date_field(portfolio, client_as):
    response = _record(client_as("cpam"), portfolio.thionville, "first_meeting_held", "16/06/2025")
    assert response.status_code == 422
    assert "Date de l'événement : « 16/06/2025 » n'est pas une date" in _error_of(response.text, "f-at")
    assert len(_journal(portfolio, portfolio.thionville)) == 1


def test_a_payment_typed_the_french_way_pays_part_of_the_fonctionnement_advance(portfolio, client_as):
    client = client_as("cpam")
    response = _record(client, portfolio.contract, "payment_recorded", "2025-06-19",
                       d_component="fonctionnement.advance", d_year="1", d_amount="30 000,00")
    assert response.status_code == 303
    seen = _visible(client.get(f"/cpts/{portfolio.contract}").text)
    row = seen.split("Fonctionnement — avance", 1)[1].split("Total", 1)[0]
    assert f"60{NNBSP}000,00{NBSP}€ 30{NNBSP}000,00{NBSP}€ 30{NNBSP}000,00{NBSP}€ Payé en partie" in row
    assert f"Montant payé : 30{NNBSP}000,00{NBSP}€" in seen  # the history says it in French


def test_a_bad_amount_is_refused_next_to_the_amount_and_the_values_are_kept(portfolio, client_as):
    before = len(_journal(portfolio, portfolio.contract))
    response = _record(client_as("ars"), portfolio.contract, "payment_recorded", "2025-06-19",
                       d_component="fonctionnement.advance", d_year="1", d_amount="trente mille")
    assert response.status_code == 422
    assert "la valeur « trente mille » n'est pas acceptée" in _error_of(response.text, "f-d_amount")
    assert '<option value="fonctionnement.advance" selected>' in response.text
    assert len(_journal(portfolio, portfolio.contract)) == before


def test_a_required_choice_left_empty_is_named_next_to_its_field(portfolio, client_as):
    response = _record(client_as("ars"), portfolio.contract, "payment_recorded", "2025-06-19",
                       d_component="", d_year="1", d_amount="100")
    assert response.status_code == 422
    assert _error_of(response.text, "f-d_component") == ("Composante de l'échéancier : choisissez une valeur dans "
                                                         "la liste.")


def test_a_payment_beyond_what_the_line_owes_is_refused_with_the_engines_reason(portfolio, client_as):
    before = len(_journal(portfolio, portfolio.contract))
    response = _record(client_as("ars"), portfolio.contract, "payment_recorded", "2025-06-19",
                       d_component="fonctionnement.advance", d_year="1", d_amount="70000")
    assert response.status_code == 422
    assert "L'événement « Paiement enregistré » est refusé dans l'état « Sous contrat »" in _visible(response.text)
    assert len(_journal(portfolio, portfolio.contract)) == before


def test_the_same_form_submitted_twice_records_the_payment_once(portfolio, client_as):
    client = client_as("ars")
    page = f"/cpts/{portfolio.contract}/evenement?type=payment_recorded"
    key = re.search(r'name="cle" value="([^"]+)"', client.get(page).text).group(1)
    data = {"type": "payment_recorded", "at": "2025-06-19", "cle": key, "d_component": "fonctionnement.advance",
            "d_year": "1", "d_amount": "10000"}
    before = len(_journal(portfolio, portfolio.contract))
    assert post_form(client, f"/cpts/{portfolio.contract}/evenement", data, page=page).status_code == 303
    assert post_form(client, f"/cpts/{portfolio.contract}/evenement", data, page=page).status_code == 303
    assert len(_journal(portfolio, portfolio.contract)) == before + 1


def test_starting_the_access_mission_adds_its_prorated_advance_to_the_echeancier(portfolio, client_as):
    # SPEC §7.3: signed 2 Jun 2025, access started 16 Jun 2025 (size 2, SNP compensation on by default):
    # 0.75 × (17 500 + 12 000) × 351 / 365 = 21 276.369… → 21 276,37 €.
    client = client_as("ars")
    assert _record(client, portfolio.contract, "mission_started", "2025-06-16", d_mission="access").status_code == 303
    seen = _visible(client.get(f"/cpts/{portfolio.contract}").text)
    row = seen.split("Accès aux soins — part fixe, avance", 1)[1].split("Total", 1)[0]
    assert f"lundi 16 juin 2025 21{NNBSP}276,37{NBSP}€" in row
    assert "Mission : Accès aux soins" in seen


def test_malformed_indicators_json_is_refused_next_to_its_field(portfolio, client_as):
    before = len(_journal(portfolio, portfolio.contract))
    response = _record(client_as("ars"), portfolio.contract, "indicators_reported", "2025-06-19",
                       d_year="1", d_missions='{"access": ')
    assert response.status_code == 422
    assert "Ce n'est pas du JSON valide" in _error_of(response.text, "f-d_missions")
    assert len(_journal(portfolio, portfolio.contract)) == before


def test_the_payment_at_the_lettre_d_intention_is_recorded_from_the_form_as_year_0(portfolio, client_as):
    """Metz's lettre d'intention was validated on 12 Nov 2024, under ACI avenant 2: its size-3 territory is owed
    25 000 € (à confirmer) before any contract; the form offers that line as "year 0"."""
    client = client_as("ars")
    form = client.get(f"/cpts/{portfolio.metz}/evenement?type=payment_recorded").text
    assert re.search(r'<option value="0"\s*>Avant le contrat \(soutien dès la lettre d', form)
    response = _record(client, portfolio.metz, "payment_recorded", "2025-06-16",
                       d_component="loi_support", d_year="0", d_amount="25000.00")
    assert response.status_code in (200, 303), response.text[:300]
    last = _journal(portfolio, portfolio.metz)[-1]
    assert (last.type, json.loads(last.data)) == ("payment_recorded", {"component": "loi_support", "year": 0,
                                                                        "amount": "25000.00"})
    seen = _visible(client.get(f"/cpts/{portfolio.metz}").text)
    row = seen.split("Soutien dès la lettre d'intention", 1)[1]
    assert f"25{NNBSP}000,00{NBSP}€" in row.split("Total", 1)[0] and "Payé" in row.split("Total", 1)[0]
