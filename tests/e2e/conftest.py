"""Fixtures of the command-line tests: an SQLite file per test, and `cpts(*args)` run in-process on it."""

from __future__ import annotations

import pytest
from cli_runner import make_runner


@pytest.fixture
def database(tmp_path) -> str:
    """The URL of the test's SQLite file (not created: `cpts db init` does that)."""
    return f"sqlite:///{tmp_path / 'cpts.db'}"


@pytest.fixture
def cpts(database, monkeypatch, capsys):
    """`cpts ARGS…` in-process on the test's database, its schema created; exit code, stdout and stderr."""
    run = make_runner(monkeypatch, capsys, database)
    assert run("db", "init").code == 0
    return run
