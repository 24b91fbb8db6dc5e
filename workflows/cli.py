"""`cpts`: the command line of the engine. Every command calls the workflows services; errors a user can act
on are printed on one line on stderr with exit code 2, and nothing is written."""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from lifecycle import territory
from lifecycle.calendar import DeadlineKind, LegalCalendar, Period
from lifecycle.errors import DomainError, EventRejected
from lifecycle.events import parse_date
from lifecycle.machine import STATES, diagram
from workflows import engine as services
from workflows import queries
from workflows.cli_common import JsonFlag, print_json
from workflows.db import make_engine, migrate, open_engine

app = typer.Typer(help="cpts-lifecycle: steer CPTS from first contact to contract end (ARS/CPAM binômes, "
                       "legal staff).", no_args_is_help=True, add_completion=False)
calendar_app = typer.Typer(help="Legal calendar: periods, roll-over, explanations (SPEC §6).", no_args_is_help=True)
territory_app = typer.Typer(help="Territory: communes, population, size (SPEC §3).", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
case_app = typer.Typer(help="CPTS cases: create, record events, show, list, verify.", no_args_is_help=True)
app.add_typer(calendar_app, name="calendar")
app.add_typer(territory_app, name="territory")
app.add_typer(db_app, name="db")
app.add_typer(case_app, name="case")

def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _date(value: str, what: str) -> date:
    return parse_date(value, what)


# --------------------------------------------------------------------------------------------- calendar
class KindChoice(StrEnum):
    procedural = "procedural"
    effect = "effect"
    contractual = "contractual"
    service = "service"


@calendar_app.command("add")
def calendar_add(
    start: Annotated[str, typer.Argument(metavar="DATE", help="Anchor date, YYYY-MM-DD (not counted).")],
    dept: Annotated[str, typer.Option("--dept", help="Seat département (57, 974, 2A…).")],
    kind: Annotated[KindChoice, typer.Option("--kind", help="Deadline kind; only procedural rolls over.")],
    days: Annotated[int | None, typer.Option("--days", min=0, help="Period in days.")] = None,
    months: Annotated[int | None, typer.Option("--months", min=0, help="Period in months.")] = None,
    before: Annotated[bool, typer.Option("--before", help="Count backward (\"at least N days before\").")] = False,
    as_json: JsonFlag = False,
    explain: Annotated[bool, typer.Option("--explain", help="Say why the date is that date.")] = False,
) -> None:
    """Add days or months to DATE the way the accord counts (CPC art. 640-642)."""
    if (days is None) == (months is None):
        _fail("give exactly one period: --days N or --months N")
    anchor = _date(start, "DATE")
    period = Period(days=days or 0, months=months or 0)
    result = LegalCalendar(dept).add(anchor, period, kind=DeadlineKind(kind.value), before=before)
    if as_json:
        print_json({"due": result.due.isoformat(), "raw": result.raw.isoformat(),
                     "steps": [s.as_dict() for s in result.steps], "explanation": result.text()})
        return
    typer.echo(result.due.isoformat())
    if explain:
        typer.echo(result.text())


# --------------------------------------------------------------------------------------------- territory
@territory_app.command("size")
def territory_size(
    codes: Annotated[list[str], typer.Argument(metavar="CODE…", help="INSEE codes of the communes.")],
    as_json: JsonFlag = False,
) -> None:
    """Population, size (1–4), départements and régions of a set of communes."""
    summary = territory.summarise(codes)
    if as_json:
        print_json(summary.as_dict())
        return
    info = summary.as_dict()
    typer.echo(f"population {summary.population} → size {summary.size} ({len(summary.communes)} communes)")
    typer.echo("départements: " + ", ".join(f"{d['code']} {d['name']}" for d in info["departements"]))
    typer.echo("régions: " + ", ".join(f"{r['code']} {r['name']}" for r in info["regions"]))


# --------------------------------------------------------------------------------------------- db, diagram
@db_app.command("init")
def db_init() -> None:
    """Create or upgrade the schema (SQLite file cpts.db by default, or $CPTS_DATABASE_URL)."""
    engine = make_engine()
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
    typer.echo(diagram(fmt.value), nl=False)


# --------------------------------------------------------------------------------------------- cases
@case_app.command("create")
def case_create(
    name: Annotated[str, typer.Option("--name", help="Name of the CPTS.")],
    dept: Annotated[str, typer.Option("--dept", help="Seat département.")],
    communes: Annotated[str | None, typer.Option("--communes", help="INSEE codes, comma- or space-separated.")] = None,
    population: Annotated[int | None, typer.Option("--population", min=0, help="Declared population.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a CPTS project with its territory."""
    if communes is None and population is None:
        _fail("give the territory: --communes CODE,CODE… or --population N")
    codes = communes.replace(";", ",").replace(",", " ").split() if communes else []
    case = services.create_case(open_engine(), name=name, departement=dept, communes=codes, population=population)
    if as_json:
        print_json(queries.case_summary(case))
        return
    typer.echo(f"case {case.id} created: {case.name} ({case.seat_departement}), population {case.population}, "
               f"size {case.size}")


@case_app.command("event")
def case_event(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="Case number.")],
    event_type: Annotated[str, typer.Argument(metavar="TYPE", help="Event type, e.g. health_project_received.")],
    at: Annotated[str, typer.Option("--at", help="Business date YYYY-MM-DD (receipt date for letters).")],
    data: Annotated[str | None, typer.Option("--data", help="Event data as a JSON object.")] = None,
    evidence: Annotated[str | None, typer.Option("--evidence", help="Evidence reference, e.g. LRAR number.")] = None,
    actor: Annotated[str, typer.Option("--actor", envvar="CPTS_ACTOR", help="Who records it.")] = "cli",
    today: Annotated[str | None, typer.Option("--today", help="Override today's date (tests, replays).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record an event on a case (validated by the lifecycle; nothing written if rejected)."""
    payload: Any = {}
    if data is not None:
        try:
            payload = json.loads(data)
        except json.JSONDecodeError as exc:
            raise EventRejected(f"--data is not valid JSON ({exc.msg} at character {exc.pos}): expected an object "
                                "such as '{\"party\": \"ars\", \"decision\": \"approve\"}'") from None
    event = services.NewEvent(type=event_type, at=_date(at, "--at"), data=payload, evidence=evidence)
    result = services.apply(open_engine(), case_id, event, actor, today=_date(today, "--today") if today else None)
    if as_json:
        print_json({"case": result.case_id, "seq": result.seq, "from": result.event_from, "to": result.event_to,
                     "state": result.state_after})
        return
    line = f"case {result.case_id} #{result.seq} {event_type}: {result.event_from} → {result.event_to}"
    if result.state_after != result.event_to:
        since = [h for h in result.projection.history if h.at >= event.at and h.seq != result.seq]
        line += f"; as of today: {result.state_after}"
        if since:
            line += " (after " + ", ".join(f"{h.event} {h.at.isoformat()}" for h in since[-3:]) + ")"
    typer.echo(line)


@case_app.command("show")
def case_show(
    case_id: Annotated[str, typer.Argument(metavar="CASE")],
    today: Annotated[str | None, typer.Option("--today", help="Show the case as of this date.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """State, deadlines with their explanations, and history of a case."""
    view = queries.case_view(open_engine(), case_id, today=_date(today, "--today") if today else None)
    if as_json:
        print_json(view)
        return
    typer.echo(queries.render_case_text(view))


@case_app.command("list")
def case_list(
    state: Annotated[str | None, typer.Option("--state", help="Only cases in this state.")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="Only cases seated in this département.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The portfolio: one line per case."""
    if state is not None and state not in STATES:
        _fail(f"unknown state {state!r}: expected one of {', '.join(STATES)}")
    rows = queries.list_cases(open_engine(), state=state, departement=dept)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['id']:>5}  {row['seat_departement']:<3}  {row['state']:<26} size {row['size']}  "
                   f"{row['name']}")
    typer.echo(f"{len(rows)} case(s)")


@case_app.command("verify")
def case_verify(case_id: Annotated[str, typer.Argument(metavar="CASE")]) -> None:
    """Check the journal's hash chain; exit 1 and name the first tampered row if it is broken."""
    problems = queries.verify_journal(open_engine(), case_id)
    if problems:
        for problem in problems:
            typer.echo(f"TAMPERED: {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"case {case_id}: journal intact")


@app.command("deadlines")
def deadlines_command(
    due_before: Annotated[str | None, typer.Option("--due-before", help="Only deadlines due before this date.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="pending, met, met_late, breached, elapsed, "
                                                                  "cancelled.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Deadlines across the portfolio, by due date."""
    rows = queries.list_deadlines(open_engine(), due_before=_date(due_before, "--due-before") if due_before else None,
                                  status=status)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        typer.echo(f"{row['due']}  {row['status']:<9}  case {row['case']:>4}  {row['key']:<30} {row['case_name']}")
    typer.echo(f"{len(rows)} deadline(s)")


@app.command("sweep")
def sweep_command(
    today: Annotated[str | None, typer.Option("--today", help="Local date to sweep as (default: now at each "
                                                              "seat).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Fire every due timer once: system events, breaches."""
    report = services.sweep(open_engine(), today=_date(today, "--today") if today else None)
    if as_json:
        print_json({"cases": report.cases,
                     "system_events": [{"case": c, "type": t, "at": a.isoformat()} for c, t, a in report.system_events],
                     "breached": [{"case": c, "deadline": i} for c, i in report.breached]})
        return
    for case_id, event_type, at in report.system_events:
        typer.echo(f"case {case_id}: {event_type} dated {at.isoformat()}")
    for case_id, ident in report.breached:
        typer.echo(f"case {case_id}: {ident} breached")
    typer.echo(f"swept {report.cases} case(s): {len(report.system_events)} system event(s), "
               f"{len(report.breached)} new breach(es)")


@app.command("simulate")
def simulate_command(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="Scenario JSON (SPEC §11).")],
    as_json: JsonFlag = False,
) -> None:
    """Replay a scenario on a virtual clock, day by day, and print the outcome."""
    from workflows.simulate import load_scenario, render_result_text, run_scenario

    result = run_scenario(load_scenario(file))
    if as_json:
        print_json(result)
        return
    typer.echo(render_result_text(result))


@app.command("demo")
def demo_command(
    database: Annotated[Path, typer.Option("--database", help="SQLite file to (re)build.")] = Path("cpts-demo.db"),
    today: Annotated[str | None, typer.Option("--today", help="Date the portfolio is built for.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the portfolio.")] = 2019,
) -> None:
    """Build an SQLite database with a realistic portfolio (~60 CPTS at every stage) and summarise it."""
    from workflows.demo import build_demo

    summary = build_demo(database, today=_date(today, "--today") if today else None, seed=seed)
    typer.echo(summary)


# Commands of the payments and notifications issues live in their own modules, on the same apps.
from workflows import cli_notify, cli_payments  # noqa: E402

cli_payments.register(app, case_app)
cli_notify.register(app, case_app, calendar_app)


def main() -> None:
    """Entry point: one-line errors, exit code 2, never a traceback for a user's mistake."""
    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="cpts", standalone_mode=False)
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if getattr(exc, "statement", None) is None:  # never got as far as a statement: the connection failed
            typer.echo(f"error: cannot reach the database ({detail}); check CPTS_DATABASE_URL", err=True)
        else:
            typer.echo(f"error: database error ({detail}); is the schema up to date? run `cpts db init`", err=True)
        sys.exit(1)
    except Exception as exc:
        # Usage errors of the command-line parser (missing option, bad choice): one line too.
        if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):
            typer.echo(f"error: {exc.format_message()} (see cpts --help)", err=True)
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            typer.echo("aborted", err=True)
            sys.exit(130)
        raise
    sys.exit(code if isinstance(code, int) else 0)
