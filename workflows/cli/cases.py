"""`cpts case create|event|show|list|verify`, `cpts deadlines` and `cpts sweep`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from lifecycle.errors import EventRejected
from workflows.cli import render
from workflows.cli.apps import app, case_app
from workflows.cli.common import JsonFlag, day, fail, print_json, settings, unit_of_work


@case_app.command("create")
def case_create(
    name: Annotated[str, typer.Option("--name", help="Name of the CPTS.")],
    dept: Annotated[str, typer.Option("--dept", help="Seat département.")],
    communes: Annotated[str | None, typer.Option("--communes", help="INSEE codes, comma- or space-separated.")] = None,
    population: Annotated[int | None, typer.Option("--population", min=0, help="Declared population.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a CPTS project with its territory."""
    from workflows.services import create_case

    if communes is None and population is None:
        fail("give the territory: --communes CODE,CODE… or --population N")
    codes = communes.replace(";", ",").replace(",", " ").split() if communes else []
    case = create_case(unit_of_work(), name=name, departement=dept, communes=codes, population=population)
    if as_json:
        print_json(render.case_summary_json(case))
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
    actor: Annotated[str | None, typer.Option("--actor", help="Who records it (default: $CPTS_ACTOR, cli).")] = None,
    today: Annotated[str | None, typer.Option("--today", help="Override today's date (tests, replays).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record an event on a case (validated by the lifecycle; nothing written if rejected)."""
    from lifecycle.events import parse_date
    from workflows.services import NewEvent, apply

    payload: Any = {}
    if data is not None:
        try:
            payload = json.loads(data)
        except json.JSONDecodeError as exc:
            raise EventRejected(f"--data is not valid JSON ({exc.msg} at character {exc.pos}): expected an object "
                                "such as '{\"party\": \"ars\", \"decision\": \"approve\"}'") from None
    config = settings()
    event = NewEvent(type=event_type, at=parse_date(at, "--at"), data=payload, evidence=evidence)
    result = apply(unit_of_work(config), case_id, event, actor if actor is not None else config.actor,
                   today=day(today, "--today"))
    if as_json:
        print_json({"case": result.case_id, "seq": result.seq, "from": result.event_from, "to": result.event_to,
                    "state": result.state_after})
        return
    typer.echo(render.applied_text(result, event))


@case_app.command("show")
def case_show(
    case_id: Annotated[str, typer.Argument(metavar="CASE")],
    today: Annotated[str | None, typer.Option("--today", help="Show the case as of this date.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """State, deadlines with their explanations, and history of a case."""
    from workflows.read.cases import case_view

    view = case_view(unit_of_work(), case_id, today=day(today, "--today"))
    if as_json:
        print_json(view.as_dict())
        return
    typer.echo(render.case_text(view))


@case_app.command("list")
def case_list(
    state: Annotated[str | None, typer.Option("--state", help="Only cases in this state.")] = None,
    dept: Annotated[str | None, typer.Option("--dept", help="Only cases seated in this département.")] = None,
    as_json: JsonFlag = False,
    region: Annotated[str | None, typer.Option("--region", help="Only cases seated in this région (INSEE code, "
                                                                "e.g. 44).")] = None,
    size: Annotated[int | None, typer.Option("--size", min=1, max=4, help="Only cases of this size.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Only cases whose name contains this text (any "
                                                            "case).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=0, help="At most N cases (a page).")] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip the first N matching cases.")] = 0,
) -> None:
    """The portfolio: one line per case."""
    from lifecycle.machine import STATES
    from workflows.read.cases import case_page

    if state is not None and state not in STATES:
        fail(f"unknown state {state!r}: expected one of {', '.join(STATES)}")
    page = case_page(unit_of_work(), state=state, departement=dept, region=region, size=size, name=name,
                     limit=limit, offset=offset)
    if as_json:
        print_json([c.as_dict() for c in page.cases])
        return
    for c in page.cases:
        typer.echo(f"{c.id:>5}  {c.seat_departement:<3}  {c.state:<26} size {c.size}  {c.name}")
    shown = len(page.cases)
    typer.echo(f"{shown} case(s)" if shown == page.total else
               f"{shown} of {page.total} case(s), from #{page.offset + 1}")


@case_app.command("verify")
def case_verify(case_id: Annotated[str, typer.Argument(metavar="CASE")]) -> None:
    """Check the journal's hash chain; exit 1 and name the first tampered row if it is broken."""
    from workflows.read.cases import verify_journal

    problems = verify_journal(unit_of_work(), case_id)
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
    from workflows.read.cases import list_deadlines

    rows = list_deadlines(unit_of_work(), due_before=day(due_before, "--due-before"), status=status)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    for r in rows:
        typer.echo(f"{r.due.isoformat()}  {r.status:<9}  case {r.case:>4}  {r.key:<30} {r.case_name}")
    typer.echo(f"{len(rows)} deadline(s)")


@app.command("sweep")
def sweep_command(
    today: Annotated[str | None, typer.Option("--today", help="Local date to sweep as (default: now at each "
                                                              "seat).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Fire every due timer once: system events, breaches."""
    from workflows.services import sweep

    config = settings()
    report = sweep(unit_of_work(config), today=day(today, "--today"), mail_domain=config.mail_domain)
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
