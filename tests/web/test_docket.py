"""*Contentieux* (`/contentieux`, `/contentieux.csv`): the legal docket, one row per termination, contract refusal
or CPL referral, its dates explained and the next act due; who sees which row.

Expected dates are worked out by hand from the texts (ACI art. 11, 12.4; annex 5; CPC art. 640-642) in the
comments, never read from the engine. The router is not registered in `dashboard.routes.ROUTERS` yet: the tests
include it in the application they build.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import date

import pytest
from builders import LOI_VALIDATED_2024, new_case, noon, record, record_all
from fastapi.testclient import TestClient
from spec_example import ALL_DOCUMENTS
from sqlmodel import select

from dashboard.routes.docket import router as docket_router
from workflows.persistence.db import make_engine
from workflows.persistence.tables import PaymentRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import NewEvent, apply, sweep

LRAR = "LRAR 1A 234 567 8901 2"
SARREGUEMINES = "CPTS de Sarreguemines"  # the portfolio's contract, signed on 2 June 2025 in Moselle
FORBACH = "CPTS de Forbach"  # built below: terminated by the CPTS itself in spring 2025


@pytest.fixture
def engine(portfolio):
    built = make_engine(f"sqlite:///{portfolio.path}")
    yield built
    built.dispose()


@pytest.fixture
def suspended(portfolio, engine) -> int:
    """The funders terminate the Sarreguemines contract for non-compliance (notice received by registered letter
    on Tue 10 June 2025); the CPTS refers the termination to the CPL on Mon 16 June; on Wed 18 June the CPL
    schedules its meeting for Fri 18 July 2025."""
    case_id = portfolio.contract
    apply(SqlUnitOfWork(engine), case_id, NewEvent("termination_notice_received", date(2025, 6, 10), {
        "initiator": "funders", "grounds": "non_compliance"}, evidence=LRAR), "juridique@ars.example.fr",
        today=date(2025, 6, 10), now=noon(date(2025, 6, 10)))
    record(engine, case_id, "2025-06-16", "cpl_referral_received", {"subject": "termination"})
    record(engine, case_id, "2025-06-18", "cpl_meeting_scheduled", {"date": "2025-07-18"})
    return case_id


@pytest.fixture
def terminated(engine) -> int:
    """A Moselle CPTS under contract since Mon 6 Jan 2025 gives notice itself on Mon 3 March 2025; the termination
    takes effect two months later, Sat 3 May 2025 (a date of effect does not roll over), recorded by the sweep."""
    case_id = new_case(engine, FORBACH, population=65_000)
    record_all(engine, case_id, [
        *LOI_VALIDATED_2024,
        ("2024-11-20", "health_project_received", {}),
        ("2024-12-10", "health_project_validated", {}),
        ("2024-12-16", "adhesion_requested", ALL_DOCUMENTS),
        ("2025-01-06", "contract_signed", {"missions": ["quality"]}),
        ("2025-03-03", "termination_notice_received", {"initiator": "cpts"}),
    ])
    sweep(SqlUnitOfWork(engine), today=date(2025, 6, 1), now=noon(date(2025, 6, 1)), case_ids=[case_id])
    return case_id


@pytest.fixture
def docket_as(client_as):
    """`docket_as("legal")`: a client signed in as that user (None: signed out), the docket's router included."""

    def build(role: str | None) -> TestClient:
        client = client_as(role)
        if not any(getattr(route, "path", None) == "/contentieux" for route in client.app.routes):
            client.app.include_router(docket_router)
        return client

    return build


def _text(markup: str) -> str:
    """What a reader sees: tags out, entities decoded, no-break spaces as plain spaces, spaces collapsed."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", markup)).replace("\u202f", " ").replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text)


def _row(page: str, name: str) -> str | None:
    """The text of the table row of case `name`, None when the table has none."""
    for chunk in page.split("<tr>")[1:]:
        row = chunk.split("</tr>")[0]
        if name in html.unescape(row):
            return _text(row)
    return None


# ------------------------------------------------------------------------------------------------ the row
def test_a_suspended_funders_termination_shows_every_date_worked_out_by_hand(docket_as, suspended):
    page = docket_as("legal").get("/contentieux")
    assert page.status_code == 200
    row = _row(page.text, SARREGUEMINES)
    assert row is not None
    assert "Résiliation" in row and "Financeurs (ARS et Assurance maladie)" in row
    assert "Non-respect des engagements" in row
    assert "Suspendue par la saisine de la CPL" in row
    # The notice's date is the legal anchor, shown with its evidence as recorded.
    assert "Reçue le mardi 10 juin 2025" in row and f"Preuve : {LRAR}" in row
    assert "CPL saisie le lundi 16 juin 2025" in row
    assert "Réunion de la CPL fixée au vendredi 18 juillet 2025" in row
    # Effect (ACI art. 11.2): two months after the notice of Tue 10 June, same day of the month: Sun 10 August
    # 2025; a date of effect does not roll over to a working day. The referral suspended it (cancelled).
    assert "Prise d'effet : dimanche 10 août 2025 Annulée" in row
    # Referral window (ACI art. 11.2): two months from 10 June is Sun 10 August, a procedural deadline: rolled
    # over to Mon 11 August (CPC art. 642); met by the referral of 16 June.
    assert "Fin du délai de saisine de la CPL : lundi 11 août 2025 Respectée" in row
    # Meeting (ACI art. 12.4.2): two months after the referral of Mon 16 June is Sat 16 August: Mon 18 August.
    assert "Réunion de la CPL au plus tard : lundi 18 août 2025 À venir" in row
    # Convocations (annex 5 art. 1.2): at least 15 days before the meeting of Fri 18 July: Thu 3 July 2025.
    assert "Convocations au plus tard : jeudi 3 juillet 2025 À venir" in row
    # Agenda: at least 5 days before 18 July is Sun 13 July; counted backwards, a non-working day rolls to the
    # previous working day: Fri 11 July 2025.
    assert "Ordre du jour au plus tard : vendredi 11 juillet 2025 À venir" in row
    # No meeting held yet: no opinion, no new decision, no refund.
    assert "Avis de la CPL" not in row and "Nouvelle décision" not in row and "Remboursement" not in row
    # Next act on Fri 20 June 2025: the convocations of 3 July, in 13 days, by the CPL's secretariat.
    assert "Envoi des convocations à la CPL : jeudi 3 juillet 2025 dans 13 jours" in row
    assert "Qui doit agir : CPL (secrétariat)" in row
    assert "Enregistrer un acte" in row  # legal staff act


def test_each_date_is_explained(docket_as, suspended):
    page = _text(docket_as("legal").get("/contentieux").text)
    # The agenda's roll-over: the Sunday and Saturday skipped, the article of the code.
    assert "dimanche 13 juillet 2025" in page and "premier jour ouvré précédent" in page
    assert "Point de départ" in page and "règlement intérieur CPL art. 1.2" in page


def test_a_termination_without_referral_window_closes_the_docket_row_when_terminated(docket_as, suspended,
                                                                                     terminated):
    client = docket_as("legal")
    in_progress = client.get("/contentieux").text
    assert _row(in_progress, FORBACH) is None  # terminated: closed, not in progress
    closed = client.get("/contentieux?etat=clos").text
    row = _row(closed, FORBACH)
    assert row is not None and _row(closed, SARREGUEMINES) is None
    assert "Résilié" in row and "À l'initiative de : CPTS" in row and "Reçue le lundi 3 mars 2025" in row
    assert "Prise d'effet : samedi 3 mai 2025" in row
    # Refund (ACI art. 11.3): two months after the effect of Sat 3 May: Thu 3 July 2025, a working day; by the
    # CPTS, 13 days after 20 June.
    assert "Remboursement au plus tard : jeudi 3 juillet 2025" in row
    assert "Qui doit agir : CPTS" in row and "dans 13 jours" in row
    assert "Enregistrer un acte" not in row  # a closed case: nothing to record from the docket
    everything = client.get("/contentieux?etat=tous").text
    assert _row(everything, FORBACH) is not None and _row(everything, SARREGUEMINES) is not None


def test_the_refund_amount_is_the_echeancier_line(docket_as, engine, terminated):
    with SqlUnitOfWork(engine) as uow:
        line = uow.session.exec(select(PaymentRow).where(PaymentRow.case_id == terminated,
                                                         PaymentRow.component == "refund")).one()
    expected = f"{line.amount:,.2f}".replace(",", " ").replace(".", ",") + " €"
    row = _row(docket_as("national").get("/contentieux?etat=clos").text, FORBACH)
    assert row is not None and f"Montant à rembourser : {expected}" in row


# ------------------------------------------------------------------------------------------------ who sees
def test_scope_legal_and_binome_see_the_moselle_termination_others_do_not(docket_as, suspended):
    assert _row(docket_as("legal").get("/contentieux").text, SARREGUEMINES) is not None
    for role in ("cpam", "ars"):  # the binôme (CPAM 57, ARS Grand Est): read-only
        row = _row(docket_as(role).get("/contentieux").text, SARREGUEMINES)
        assert row is not None and "Enregistrer un acte" not in row
    national = _row(docket_as("national").get("/contentieux").text, SARREGUEMINES)
    assert national is not None and "Enregistrer un acte" not in national
    for role in ("cpam_other", "ars_other"):  # Gironde, Nouvelle-Aquitaine
        page = docket_as(role).get("/contentieux")
        assert page.status_code == 200 and _row(page.text, SARREGUEMINES) is None
        assert "Aucun dossier contentieux" in _text(page.text)
        export = docket_as(role).get("/contentieux.csv")
        assert SARREGUEMINES not in export.content.decode("utf-8-sig")


def test_signed_out_is_sent_to_sign_in(docket_as):
    client = docket_as(None)
    for url in ("/contentieux", "/contentieux.csv", "/contentieux?etat=clos"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/connexion")


def test_departement_filter_and_htmx_fragment(docket_as, suspended):
    client = docket_as("national")
    assert _row(client.get("/contentieux?departement=57").text, SARREGUEMINES) is not None
    # A département without a case on the docket is not offered: dropped, the whole scope is shown.
    assert _row(client.get("/contentieux?departement=33").text, SARREGUEMINES) is not None
    fragment = client.get("/contentieux?etat=tous", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="contentieux"' in fragment.text
    assert _row(fragment.text, SARREGUEMINES) is not None


def test_csv_export(docket_as, suspended):
    response = docket_as("legal").get("/contentieux.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    [row] = [r for r in rows if r["CPTS"] == SARREGUEMINES]
    assert row["Notification reçue le"] == "2025-06-10" and row["Preuve de la notification"] == LRAR
    assert row["Suspendue"] == "oui"
    assert row["Prise d'effet"] == "2025-08-10" and row["Fin du délai de saisine de la CPL"] == "2025-08-11"
    assert row["Convocations au plus tard"] == "2025-07-03" and row["Ordre du jour au plus tard"] == "2025-07-11"
    assert row["Prochain acte le"] == "2025-07-03" and row["Jours restants"] == "13"
