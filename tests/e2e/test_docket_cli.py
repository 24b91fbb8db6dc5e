"""`cpts legal docket [--json|--csv] [--closed] [--dept D…]`: every termination, contract refusal and CPL referral,
with its dates and the next act due.

The `legal` group is not registered in the `cpts` tree yet: these tests run its Typer application directly (on the
test's database, its schema created by the `cpts` fixture). Expected dates are worked out by hand from the texts
(ACI art. 11, 12.4; annex 5; CPC art. 640-642) in the comments, never read from the engine.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from builders import LOI_VALIDATED_2024, new_case, noon, record, record_all, signed_on_2_june_2025
from spec_example import ALL_DOCUMENTS
from sqlmodel import select
from typer.testing import CliRunner

from workflows.cli.legal import legal_app
from workflows.persistence.tables import DeadlineRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import NewEvent, apply, sweep

LRAR = "LRAR 1A 234 567 8901 2"
CONTRACT_2025 = signed_on_2_june_2025("quality")



@pytest.fixture
def suspended(engine) -> int:
    """A Moselle contract signed on 2 June 2025; the funders' termination notice (non-compliance) received by
    registered letter on Tue 10 June 2025, referred to the CPL on Mon 16 June, meeting scheduled (on Wed 18 June)
    for Fri 18 July 2025."""
    case_id = new_case(engine, "CPTS de Sarreguemines", population=65_000)
    record_all(engine, case_id, CONTRACT_2025)
    apply(SqlUnitOfWork(engine), case_id, NewEvent("termination_notice_received", date(2025, 6, 10), {
        "initiator": "funders", "grounds": "non_compliance"}, evidence=LRAR), "juridique@ars.example.fr",
        today=date(2025, 6, 10), now=noon(date(2025, 6, 10)))
    record(engine, case_id, "2025-06-16", "cpl_referral_received", {"subject": "termination"})
    record(engine, case_id, "2025-06-18", "cpl_meeting_scheduled", {"date": "2025-07-18"})
    return case_id


@pytest.fixture
def terminated(engine) -> int:
    """A Gironde CPTS under contract since Mon 6 Jan 2025 gives notice on Mon 3 March 2025: effect two months
    later, Sat 3 May 2025 (a date of effect does not roll over), recorded by the sweep of 1 June."""
    case_id = new_case(engine, "CPTS Bordeaux Rive Droite", departement="33", population=80_000)
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


def docket(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(legal_app, ["docket", "--today", "2025-06-20", *args])


def test_json_row_of_a_suspended_funders_termination(suspended, terminated):
    result = docket("--json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)  # the terminated case is closed: not in progress
    assert row["case"] == suspended and row["state"] == "termination_suspended" and row["suspended"] is True
    assert (row["initiator"], row["grounds"]) == ("funders", "non_compliance")
    assert row["notice_on"] == "2025-06-10" and row["notice_evidence"] == LRAR
    assert row["referral_on"] == "2025-06-16" and row["meeting_on"] == "2025-07-18"
    # Effect: 10 June + 2 months = Sun 10 August 2025, a date of effect (no roll-over); cancelled by the referral.
    assert (row["effective"]["due"], row["effective"]["status"]) == ("2025-08-10", "cancelled")
    # Referral window: Sun 10 August rolls over to Mon 11 August (procedural, CPC art. 642); met on 16 June.
    assert (row["referral_window"]["due"], row["referral_window"]["met_on"]) == ("2025-08-11", "2025-06-16")
    # Meeting within 2 months of the referral of 16 June: Sat 16 August → Mon 18 August 2025.
    assert row["meeting_deadline"]["due"] == "2025-08-18"
    # Convocations at least 15 days before Fri 18 July: Thu 3 July; agenda at least 5 days before: Sun 13 July,
    # rolled back to Fri 11 July 2025.
    assert row["convocation"]["due"] == "2025-07-03" and row["agenda"]["due"] == "2025-07-11"
    assert row["opinion"] is None and row["new_decision"] is None and row["refund_due"] is None
    # Next act: the convocations, 13 days after 20 June, by the CPL.
    assert row["next_act"]["key"] == "cpl_convocation"
    assert (row["next_act"]["days_left"], row["next_act"]["actor"]) == (13, "cpl")


def test_closed_and_dept(suspended, terminated):
    closed = json.loads(docket("--json", "--closed").stdout)
    assert [r["case"] for r in closed] == [terminated]
    # Refund: 2 months after the effect of Sat 3 May: Thu 3 July 2025, by the CPTS.
    assert closed[0]["refund_due"]["due"] == "2025-07-03" and closed[0]["next_act"]["actor"] == "cpts"
    assert closed[0]["refund_amount"] is not None
    assert json.loads(docket("--json", "--closed", "--dept", "57").stdout) == []
    assert [r["case"] for r in json.loads(docket("--json", "--dept", "57").stdout)] == [suspended]
    assert json.loads(docket("--json", "--dept", "33").stdout) == []


def test_text_and_csv(suspended):
    text = docket()
    assert text.exit_code == 0
    assert "CPTS de Sarreguemines" in text.stdout and LRAR in text.stdout and "SUSPENDED" in text.stdout
    assert "NEXT: envoi des convocations à la CPL on 2025-07-03 (13 days left), to be done by: cpl" in text.stdout
    rows = list(csv.DictReader(io.StringIO(docket("--csv").stdout)))
    assert [(r["CPTS"], r["Notification reçue le"], r["Prochain acte le"]) for r in rows] == [
        ("CPTS de Sarreguemines", "2025-06-10", "2025-07-03")]


def test_empty_and_refusals(engine):
    assert "no termination" in docket().stdout
    unknown = docket("--dept", "999")
    assert unknown.exit_code == 2 and "unknown département" in unknown.output
    both = docket("--json", "--csv")
    assert both.exit_code == 2
    bad_day = CliRunner().invoke(legal_app, ["docket", "--today", "2025-13-40"])
    assert bad_day.exit_code != 0 and "Traceback" not in bad_day.output


def test_a_deadline_of_a_rule_added_later_is_the_next_act(engine, suspended):
    """A CPL deadline stored under a key this build's ruleset does not know (a carence window, annex 5 art. 4)
    due before the convocations becomes the next act, with no change to the docket."""
    with SqlUnitOfWork(engine) as uow:
        convocation = uow.session.exec(select(DeadlineRow).where(DeadlineRow.case_id == suspended,
                                                                 DeadlineRow.key == "cpl_convocation")).one()
        uow.session.add(DeadlineRow(case_id=suspended, ident="cpl_carence_window:test", key="cpl_carence_window",
                                    label="fin de la carence d'une section de la CPL", due=date(2025, 6, 30),
                                    status="pending", kind="procedural", at_expiry="none",
                                    explanation=convocation.explanation))
        uow.commit()
    [row] = json.loads(docket("--json").stdout)
    # 30 June 2025 is 10 days after 20 June, before the convocations' 3 July.
    assert (row["next_act"]["key"], row["next_act"]["due"], row["next_act"]["days_left"]) == (
        "cpl_carence_window", "2025-06-30", 10)
