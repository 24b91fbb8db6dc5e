"""*Dossier (PDF)*: the court-ready case file of `/cpts/{id}/dossier.pdf` — its content read back from the PDF
with pypdf and checked against the case, and who may download it (SPEC §2).

The case: Metz (portfolio, Moselle), its LOI path of autumn 2024 and a health project received on Tue 18 Feb
2025. The ARS's opposition window is 2 months, procedural: 18 Feb + 2 months = Fri 18 Apr 2025, Good Friday (a
public holiday in Moselle), then Sat 19, Sun 20 and Easter Monday 21 Apr: it rolls over to Tue 22 Apr 2025. The
scheduler's pass of Tue 15 Apr 2025 at noon UTC (14:00 in Paris, summer time) sends the binôme its reminder; the
ARS validates the project on Thu 17 Apr 2025 (recorded that day at noon UTC, 14:00 in Paris) with a letter as
evidence, so the window is met that day. The file is drawn up at NOW: Fri 20 Jun 2025, 12:00 UTC = 14:00 Paris.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from builders import outbox
from pypdf import PdfReader
from sqlalchemy import text

from web.conftest import NOW, USERS
from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import NewEvent, apply
from workflows.services.outbox import drain
from workflows.services.sweep import sweep

REMINDER_RUN = datetime(2025, 4, 15, 12, 0, tzinfo=UTC)
VALIDATED_AT = datetime(2025, 4, 17, 12, 0, tzinfo=UTC)
EVIDENCE = "Courrier ARS n° 2025-117"


@pytest.fixture
def engine(portfolio):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    yield engine
    engine.dispose()


@pytest.fixture
def metz(portfolio, engine) -> int:
    """The Metz case with its reminder sent on 15 Apr 2025 and its health project validated on 17 Apr 2025."""
    uow = SqlUnitOfWork(engine)
    sweep(uow, now=REMINDER_RUN, case_ids=[portfolio.metz])
    drain(uow, lambda message: None, now=REMINDER_RUN, from_address="cpts@example.fr")
    apply(uow, portfolio.metz, NewEvent("health_project_validated", date(2025, 4, 17), {}, evidence=EVIDENCE),
          USERS["ars"][1], today=date(2025, 4, 17), now=VALIDATED_AT)
    return portfolio.metz


def _pdf_text(response) -> str:  # noqa: ANN001
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


def _words(pdf_text: str) -> str:
    """The text with every run of blanks (line breaks of the layout included) made one space."""
    return " ".join(pdf_text.split())


def _packed(pdf_text: str) -> str:
    """The text without any blank: a hash or a Message-ID cut across two lines reads whole again."""
    return "".join(pdf_text.split())


def _stored(engine, case_id: int):  # noqa: ANN001, ANN202
    uow = SqlUnitOfWork(engine)
    with uow:
        return uow.cases.get(case_id), uow.journal.rows(case_id)


# ----------------------------------------------------------------------------------------------- content
def test_the_case_file_holds_identity_journal_deadlines_notices_and_the_chain_proof(client_as, engine, metz):
    response = client_as("legal").get(f"/cpts/{metz}/dossier.pdf")
    pdf = _pdf_text(response)
    words, packed = _words(pdf), _packed(pdf)
    assert response.headers["content-disposition"] == f'attachment; filename="dossier-cpts-{metz}.pdf"'

    # Identity: name, seat, région, commune, referents and contact of the portfolio.
    for fact in ("CPTS du Pays Messin", "Moselle (57)", "Grand Est (44)", "CPL de la Moselle", "Metz (57463)",
                 "Élise Martin <elise.martin@ars.example.fr>", "Paul Durand <paul.durand@cpam.example.fr>",
                 "Dr Anne Weber <contact@cpts-metz.example.fr>", "ACI-2019"):
        assert fact in words, fact
    # The header of every page, and when the file was drawn up (noon UTC is 14:00 in Paris in June).
    reader = PdfReader(io.BytesIO(response.content))
    assert words.count("Dossier établi le 20/06/2025 14:00:00 (heure de Paris)") == len(reader.pages)
    assert reader.metadata.creation_date == NOW  # the application's clock, not the machine's
    assert "Page 1 sur" in words

    # The journal: every row, with its business date, actor, evidence and recording time in Paris.
    case, rows = _stored(engine, metz)
    assert [r.type for r in rows][-2:] == ["health_project_received", "health_project_validated"]
    for event in ("Premier contact enregistré", "Lettre d'intention reçue", "Projet de santé reçu"):
        assert event in words, event
    assert "lundi 2 septembre 2024" in words  # the first contact (LOI_VALIDATED_2024)
    assert "mardi 18 février 2025" in words  # the health project received
    assert EVIDENCE in words and USERS["ars"][1] in packed
    assert "17/04/2025 14:00:00" in words  # the validation, recorded at noon UTC

    # The opposition window: its date explained with the holidays rolled over, and its outcome.
    assert "Délai d'opposition de l'ARS au projet de santé — mardi 22 avril 2025" in words
    assert "vendredi 18 avril 2025 (Vendredi saint)" in words
    assert "lundi 21 avril 2025 (Lundi de Pâques)" in words
    assert "Respectée, fait le jeudi 17 avril 2025" in words

    # The reminder sent on 15 Apr 2025 at 14:00 Paris, with its Message-ID.
    (reminder,) = [row for row in outbox(engine) if row.case_id == metz and row.status == "sent"]
    assert reminder.kind == "reminder"
    assert "15/04/2025 14:00:00" in words
    assert _packed(reminder.message_id) in packed

    # The chain: every row's hash, the genesis and the head as stored, the result and the time of the check.
    assert "chaîne intègre" in words
    assert "Vérification effectuée le vendredi 20 juin 2025 à 14:00:00 (heure de Paris" in words
    assert "aucune — empreintes SHA-256 non signées" in words  # the portfolio has no journal key
    assert case.journal_head == rows[-1].hash and case.journal_head in packed
    assert rows[0].prev_hash in packed
    for row in rows:
        assert row.hash in packed, f"hash of row {row.seq}"


def test_a_tampered_journal_is_said_in_the_file_with_its_findings(client_as, engine, metz):
    with engine.begin() as connection:  # someone with database access rewrites who recorded the first contact
        connection.execute(text("UPDATE journal SET actor = 'quelqu''un' WHERE case_id = :case AND seq = 1"),
                           {"case": metz})

    words = _words(_pdf_text(client_as("legal").get(f"/cpts/{metz}/dossier.pdf")))

    assert "journal altéré" in words and "chaîne intègre" not in words
    assert "row #1" in words  # the engine's finding names the row
    assert "quelqu'un" in words  # the journal printed is the one verified


# ----------------------------------------------------------------------------------------------- who gets it
@pytest.mark.parametrize("role", ["cpam", "national"])
def test_anyone_who_sees_the_case_downloads_its_file(portfolio, client_as, role):
    words = _words(_pdf_text(client_as(role).get(f"/cpts/{portfolio.metz}/dossier.pdf")))
    assert "CPTS du Pays Messin" in words


@pytest.mark.parametrize("role", ["ars_other", "cpam_other"])
def test_a_case_outside_ones_scope_has_no_file_like_a_case_that_does_not_exist(portfolio, client_as, role):
    client = client_as(role)
    hidden = client.get(f"/cpts/{portfolio.metz}/dossier.pdf")
    missing = client.get("/cpts/999999/dossier.pdf")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.text == missing.text and "CPTS du Pays Messin" not in hidden.text


@pytest.mark.parametrize("case", ["abc", "0", "99999999999"])
def test_a_case_number_that_cannot_exist_is_not_found(client_as, case):
    assert client_as("legal").get(f"/cpts/{case}/dossier.pdf").status_code == 404


def test_a_signed_out_visitor_is_sent_to_sign_in(portfolio, client_as):
    response = client_as(None).get(f"/cpts/{portfolio.metz}/dossier.pdf", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion")
