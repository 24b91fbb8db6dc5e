"""`cpts simulate` (scenarios on a virtual clock, SPEC §11) and `cpts demo` (the demo portfolio)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from workflows.cli import render
from workflows.cli.apps import app
from workflows.cli.common import JsonFlag, day, fail, print_json, settings
from workflows.cli.web import HostOption, PortOption

if TYPE_CHECKING:  # the simulator is imported only by the commands that run it
    from workflows.simulation.runner import SimulationResult

SPOOL_IN_MEMORY = 16 * 1024 * 1024  # bytes of output kept in memory before spilling to a temporary file


@app.command("simulate")
def simulate_command(
    paths: Annotated[list[Path], typer.Argument(
        metavar="FILE|DIR", help="Scenario JSON (SPEC §11), or a directory of them (every *.json inside, sorted).")],
    as_json: JsonFlag = False,
    jobs: Annotated[int, typer.Option("--jobs", min=1, max=256, metavar="N",
                                      help="Worker processes for several scenarios.")] = 1,
    engine: Annotated[Literal["fast", "production"], typer.Option(
        "--engine",
        help="fast: without a database; production: the use cases on an in-memory SQLite database, day by day. "
             "Both give the same outcome.")] = "fast",
) -> None:
    """Replay scenarios on a virtual clock, day by day, and print their outcomes.

    Several scenarios or a directory: a text block each, or with --json one JSON line each, naming its file.
    A scenario that cannot be loaded or run stops the command with one line naming it.
    """
    from workflows.simulation.batch import Engine, run, run_files, scenario_files
    from workflows.simulation.scenario import load_scenario

    for path in paths:
        try:
            os.stat(path)
        except OSError as exc:  # missing, a name too long, a directory we may not enter…
            fail(f"cannot read scenario {path}: {exc.strerror or exc}")
    chosen = Engine(engine)
    if len(paths) == 1 and not paths[0].is_dir():
        result = run(load_scenario(paths[0]), chosen)
        if as_json:
            print_json(result.as_dict())
            return
        typer.echo(render.simulation_text(result))
        return
    files = scenario_files(paths)
    separator = "\n" if as_json else "\n\n"
    # Nothing is printed unless every scenario ran: the outcomes wait in a spool (memory, then a file).
    with tempfile.SpooledTemporaryFile(SPOOL_IN_MEMORY, mode="w+", encoding="utf-8") as spool:
        outcomes = run_files(files, render=json_line if as_json else text_block, engine=chosen, jobs=jobs)
        error = None
        with closing(outcomes), _progress(len(files)) as advance:
            for i, outcome in enumerate(outcomes):
                if outcome.error is not None:
                    error = outcome.error  # closing the outcomes cancels the scenarios not yet started
                    break
                spool.write(separator if i else "")
                spool.write(outcome.output or "")
                advance()
        if error is not None:
            fail(error)
        spool.seek(0)
        while chunk := spool.read(1 << 20):
            typer.echo(chunk, nl=False)
    typer.echo("")


def json_line(path: Path, result: SimulationResult) -> str:
    """A scenario's outcome as one compact JSON line: "file", then the SPEC §11 keys."""
    # Built afresh from the result: it cannot hold a cycle, so the encoder need not look for one (12 % of it).
    return json.dumps({"file": str(path), **result.as_dict()}, ensure_ascii=False, separators=(",", ":"),
                      check_circular=False)


def text_block(path: Path, result: SimulationResult) -> str:
    """A scenario's outcome as text, headed by its file."""
    return render.simulation_text(result, source=str(path))


@contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr (drawn on a terminal only, and erased at the end); yields `advance`."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # No refresh thread (worker processes may be forked meanwhile): redraw at most ten times a second.
    console = Console(stderr=True)
    with Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True, auto_refresh=False, disable=not console.is_terminal) as progress:
        task = progress.add_task("simulating", total=total)
        drawn = 0.0

        def advance() -> None:
            nonlocal drawn
            progress.advance(task)
            if time.monotonic() - drawn >= 0.1:
                progress.refresh()
                drawn = time.monotonic()

        yield advance


@app.command("demo")
def demo_command(
    database: Annotated[Path, typer.Option("--database", help="SQLite file to (re)build.")] = Path("cpts-demo.db"),
    today: Annotated[str | None, typer.Option("--today", metavar="YYYY-MM-DD",
                                              help="Date the portfolio is built for.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the portfolio.")] = 2019,
    serve: Annotated[bool, typer.Option("--serve", help="Then serve the dashboard on it (see `cpts web`) and "
                                                        "print the demo accounts.")] = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Build an SQLite database with a realistic portfolio (~60 CPTS at every stage) and summarise it."""
    from workflows.simulation.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, build_demo

    if os.path.isdir(database) or not os.path.isdir(database.parent):
        fail(f"--database {database}: expected a file in an existing directory, e.g. cpts-demo.db")
    summary = build_demo(database, today=day(today, "--today") or date.today(), seed=seed,
                         keys=settings().journal_keys())
    typer.echo(render.demo_text(summary))
    if serve:
        from dataclasses import replace

        from workflows.cli.web import serve as serve_web

        accounts = [f"  {role}: {email}" for role, email in DEMO_ACCOUNTS]
        serve_web(replace(settings(), database_url=f"sqlite:///{database.absolute()}"), host, port,
                  banner=[f"demo accounts (password {DEMO_PASSWORD}):", *accounts])
