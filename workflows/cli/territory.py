"""`cpts territory size`: population, size, départements and régions of a set of communes (SPEC §3)."""

from __future__ import annotations

from typing import Annotated

import typer

from workflows.cli.apps import territory_app
from workflows.cli.common import JsonFlag, print_json, settings


@territory_app.command("size")
def territory_size(
    codes: Annotated[list[str], typer.Argument(metavar="CODE…", help="INSEE codes of the communes.")],
    as_json: JsonFlag = False,
) -> None:
    """Population, size (1–4), départements and régions of a set of communes."""
    from lifecycle import territory

    settings()  # the deployment's ruleset files (CPTS_RULESETS_DIR): their size bands decide the size
    summary = territory.summarise(codes)
    if as_json:
        print_json(summary.as_dict())
        return
    info = summary.as_dict()
    typer.echo(f"population {summary.population} → size {summary.size} ({len(summary.communes)} communes)")
    typer.echo("départements: " + ", ".join(f"{d['code']} {d['name']}" for d in info["departements"]))
    typer.echo("régions: " + ", ".join(f"{r['code']} {r['name']}" for r in info["regions"]))
