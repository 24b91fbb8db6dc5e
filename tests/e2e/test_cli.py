"""The `cpts` command line as a user types it: exit codes, one-line errors on stderr, JSON contracts (SPEC §12).

Most commands run in-process through `workflows.cli.main` (the real entry point: it turns domain errors into
`error: …` and exit code 2); a few run in a subprocess, exactly as the installed `cpts` script would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import Outcome, assert_one_line_error, make_runner
from freezegun import freeze_time
from sqlalchemy import text

from workflows.persistence.db import make_engine


@pytest.fixture
def cpts(database, monkeypatch, capsys):
    """Run `cpts ARGS…` in-process; return its exit code, stdout and stderr."""
    return make_runner(monkeypatch, capsys, database)


def cpts_process(database: str, *args: str) -> Outcome:
    """Run `cpts ARGS…` in a fresh Python process, as the installed script would."""
    env = {**os.environ, "CPTS_DATABASE_URL": database}
    done = subprocess.run([sys.executable, "-c", "from workflows.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parents[2],
                          timeout=120)
    return Outcome(done.returncode, done.stdout, done.stderr)


# --------------------------------------------------------------------------- calendar (SPEC §12 contract)

def test_two_months_after_10_march_2025_in_moselle_is_monday_12_may_2025(database):
    outcome = cpts_process(database, "calendar", "add", "2025-03-10", "--months", "2", "--dept", "57",
                           "--kind", "procedural", "--json")

    assert outcome.code == 0, outcome.err
    result = outcome.json()
    assert (result["due"], result["raw"]) == ("2025-05-12", "2025-05-10")
    assert result["steps"] == [{"date": "2025-05-10", "reason": "samedi"}, {"date": "2025-05-11", "reason": "dimanche"}]
    assert "CPC art. 642" in result["explanation"]


def test_explain_prints_the_date_then_why(cpts):
    outcome = cpts("calendar", "add", "2025-03-10", "--months", "2", "--dept", "57", "--kind", "procedural",
                   "--explain")

    assert outcome.code == 0
    first, why = outcome.out.splitlines()
    assert first == "2025-05-12"
    assert "2025-05-10 (samedi 10 mai 2025)" in why
    assert "rolled to the next working day over 2025-05-10 samedi, 2025-05-11 dimanche" in why


def test_an_effect_date_does_not_roll_over_the_weekend(cpts):
    outcome = cpts("calendar", "add", "2025-03-10", "--months", "2", "--dept", "57", "--kind", "effect", "--json")

    assert (outcome.json()["due"], outcome.json()["steps"]) == ("2025-05-10", [])


def test_an_agenda_due_5_days_before_a_cpl_meeting_on_14_may_2024_moves_back_to_7_may(cpts):
    # 9 May 2024 is Ascension, 8 May the Fête de la Victoire: the previous working day is Tuesday 7 May.
    outcome = cpts("calendar", "add", "2024-05-14", "--days", "5", "--before", "--dept", "75",
                   "--kind", "procedural", "--json")

    result = outcome.json()
    assert (result["due"], result["raw"]) == ("2024-05-07", "2024-05-09")
    assert [s["date"] for s in result["steps"]] == ["2024-05-09", "2024-05-08"]
    assert "Ascension" in result["steps"][0]["reason"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["2025-13-10", "--months", "2", "--dept", "57"], "malformed DATE '2025-13-10'"),
        (["2025-03-10", "--months", "2", "--dept", "99"], "unknown département '99'"),
        (["2025-03-10", "--months", "2", "--days", "3", "--dept", "57"], "--days N or --months N"),
        (["2025-03-10", "--dept", "57"], "--days N or --months N"),
    ],
    ids=["malformed date", "unknown departement", "days and months", "no period"],
)
def test_a_bad_calendar_input_exits_2_with_one_error_line(cpts, args, says):
    assert_one_line_error(cpts("calendar", "add", *args, "--kind", "procedural"), says)


def test_the_installed_script_reports_a_malformed_date_without_a_traceback(database):
    outcome = cpts_process(database, "calendar", "add", "10/03/2025", "--months", "2", "--dept", "57",
                           "--kind", "procedural")

    assert_one_line_error(outcome, "malformed DATE '10/03/2025'", "YYYY-MM-DD")


# --------------------------------------------------------------------------- territory, diagram

def test_metz_and_thionville_together_make_a_size_3_territory(cpts):
    outcome = cpts("territory", "size", "57463", "57672", "--json")

    assert outcome.code == 0
    result = outcome.json()
    assert (result["population"], result["size"], result["communes"]) == (122_572 + 42_658, 3, 2)
    assert result["departements"] == [{"code": "57", "name": "Moselle"}]
    assert [r["code"] for r in result["regions"]] == ["44"]


def test_the_lifecycle_diagram_is_printed_as_mermaid(cpts):
    outcome = cpts("diagram", "--format", "mermaid")

    assert outcome.code == 0
    assert outcome.out.startswith("stateDiagram-v2\n")
    assert "    loi_submitted --> loi_validated: loi_decision" in outcome.out.splitlines()
    assert "contracted --> termination_pending: termination_notice_received" in outcome.out


def test_the_lifecycle_diagram_is_printed_as_graphviz_dot(cpts):
    outcome = cpts("diagram", "--format", "dot")

    assert outcome.code == 0
    assert outcome.out.startswith("digraph cpts_lifecycle {")
    assert "terminated [peripheries=2];" in outcome.out
    assert outcome.out.rstrip().endswith("}")


# --------------------------------------------------------------------------- cases

def test_commands_on_a_database_without_schema_say_to_run_db_init(cpts):
    assert_one_line_error(cpts("case", "list"), "run `cpts db init` first")


@pytest.fixture
def metz_case(cpts) -> str:
    """A database with one CPTS seated in Metz whose first contact was recorded on 6 January 2025."""
    assert cpts("db", "init").code == 0
    created = cpts("case", "create", "--name", "CPTS du Pays Messin", "--dept", "57", "--communes", "57463,57672",
                   "--json")
    assert created.code == 0, created.err
    case = created.json()
    assert (case["state"], case["population"], case["size"]) == ("new", 165_230, 3)
    with freeze_time("2025-01-06 12:00:00"):  # recorded that day: `case show --today` of a later day sees it
        recorded = cpts("case", "event", str(case["id"]), "contact_recorded", "--at", "2025-01-06",
                        "--data", '{"source": "cpam"}')
    assert recorded.code == 0, recorded.err
    assert recorded.out.strip() == f"case {case['id']} #1 contact_recorded: new → prospect"
    return str(case["id"])


def test_case_show_json_gives_the_state_and_the_first_meeting_due_on_21_january_2025(cpts, metz_case):
    view = cpts("case", "show", metz_case, "--today", "2025-01-10", "--json").json()

    assert view["state"] == "prospect"
    assert view["cpl"] == "CPL de la Moselle"
    (deadline,) = view["deadlines"]
    assert (deadline["key"], deadline["due"], deadline["status"]) == ("first_meeting", "2025-01-21", "pending")
    assert [(j["seq"], j["type"], j["actor"]) for j in view["journal"]] == [(1, "contact_recorded", "cli")]


def test_case_event_with_invalid_json_data_is_refused_and_nothing_is_recorded(cpts, metz_case):
    outcome = cpts("case", "event", metz_case, "first_meeting_held", "--at", "2025-01-13", "--data", "{venue: Metz}")

    assert_one_line_error(outcome, "--data: event data is not valid JSON")
    assert len(cpts("case", "show", metz_case, "--json").json()["journal"]) == 1


def test_case_event_not_allowed_in_the_current_state_is_refused_on_one_line(cpts, metz_case):
    outcome = cpts("case", "event", metz_case, "loi_submitted", "--at", "2025-01-13", "--today", "2025-01-13")

    assert_one_line_error(outcome, "loi_submitted is not allowed in state prospect")


def test_case_event_json_reports_the_transition(cpts, metz_case):
    outcome = cpts("case", "event", metz_case, "first_meeting_held", "--at", "2025-01-13", "--today", "2025-01-13",
                   "--evidence", "CR réunion du 13/01", "--json")

    assert outcome.code == 0, outcome.err
    assert outcome.json() == {"case": int(metz_case), "seq": 2, "from": "prospect", "to": "accompanied",
                              "state": "accompanied"}


def test_a_health_project_recorded_after_its_window_says_the_case_is_tacitly_validated_by_now(cpts, metz_case):
    for at, event, data in [
        ("2025-01-13", "first_meeting_held", None), ("2025-01-30", "loi_submitted", None),
        ("2025-02-05", "loi_decision", '{"party": "ars", "decision": "approve"}'),
        ("2025-02-07", "loi_decision", '{"party": "am", "decision": "approve"}'),
    ]:
        assert cpts("case", "event", metz_case, event, "--at", at, *(["--data", data] if data else [])).code == 0

    outcome = cpts("case", "event", metz_case, "health_project_received", "--at", "2025-02-18", "--today",
                   "2025-05-02")

    assert outcome.code == 0, outcome.err
    assert outcome.out.strip() == (
        f"case {metz_case} #6 health_project_received: loi_validated → health_project_submitted; as of today: "
        "health_project_validated (after health_project_tacitly_validated 2025-04-22)")


def test_case_list_filters_by_state(cpts, metz_case):
    assert cpts("case", "create", "--name", "CPTS Val de Fensch", "--dept", "57", "--population", "60000").code == 0

    prospects = cpts("case", "list", "--state", "prospect", "--json").json()
    new = cpts("case", "list", "--state", "new").out

    assert [c["name"] for c in prospects] == ["CPTS du Pays Messin"]
    assert "CPTS Val de Fensch" in new and "CPTS du Pays Messin" not in new
    assert new.splitlines()[-1] == "1 case(s)"


def test_case_list_with_an_unknown_state_exits_2(cpts, metz_case):
    assert_one_line_error(cpts("case", "list", "--state", "signed"), "'signed' is not one of 'new', 'prospect'")


def test_sweep_on_22_january_2025_marks_the_missed_first_meeting_breached(cpts, metz_case):
    swept = cpts("sweep", "--today", "2025-01-22", "--json")

    assert swept.code == 0, swept.err
    assert swept.json() == {"cases": 1, "system_events": [],
                            "breached": [{"case": int(metz_case), "deadline": "first_meeting:2025-01-06"}],
                            "refused": []}
    breached = cpts("deadlines", "--status", "breached", "--json").json()
    assert [(d["case"], d["key"], d["due"]) for d in breached] == [(int(metz_case), "first_meeting", "2025-01-21")]
    assert cpts("deadlines", "--status", "pending", "--json").json() == []


def test_sweep_writes_the_tacit_validation_once(cpts, metz_case):
    for at, kind, data in [
        ("2025-01-13", "first_meeting_held", None),
        ("2025-01-20", "loi_submitted", None),
        ("2025-02-03", "loi_decision", '{"party": "ars", "decision": "approve"}'),
        ("2025-02-04", "loi_decision", '{"party": "am", "decision": "approve"}'),
        ("2025-02-18", "health_project_received", None),
    ]:
        args = ["case", "event", metz_case, kind, "--at", at, "--today", at]
        done = cpts(*args, *(["--data", data] if data else []))
        assert done.code == 0, done.err

    first = cpts("sweep", "--today", "2025-04-23", "--json").json()
    second = cpts("sweep", "--today", "2025-04-23", "--json").json()

    assert first["system_events"] == [
        {"case": int(metz_case), "type": "health_project_tacitly_validated", "at": "2025-04-22"}]
    assert second["system_events"] == []
    assert cpts("case", "show", metz_case, "--json").json()["state"] == "health_project_validated"


def test_deadlines_with_an_unknown_status_exits_2(cpts, metz_case):
    assert_one_line_error(cpts("deadlines", "--status", "late"), "'late' is not one of 'pending', 'met'")


def test_case_verify_says_intact_then_flags_an_edited_row_with_exit_code_1(cpts, metz_case, database):
    intact = cpts("case", "verify", metz_case)
    assert intact.code == 0 and intact.out.startswith(f"case {metz_case}: journal intact (unkeyed hashes")

    engine = make_engine(database)
    with engine.begin() as connection:
        connection.execute(text("UPDATE journal SET data = '{\"source\":\"msa\"}' WHERE seq = 1"))
    engine.dispose()

    tampered = cpts_process(database, "case", "verify", metz_case)
    assert tampered.code == 1
    assert tampered.err.startswith(f"TAMPERED: case {metz_case}: row #1 contact_recorded")
    assert "Traceback" not in tampered.err
