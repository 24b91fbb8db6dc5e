"""`cpts letter KIND CASE`: the Word file written, its dates and amounts, and one-line refusals that write nothing.

Expected dates and amounts are worked out by hand from the texts in the comments (the refund is SPEC §7's worked
example, whose figures the SPEC states), never read from the engine.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import docx
import pytest
from builders import new_case, noon, record_all, signed_on_2_june_2025
from cli_runner import assert_one_line_error

from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import NewEvent, apply, sweep

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_2025 = signed_on_2_june_2025()
LRAR = "LRAR 1A 234 567 8901 2"



@pytest.fixture
def notified(engine) -> int:
    """A contract signed in Moselle on 2 June 2025, then the funders' termination notice received on Monday
    1 September 2025 by registered letter."""
    case_id = new_case(engine, "CPTS de Sarreguemines", population=65_000)
    record_all(engine, case_id, CONTRACT_2025)
    apply(SqlUnitOfWork(engine), case_id, NewEvent("termination_notice_received", date(2025, 9, 1), {
        "initiator": "funders", "grounds": "ineligible"}, evidence=LRAR), "juridique@ars.example.fr",
        today=date(2025, 9, 1), now=noon(date(2025, 9, 1)))
    return case_id


def _text(path: Path) -> str:
    """Every paragraph and table cell of the .docx, Babel's no-break spaces as plain spaces."""
    document = docx.Document(io.BytesIO(path.read_bytes()))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts).replace("\u202f", " ").replace("\u00a0", " ")


def test_the_termination_letter_is_written_where_asked_with_its_dates(cpts, notified, tmp_path):
    out = tmp_path / "resiliation.docx"
    result = cpts("letter", "resiliation", str(notified), "--out", str(out), "--today", "2025-09-02")

    assert (result.code, result.out, result.err) == (0, f"{out}\n", "")
    text = _text(out)
    # Received Monday 1 September 2025: effect on Saturday 1 November 2025 (2 months, same day number; an effect
    # does not roll); the CPL referral window rolls over All Saints' Day (Sat 1 Nov) and Sunday 2 November to
    # Monday 3 November 2025 (ACI art. 11.2, CPC art. 641-642).
    assert "la résiliation prendra effet le samedi 1er novembre 2025" in text
    assert "Sa saisine doit être reçue au plus tard le lundi 3 novembre 2025" in text
    assert "samedi 1er novembre 2025 (Toussaint)" in text
    assert f"Réception du présent courrier : le lundi 1er septembre 2025 (pièce : {LRAR})" in text
    assert "la CPTS ne remplit plus les conditions d'éligibilité au contrat" in text
    assert "[Lieu], le mardi 2 septembre 2025" in text


def test_without_out_the_letter_is_named_after_its_kind_and_case_in_the_current_directory(
        cpts, notified, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cpts("letter", "resiliation", str(notified), "--today", "2025-09-02")

    name = f"lettre-resiliation-cpts-{notified}.docx"
    assert (result.code, result.out) == (0, f"{name}\n")
    assert "samedi 1er novembre 2025" in _text(tmp_path / name)


def test_the_refund_demand_of_the_spec_worked_example_asks_9_727_74_euros_by_tuesday_20_january_2026(
        cpts, engine, tmp_path):
    scenario = json.loads((ROOT / "scenarios" / "spec-worked-example.json").read_text(encoding="utf-8"))
    case_id = new_case(engine, "CPTS de l'exemple", departement=scenario["seat_departement"],
                       population=scenario["population"])
    for event in scenario["events"]:
        at = date.fromisoformat(event["at"])
        apply(SqlUnitOfWork(engine), case_id, NewEvent(event["type"], at, event.get("data", {}),
                                                       evidence=event.get("evidence")), "agent", today=at, now=noon(at))
    # The CPTS's own notice, received on 20 September 2025, takes effect on Thursday 20 November 2025; the
    # scheduler records the effect the next day.
    sweep(SqlUnitOfWork(engine), today=date(2025, 11, 21), now=noon(date(2025, 11, 21)), case_ids=[case_id])
    out = tmp_path / "remboursement.docx"

    result = cpts("letter", "remboursement", str(case_id), "--out", str(out), "--today", "2025-11-21")

    assert result.code == 0, result.err
    text = _text(out)
    # SPEC §7: "a termination effective 2025-11-20 makes 102 397.26 due for year 2 against 112 125.00 paid:
    # refund 9 727.74 by 2026-01-20" — (60 000 + 29 500 + 10 000 + 35 000 + 15 000) × 250/365 = 102 397.26.
    # 20 January 2026 is a Tuesday (1 January 2026 is a Thursday): no roll-over.
    assert "Montant à rembourser : 9 727,74 € (112 125,00 € − 102 397,26 €)." in text
    assert "Rémunération due pour l'année 2 : 102 397,26 €" in text
    assert "× 250/365" in text
    assert "au plus tard le mardi 20 janvier 2026" in text
    assert "a pris effet le jeudi 20 novembre 2025" in text


# --------------------------------------------------------------------------------------------- refusals
def test_a_convocation_before_any_meeting_is_scheduled_is_refused_on_one_line_and_nothing_is_written(
        cpts, notified, engine, tmp_path):
    record_all(engine, notified, [("2025-10-01", "cpl_referral_received", {"subject": "termination"})])
    out = tmp_path / "convocation.docx"

    result = cpts("letter", "convocation-cpl", str(notified), "--out", str(out), "--today", "2025-10-02")

    assert_one_line_error(result, "record the meeting's date first (cpl_meeting_scheduled)")
    assert not out.exists()


def test_a_letter_the_case_has_no_dates_for_names_the_event_to_record_first(cpts, notified, tmp_path):
    letters = tmp_path / "lettres"
    letters.mkdir()
    result = cpts("letter", "accuse-saisine-cpl", str(notified), "--out", str(letters / "a.docx"))
    assert_one_line_error(result, "cpl_referral_received")

    result = cpts("letter", "remboursement", str(notified), "--out", str(letters / "r.docx"))
    assert_one_line_error(result, "termination_effective")
    assert list(letters.iterdir()) == []


def test_an_unknown_kind_or_case_is_refused_on_one_line(cpts, notified, tmp_path):
    letters = tmp_path / "lettres"
    letters.mkdir()
    assert_one_line_error(cpts("letter", "mise-en-demeure", str(notified), "--out", str(letters / "x.docx")),
                          "unknown letter kind 'mise-en-demeure'", "resiliation", "remboursement")
    assert_one_line_error(cpts("letter", "resiliation", "999", "--out", str(letters / "x.docx")), "999")
    assert list(letters.iterdir()) == []


def test_an_existing_file_is_kept_unless_forced(cpts, notified, tmp_path):
    out = tmp_path / "resiliation.docx"
    out.write_bytes(b"edited by hand")

    result = cpts("letter", "resiliation", str(notified), "--out", str(out), "--today", "2025-09-02")
    assert_one_line_error(result, "exists", "--force")
    assert out.read_bytes() == b"edited by hand"

    result = cpts("letter", "resiliation", str(notified), "--out", str(out), "--today", "2025-09-02", "--force")
    assert result.code == 0
    assert "samedi 1er novembre 2025" in _text(out)


def test_a_file_in_a_missing_directory_is_refused_on_one_line(cpts, notified, tmp_path):
    result = cpts("letter", "resiliation", str(notified), "--out", str(tmp_path / "nope" / "x.docx"))

    assert_one_line_error(result, "does not exist")
    assert not (tmp_path / "nope").exists()


def test_the_help_lists_every_kind_of_letter(cpts):
    from documents.letters import KINDS

    help_text = " ".join(cpts("letter", "--help").out.split())
    for kind in KINDS:
        assert kind in help_text
