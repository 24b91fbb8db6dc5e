"""The échéancier through the engine, the simulator and the CLI, and the portfolio's budget forecast.

Expected amounts are SPEC §7's worked example, copied as literals.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from cli_runner import make_runner
from freezegun import freeze_time
from spec_example import ALL_DOCUMENTS, WORKED_EXAMPLE_LINES
from sqlmodel import select

from workflows import services
from workflows.persistence.db import alembic_config
from workflows.persistence.projection_writer import payment_rows
from workflows.persistence.tables import PaymentRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.finance import case_payments, forecast, total
from workflows.services.cases import project_case
from workflows.simulation.runner import run_scenario
from workflows.simulation.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
WORKED_EXAMPLE = ROOT / "scenarios" / "spec-worked-example.json"



@pytest.fixture(scope="module")
def worked_example() -> dict:
    return run_scenario(load_scenario(WORKED_EXAMPLE)).as_dict()


def test_simulating_the_spec_worked_example_reproduces_every_payment_to_the_cent(worked_example):
    paid_or_due = {(p["due"], p["component"], p["year"]): p["amount"] for p in worked_example["payments"]}
    for due, component, year, amount in WORKED_EXAMPLE_LINES:
        assert paid_or_due.get((due, component, year)) == amount, (due, component, year)


def test_the_termination_effective_on_20_november_2025_asks_a_refund_of_9727_74_by_20_january_2026(worked_example):
    refunds = [p for p in worked_example["payments"] if p["component"] == "refund"]
    assert refunds == [{"component": "refund", "year": 2, "due": "2026-01-20", "amount": "9727.74",
                        "status": "overdue"}]
    refund_deadline = [d for d in worked_example["deadlines"] if d["key"] == "refund"]
    assert refund_deadline == [{"key": "refund", "due": "2026-01-20", "status": "breached", "met_on": None}]
    assert worked_example["state"] == "terminated"


def test_payments_scheduled_after_the_termination_are_cancelled(worked_example):
    after = [p for p in worked_example["payments"] if p["due"] > "2025-11-20" and p["component"] != "refund"
             and p["status"] != "awaiting_assessment"]
    assert after and all(p["status"] == "cancelled" for p in after)


def test_the_refund_deadline_and_its_breach_notice_reach_the_binome_the_cpts_and_legal_staff(worked_example):
    notices = [n for n in worked_example["notifications"] if n["deadline"] == "refund"]
    assert {"deadline": "refund", "kind": "breach", "on": "2026-01-21", "roles": ["ars", "cpam", "cpts", "legal"]} \
        in notices


# --------------------------------------------------------------------------------- through the engine
def _contract(db, *, signed: str = "2024-03-15") -> int:
    case = services.create_case(SqlUnitOfWork(db), name="CPTS Test", departement="01", population=50_000)
    today = date(2026, 11, 25)
    for at, event, data in [
        ("2023-01-09", "contact_recorded", {"source": "ars"}),
        ("2023-01-16", "first_meeting_held", {}),
        ("2023-03-01", "loi_submitted", {}),
        ("2023-03-20", "loi_decision", {"party": "ars", "decision": "approve"}),
        ("2023-03-22", "loi_decision", {"party": "am", "decision": "approve"}),
        ("2023-10-02", "health_project_received", {}),
        ("2023-11-15", "health_project_validated", {}),
        ("2024-01-15", "adhesion_requested", ALL_DOCUMENTS),
        (signed, "contract_signed", {"missions": ["quality"]}),
        ("2024-06-03", "mission_started", {"mission": "access"}),
    ]:
        services.apply(SqlUnitOfWork(db), case.id, services.NewEvent(event, date.fromisoformat(at), data), "test",
                       today=today)
    return case.id


def test_a_recorded_payment_marks_its_line_paid_and_an_unpaid_past_line_is_overdue(db):
    case_id = _contract(db)
    services.apply(SqlUnitOfWork(db), case_id, services.NewEvent("payment_recorded", date(2024, 3, 20), {
        "component": "fonctionnement.advance", "year": 1, "amount": "60000.00"}), "agent", today=date(2024, 7, 1))
    lines = {(p.component, p.year): p for p in case_payments(SqlUnitOfWork(db), case_id, today=date(2024, 7, 1))}

    assert lines[("fonctionnement.advance", 1)].status == "paid"
    assert lines[("access.fixed.advance", 1)].status == "overdue"  # due 3 June 2024, not recorded
    assert lines[("access.fixed.advance", 1)].amount == Decimal("17275.68")


def test_the_forecast_counts_an_instalment_of_a_partially_paid_line_as_already_paid(db):
    case_id = _contract(db)

    def instalment(on: date, amount: str) -> Decimal:
        services.apply(SqlUnitOfWork(db), case_id, services.NewEvent("payment_recorded", on, {
            "component": "fonctionnement.advance", "year": 1, "amount": amount}), "agent", today=on)
        return {g.key: g for g in forecast(SqlUnitOfWork(db), 2024, by="component")}["fonctionnement.advance"].paid

    assert instalment(date(2024, 3, 20), "20000.00") == Decimal("20000.00")  # 40 000 € of 60 000 € still owed
    assert instalment(date(2024, 4, 19), "40000.00") == Decimal("60000.00")
    assert forecast(SqlUnitOfWork(db), 2024, by="region").total.paid == Decimal("60000.00")


def test_upgrading_to_0007_keeps_the_lines_paid_before_as_paid_in_full_in_the_forecast(db):
    case_id = _contract(db)
    services.apply(SqlUnitOfWork(db), case_id, services.NewEvent("payment_recorded", date(2024, 3, 20), {
        "component": "fonctionnement.advance", "year": 1, "amount": "60000.00"}), "agent", today=date(2024, 7, 1))
    command.downgrade(alembic_config(db), "0006")  # the line's row as revision 0006 wrote it: status paid only

    command.upgrade(alembic_config(db), "head")

    paid = {g.key: g.paid for g in forecast(SqlUnitOfWork(db), 2024, by="component")}
    assert paid == {"fonctionnement.advance": Decimal("60000.00"), "access.fixed.advance": Decimal("0.00")}


def test_the_forecast_sums_what_the_funders_pay_in_a_year_by_component(sqlite_db):
    _contract(sqlite_db)
    groups = {g.key: g for g in forecast(SqlUnitOfWork(sqlite_db), 2024, by="component")}

    assert groups["fonctionnement.advance"].committed == Decimal("60000.00")
    assert groups["access.fixed.advance"].committed == Decimal("17275.68")
    assert total(list(groups.values()), 2024).committed == Decimal("77275.68")


def test_the_forecast_shows_variable_parts_awaiting_assessment_at_full_attainment(sqlite_db):
    _contract(sqlite_db)
    groups = {g.key: g for g in forecast(SqlUnitOfWork(sqlite_db), 2025, by="component")}

    # access variable year 1: 17 500 × 285/365 = 13 664.38 at full attainment, amount not yet known
    assert groups["access.variable"].committed == Decimal("0.00")
    assert groups["access.variable"].awaiting_ceiling == Decimal("13664.38")


def test_the_forecast_groups_by_region_with_its_name(sqlite_db):
    _contract(sqlite_db)
    [group] = forecast(SqlUnitOfWork(sqlite_db), 2024, by="region")
    assert (group.key, group.label) == ("84", "Auvergne-Rhône-Alpes")


def _cli(monkeypatch, capsys, db_url: str, *args: str) -> tuple[int, str, str]:
    outcome = make_runner(monkeypatch, capsys, db_url)(*args)
    return outcome.code, outcome.out, outcome.err


def test_case_payments_prints_csv_for_a_spreadsheet(sqlite_db, monkeypatch, capsys):
    case_id = _contract(sqlite_db)
    code, out, _ = _cli(monkeypatch, capsys, str(sqlite_db.url), "case", "payments", str(case_id), "--csv",
                        "--today", "2024-07-01")
    rows = list(csv.DictReader(io.StringIO(out)))

    assert code == 0
    # The lettre d'intention was validated under ACI avenant 2: its payment (à confirmer) comes first.
    assert {"component": "loi_support", "year": "0", "status": "overdue"}.items() <= rows[0].items()
    assert "à confirmer" in rows[0]["explanation"]
    assert {"due": "2024-03-15", "component": "fonctionnement.advance", "year": "1", "amount": "60000.00",
            "paid": "0.00", "remaining": "60000.00", "status": "overdue"}.items() <= rows[1].items()
    assert {"due": "2024-06-03", "component": "access.fixed.advance", "amount": "17275.68"}.items() <= rows[2].items()


def test_forecast_with_an_unknown_grouping_is_a_one_line_error(sqlite_db, monkeypatch, capsys):
    code, _, err = _cli(monkeypatch, capsys, str(sqlite_db.url), "forecast", "--year", "2025", "--by", "commune")
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1


def test_forecast_json_has_a_total_row(sqlite_db, monkeypatch, capsys):
    _contract(sqlite_db)
    code, out, _ = _cli(monkeypatch, capsys, str(sqlite_db.url), "forecast", "--year", "2024", "--json")
    rows = json.loads(out)
    assert code == 0
    assert rows[-1]["group"] == "total" and rows[-1]["committed"] == "77275.68"


@freeze_time("2026-11-25 12:00:00")  # everything recorded by the day the case is looked at
def test_case_show_tracks_the_national_access_indicators_of_each_completed_year(sqlite_db):
    from workflows.read.cases import case_view

    case_id = _contract(sqlite_db)
    services.apply(SqlUnitOfWork(sqlite_db), case_id, services.NewEvent("indicators_reported", date(2025, 4, 30), {
        "year": 1, "missions": {"access": {"indicators": [
            {"name": "patients_with_medecin_traitant", "baseline": 80, "target": 90, "actual": 86},
            {"name": "emergency_visits_without_hospitalisation", "baseline": 1000, "target": 900, "actual": 950},
        ]}}}), "agent", today=date(2026, 11, 25))
    years = case_view(SqlUnitOfWork(sqlite_db), case_id, today=date(2026, 11, 25)).as_dict()["indicators"]

    # (86-80)/(90-80) = 0.6 and (950-1000)/(900-1000) = 0.5, equal weights → 0.55
    assert years[0] == {"year": 1, "attainment": {"access": "0.5500"}, "national_indicators_missing": [
        "patients_without_medecin_traitant_ald_70_cmuc", "direct_admissions_referred_by_city_professional",
        "snp_orientation_consultations"]}
    assert years[1]["year"] == 2 and years[1]["attainment"] == {} and len(years[1]["national_indicators_missing"]) == 5


def test_a_refund_whose_two_months_end_on_saturday_24_january_2026_is_due_monday_26th_as_its_deadline():
    scenario = json.loads(WORKED_EXAMPLE.read_text(encoding="utf-8"))
    # Notice received 24 Sep 2025: the termination takes effect on Mon 24 Nov 2025 (an effect date), and the
    # refund's two months end on Saturday 24 January 2026, rolled to Monday 26 (procedural, CPC art. 642).
    scenario["events"][-1]["at"] = "2025-09-24"
    result = run_scenario(parse_scenario(scenario)).as_dict()

    [refund] = [p for p in result["payments"] if p["component"] == "refund"]
    [deadline] = [d for d in result["deadlines"] if d["key"] == "refund"]
    assert refund["due"] == deadline["due"] == "2026-01-26"


def test_instalments_recorded_by_a_long_running_writer_leave_the_same_payment_rows_as_a_full_rewrite(db):
    """A writer keeping the case's replay (the scheduler, a server) updates only the line a payment moved."""
    case_id = _contract(db)
    writer = SqlUnitOfWork(db)
    for on, amount in [(date(2024, 3, 20), "20000.00"), (date(2024, 4, 19), "30000.00"), (date(2024, 5, 2), "0.01")]:
        services.apply(writer, case_id, services.NewEvent("payment_recorded", on, {
            "component": "fonctionnement.advance", "year": 1, "amount": amount}), "agent", today=on)

    with SqlUnitOfWork(db) as uow:
        case = uow.cases.get(case_id)
        expected = payment_rows(case_id, project_case(case, uow.journal.rows(case_id), date(2024, 5, 2)))
        stored = [{k: getattr(row, k) for k in expected[0]} for row in uow.session.exec(
            select(PaymentRow).where(PaymentRow.case_id == case_id).order_by(PaymentRow.id))]
    assert stored == expected
    assert [(r["paid"], r["status"]) for r in stored if r["component"] == "fonctionnement.advance" and
            r["year"] == 1] == [(Decimal("50000.01"), "partially_paid")]
