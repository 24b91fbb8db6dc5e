"""`cpts db init` (schema) and `cpts diagram` (the lifecycle graph)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from workflows.cli.apps import app, db_app
from workflows.cli.common import settings


@db_app.command("init")
def db_init() -> None:
    """Create or upgrade the schema (SQLite file cpts.db by default, or $CPTS_DATABASE_URL)."""
    from workflows.persistence.db import make_engine, migrate

    engine = make_engine(settings().database_url)
    migrate(engine)
    typer.echo(f"schema up to date on {engine.url.render_as_string(hide_password=True)}")


class DiagramFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"


@app.command("diagram")
def diagram_command(
    fmt: Annotated[DiagramFormat, typer.Option("--format", help="mermaid or dot.")] = DiagramFormat.mermaid,
) -> None:
    """Print the lifecycle graph (states and events)."""
    from lifecycle.machine import diagram

    typer.echo(diagram(fmt.value), nl=False)
