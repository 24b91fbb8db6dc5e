"""What a user can get wrong at the command line, and what the command line shows them (issue 10): one `error: …`
line on stderr, exit code 2, nothing written, never a traceback; the database's refusals said in a user's terms;
output that a name cannot forge; a help that names the accepted values.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from builders import free_port, health_project_received_18_feb_2025, record_all
from cli_runner import assert_one_line_error, make_runner
from spec_example import ALL_DOCUMENTS
from sqlalchemy import text
from sqlalchemy.exc import DataError

from workflows.cli import database_problem
from workflows.persistence.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_SIGNED_2_JUNE_2025 = [
    ("2025-05-05", "adhesion_requested", ALL_DOCUMENTS),
    ("2025-06-02", "contract_signed", {"missions": ["quality"]}),
]


@pytest.fixture
def contracted_case(cpts, database) -> str:
    """The Metz CPTS of the README, its contract signed on 2 June 2025 (size 3: 75 000 € at signature)."""
    engine = make_engine(database)
    case_id = health_project_received_18_feb_2025(engine, communes=("57463", "57672"))
    record_all(engine, case_id, CONTRACT_SIGNED_2_JUNE_2025)
    engine.dispose()
    return str(case_id)


def journal_length(cpts, case_id: str) -> int:
    return len(cpts("case", "show", case_id, "--json").json()["journal"])


# --------------------------------------------------------------------------- the database

def test_a_read_only_database_file_is_refused_in_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    path = tmp_path / "cpts.db"
    writable = make_runner(monkeypatch, capsys, f"sqlite:///{path}")
    assert writable("db", "init").code == 0
    assert writable("case", "create", "--name", "CPTS A", "--dept", "57", "--population", "30000").code == 0
    read_only = make_runner(monkeypatch, capsys, f"sqlite:///file:{path}?mode=ro&uri=true")

    outcome = read_only("case", "event", "1", "contact_recorded", "--at", "2025-01-06", "--data", '{"source": "ars"}')

    assert_one_line_error(outcome, f"the database file {path} is read-only: check its permissions")
    assert journal_length(read_only, "1") == 0


@pytest.mark.parametrize("url, says", [
    ("mysql://agent:secret@db.example.org/cpts", "needs the Python driver 'MySQLdb', which is not installed"),
    ("mongodb://agent:secret@db.example.org/cpts", "names an unknown kind of database"),
    ("not a url", "is malformed"),
    ("postgresql://agent:secret@db.example.org:port/cpts", "is malformed"),
])
def test_a_database_url_that_cannot_work_is_one_line_without_its_password(monkeypatch, capsys, url, says):
    outcome = make_runner(monkeypatch, capsys, url)("case", "list")

    assert_one_line_error(outcome, says, "sqlite:///FILE or postgresql://USER@HOST/DATABASE")
    assert "secret" not in outcome.err


def test_a_number_too_large_for_the_database_is_named_in_one_line(db, monkeypatch, capsys):
    # On SQLite and PostgreSQL alike (sqlite3 raises a bare OverflowError, PostgreSQL "integer out of range").
    cpts = make_runner(monkeypatch, capsys, db.url.render_as_string(hide_password=False))

    outcome = cpts("case", "payments", "99999999999999999999")

    assert outcome.code == 2 and outcome.out == "", outcome
    [line] = outcome.err.splitlines()
    assert line.startswith("error: ") and "99999999999999999999" in line


def test_the_error_that_aborted_a_postgresql_pipeline_is_said_rather_than_pipeline_aborted():
    aborted = psycopg.errors.PipelineAborted("pipeline aborted")
    aborted.__context__ = psycopg.errors.NumericValueOutOfRange("integer out of range")

    message, code = database_problem(DataError("INSERT INTO cases …", {"population": 3_000_000_000}, aborted))

    assert code == 2
    assert message == "the number 3000000000 is too large for the database (integer out of range): give a smaller one"


@pytest.mark.parametrize("args", [("case", "list"), ("case", "show", "1"), ("deadlines",), ("sweep",),
                                  ("case", "list", "--no-such-option"), ("forecast", "--year", "2026")])
def test_a_command_before_db_init_says_so_and_leaves_no_database_file(tmp_path, monkeypatch, capsys, args):
    monkeypatch.chdir(tmp_path)
    cpts = make_runner(monkeypatch, capsys, "sqlite:///cpts.db")
    monkeypatch.delenv("CPTS_DATABASE_URL")  # the default: cpts.db in the current directory

    outcome = cpts(*args)

    assert outcome.code == 2 and len(outcome.err.splitlines()) == 1, outcome
    assert not (tmp_path / "cpts.db").exists()
    assert cpts("db", "init").code == 0 and (tmp_path / "cpts.db").exists()


def test_the_first_command_on_a_missing_database_file_says_to_run_db_init(monkeypatch, capsys, tmp_path):
    outcome = make_runner(monkeypatch, capsys, f"sqlite:///{tmp_path / 'nowhere.db'}")("case", "list")

    assert_one_line_error(outcome, f"the database file {tmp_path / 'nowhere.db'} does not exist",
                          "run `cpts db init` first")


# --------------------------------------------------------------------------- arguments

@pytest.mark.parametrize("name", ["CPTS \udcff", "CPTS \ud800", "CPTS \x00"])
def test_an_argument_that_is_not_text_is_refused_in_one_line(cpts, name):
    outcome = cpts("case", "create", "--name", name, "--dept", "57", "--population", "30000")

    assert_one_line_error(outcome, "is not valid text", "type it again in UTF-8")
    assert cpts("case", "list").out == "0 case(s)\n"


def test_the_installed_command_refuses_bytes_that_are_not_utf8(database, cpts):
    done = subprocess.run([sys.executable, "-c", "from workflows.cli import main; main()",
                           "case", "create", "--name", b"CPTS \xff", "--dept", "57", "--population", "30000"],
                          capture_output=True, env={**os.environ, "CPTS_DATABASE_URL": database}, cwd=ROOT,
                          timeout=120)

    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode().splitlines() == [
        "error: argument 'CPTS \\udcff' is not valid text (bytes that are not UTF-8, a lone surrogate or a NUL "
        "character): type it again in UTF-8"]


@pytest.mark.parametrize("args, says", [
    (("case", "create", "--name", "CPTS A", "--dept", "57", "--population", str(10**20)), "'--population'"),
    (("case", "create", "--name", "CPTS A", "--dept", "57", "--population", "0"), "'--population'"),
    (("calendar", "add", "2025-01-01", "--days", "99999999", "--dept", "57", "--kind", "procedural"), "'--days'"),
    (("calendar", "add", "2025-01-01", "--months", "999999", "--dept", "57", "--kind", "procedural"), "'--months'"),
    (("case", "list", "--limit", str(10**20)), "'--limit'"),
    (("case", "list", "--offset", str(10**20)), "'--offset'"),
    (("case", "list", "--name", "x" * 100_000), "the name searched for is 100000 characters long"),
    (("simulate", "x" * 300), "File name too long"),
    (("simulate", "scenarios/", "--jobs", str(10**9)), "'--jobs'"),
])
def test_an_out_of_range_argument_is_refused_in_one_line(cpts, args, says):
    assert_one_line_error(cpts(*args), says)


def test_event_data_nested_five_thousand_deep_is_refused_and_nothing_is_recorded(cpts, contracted_case):
    before = journal_length(cpts, contracted_case)

    outcome = cpts("case", "event", contracted_case, "payment_recorded", "--at", "2025-06-20",
                   "--data", "[" * 5000 + "]" * 5000)

    assert_one_line_error(outcome, "--data: event data is nested", "at most 20")
    assert journal_length(cpts, contracted_case) == before


def test_an_error_about_a_text_with_a_line_break_stays_on_one_line(cpts):
    outcome = cpts("territory", "size", "57463\r\nerror: forged")

    assert_one_line_error(outcome, "57463\\r\\n")


# --------------------------------------------------------------------------- output a name cannot forge

def test_a_name_with_line_breaks_and_escape_sequences_is_listed_on_one_line_escaped(cpts, database):
    assert cpts("case", "create", "--name", "CPTS A", "--dept", "57", "--population", "30000").code == 0
    engine = make_engine(database)
    with engine.begin() as connection:  # a row written before names were checked
        connection.execute(text("UPDATE cases SET name = :name"),
                           {"name": "CPTS A\r\n    2  57   new   size 1  \x1b[31mFORGED\u202e"})
    engine.dispose()

    listed = cpts("case", "list").out.splitlines()
    shown = cpts("case", "show", "1").out.splitlines()

    assert listed == ["    1  57   new                        size 1  "
                      "CPTS A\\r\\n    2  57   new   size 1  \\x1b[31mFORGED\\u202e", "1 case(s)"]
    # The name was edited behind the engine's back: the case page says so first, then shows it escaped.
    assert shown[0].startswith("WARNING: the journal fails its integrity check: the case's identity")
    assert shown[1].startswith("case 1 — CPTS A\\r\\n    2  57")


# --------------------------------------------------------------------------- what the commands show

def test_case_list_keeps_every_state_and_departement_given(cpts):
    for name, dept in [("CPTS A", "57"), ("CPTS B", "59"), ("CPTS C", "67")]:
        assert cpts("case", "create", "--name", name, "--dept", dept, "--population", "30000").code == 0
    assert cpts("case", "event", "1", "contact_recorded", "--at", "2025-01-06", "--data", '{"source": "ars"}').code == 0

    by_state = cpts("case", "list", "--state", "new", "--state", "prospect", "--json").json()
    by_dept = cpts("case", "list", "--dept", "57", "--dept", "67", "--json").json()

    assert [(c["name"], c["state"]) for c in by_state] == [("CPTS A", "prospect"), ("CPTS B", "new"),
                                                           ("CPTS C", "new")]
    assert [c["name"] for c in by_dept] == ["CPTS A", "CPTS C"]


def test_case_show_lists_deadlines_by_due_date_and_the_journal_with_data_and_evidence(cpts, contracted_case):
    terminated = cpts("case", "event", contracted_case, "termination_notice_received", "--at", "2025-09-22",
                      "--data", '{"initiator": "cpts"}', "--evidence", "LRAR 2C 000 111 2222 3")
    assert terminated.code == 0, terminated.err

    lines = cpts("case", "show", contracted_case).out.splitlines()

    deadlines = lines[lines.index("deadlines:") + 1:lines.index("history:"):2]
    dues = [line.split()[0] for line in deadlines]
    assert dues == sorted(dues) and len(dues) > 3
    journal = lines[lines.index("journal:") + 1:]
    assert journal[0].split()[:3] == ["#1", "2024-09-02", "contact_recorded"]
    assert journal[0].endswith('{"source": "ars"}')
    assert journal[-1].split()[:3] == [f"#{len(journal)}", "2025-09-22", "termination_notice_received"]
    assert journal[-1].endswith('{"initiator": "cpts"}  evidence LRAR 2C 000 111 2222 3')


def test_forecast_by_component_names_each_component_once(cpts, contracted_case):
    outcome = cpts("forecast", "--year", "2025", "--by", "component")

    assert outcome.code == 0, outcome.err
    lines = outcome.out.splitlines()
    assert lines[1].split() == ["fonctionnement.advance", "75", "000.00", "0.00", "75", "000.00", "0.00"]
    assert lines[-1].split()[:4] == ["total", "all", "groups,", "2025"]


@pytest.mark.parametrize("args, accepted", [
    (("case", "list"), ["contracted", "termination_pending"]),
    (("deadlines",), ["met_late", "breached"]),
    (("calendar", "add"), ["procedural", "contractual"]),
    (("forecast",), ["departement", "component"]),
    (("diagram",), ["mermaid", "dot"]),
])
def test_the_help_names_the_accepted_values_and_shows_no_bool_type(cpts, monkeypatch, args, accepted):
    monkeypatch.setenv("COLUMNS", "250")

    outcome = cpts(*args, "--help")

    assert outcome.code == 0
    assert "<bool>" not in outcome.out
    assert all(value in outcome.out for value in accepted)


def test_cpts_version_prints_the_packages_version(cpts):
    from importlib.metadata import version

    outcome = cpts("--version")

    assert (outcome.code, outcome.out) == (0, f"cpts-lifecycle {version('cpts-lifecycle')}\n")


def test_the_scheduler_logs_what_its_jobs_did_not_every_state_machine_transition(database, cpts, tmp_path):
    engine = make_engine(database)
    health_project_received_18_feb_2025(engine)  # its tacit validation is due: the first sweep fires it
    engine.dispose()
    log = tmp_path / "scheduler.log"
    env = {**os.environ, "CPTS_DATABASE_URL": database, "CPTS_SMTP_URL": f"smtp://127.0.0.1:{free_port()}"}
    with log.open("w") as stderr:
        process = subprocess.Popen([sys.executable, "-c", "from workflows.cli import main; main()", "scheduler", "run",
                                    "--sweep-minutes", "60", "--outbox-seconds", "3600"],
                                   stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while "sweep: 1 case(s) swept" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)

    lines = log.read_text().splitlines()
    assert code == 0
    assert any("cpts.scheduler: sweep: 1 case(s) due" in line for line in lines), lines
    assert any("cpts.scheduler: sweep: 1 case(s) swept in" in line and "1 system event(s)" in line for line in lines)
    assert not [line for line in lines if " transitions" in line]
    assert len(lines) < 20, lines
