"""Many scenarios at once (`cpts simulate FILE|DIR… --jobs N`): files in, outcomes out, in input order.

Each scenario runs on the engine chosen — `fast` (workflows.simulation.fast, no database) or `production`
(workflows.simulation.runner, the use cases on an in-memory SQLite database) — in this process or in a pool
of worker processes. Workers render their own results (the caller passes a module-level `render` function,
so it can be sent to them), which keeps the parent's share of the work to writing lines.

`five_year_scenario` generates the lifecycles of the issue-9 benchmark (10 000 five-year lifecycles).
"""

from __future__ import annotations

import gc
import json
import random
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from lifecycle.errors import DomainError, EventRejected
from lifecycle.events import JournalEntry
from lifecycle.projection import project
from lifecycle.ruleset import load_ruleset
from workflows.simulation.demo import _storyline
from workflows.simulation.fast import simulate
from workflows.simulation.runner import SimulationResult, run_scenario
from workflows.simulation.scenario import Scenario, load_scenario

Render = Callable[[Path, SimulationResult], str]


class Engine(StrEnum):
    """How a scenario is run: `fast` (no database) or `production` (the use cases on SQLite)."""

    FAST = "fast"
    PRODUCTION = "production"


def run(scenario: Scenario, engine: Engine = Engine.FAST) -> SimulationResult:
    """The scenario's outcome on `engine` (both give the same result)."""
    return simulate(scenario) if engine is Engine.FAST else run_scenario(scenario)


def scenario_files(paths: Sequence[Path]) -> list[Path]:
    """The scenario files named: a file as given, a directory as every `*.json` directly inside it, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.glob("*.json") if p.is_file())
            if not found:
                raise EventRejected(f"{path}: no scenario (*.json) in this directory")
            files += found
        else:
            files.append(path)
    return files


@dataclass(frozen=True)
class Outcome:
    """One scenario file's run.

    Attributes:
        path: the scenario file.
        output: the rendered result; None when the run stopped.
        error: the one-line reason it stopped (naming the file); None when it ran.
    """

    path: Path
    output: str | None
    error: str | None = None


def run_file(path: Path, *, engine: Engine, render: Render) -> Outcome:
    """Load, run and render one scenario file; a DomainError becomes the outcome's error, naming the file."""
    _collect_between_files()
    try:
        return Outcome(path, render(path, run(load_scenario(path), engine)))
    except DomainError as exc:
        message = str(exc)  # the loader's messages name the file, the engine's do not
        return Outcome(path, None, message if str(path) in message else f"{path}: {message}")


def run_files(paths: Sequence[Path], *, render: Render, engine: Engine = Engine.FAST,
              jobs: int = 1) -> Iterator[Outcome]:
    """Run every file, in `jobs` processes, and yield the outcomes in the order of `paths`.

    Closing the iterator early (say, at the first error) cancels the files not yet started.
    """
    one = partial(run_file, engine=engine, render=render)
    if jobs <= 1 or len(paths) <= 1:
        enabled = gc.isenabled()
        if len(paths) > 1:
            gc.disable()  # collected between files instead (see `_collect_between_files`)
        try:
            yield from map(one, paths)
        finally:
            if enabled:
                gc.enable()
        return
    # Chunks of files per task: few enough messages between processes, small enough to keep both busy.
    chunk = max(1, min(64, len(paths) // (jobs * 16)))
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(paths)), initializer=_worker_started)
    try:
        yield from pool.map(one, paths, chunksize=chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_started() -> None:
    """Tune a worker process's garbage collector for many short simulations: the objects it inherits (the
    imported modules) are never collected, so they leave the collector's scans, and the collector runs between
    files only, and rarely (`_collect_between_files`)."""
    gc.freeze()
    gc.disable()


# With the automatic collector off, the collector runs between files once the objects it tracks grew by this many
# since its last run. A simulation leaves no reference cycle behind (its state machine model is never bound to the
# machine, lifecycle.machine): what grows is the memo tables, bounded (a few hundred objects a file until they are
# emptied), so this only catches the odd cycle of an error path. A full collection costs about 0.1 s here (every
# object the memo tables hold is looked at): at a fixed period of a few hundred files, 2 % of a batch.
COLLECT_AFTER = 500_000


def _collect_between_files() -> None:
    """Collect the garbage of the files run so far when the automatic collector is off (a worker, a batch) and
    the tracked objects grew by `COLLECT_AFTER`."""
    if not gc.isenabled() and gc.get_count()[0] >= COLLECT_AFTER:
        gc.collect()


# ---------------------------------------------------------------------------------------------- benchmark
BENCHMARK_DEPARTEMENTS = ("57", "67", "59", "75", "69", "35", "31", "13", "33", "974", "971")


def five_year_scenario(seed: int) -> dict[str, Any]:
    """A scenario file's content (SPEC §11): a CPTS from first contact through its five contract years to the
    contract's expiry, with the funders paying most payment lines a week or two after they fall due.

    The storyline is the demo's `expired` one (annual reviews of years 1 to 5, missions started and
    deployed), from a random start in a random seat; the same seed gives the same scenario.
    """
    rng = random.Random(seed)
    start = date(2019, 1, 1) + timedelta(days=rng.randint(0, 1500))  # signed (day 420) once the ACI is in force
    story = _storyline("expired", start, rng)
    events = sorted(story.events, key=lambda e: e[0])
    until = events[-1][0] + timedelta(days=rng.randint(60, 400))
    departement = rng.choice(BENCHMARK_DEPARTEMENTS)
    population = rng.choice([25_000, 45_000, 70_000, 110_000, 160_000])
    events += _payments(events, until, departement, population, rng)
    return {
        "name": f"CPTS {seed}",
        "seat_departement": departement,
        "population": population,
        "events": [{"at": at.isoformat(), "type": kind, "data": data}
                   for at, kind, data in sorted(events, key=lambda e: e[0])],
        "until": until.isoformat(),
    }


def _payments(events: list[tuple[date, str, dict[str, Any]]], until: date, departement: str, population: int,
              rng: random.Random) -> list[tuple[date, str, dict[str, Any]]]:
    """`payment_recorded` events for the lines the échéancier has due by `until` (one in ten left unpaid)."""
    journal = [JournalEntry(i + 1, kind, at, data) for i, (at, kind, data) in enumerate(events)]
    schedule = project(journal, load_ruleset(), until, departement=departement, population=population).payments
    paid = []
    for line in schedule.lines if schedule else ():
        if line.amount is None or line.due > until or rng.random() < 0.1:
            continue
        on = min(line.due + timedelta(days=rng.randint(5, 15)), until)
        paid.append((on, "payment_recorded", {"component": line.component, "year": line.year,
                                               "amount": str(line.amount)}))
    return paid


def write_five_year_scenarios(directory: Path, count: int, *, seed: int = 9) -> list[Path]:
    """Write `count` scenario files from `five_year_scenario` into `directory`; their paths, in order."""
    directory.mkdir(parents=True, exist_ok=True)
    width = len(str(count - 1))
    paths = []
    for i in range(count):
        path = directory / f"lifecycle-{i:0{width}d}.json"
        path.write_text(json.dumps(five_year_scenario(seed * 1_000_003 + i), ensure_ascii=False), encoding="utf-8")
        paths.append(path)
    return paths
