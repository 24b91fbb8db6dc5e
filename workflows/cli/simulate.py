"""`cpts simulate` (a scenario on a virtual clock, SPEC §11) and `cpts demo` (the demo portfolio)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from workflows.cli import render
from workflows.cli.apps import app
from workflows.cli.common import JsonFlag, day, print_json


@app.command("simulate")
def simulate_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Scenario JSON (SPEC §11).")],
    as_json: JsonFlag = False,
) -> None:
    """Replay a scenario on a virtual clock, day by day, and print the outcome."""
    from workflows.simulation.runner import run_scenario
    from workflows.simulation.scenario import load_scenario

    result = run_scenario(load_scenario(file))
    if as_json:
        print_json(result.as_dict())
        return
    typer.echo(render.simulation_text(result))


@app.command("demo")
def demo_command(
    database: Annotated[Path, typer.Option("--database", help="SQLite file to (re)build.")] = Path("cpts-demo.db"),
    today: Annotated[str | None, typer.Option("--today", help="Date the portfolio is built for.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the portfolio.")] = 2019,
) -> None:
    """Build an SQLite database with a realistic portfolio (~60 CPTS at every stage) and summarise it."""
    from workflows.simulation.demo import build_demo

    summary = build_demo(database, today=day(today, "--today") or date.today(), seed=seed)
    typer.echo(render.demo_text(summary))
