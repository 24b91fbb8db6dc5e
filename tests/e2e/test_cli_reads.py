"""`cpts case list` pages and filters, a database error on one line, and a `cpts --help` that imports neither
SQLAlchemy nor the application (the command modules import them when a command runs).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import make_runner

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "holidays", "icalendar", "jinja2", "apscheduler", "transitions",
         "workflows.read", "workflows.services", "workflows.persistence", "lifecycle.territory")


@pytest.fixture
def five_cases(cpts):
    for name, dept in [("CPTS du Pays Messin", "57"), ("CPTS Lilloise", "59"), ("CPTS du Val de Fensch", "57"),
                       ("CPTS Strasbourg Nord", "67"), ("CPTS de la Sarre", "57")]:
        assert cpts("case", "create", "--name", name, "--dept", dept, "--population", "60000").code == 0
    return cpts


def test_case_list_prints_a_page_and_how_many_cases_match_in_all(five_cases):
    outcome = five_cases("case", "list", "--dept", "57", "--limit", "2", "--offset", "1")

    assert outcome.code == 0, outcome.err
    assert outcome.out.splitlines() == [
        "    3  57   new                        size 2  CPTS du Val de Fensch",
        "    5  57   new                        size 2  CPTS de la Sarre",
        "2 of 3 case(s), from #2",
    ]


def test_case_list_filters_by_region_and_name_and_prints_json(five_cases):
    outcome = five_cases("case", "list", "--region", "44", "--name", "du ", "--json")

    assert outcome.code == 0, outcome.err
    assert [c["name"] for c in outcome.json()] == ["CPTS du Pays Messin", "CPTS du Val de Fensch"]


def test_case_list_without_a_page_counts_every_case_shown(five_cases):
    outcome = five_cases("case", "list", "--size", "2")

    assert outcome.out.splitlines()[-1] == "5 case(s)"


def test_an_unknown_region_is_a_one_line_error(five_cases):
    outcome = five_cases("case", "list", "--region", "99")

    assert outcome.code == 2 and outcome.out == ""
    assert outcome.err.startswith("error: unknown région code '99'") and len(outcome.err.splitlines()) == 1


def test_a_database_whose_schema_is_stale_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE cases (id INTEGER PRIMARY KEY)")
    outcome = make_runner(monkeypatch, capsys, f"sqlite:///{path}")("case", "list")

    assert outcome.code == 2 and outcome.out == ""
    [line] = outcome.err.splitlines()
    assert line.startswith("error: the database schema is missing or out of date (no such column")
    assert line.endswith("run `cpts db init`")


def test_an_unreachable_database_is_a_one_line_error(monkeypatch, capsys):
    outcome = make_runner(monkeypatch, capsys, "postgresql://nobody@127.0.0.1:1/cpts")("case", "list")

    assert outcome.code == 1 and outcome.out == ""
    [line] = outcome.err.splitlines()
    assert line.startswith("error: cannot reach the database (") and line.endswith("check CPTS_DATABASE_URL")


def test_cpts_help_imports_neither_sqlalchemy_nor_the_application():
    probe = (
        "import sys\n"
        "from workflows.cli import main\n"
        "sys.argv = ['cpts', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"loaded = sorted({{m for m in sys.modules for h in {HEAVY!r} if m == h or m.startswith(h + '.')}})\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)

    assert "Usage: cpts" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "LOADED []"


def test_the_choices_the_cli_spells_out_are_the_applications():
    from lifecycle.calendar import DeadlineKind
    from workflows.cli import calendar, outbox, people
    from workflows.services import outbox as outbox_service
    from workflows.services import people as people_service

    assert [k.value for k in calendar.Kind] == [k.value for k in DeadlineKind]
    assert outbox.STATUSES == outbox_service.STATUSES
    assert people.ROLES == people_service.ROLES
