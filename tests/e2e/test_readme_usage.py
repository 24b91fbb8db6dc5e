"""The README's Usage commands run as written, in their order, on a new database (issue 10): an example a reader
copies must not fail half-way."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from cli_runner import make_runner

ROOT = Path(__file__).resolve().parents[2]
# Runs until stopped (SIGTERM, Ctrl-C): the scheduler's own tests start and stop it.
NOT_RUN = ("scheduler run",)


def usage_commands() -> list[list[str]]:
    """The `cpts` command lines of the README's Usage block: comments dropped, continuations joined, output
    redirections left out (the test reads the output instead)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    usage = readme[readme.index("## Usage"):]
    block = re.search(r"```sh\n(.*?)```", usage, re.DOTALL)
    assert block is not None, "the Usage section has no sh block"
    commands = []
    for line in block.group(1).replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        while words and "=" in words[0]:  # VAR=value cpts …
            words.pop(0)
        if ">" in words:
            words = words[:words.index(">")]
        assert words[0] == "cpts", line
        commands.append(words[1:])
    return commands


def test_the_readme_usage_commands_run_in_order_on_a_new_database(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the scenario files are named from the checkout's root
    cpts = make_runner(monkeypatch, capsys, f"sqlite:///{tmp_path / 'cpts.db'}")
    commands = [c for c in usage_commands() if not any(" ".join(c).startswith(skip) for skip in NOT_RUN)]
    assert len(commands) > 30

    for args in commands:
        if "--out" in args:  # a file the command writes goes to the test's directory, not into the checkout
            at = args.index("--out") + 1
            args = [*args[:at], str(tmp_path / args[at]), *args[at + 1:]]
        outcome = cpts(*args)
        assert outcome.code == 0, f"cpts {shlex.join(args)}: {outcome.err}"
    assert (tmp_path / "dossier-cpts-1.pdf").read_bytes().startswith(b"%PDF-")

    assert cpts("case", "list", "--state", "contracted").out.splitlines() == [
        "    1  57   contracted                 size 3  CPTS du Pays Messin", "1 case(s)"]
    # The LOI was validated on 7 Feb 2025, under ACI avenant 2: its payment comes first, not paid in the README.
    lines = cpts("case", "payments", "1", "--json").json()
    assert [(line["component"], line["status"]) for line in lines][:2] == [
        ("loi_support", "overdue"), ("fonctionnement.advance", "paid")]
