"""The fast simulator gives exactly what the production engine gives, and `cpts simulate` runs many scenarios.

Every scenario runs through both engines — `run_scenario` (the use cases, day by day, on an in-memory SQLite
database) and `simulate` (no database) — and their SPEC §11 results must be equal: the scenario files, every
demo storyline, and generated variants (events dropped, moved, refused, voided; avenants changing the
population). The production engine takes most of this file's time: the number of scenarios is kept modest.
"""

from __future__ import annotations

import gc
import json
import random
import weakref
from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest
from cli_runner import assert_one_line_error, make_runner
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.errors import DomainError
from lifecycle.events import SYSTEM_EVENTS, JournalEntry, validate_data
from lifecycle.handlers import ON_ACCEPTED, OPENS
from lifecycle.machine import TRANSITIONS
from lifecycle.projection import _deadline_events, project
from lifecycle.ruleset import known_rulesets, load_ruleset
from workflows.simulation import batch
from workflows.simulation.batch import Engine, _payments, five_year_scenario, run, scenario_files
from workflows.simulation.demo import STAGES, _storyline
from workflows.simulation.fast import ROW_NEUTRAL_EVENTS, LiveReplay, _Simulation, simulate
from workflows.simulation.runner import run_scenario
from workflows.simulation.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.json"))
SEATS = ("57", "974", "75")
STAGE_NAMES = [stage for stage, _ in STAGES]


def storyline_scenario(stage: str, departement: str, seed: int, *, start: date = date(2020, 3, 2),
                       extra_days: int = 60) -> dict[str, Any]:
    """A scenario file's content from a demo storyline (the stage's events, then `extra_days` of quiet)."""
    story = _storyline(stage, start, random.Random(seed))
    events = sorted(story.events, key=lambda e: e[0])
    until = max(start + timedelta(days=dict(STAGES)[stage]), events[-1][0] + timedelta(days=extra_days))
    return {"name": f"CPTS {stage} {departement}", "seat_departement": departement, "population": 60_000,
            "events": [{"at": at.isoformat(), "type": kind, "data": data} for at, kind, data in events],
            "until": until.isoformat()}


def assert_engines_agree(raw: dict[str, Any]) -> dict[str, Any]:
    """Both engines give the same result (or the same one-line error); the fast one's result."""
    scenario = parse_scenario(raw)
    try:
        expected = run_scenario(scenario).as_dict()
    except DomainError as exc:
        with pytest.raises(type(exc)) as raised:
            simulate(scenario)
        assert str(raised.value) == str(exc)
        return {}
    assert simulate(scenario).as_dict() == expected
    return expected


# ------------------------------------------------------------------------------------------ differential
@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda p: p.stem)
def test_every_scenario_file_gives_the_same_result_on_both_engines(path):
    scenario = load_scenario(path)

    assert simulate(scenario).as_dict() == run_scenario(scenario).as_dict()


# Each stage once, the seats in turn: every stage and every seat (Moselle's holidays, La Réunion's time zone
# and holidays, Paris) within the time budget of the production engine.
@pytest.mark.parametrize(("stage", "departement"),
                         [(stage, SEATS[i % len(SEATS)]) for i, stage in enumerate(STAGE_NAMES)])
def test_every_demo_storyline_gives_the_same_result_on_both_engines(stage, departement):
    result = assert_engines_agree(storyline_scenario(stage, departement, seed=len(stage)))

    assert result["history"]


def test_a_five_year_benchmark_lifecycle_gives_the_same_result_on_both_engines():
    result = assert_engines_agree(five_year_scenario(3))

    assert result["state"] == "expired" and not result["rejected"]
    assert any(p["status"] == "paid" for p in result["payments"])


@pytest.mark.parametrize("change", [
    {"name": "  "},
    {"seat_departement": "99"},
    {"seat_departement": "975"},
    {"communes": ["57463", "00000"], "population": None},
    {"communes": [], "population": None},
])
def test_a_case_the_engine_cannot_create_is_the_same_error_on_both_engines(change):
    raw = {**storyline_scenario("accompanied", "57", seed=1), **change}
    raw = {k: v for k, v in raw.items() if v is not None}

    with pytest.raises(DomainError) as raised:
        run_scenario(parse_scenario(raw))
    with pytest.raises(type(raised.value)) as fast:
        simulate(parse_scenario(raw))
    assert str(fast.value) == str(raised.value)


def seq_of(raw: dict[str, Any], event: str) -> int:
    """The journal number of the first `event` recorded when the scenario runs."""
    return next(h.seq for h in simulate(parse_scenario(raw)).history if h.event == event and h.seq is not None)


def test_voidings_accepted_and_refused_give_the_same_result_on_both_engines():
    raw = storyline_scenario("contracted_on_track", "974", seed=4, extra_days=200)
    review, tacit = seq_of(raw, "annual_review_held"), seq_of(raw, "health_project_tacitly_validated")
    last = date.fromisoformat(raw["events"][-1]["at"])
    raw["events"] += [
        {"at": (last + timedelta(days=3)).isoformat(), "type": "event_voided", "data": {"seq": review}},
        {"at": (last + timedelta(days=4)).isoformat(), "type": "event_voided", "data": {"seq": tacit}},
        {"at": (last + timedelta(days=5)).isoformat(), "type": "annual_review_held", "data": {"year": 1}},
    ]

    result = assert_engines_agree(raw)

    assert [r["type"] for r in result["rejected"]] == ["event_voided"]
    assert [h["event"] for h in result["history"]].count("annual_review_held") == 2


def test_a_day_whose_last_event_is_refused_keeps_the_row_its_accepted_events_wrote_on_both_engines():
    """The case row (its wake-up, its deadlines' statuses) is the one the day's last accepted event wrote: an
    event refused after it that day changes nothing, and the reminders of the deadlines it opened still go out."""
    raw = storyline_scenario("contracted_on_track", "57", seed=2, extra_days=200)
    events = raw["events"]
    for kind in ("loi_submitted", "health_project_received", "contract_signed"):
        i = next(i for i, e in enumerate(events) if e["type"] == kind)
        events.insert(i + 1, {"at": events[i]["at"], "type": "annual_review_held", "data": {"year": 9}})
        events.insert(i + 2, {"at": events[i]["at"], "type": "first_meeting_held", "data": {}})

    result = assert_engines_agree(raw)

    refused = [(r["at"], r["type"]) for r in result["rejected"]]
    assert len(refused) == 6 and {kind for _, kind in refused} == {"annual_review_held", "first_meeting_held"}
    assert result["notifications"], "the deadlines opened those days owe reminders"


def test_a_population_changed_by_the_contract_and_an_avenant_gives_the_same_result_on_both_engines():
    raw = storyline_scenario("contracted_year3", "57", seed=5)
    signed = next(e for e in raw["events"] if e["type"] == "contract_signed")
    signed["data"] = {**signed["data"], "population": 130_000}
    raw["events"].append({"at": (date.fromisoformat(signed["at"]) + timedelta(days=400)).isoformat(),
                          "type": "avenant_signed", "data": {"population": 20_000}})
    raw["events"].sort(key=lambda e: e["at"])

    result = assert_engines_agree(raw)

    assert (result["population"], result["size"]) == (20_000, 1)


# ------------------------------------------------------------------------------------------ days kept as they were
def paid_storyline(stage: str, departement: str, seed: int) -> dict[str, Any]:
    """A storyline whose payment lines are paid a week or two after they fall due (one in ten left unpaid), as
    the benchmark's lifecycles are."""
    raw = storyline_scenario(stage, departement, seed, extra_days=300)
    events = [(date.fromisoformat(e["at"]), e["type"], e["data"]) for e in raw["events"]]
    paid = _payments(events, date.fromisoformat(raw["until"]), departement, raw["population"], random.Random(seed))
    raw["events"] = sorted(raw["events"] + [{"at": at.isoformat(), "type": kind, "data": data}
                                            for at, kind, data in paid], key=lambda e: e["at"])
    return raw


@pytest.fixture
def kept_rows(monkeypatch) -> list[date]:
    """Each day the fast simulator keeps the case row without settling it is checked against the row a settle
    would write that day (population, wake-up, deadline statuses); the days so checked."""
    checked: list[date] = []
    row_stands = _Simulation.row_stands

    def checking(world: _Simulation, today: date) -> bool:
        stands = row_stands(world, today)
        if stands:
            projection, wake = world.settled_row(today)
            kept = (world.case.population, world.case.wake_on, world.case.statuses)
            assert kept == (projection.population, wake, {d.ident: d.status for d in projection.deadlines}), today
            checked.append(today)
        return stands

    monkeypatch.setattr(_Simulation, "row_stands", checking)
    return checked


@pytest.mark.parametrize("raw", [
    *(five_year_scenario(seed) for seed in range(6)),
    *(paid_storyline(stage, SEATS[i % len(SEATS)], seed=i)
      for i, stage in enumerate(["terminated", "termination_suspended", "contracted_year3",
                                 "contracted_missions_breached", "expired"])),
], ids=lambda raw: raw["name"])
def test_a_day_of_payments_only_keeps_the_case_row_a_settle_would_write(raw, kept_rows):
    """A day whose only events are payments, dated that day, after a day that wrote the row and before its
    wake-up, leaves the row as it was: the fast simulator does not recompute it, and it is what it would be."""
    result = simulate(parse_scenario(raw)).as_dict()

    paid_days = {e["at"] for e in raw["events"] if e["type"] == "payment_recorded"}
    assert kept_rows and {day.isoformat() for day in kept_rows} <= paid_days
    assert any(p["status"] == "paid" for p in result["payments"])


def test_a_payment_on_a_morning_the_sweep_sent_a_reminder_settles_the_row_afresh(kept_rows):
    """The sweep wrote the row that morning, its wake-up counted from tomorrow; the payment's write counts it
    from today, as production's `apply` does: that row is written, not kept."""
    raw = five_year_scenario(0)
    outcome = simulate(parse_scenario(raw))
    event_days = {e["at"] for e in raw["events"]}
    sweep_days = sorted({n.on for n in outcome.notifications if n.on.isoformat() not in event_days})
    due = {(p.component, p.year): p.due for p in outcome.payments}
    # The first payment whose line was due by a morning a notice went out, moved to that morning.
    payment, morning = next((e, day) for e in raw["events"] if e["type"] == "payment_recorded"
                            for day in sweep_days
                            if due[(e["data"]["component"], e["data"]["year"])] <= day < date.fromisoformat(e["at"]))
    payment["at"] = morning.isoformat()
    raw["events"].sort(key=lambda e: e["at"])

    result = simulate(parse_scenario(raw)).as_dict()

    assert morning not in kept_rows and kept_rows
    assert next(p for p in result["payments"] if (p["component"], p["year"]) == (
        payment["data"]["component"], payment["data"]["year"]))["status"] == "paid"


def test_a_terminated_contract_paid_as_it_falls_due_gives_the_same_result_on_both_engines():
    result = assert_engines_agree(paid_storyline("terminated", "57", seed=2))

    assert result["state"] == "terminated"
    assert any(p["status"] == "paid" for p in result["payments"])


def test_the_row_neutral_events_open_close_and_move_nothing():
    """What `row_stands` relies on: no ruleset anchors, completes or cancels a deadline on a row-neutral
    event, the machine keeps its state, and no handler changes the facts (the population among them)."""
    for event in ROW_NEUTRAL_EVENTS:
        rows = [row for row in TRANSITIONS if row["trigger"] == event]
        assert rows and all(row["dest"] is None for row in rows), event
        assert all(set(row) <= {"trigger", "source", "dest", "conditions"} for row in rows), "no callbacks"
        assert event not in ON_ACCEPTED and event not in OPENS
        for ruleset in known_rulesets().values():
            closing, anchoring = _deadline_events(ruleset)  # over every version of the ruleset
            assert event not in closing | anchoring, ruleset.id


# Events the engine refuses: unknown, the timers' own, malformed data, out of their state.
REFUSED = [
    ("mission_started", {"mission": "nutrition"}),
    ("contract_expired", {}),
    ("teleportation", {}),
    ("loi_decision", {"party": "ars"}),
    ("health_project_opposed", {"grounds": "territory"}),
    ("annual_review_held", {"year": 1}),
    ("payment_recorded", {"component": "refund", "year": 1, "amount": "10.00"}),
    ("cpl_meeting_held", {}),
]


@st.composite
def variants(draw: st.DrawFn) -> dict[str, Any]:
    """A demo storyline with some events dropped or moved, refused or voiding events and avenants added."""
    stage = draw(st.sampled_from(STAGE_NAMES))
    departement = draw(st.sampled_from(SEATS))
    raw = storyline_scenario(stage, departement, draw(st.integers(0, 1000)),
                             start=date(2019, 9, 2) + timedelta(days=draw(st.integers(0, 700))),
                             extra_days=draw(st.integers(0, 500)))
    events = raw["events"]
    start, until = date.fromisoformat(events[0]["at"]), date.fromisoformat(raw["until"])
    kept = [e for i, e in enumerate(events) if i == 0 or draw(st.integers(0, 9)) > 0]  # drop about one in ten
    for e in kept[1:]:
        if draw(st.integers(0, 4)) == 0:  # move one in five by up to six weeks
            moved = date.fromisoformat(e["at"]) + timedelta(days=draw(st.integers(-42, 42)))
            e["at"] = min(max(start, moved), until).isoformat()
    span = (until - start).days
    extra = []
    for kind, data in draw(st.lists(st.sampled_from(REFUSED), max_size=3)):
        extra.append({"at": (start + timedelta(days=draw(st.integers(0, span)))).isoformat(), "type": kind,
                      "data": data})
    signed = [e for e in kept if e["type"] == "contract_signed"]
    if signed and draw(st.booleans()):
        signed[0]["data"] = {**signed[0]["data"], "population": 130_000}
    if draw(st.booleans()):  # an avenant changing the population, mostly once the contract is signed
        after = date.fromisoformat(signed[0]["at"]) if signed and draw(st.integers(0, 3)) else start
        extra.append({"at": (after + timedelta(days=draw(st.integers(0, (until - after).days)))).isoformat(),
                      "type": "avenant_signed", "data": {"population": draw(st.sampled_from([20_000, 95_000]))}})
    if draw(st.booleans()):
        raw = {**raw, "communes": ["57463", "57672"], "population": None}
    raw["events"] = sorted(kept + extra, key=lambda e: e["at"])
    # Voidings of entries the journal holds (found with a first run), on the entry's day or later: some are
    # refused (an entry a later event relies on), the others make the case replay without the entry.
    recorded = [h for h in simulate(parse_scenario({k: v for k, v in raw.items() if v is not None})).history
                if h.seq is not None and h.event not in SYSTEM_EVENTS]
    for _ in range(draw(st.integers(0, 2)) if recorded else 0):
        target = draw(st.sampled_from(recorded))
        on = target.at + timedelta(days=draw(st.integers(0, (until - target.at).days)))
        extra.append({"at": on.isoformat(), "type": "event_voided",
                      "data": {"seq": target.seq, "reason": "erreur de saisie"}})
    raw["events"] = sorted(kept + extra, key=lambda e: e["at"])
    return {k: v for k, v in raw.items() if v is not None}


@settings(max_examples=14, deadline=None, derandomize=True)
@given(raw=variants())
def test_generated_variants_give_the_same_result_on_both_engines(raw):
    assert_engines_agree(raw)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(stage=st.sampled_from(STAGE_NAMES), departement=st.sampled_from(SEATS), seed=st.integers(0, 1000),
       quiet_days=st.lists(st.integers(0, 90), min_size=1, max_size=5))
def test_the_live_replay_moved_forward_gives_what_a_full_replay_gives(stage, departement, seed, quiet_days):
    # No database here: each event is recorded in turn, the replay moved on some days, and compared with
    # `project` on the same journal as of the same day (the fast simulator's building block).
    raw = storyline_scenario(stage, departement, seed)
    rules = load_ruleset()
    journal: list[JournalEntry] = []
    first = date.fromisoformat(raw["events"][0]["at"])
    live = LiveReplay([], rules, first, departement=departement, population=60_000)
    for i, event in enumerate(raw["events"]):
        today = date.fromisoformat(event["at"])
        live.advance(today)
        entry = JournalEntry(len(journal) + 1, event["type"], today, validate_data(event["type"], event["data"]))
        live.record(entry)
        journal.append(entry)
        following = raw["events"][i + 1]["at"] if i + 1 < len(raw["events"]) else raw["until"]
        later = min(today + timedelta(days=quiet_days[i % len(quiet_days)]), date.fromisoformat(following))
        live.advance(later)  # never past the next event's day: the replay only moves forward
        expected = project(journal, rules, later, departement=departement, population=60_000,
                           with_payments=False)
        assert live.projection() == expected, f"after {entry.type} of {today}, as of {later}"
    last = live.run.today
    assert live.projection(with_payments=True) == project(journal, rules, last, departement=departement,
                                                          population=60_000)


# ------------------------------------------------------------------------------------------ the command
@pytest.fixture
def cpts(tmp_path, monkeypatch, capsys):
    """Run `cpts ARGS…` in-process (no database is used by `cpts simulate`)."""
    return make_runner(monkeypatch, capsys, f"sqlite:///{tmp_path / 'unused.db'}")


@pytest.fixture
def scenario_dir(tmp_path) -> Path:
    directory = tmp_path / "scenarios"
    directory.mkdir()
    for i, stage in enumerate(("contracted_on_track", "opposed", "terminated")):
        raw = storyline_scenario(stage, SEATS[i], seed=i)
        (directory / f"{i}-{stage}.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    (directory / "notes.txt").write_text("not a scenario", encoding="utf-8")
    return directory


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_one_scenario_file_prints_the_same_on_both_engines(cpts, as_json):
    flags = ["--json"] if as_json else []
    fast = cpts("simulate", str(SCENARIO_FILES[0]), *flags)
    production = cpts("simulate", str(SCENARIO_FILES[0]), *flags, "--engine", "production")

    assert fast.code == production.code == 0
    assert fast.out == production.out and fast.err == production.err == ""
    if as_json:
        assert fast.json() == run(load_scenario(SCENARIO_FILES[0]), Engine.PRODUCTION).as_dict()


def test_a_directory_gives_one_json_line_per_scenario_in_file_order_on_both_engines(cpts, scenario_dir):
    fast = cpts("simulate", str(scenario_dir), "--json", "--jobs", "2")
    production = cpts("simulate", str(scenario_dir), "--json", "--engine", "production")

    assert fast.code == production.code == 0
    assert fast.out == production.out
    lines = [json.loads(line) for line in fast.out.splitlines()]
    files = scenario_files([scenario_dir])
    assert [line["file"] for line in lines] == [str(p) for p in files]
    assert list(lines[0])[:2] == ["file", "name"]
    assert lines[1] == {"file": str(files[1]), **run_scenario(load_scenario(files[1])).as_dict()}


def test_several_files_give_text_blocks_separated_by_a_blank_line(cpts, scenario_dir):
    files = scenario_files([scenario_dir])
    outcome = cpts("simulate", str(files[0]), str(files[2]))

    blocks = outcome.out.rstrip("\n").split("\n\n")
    assert outcome.code == 0 and len(blocks) == 2
    assert blocks[0].splitlines()[0] == f"file: {files[0]}"
    assert blocks[1].splitlines()[1].startswith("CPTS terminated 75: terminated")


def test_a_scenario_that_cannot_be_loaded_stops_the_batch_with_one_line_naming_it(cpts, scenario_dir):
    broken = scenario_dir / "1-zz-broken.json"
    broken.write_text('{"name": "x"}', encoding="utf-8")

    outcome = cpts("simulate", str(scenario_dir), "--json", "--jobs", "2")

    assert_one_line_error(outcome, str(broken), "missing key")


def test_a_scenario_the_engine_refuses_names_its_file(cpts, scenario_dir):
    raw = {**storyline_scenario("accompanied", "57", seed=1), "seat_departement": "99"}
    (scenario_dir / "9-nowhere.json").write_text(json.dumps(raw), encoding="utf-8")

    outcome = cpts("simulate", str(scenario_dir))

    assert_one_line_error(outcome, str(scenario_dir / "9-nowhere.json"), "99")


def test_a_directory_without_scenarios_is_a_one_line_error(cpts, tmp_path):
    assert_one_line_error(cpts("simulate", str(tmp_path), str(tmp_path)), "no scenario")


def test_the_engines_the_cli_spells_out_are_the_simulators():
    from workflows.cli.simulate import simulate_command

    engine = get_type_hints(simulate_command, include_extras=True)["engine"]

    assert get_args(get_args(engine)[0]) == tuple(e.value for e in Engine)


def test_a_batch_with_the_collector_off_still_frees_reference_cycles_once_they_pile_up(monkeypatch):
    """Workers run with the automatic collector off; a cycle left by some error path is freed between files
    once the tracked objects grew by `COLLECT_AFTER`, not before (a full collection costs a tenth of a second)."""

    class Node:
        pass

    monkeypatch.setattr(batch, "COLLECT_AFTER", 1_000)
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        node = Node()
        node.me = node
        freed = weakref.ref(node)
        del node
        batch._collect_between_files()
        assert freed() is not None, "collected after one file"
        piled = [[i] for i in range(2_000)]
        batch._collect_between_files()
        assert freed() is None
        del piled
    finally:
        if enabled:
            gc.enable()
