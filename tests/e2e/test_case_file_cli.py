"""`cpts case file CASE --pdf [--out FILE]`: the court-ready case file from the command line, read back with pypdf
and checked against the case; its one-line errors.

The case: a CPTS of Moselle whose health project was received on Tue 18 Feb 2025 after the LOI path of autumn
2024, with a journal key set (keyed hashes). The ARS's opposition window, 2 months and procedural, falls on Fri
18 Apr 2025, Good Friday in Moselle, and rolls over Sat 19, Sun 20 and Easter Monday 21 Apr to Tue 22 Apr 2025.
"""

from __future__ import annotations

import io
import json

import pytest
from builders import LOI_VALIDATED_2024
from cli_runner import assert_one_line_error
from pypdf import PdfReader

from workflows.persistence.db import make_engine
from workflows.persistence.journal import JournalKeys
from workflows.persistence.unit_of_work import SqlUnitOfWork

KEY = "k" * 40  # a test's journal key (at least 32 characters)
LRAR = "LRAR 1A 123 456 7890 1"


@pytest.fixture
def keyed_cpts(database, monkeypatch, cpts):
    monkeypatch.setenv("CPTS_JOURNAL_KEY", KEY)
    return cpts


@pytest.fixture
def case(keyed_cpts) -> str:
    created = keyed_cpts("case", "create", "--name", "CPTS du Pays Messin", "--dept", "57", "--communes", "57463")
    assert created.code == 0, created.err
    facts = [*LOI_VALIDATED_2024, ("2025-02-18", "health_project_received", {})]
    for at, kind, data in facts:
        evidence = ("--evidence", LRAR) if kind == "health_project_received" else ()
        data_option = ("--data", json.dumps(data)) if data else ()
        outcome = keyed_cpts("case", "event", "1", kind, "--at", at, *data_option, *evidence, "--actor",
                             "elise.martin@ars.example.fr")
        assert outcome.code == 0, outcome.err
    return "1"


def _stored(database: str):  # noqa: ANN202
    engine = make_engine(database)
    try:
        uow = SqlUnitOfWork(engine, keys=JournalKeys.from_secrets(KEY))
        with uow:
            return uow.cases.get(1), uow.journal.rows(1)
    finally:
        engine.dispose()


def _text(path) -> str:  # noqa: ANN001
    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_case_file_is_written_with_the_journal_the_deadlines_and_the_keyed_chain(keyed_cpts, case, database,
                                                                                    tmp_path):
    target = tmp_path / "dossier.pdf"

    outcome = keyed_cpts("case", "file", case, "--pdf", "--out", str(target))

    assert outcome.code == 0, outcome.err
    assert outcome.out == ""
    assert outcome.err.strip() == f"wrote {target}: case 1, 6 journal rows, journal intact"
    assert target.read_bytes().startswith(b"%PDF-")
    text = _text(target)
    words, packed = " ".join(text.split()), "".join(text.split())
    assert "Dossier de suivi — CPTS du Pays Messin" in words and "Metz (57463)" in words
    assert "Dossier établi le" in words and "Page 1 sur" in words
    # The journal: the first contact's business date, the project's evidence and who recorded it.
    assert "lundi 2 septembre 2024" in words and "Projet de santé reçu" in words
    assert "".join(LRAR.split()) in packed and "elise.martin@ars.example.fr" in packed
    # The opposition window, explained with the holidays of the seat.
    assert "Délai d'opposition de l'ARS au projet de santé — mardi 22 avril 2025" in words
    assert "vendredi 18 avril 2025 (Vendredi saint)" in words
    # The chain, keyed: the key's public id, each row's hash and the head as stored, the result.
    stored, rows = _stored(database)
    assert {row.key_id for row in rows} != {""}
    (key_id,) = {row.key_id for row in rows}
    assert f"Clé de vérification : {key_id}" in words and "scellée par une clé HMAC" in words
    assert "chaîne intègre" in words
    assert stored.journal_head in packed
    for row in rows:
        assert row.hash in packed
    assert KEY not in packed  # the secret itself is never printed


def test_the_file_goes_to_the_current_directory_by_default(keyed_cpts, case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    outcome = keyed_cpts("case", "file", case, "--pdf")

    assert outcome.code == 0, outcome.err
    assert (tmp_path / "dossier-cpts-1.pdf").read_bytes().startswith(b"%PDF-")


def test_without_pdf_the_command_says_that_the_file_is_a_pdf(keyed_cpts, case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    outcome = keyed_cpts("case", "file", case)

    assert_one_line_error(outcome, "add --pdf")
    assert list(tmp_path.glob("*.pdf")) == []


def test_an_unknown_case_is_a_one_line_error(keyed_cpts, tmp_path):
    outcome = keyed_cpts("case", "file", "42", "--pdf", "--out", str(tmp_path / "x.pdf"))

    assert_one_line_error(outcome, "42")
    assert not (tmp_path / "x.pdf").exists()


def test_a_destination_in_a_missing_directory_is_a_one_line_error(keyed_cpts, case, tmp_path):
    outcome = keyed_cpts("case", "file", case, "--pdf", "--out", str(tmp_path / "missing" / "dossier.pdf"))

    assert_one_line_error(outcome, "cannot write", "--out")


def test_a_destination_that_cannot_be_written_is_a_one_line_error(keyed_cpts, case, tmp_path):
    outcome = keyed_cpts("case", "file", case, "--pdf", "--out", str(tmp_path))  # a directory, not a file

    assert_one_line_error(outcome, "cannot write", "--out")
