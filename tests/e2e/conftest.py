"""Fixtures of the command-line tests: an SQLite file per test, `cpts(*args)` run in-process on it, an engine on
the same file for the builders, and the packaged rulesets restored after a test that loaded a deployment's."""

from __future__ import annotations

import pytest
from cli_runner import make_runner

from lifecycle.ruleset import set_rulesets_dir
from workflows.persistence.db import make_engine


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


@pytest.fixture
def engine(cpts, database):
    """An engine on the test's database, its schema created by `cpts`: to record a case's history directly."""
    built = make_engine(database)
    yield built
    built.dispose()


@pytest.fixture
def packaged_rulesets_afterwards():
    """For a test that loads a deployment's ruleset files (CPTS_RULESETS_DIR): the next test starts from the
    packaged files."""
    yield
    set_rulesets_dir(None)
