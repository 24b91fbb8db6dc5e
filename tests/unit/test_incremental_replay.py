"""An event appended in order is applied to the checkpoint kept at the journal's head (`resume`) and gives
exactly what replaying the whole journal gives (`project`): on every scenario file, every demo storyline, and
generated journals (backdated events, voidings, system events journaled late, various days of reading)."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.errors import EventRejected
from lifecycle.events import JournalEntry, validate_data
from lifecycle.projection import Checkpoint, Projection, project, replay, resume
from lifecycle.ruleset import load_ruleset
from workflows.simulation.demo import STAGES, _storyline

RULES = load_ruleset()
ROOT = Path(__file__).resolve().parents[2]
SEATS = (("57", 60_000), ("974", 30_000), ("75", 120_000))


def storyline(stage: str, departement: str, seed: int) -> list[tuple[date, str, dict]]:
    story = _storyline(stage, date(2020, 3, 2), random.Random(seed))
    return sorted(story.events, key=lambda e: e[0])


def scenario_events(path: Path) -> tuple[str, list[tuple[date, str, dict]]]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return raw["seat_departement"], [(date.fromisoformat(e["at"]), e["type"], e.get("data") or {})
                                     for e in raw["events"]]


def recorded_as_the_engine_does(events: list[tuple[date, str, dict]], departement: str,
                                population: int) -> list[JournalEntry]:
    """The journal the engine would hold: each event in turn, then the system events its timers fired up to
    the next event's day, journaled as the sweep writes them (dated their windows' last days)."""
    journal: list[JournalEntry] = []
    for i, (at, kind, data) in enumerate(events):
        try:
            data = validate_data(kind, data, allow_system=True)
        except EventRejected:
            continue  # refused before anything is written (e.g. a mission the accord does not have)
        journal.append(JournalEntry(len(journal) + 1, kind, at, data))
        until = events[i + 1][0] if i + 1 < len(events) else at + timedelta(days=900)
        due = project(journal, RULES, until, departement=departement, population=population, with_payments=False)
        for event in due.due_system_events:
            journal.append(JournalEntry(len(journal) + 1, event.type, event.at, {}))
    return journal


def full(journal: list[JournalEntry], today: date, departement: str, population: int) -> Projection:
    return project(journal, RULES, today, departement=departement, population=population)


def assert_incremental_agrees(journal: list[JournalEntry], departement: str, population: int,
                              days_after: tuple[int, ...] = (0, 17, 400)) -> int:
    """Append the journal one entry at a time as the engine does — from the checkpoint when `resume` can,
    by a full replay when it says it cannot — and compare with a full replay at every step. Returns how many
    steps went through the checkpoint."""
    _, checkpoint = replay([], RULES, journal[0].at, departement=departement, population=population)
    incremental = 0
    for i, entry in enumerate(journal):
        head = journal[: i + 1]
        today = max(e.at for e in head) + timedelta(days=days_after[i % len(days_after)])
        resumed = resume(checkpoint, [entry], RULES, today)
        if resumed is None:
            resumed = replay(head, RULES, today, departement=departement, population=population)
        else:
            incremental += 1
        projection, checkpoint = resumed
        assert projection == full(head, today, departement, population), f"step {i + 1}: {entry.type} {entry.at}"
    return incremental


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.json")), ids=lambda p: p.stem)
def test_every_scenario_file_gives_the_same_projection_incrementally(path):
    departement, events = scenario_events(path)
    journal = recorded_as_the_engine_does(events, departement, 60_000)

    assert assert_incremental_agrees(journal, departement, 60_000) > len(journal) // 2


@pytest.mark.parametrize("stage", [stage for stage, _ in STAGES])
@pytest.mark.parametrize(("departement", "population"), SEATS)
def test_every_demo_storyline_gives_the_same_projection_incrementally(stage, departement, population):
    journal = recorded_as_the_engine_does(storyline(stage, departement, 7), departement, population)

    assert_incremental_agrees(journal, departement, population)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    stage=st.sampled_from([stage for stage, _ in STAGES]),
    seat=st.sampled_from(SEATS),
    seed=st.integers(0, 10_000),
    shifts=st.lists(st.integers(-40, 40), min_size=1, max_size=8),
    void_at=st.none() | st.integers(1, 30),
    late_system=st.booleans(),
    days_after=st.tuples(st.integers(0, 60), st.integers(0, 900)),
)
def test_generated_journals_give_the_same_projection_incrementally(stage, seat, seed, shifts, void_at,
                                                                   late_system, days_after):
    departement, population = seat
    events = storyline(stage, departement, seed)
    # Backdate or postpone some events (recorded in the same order): some are then out of date order.
    events = [(at + timedelta(days=shifts[i % len(shifts)]) if i % 3 == 1 else at, kind, data)
              for i, (at, kind, data) in enumerate(events)]
    journal = recorded_as_the_engine_does(events, departement, population)
    if late_system:  # the sweep came late: the system events were journaled after later user events
        users = [e for e in journal if not e.is_system]
        systems = [e for e in journal if e.is_system]
        journal = [JournalEntry(i, e.type, e.at, e.data) for i, e in enumerate([*users, *systems], start=1)]
    if void_at is not None and void_at <= len(journal):
        target = journal[void_at - 1]
        if not target.is_system:
            journal.append(JournalEntry(len(journal) + 1, "event_voided", max(e.at for e in journal),
                                        {"seq": target.seq}))

    assert_incremental_agrees(journal, departement, population, days_after)


def test_a_backdated_event_or_a_voiding_is_left_to_a_full_replay():
    departement, events = scenario_events(ROOT / "scenarios" / "moselle-tacit-validation.json")
    journal = recorded_as_the_engine_does(events[:6], departement, 60_000)
    _, checkpoint = replay(journal, RULES, journal[-1].at, departement=departement, population=60_000)
    backdated = JournalEntry(len(journal) + 1, "first_meeting_held", journal[0].at, {})
    voiding = JournalEntry(len(journal) + 1, "event_voided", journal[-1].at, {"seq": 2})

    assert isinstance(checkpoint, Checkpoint)
    assert resume(checkpoint, [backdated], RULES, journal[-1].at) is None
    assert resume(checkpoint, [voiding], RULES, journal[-1].at) is None
