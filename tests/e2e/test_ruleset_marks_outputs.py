"""Issue 13: a date or an amount computed from a ruleset row not checked against the signed text is never silent in
the e-mails and the letters.

- E-mails: a deployment whose copy of ACI-2019+A2 has not yet checked the crisis mission's 6 months marks that
  row `verified = false`; the reminders of a contract signed on Monday 2 June 2025 (start due Tuesday
  2 December 2025, reminders 30, 7 and 1 days before) then carry a line "Date à confirmer : …" with the source.
- Letters: the SPEC's worked example (a contract signed on 15 March 2024, under ACI-2019+A2 whose crisis mission
  is a socle mission from its signature) terminated on 20 November 2025: its refund owes nothing to the avenant.
  When its CPTS also started the crisis mission, the refund is computed from the crisis mission's unverified
  amounts too, so the refund demand says they are "à confirmer" with their source — and says nothing of it with
  a deployment's verified copy.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import docx
import pytest
from builders import new_case, noon, outbox, record_all, signed_on_2_june_2025
from notices import OPPOSITION_REMINDER

from notifications.render import render_notice
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import NewEvent, apply, sweep
from workflows.services.people import add_user, assign

ROOT = Path(__file__).resolve().parents[2]
A2_TEXT = (ROOT / "lifecycle" / "rulesets" / "aci-2019-a2.toml").read_text(encoding="utf-8")
VERIFIED_A2 = A2_TEXT.replace("\nverified = false\n", "\nverified = true\n", 1)
START_SOURCE = ('source = "avenant 2 ; ARS Hauts-de-France, « Le financement de la CPTS : l\'ACI » (30 nov. 2023) : '
                '6 mois"\nverified = true')
DOUBTFUL_START = VERIFIED_A2.replace(START_SOURCE, 'source = "calendrier à vérifier (JO)"\nverified = false')
CONFIRM_LINE = ("Date à confirmer : elle est calculée d'après une valeur non encore vérifiée contre le texte signé "
                "(source : calendrier à vérifier (JO)).")
REFUND_MARK = "À confirmer : cette valeur est calculée d'après une disposition dont le texte signé n'a pas encore"


# Each test may load a deployment's directory: the next test starts from the packaged files.
pytestmark = pytest.mark.usefixtures("packaged_rulesets_afterwards")



def _use(cpts, monkeypatch, tmp_path: Path, text: str) -> None:
    folder = tmp_path / "rulesets"
    folder.mkdir()
    (folder / "aci-2019-a2.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("CPTS_RULESETS_DIR", str(folder))
    assert cpts("ruleset", "list").code == 0  # loads the directory, as every entrypoint does


# ------------------------------------------------------------------------------------------------ e-mails
def test_a_reminder_whose_date_is_to_confirm_says_so_with_the_source():
    email = render_notice(replace(OPPOSITION_REMINDER, to_confirm="calendrier à vérifier (JO)"))

    assert CONFIRM_LINE in email.text
    assert "Date à confirmer" in email.html and "calendrier à vérifier (JO)" in email.html


def test_a_reminder_of_a_certain_date_says_nothing_of_it():
    email = render_notice(OPPOSITION_REMINDER)

    assert "à confirmer" not in email.text.lower() and "à confirmer" not in email.html.lower()


def test_the_sweep_writes_the_crisis_mission_reminder_with_its_date_to_confirm(cpts, engine, monkeypatch, tmp_path):
    _use(cpts, monkeypatch, tmp_path, DOUBTFUL_START)
    case_id = new_case(engine, "CPTS de Sarreguemines", population=65_000)
    record_all(engine, case_id, signed_on_2_june_2025())
    uow = SqlUnitOfWork(engine)
    add_user(uow, "Élise Martin", "elise.martin@ars.example.fr", "ars", ["44"])
    add_user(uow, "Paul Durand", "paul.durand@cpam.example.fr", "cpam", ["57"])
    assign(uow, case_id, ars_email="elise.martin@ars.example.fr", cpam_email="paul.durand@cpam.example.fr")

    sweep(SqlUnitOfWork(engine), today=date(2025, 11, 3), now=noon(date(2025, 11, 3)), case_ids=[case_id])

    rows = outbox(engine)
    crisis = [r for r in rows if r.deadline_key == "mission_start.crisis"]
    others = [r for r in rows if r.deadline_key != "mission_start.crisis"]
    assert crisis, [r.deadline_key for r in rows]
    assert CONFIRM_LINE in crisis[0].text_body and "Date à confirmer" in crisis[0].html_body
    assert json.loads(crisis[0].notice)["to_confirm"] == "calendrier à vérifier (JO)"
    assert all("Date à confirmer" not in r.text_body for r in others)


# ------------------------------------------------------------------------------------------------ letters
def _refund_letter(cpts, engine, tmp_path: Path, *, crisis: bool = False) -> str:
    """The refund demand of the SPEC's worked example; `crisis`: its CPTS also started the crisis mission (a socle
    mission of ACI-2019+A2, under which a contract signed on 15 March 2024 is) on 3 June 2024."""
    scenario = json.loads((ROOT / "scenarios" / "spec-worked-example.json").read_text(encoding="utf-8"))
    if crisis:
        scenario["events"].append({"at": "2024-06-03", "type": "mission_started", "data": {"mission": "crisis"}})
        scenario["events"].sort(key=lambda e: e["at"])
    case_id = new_case(engine, "CPTS de l'exemple", departement=scenario["seat_departement"],
                       population=scenario["population"])
    for event in scenario["events"]:
        at = date.fromisoformat(event["at"])
        apply(SqlUnitOfWork(engine), case_id, NewEvent(event["type"], at, event.get("data", {}),
                                                       evidence=event.get("evidence")), "agent", today=at, now=noon(at))
    sweep(SqlUnitOfWork(engine), today=date(2025, 11, 21), now=noon(date(2025, 11, 21)), case_ids=[case_id])
    out = tmp_path / "remboursement.docx"
    result = cpts("letter", "remboursement", str(case_id), "--out", str(out), "--today", "2025-11-21")
    assert result.code == 0, result.err
    document = docx.Document(io.BytesIO(out.read_bytes()))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts).replace("\u202f", " ").replace("\u00a0", " ")


def test_the_worked_example_s_refund_demand_owes_nothing_to_the_avenant_and_has_nothing_to_confirm(
        cpts, engine, tmp_path):
    text = _refund_letter(cpts, engine, tmp_path)

    assert "À confirmer" not in text  # every component paid in year 2 is ACI-2019's
    assert "Montant à rembourser : 9 727,74 €" in text


def test_the_refund_demand_computed_from_unverified_amounts_says_they_are_to_confirm(cpts, engine, tmp_path):
    text = _refund_letter(cpts, engine, tmp_path, crisis=True)

    assert REFUND_MARK in text
    assert "(source : montants rapportés de la négociation" in text
    assert "Montant à rembourser : 9 727,74 €" not in text  # the crisis mission's advances count too


def test_the_refund_demand_under_a_verified_copy_of_the_avenant_has_nothing_to_confirm(
        cpts, engine, tmp_path, monkeypatch):
    _use(cpts, monkeypatch, tmp_path, VERIFIED_A2)

    text = _refund_letter(cpts, engine, tmp_path, crisis=True)

    assert "À confirmer" not in text
    assert "Montant à rembourser" in text


# ------------------------------------------------------------------------------------------------ cpts simulate
def test_the_simulation_of_the_worked_example_marks_the_payment_at_the_lettre_d_intention_to_confirm(cpts):
    result = cpts("simulate", str(ROOT / "scenarios" / "spec-worked-example.json"), "--json")

    assert result.code == 0, result.err
    payments = json.loads(result.out)["payments"]
    assert payments[0]["component"] == "loi_support" and "Le Quotidien du médecin" in payments[0]["to_confirm"]
    # The lines of SPEC §7's worked example are ACI-2019's: exact, certain, without the key.
    assert payments[1] == {"component": "fonctionnement.advance", "year": 1, "due": "2024-03-15",
                           "amount": "60000.00", "status": "overdue"}
