"""The event form's structured evidence (issue 12): the registered letter's number, its first presentation and its
signed receipt, shown on the case page's history, on *Contentieux* and in its CSV; a contradiction is refused in
French next to its field, and nothing is written.

The portfolio's clock: Friday 20 June 2025. The funders' termination notice of the Sarreguemines contract was
first presented on Tue 17 June 2025 and signed for on Thu 19 June, the event's date (the anchor).
"""

from __future__ import annotations

import csv
import io
import re

from lifecycle.events import read_evidence
from web.test_case_file import _pdf_text, _words
from web.test_events import _error_of, _journal, _record, _visible

NOTICE = {"d_initiator": "funders", "d_grounds": "non_compliance"}
LETTER = {"lrar": "1A 123 456 7890 1", "presente_le": "2025-06-17", "recu_le": "2025-06-19"}


def test_the_form_offers_the_letters_number_and_dates(portfolio, client_as):
    page = client_as("legal").get(f"/cpts/{portfolio.contract}/evenement?type=termination_notice_received").text
    for name, label in (("lrar", "N° de la lettre recommandée (LRAR)"),
                        ("presente_le", "Date de première présentation"),
                        ("recu_le", "Date de réception (AR signé)"), ("evidence", "Autre référence")):
        assert f'name="{name}"' in page and label in page


def test_the_letter_is_recorded_and_shown_on_the_history_and_the_docket(portfolio, client_as):
    client = client_as("legal")
    response = _record(client, portfolio.contract, "termination_notice_received", "2025-06-19", **NOTICE, **LETTER,
                       evidence="courrier 2025-118")
    assert response.status_code == 303, _visible(response.text)

    last = _journal(portfolio, portfolio.contract)[-1]
    proof = read_evidence(last.evidence)
    assert (proof.lrar, proof.presented_on.isoformat(), proof.received_on.isoformat(), proof.reference) == (
        "1A 123 456 7890 1", "2025-06-17", "2025-06-19", "courrier 2025-118")

    history = _visible(client.get(f"/cpts/{portfolio.contract}").text)
    assert ("LRAR n° 1A 123 456 7890 1 Première présentation le mardi 17 juin 2025 AR signé le jeudi 19 juin 2025 "
            "Réf. courrier 2025-118") in history

    docket = _visible(client.get("/contentieux").text)
    assert ("Reçue le jeudi 19 juin 2025 LRAR n° 1A 123 456 7890 1 Première présentation le mardi 17 juin 2025 "
            "AR signé le jeudi 19 juin 2025 Preuve : courrier 2025-118") in docket
    [row] = list(csv.DictReader(io.StringIO(client.get("/contentieux.csv").content.decode("utf-8-sig"))))
    assert (row["Notification reçue le"], row["N° de LRAR"], row["Première présentation le"], row["AR signé le"],
            row["Preuve de la notification"]) == ("2025-06-19", "1A 123 456 7890 1", "2025-06-17", "2025-06-19",
                                                  "courrier 2025-118")


def test_a_receipt_before_the_first_presentation_is_refused_next_to_the_receipt_date(portfolio, client_as):
    before = len(_journal(portfolio, portfolio.contract))
    response = _record(client_as("legal"), portfolio.contract, "termination_notice_received", "2025-06-17",
                       **NOTICE, lrar="1A 123 456 7890 1", presente_le="2025-06-17", recu_le="2025-06-16")
    assert response.status_code == 422
    assert _error_of(response.text, "f-recu_le") == (
        "Date de réception (AR signé) : le lundi 16 juin 2025 précède la première présentation du mardi 17 juin 2025 "
        "; une lettre est reçue le jour de sa première présentation ou après.")
    assert 'value="1A 123 456 7890 1"' in response.text  # the values typed are kept
    assert len(_journal(portfolio, portfolio.contract)) == before


def test_a_first_presentation_after_the_notice_was_received_is_refused_next_to_it(portfolio, client_as):
    response = _record(client_as("legal"), portfolio.contract, "termination_notice_received", "2025-06-18",
                       **NOTICE, presente_le="2025-06-19")
    assert response.status_code == 422
    assert _error_of(response.text, "f-presente_le").startswith(
        "Date de première présentation : le jeudi 19 juin 2025 est postérieur à la date de l'événement, le mercredi "
        "18 juin 2025")


def test_a_malformed_lrar_number_is_refused_in_french(portfolio, client_as):
    response = _record(client_as("legal"), portfolio.contract, "termination_notice_received", "2025-06-19",
                       **NOTICE, lrar="n° ???")
    assert response.status_code == 422
    assert _error_of(response.text, "f-lrar").startswith("N° de la lettre recommandée : la valeur « n° ??? » n'est pas "
                                                         "acceptée")


def test_a_text_evidence_alone_is_stored_as_before(portfolio, client_as):
    client = client_as("legal")
    assert _record(client, portfolio.contract, "termination_notice_received", "2025-06-19", **NOTICE,
                   evidence="LRAR 1A 123 456 7890 1").status_code == 303
    assert _journal(portfolio, portfolio.contract)[-1].evidence == "LRAR 1A 123 456 7890 1"
    assert re.search(r"Preuve : LRAR 1A 123 456 7890 1", _visible(client.get("/contentieux").text))


def test_the_case_file_pdf_shows_the_letters_number_and_dates(portfolio, client_as):
    client = client_as("legal")
    assert _record(client, portfolio.contract, "termination_notice_received", "2025-06-19", **NOTICE,
                   **LETTER).status_code == 303
    words = _words(_pdf_text(client.get(f"/cpts/{portfolio.contract}/dossier.pdf")))
    for phrase in ("LRAR n° 1A 123 456 7890 1", "Première présentation le mardi 17 juin 2025",
                   "AR signé le jeudi 19 juin 2025"):
        assert phrase in words, phrase
    assert '"lrar"' not in words  # the stored form (canonical JSON) is read, never printed raw
