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


@db_app.command("refresh")
def db_refresh(
    today: Annotated[str | None, typer.Option("--today", help="Local date to refresh as (default: now at each "
                                                              "seat).")] = None,
) -> None:
    """Write every case's deadlines and échéancier afresh (after an upgrade, or new ruleset files in
    $CPTS_RULESETS_DIR): a sweep of every case that writes its rows even when no status changed. Due timers fire
    once, as in `cpts sweep`. A case whose journal fails its check is left alone and reported (exit 1)."""
    from workflows.cli.cases import echo_sweep
    from workflows.cli.common import day, unit_of_work
    from workflows.services.sweep import refresh

    config = settings()
    echo_sweep(refresh(unit_of_work(config), today=day(today, "--today"), mail_domain=config.mail_domain),
               "refreshed")


@db_app.command("rekey")
def db_rekey() -> None:
    """Sign every journal again with the current key ($CPTS_JOURNAL_KEY), after checking it with the accepted
    ones: key rotation, and journals written before keys or genesis entries. A case whose chain fails is left
    alone and reported (exit 1)."""
    from workflows.cli.common import fail, unit_of_work
    from workflows.services.integrity import rekey

    config = settings()
    if not config.journal_key:
        fail("set CPTS_JOURNAL_KEY to the new secret first (and CPTS_JOURNAL_RETIRED_KEYS to the old ones)")
    report = rekey(unit_of_work(config))
    for case_id, problem in report.refused:
        typer.echo(f"case {case_id}: not signed again: {problem}", err=True)
    typer.echo(f"{report.signed} journal(s) signed with key {report.key_id}"
               + (f"; {len(report.refused)} left alone (see `cpts case verify --all`)" if report.refused else ""))
    if report.refused:
        raise typer.Exit(1)


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
