"""Run `cpts` in-process the way the installed entry point does, and check its one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from workflows.cli import main


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    def json(self):  # type: ignore[no-untyped-def]
        return json.loads(self.out)


def make_runner(monkeypatch, capsys, database_url: str) -> Callable[..., Outcome]:  # type: ignore[no-untyped-def]
    """A `cpts(*args)` function on the given database; returns exit code, stdout and stderr."""
    monkeypatch.setenv("CPTS_DATABASE_URL", database_url)
    monkeypatch.delenv("CPTS_ACTOR", raising=False)
    monkeypatch.delenv("CPTS_SMTP_URL", raising=False)

    def run(*args: str) -> Outcome:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["cpts", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Outcome(code, out, err)

    return run


def assert_one_line_error(outcome: Outcome, *fragments: str) -> None:
    """Exit code 2, nothing on stdout, one `error: …` line on stderr containing every fragment."""
    assert outcome.code == 2, outcome
    assert outcome.out == ""
    lines = outcome.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), outcome.err
    assert "Traceback" not in outcome.err
    for fragment in fragments:
        assert fragment in lines[0]
