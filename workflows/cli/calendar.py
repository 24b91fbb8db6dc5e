"""`cpts calendar add` (the legal calendar, SPEC §6) and `cpts calendar export` (iCalendar of deadlines)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from workflows.cli.apps import calendar_app
from workflows.cli.common import JsonFlag, fail, print_json, unit_of_work


class Kind(StrEnum):
    """The values of `lifecycle.calendar.DeadlineKind`, for the signature: that module loads the holiday tables,
    which `cpts --help` does not need (an e2e test checks that the two agree)."""

    procedural = "procedural"
    effect = "effect"
    contractual = "contractual"
    service = "service"


@calendar_app.command("add")
def calendar_add(
    start: Annotated[str, typer.Argument(metavar="DATE", help="Anchor date, YYYY-MM-DD (not counted).")],
    dept: Annotated[str, typer.Option("--dept", metavar="DEPT", help="Seat département (57, 974, 2A…).")],
    kind: Annotated[Kind, typer.Option("--kind", help="Deadline kind; only procedural rolls over.")],
    # A century at most either way: the longest period of the texts is a five-year contract.
    days: Annotated[int | None, typer.Option("--days", min=0, max=36_500, metavar="N",
                                             help="Period in days.")] = None,
    months: Annotated[int | None, typer.Option("--months", min=0, max=1_200, metavar="N",
                                               help="Period in months.")] = None,
    before: Annotated[bool, typer.Option("--before", help="Count backward (\"at least N days before\").")] = False,
    as_json: JsonFlag = False,
    explain: Annotated[bool, typer.Option("--explain", help="Say why the date is that date.")] = False,
) -> None:
    """Add days or months to DATE the way the accord counts (CPC art. 640-642)."""
    from lifecycle.calendar import DeadlineKind, LegalCalendar, Period
    from lifecycle.events import parse_date

    if (days is None) == (months is None):
        fail("give exactly one period: --days N or --months N")
    anchor = parse_date(start, "DATE")
    period = Period(days=days or 0, months=months or 0)
    result = LegalCalendar(dept).add(anchor, period, kind=DeadlineKind(kind), before=before)
    if as_json:
        print_json({"due": result.due.isoformat(), "raw": result.raw.isoformat(),
                    "steps": [s.as_dict() for s in result.steps], "explanation": result.text()})
        return
    typer.echo(result.due.isoformat())
    if explain:
        typer.echo(result.text())


@calendar_app.command("export")
def calendar_export(
    referent: Annotated[str | None, typer.Option(
        "--referent", help="E-mail of a user: only the cases they follow (default: every case).")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE (default stdout).")] = None,
) -> None:
    """iCalendar (RFC 5545) of the pending deadlines, with reminders; stable UIDs (re-import updates)."""
    from notifications.ics import export_calendar
    from workflows.read.calendar import calendar_items
    from workflows.services.clock import utc_now

    now = utc_now()
    items = calendar_items(unit_of_work(), now=now, referent=referent)
    name = f"Échéances CPTS — {referent}" if referent else "Échéances CPTS"
    data = export_calendar(items, stamp=now, name=name)
    if output is None:
        typer.echo(data, nl=False)
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}; give a writable file path")
    typer.echo(f"wrote {output}", err=True)
