"""Every `cpts` command driven with generated arguments (issue 10): random and hostile text (control characters,
lone surrogates, NUL), huge and malformed numbers, malformed and out-of-range dates, malformed and deeply nested
JSON, unknown states, events, cases and users, on a database holding a few cases at several stages.

Whatever the input, a command exits 0 or 2 (never 1: no traceback, no unclassified database error), a refusal is
exactly one line on stderr, and at the end every case's journal is intact (`cpts case verify`). Derandomized,
with a bounded number of examples (CPTS_FUZZ_EXAMPLES), so that a run is reproducible and takes well under a
minute.
"""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

import pytest
from builders import health_project_received_18_feb_2025, new_case, record_all
from cli_runner import make_runner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_example import ALL_DOCUMENTS

from lifecycle.events import EVENT_SPECS
from lifecycle.machine import STATES
from workflows.cli.apps import command_tree
from workflows.persistence.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = str(ROOT / "scenarios" / "moselle-tacit-validation.json")
EXAMPLES = int(os.environ.get("CPTS_FUZZ_EXAMPLES", "600"))  # about 25 s; raise it for a deeper run
FLAG = st.just("")  # an option without a value: given or not

# ----------------------------------------------------------------------------------------------- values
HOSTILE = st.sampled_from([
    "", " ", "-", "--", "\x00", "\ud800", "\udcff", "a\r\nb", "\x1b[31mred", "\u202eevil", "\u2028", "%", "_", "'",
    '"', "\\", "{", "[]", "null", "0", "-1", "1e999", "nan", "x" * 5000, "é" * 300,
])
NASTY = st.text(st.sampled_from(["\ud800", "\udfff", "\x00", "\r", "\n", "\t", "\x1b", "\x85", "\u202e", "\u2028",
                                  "\ufeff", "é", "a", "1", " ", "%", "_", "\\", "'", '"']), min_size=1, max_size=8)
TEXT = st.one_of(
    HOSTILE,
    NASTY,
    st.text(max_size=30),
    st.text(st.characters(exclude_categories=()), max_size=20),  # surrogates and every control character
    st.text(st.characters(max_codepoint=0x9F), max_size=20),
)
NUMBER = st.one_of(
    st.integers(-3, 12).map(str),
    st.integers(-(2**80), 2**80).map(str),
    st.sampled_from(["2147483648", "9223372036854775808", "1_000", "0x10", "1.5", "+7", " 3"]),
    TEXT,
)
DATE = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(["2025-01-06", "2025-02-30", "2016-01-25", "2101-01-01", "9999-12-31", "2025-1-6", "20250106",
                     "2025-01-06T10:00", "today"]),
    TEXT,
)
CASE = st.one_of(st.sampled_from(["1", "2", "3", "4", "0", "-1", "99999999999999999999", "1.0", " 2"]), NUMBER)
EVENT_TYPE = st.one_of(st.sampled_from(sorted(EVENT_SPECS)), TEXT)
STATE = st.one_of(st.sampled_from(STATES), TEXT)
DEPT = st.one_of(st.sampled_from(["57", "75", "2A", "2a", "974", "976", "20", "99", "00", "57,59"]), TEXT)
COMMUNES = st.one_of(st.sampled_from(["57463,57672", "57463", "2A004", "00000", "57463;;57463", ","]), TEXT)
EMAIL = st.one_of(st.sampled_from(["elise.martin@ars.example.fr", "paul.durand@cpam.example.fr", "a@b", "@", "x@y.fr",
                                   "ÉLISE@ars.example.fr"]), TEXT)
ROLE = st.one_of(st.sampled_from(["ars", "cpam", "legal", "national", "admin", "ARS"]), TEXT)
SCOPE = st.one_of(st.sampled_from(["57", "44", "reg:44", "dep:57", "national", "57,54", "reg:99"]), TEXT)
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=10),
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                       max_size=4), max_leaves=12)
DATA = st.one_of(
    st.sampled_from(['{"source": "ars"}', '{"party": "ars", "decision": "approve"}', '{"missions": ["quality"]}',
                     '{"initiator": "cpts"}',
                     '{"component": "fonctionnement.advance", "year": 1, "amount": "75000.00"}',
                     '{"component": "fonctionnement.advance", "year": 1, "amount": "1e30"}',
                     '{"amount": NaN}', '{"year": 99999999999999999999}', '{"source": "\\u0000"}', "{", "[]", "1"]),
    st.integers(1, 6000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 6000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    JSON_VALUE.map(lambda v: json.dumps(v, allow_nan=True)),
    st.dictionaries(st.sampled_from(["source", "party", "decision", "year", "amount", "component", "missions"]),
                    JSON_VALUE, max_size=3).map(json.dumps),
    TEXT,
)
def choice(*valid: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(valid), TEXT)


def file_name(tmp: Path) -> st.SearchStrategy[str]:
    """A path under the test's directory (never elsewhere: some commands write where they are told)."""
    return st.text(string.ascii_letters + string.digits + "._-é\n\x00", min_size=1, max_size=12).map(
        lambda n: str(tmp / "out" / n))


# ----------------------------------------------------------------------------------------------- commands
# Each command: its words, then its parameters: (option, values) — option None for a positional argument.
def commands(tmp: Path) -> dict[str, list[tuple[str | None, st.SearchStrategy[str]]]]:
    return {
        "calendar add": [(None, DATE), ("--dept", DEPT), ("--kind", choice("procedural", "effect", "contractual",
                                                                           "service")),
                         ("--days", NUMBER), ("--months", NUMBER), ("--before", FLAG), ("--json", FLAG),
                         ("--explain", FLAG)],
        # A writable --output only, for now: an unwritable one is a traceback in `calendar export` (reported).
        "calendar export": [("--referent", EMAIL), ("--output", st.sampled_from([str(tmp / "deadlines.ics")]))],
        "territory size": [(None, COMMUNES), (None, COMMUNES), ("--json", FLAG)],
        "db init": [],
        "db rekey": [],  # CPTS_JOURNAL_KEY unset: refused
        "db refresh": [("--today", DATE)],
        "diagram": [("--format", choice("mermaid", "dot"))],
        "case create": [("--name", TEXT), ("--dept", DEPT), ("--communes", COMMUNES), ("--population", NUMBER),
                        ("--json", FLAG)],
        "case event": [(None, CASE), (None, EVENT_TYPE), ("--at", DATE), ("--data", DATA), ("--evidence", TEXT),
                       ("--lrar", TEXT), ("--presented-on", DATE), ("--received-on", DATE),
                       ("--actor", TEXT), ("--today", DATE), ("--idempotency-key", TEXT), ("--json", FLAG)],
        "case show": [(None, CASE), ("--today", DATE), ("--json", FLAG)],
        "case list": [("--state", STATE), ("--state", STATE), ("--dept", DEPT), ("--region", DEPT), ("--size", NUMBER),
                      ("--name", TEXT), ("--limit", NUMBER), ("--offset", NUMBER), ("--json", FLAG)],
        "case verify": [(None, CASE), ("--all", FLAG)],
        "case payments": [(None, CASE), ("--today", DATE), ("--csv", FLAG), ("--json", FLAG)],
        "case file": [(None, CASE), ("--pdf", FLAG), ("--out", file_name(tmp))],
        "case assign": [(None, CASE), ("--ars", EMAIL), ("--cpam", EMAIL), ("--contact-name", TEXT),
                        ("--contact-email", EMAIL)],
        "deadlines": [("--due-before", DATE), ("--status", choice("pending", "met", "breached", "elapsed")),
                      ("--json", FLAG)],
        "sweep": [("--today", DATE), ("--json", FLAG)],
        "forecast": [("--year", st.one_of(st.sampled_from(["2025", "2026", "2018", "2101"]), NUMBER)),
                     ("--by", choice("region", "departement", "component")), ("--csv", FLAG), ("--json", FLAG)],
        "user add": [("--name", TEXT), ("--email", EMAIL), ("--role", ROLE), ("--scope", SCOPE), ("--scope", SCOPE)],
        "user edit": [(None, EMAIL), ("--name", TEXT), ("--email", EMAIL), ("--role", ROLE), ("--scope", SCOPE)],
        "letter": [(None, choice("resiliation", "accuse-saisine-cpl", "convocation-cpl", "decision-financeurs",
                                 "remboursement")), (None, CASE), ("--out", file_name(tmp)), ("--force", FLAG),
                   ("--today", DATE)],
        "legal docket": [("--json", FLAG), ("--csv", FLAG), ("--closed", FLAG), ("--dept", DEPT), ("--dept", DEPT),
                         ("--today", DATE)],
        "user list": [("--role", ROLE)],
        "user set-password": [(None, EMAIL), ("--password-stdin", FLAG)],  # stdin: nothing to read under pytest
        # Always on a host that cannot be resolved (see LEADING): a server actually started would run forever.
        "web": [("--port", NUMBER)],
        "outbox list": [("--status", choice("pending", "sent", "dead", "unaddressed")), ("--limit", NUMBER),
                        ("--json", FLAG)],
        "outbox retry": [(None, NUMBER)],
        "outbox drain": [("--from", EMAIL), ("--limit", NUMBER)],  # CPTS_SMTP_URL unset: refused before sending
        "scheduler run": [("--sweep-minutes", NUMBER), ("--outbox-seconds", NUMBER), ("--from", EMAIL)],
        "simulate": [(None, st.one_of(st.sampled_from([SCENARIO, str(tmp / "missing.json"), str(tmp)]),
                                      file_name(tmp))),
                     # not --engine production: its day-by-day run of the use cases takes seconds a scenario
                     ("--json", FLAG), ("--jobs", NUMBER), ("--engine", choice("fast"))],
        # Always into a directory that does not exist (see LEADING): a demo actually built takes seconds.
        "demo": [("--database", file_name(tmp)), ("--today", DATE), ("--seed", NUMBER)],
        "ruleset list": [("--json", FLAG)],
        "ruleset show": [(None, choice("ACI-2019", "ACI-2019+A2")), ("--json", FLAG)],
        "ruleset diff": [(None, choice("ACI-2019", "ACI-2019+A2")), (None, choice("ACI-2019+A2", "ACI-2019")),
                         ("--json", FLAG)],
        # Exit 1 when a case uses an unverified value (the LOI support of the case under contract here).
        "ruleset check": [("--json", FLAG)],
    }


@pytest.fixture
def cpts(tmp_path, monkeypatch, capsys):
    """A database with a new case, one whose lettre d'intention is validated, one under contract, a user."""
    monkeypatch.chdir(tmp_path)
    database = f"sqlite:///{tmp_path / 'cpts.db'}"
    run = make_runner(monkeypatch, capsys, database)
    assert run("db", "init").code == 0
    engine = make_engine(database)
    new_case(engine, "CPTS Lilloise", departement="59")
    loi = new_case(engine, "CPTS du Val de Fensch")
    record_all(engine, loi, [("2024-09-02", "contact_recorded", {"source": "ars"})])
    contracted = health_project_received_18_feb_2025(engine, communes=("57463", "57672"))
    record_all(engine, contracted, [
        ("2025-05-05", "adhesion_requested", ALL_DOCUMENTS),
        ("2025-06-02", "contract_signed", {"missions": ["quality"]}),
    ])
    engine.dispose()
    assert run("user", "add", "--name", "Élise Martin", "--email", "elise.martin@ars.example.fr", "--role", "ars",
               "--scope", "reg:44").code == 0
    return run


def test_the_fuzz_covers_every_command(tmp_path):
    tree, paths = command_tree(), set()
    stack = [((), tree)]
    while stack:
        prefix, command = stack.pop()
        subcommands = getattr(command, "commands", None)
        if subcommands is None:
            paths.add(" ".join(prefix))
        else:
            stack.extend(((*prefix, name), sub) for name, sub in subcommands.items())

    assert paths == set(commands(tmp_path))


def test_every_command_given_generated_arguments_exits_0_or_2_with_one_line_and_leaves_journals_intact(
        cpts, tmp_path):
    table = commands(tmp_path)
    names = sorted(table)
    leading = {"demo": ["--database", str(tmp_path / "out" / "demo.db")],  # a later --database overrides it
               "web": ["--host", "host.invalid"]}

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def one_command(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(names), label="command")
        args = [*name.split(), *leading.get(name, [])]
        for option, values in table[name]:
            if option is None:
                if data.draw(st.integers(0, 9)):  # a positional argument is sometimes missing
                    args.append(data.draw(values))
            elif data.draw(st.booleans()):
                value = data.draw(values)
                args += [option] if value == "" and values is FLAG else [option, value]
        if not data.draw(st.integers(0, 19)):
            args.append(data.draw(TEXT, label="extra"))

        outcome = cpts(*args)

        allowed = (0, 1, 2) if name == "ruleset check" else (0, 2)
        assert outcome.code in allowed, f"cpts {args!r}: exit {outcome.code}\n{outcome.err}"
        assert "Traceback" not in outcome.err, args
        if outcome.code:
            lines = outcome.err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), f"cpts {args!r}:\n{outcome.err}"

    one_command()

    assert len(cpts("case", "list", "--json").json()) >= 3
    verified = cpts("case", "verify", "--all")
    assert verified.code == 0, verified.err
    assert verified.out.startswith("every journal intact")
