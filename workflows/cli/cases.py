"""`cpts case create|event|show|list|verify`, `cpts deadlines` and `cpts sweep`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lifecycle.errors import EventRejected
from workflows.cli import render
from workflows.cli.apps import app, case_app
from workflows.cli.common import (
    MAX_ROWS,
    DeadlineStatus,
    JsonFlag,
    State,
    day,
    fail,
    print_json,
    settings,
    unit_of_work,
)

if TYPE_CHECKING:
    from workflows.services.sweep import SweepReport


@case_app.command("create")
def case_create(
    name: Annotated[str, typer.Option("--name", help="Name of the CPTS.")],
    dept: Annotated[str, typer.Option("--dept", help="Seat département.")],
    communes: Annotated[str | None, typer.Option("--communes", help="INSEE codes, comma- or space-separated.")] = None,
    population: Annotated[int | None, typer.Option("--population", min=1, max=100_000_000,
                                                   help="Declared population.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a CPTS project with its territory."""
    from workflows.services import create_case

    if communes is None and population is None:
        fail("give the territory: --communes CODE,CODE… or --population N")
    codes = communes.replace(";", ",").replace(",", " ").split() if communes else []
    case = create_case(unit_of_work(), name=name, departement=dept, communes=codes, population=population)
    from lifecycle.territory import summarise

    # Communes outside the seat's région: accepted (the texts do not forbid it), but said.
    for warning in summarise(json.loads(case.communes), seat=case.seat_departement).warnings:
        typer.echo(f"warning: {render.printable(warning)}", err=True)
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
    evidence: Annotated[str | None, typer.Option("--evidence", help="Evidence reference (free text), e.g. a file "
                                                                     "name or a register number.")] = None,
    lrar: Annotated[str | None, typer.Option("--lrar", metavar="NUMBER",
                                             help="The registered letter's number (LRAR), e.g. '1A 123 456 7890 1'."
                                             )] = None,
    presented_on: Annotated[str | None, typer.Option("--presented-on", metavar="YYYY-MM-DD",
                                                     help="The letter's first presentation (date de première "
                                                          "présentation).")] = None,
    received_on: Annotated[str | None, typer.Option("--received-on", metavar="YYYY-MM-DD",
                                                    help="The receipt date signed on the avis de réception.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Who records it (default: $CPTS_ACTOR, cli).")] = None,
    today: Annotated[str | None, typer.Option("--today", help="Record as of this earlier date (corrections); "
                                                             "never after today at the seat.")] = None,
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", help="A key of yours for this write (e.g. a UUID): retried with the same key, the "
                                  "command prints the first result instead of recording twice.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record an event on a case (validated by the lifecycle; nothing written if rejected)."""
    from lifecycle.events import parse_data_json, parse_date
    from workflows.services import NewEvent, apply

    payload: Any = {}
    if data is not None:
        try:  # bounded (size, nesting) before the JSON parser recurses: deep nesting is an error, not a crash
            payload = parse_data_json(data)
        except EventRejected as exc:
            raise EventRejected(f"--data: {exc}") from None
    config = settings()
    proof: str | dict[str, str] | None = evidence
    if lrar is not None or presented_on is not None or received_on is not None:
        # Structured evidence (README, "Structured evidence"): the dates' checks are the engine's; an option
        # given empty counts as not given.
        proof = {key: value for key, value in (("reference", evidence), ("lrar", lrar),
                                                ("presented_on", presented_on), ("received_on", received_on))
                 if value is not None}
    event = NewEvent(type=event_type, at=parse_date(at, "--at"), data=payload, evidence=proof)
    result = apply(unit_of_work(config), case_id, event, actor if actor is not None else config.actor,
                   today=day(today, "--today"), idempotency_key=idempotency_key, cpl_members=config.cpl_members)
    if as_json:
        print_json({"case": result.case_id, "seq": result.seq, "from": result.event_from, "to": result.event_to,
                    "state": result.state_after})
        return
    typer.echo(render.applied_text(result, event))


@case_app.command("show")
def case_show(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="Case number.")],
    today: Annotated[str | None, typer.Option("--today", metavar="YYYY-MM-DD",
                                              help="Show the case as of this date.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """State, deadlines with their explanations, and history of a case."""
    from workflows.read.cases import case_view

    view = case_view(unit_of_work(), case_id, today=day(today, "--today"))
    if as_json:
        print_json(render.case_json(view))
        return
    typer.echo(render.case_text(view))


@case_app.command("list")
def case_list(
    state: Annotated[list[State] | None, typer.Option("--state", help="Only cases in this state (repeat the option "
                                                                       "for any of several).")] = None,
    dept: Annotated[list[str] | None, typer.Option("--dept", metavar="DEPT", help="Only cases seated in this "
                                                   "département (repeatable).")] = None,
    as_json: JsonFlag = False,
    region: Annotated[list[str] | None, typer.Option("--region", metavar="CODE", help="Only cases seated in this "
                                                     "région (INSEE code, e.g. 44; repeatable).")] = None,
    size: Annotated[int | None, typer.Option("--size", min=1, max=4, help="Only cases of this size.")] = None,
    name: Annotated[str | None, typer.Option("--name", metavar="TEXT", help="Only cases whose name contains this "
                                                                            "text (any case).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=0, max=MAX_ROWS, metavar="N",
                                              help="At most N cases (a page).")] = None,
    offset: Annotated[int, typer.Option("--offset", min=0, max=MAX_ROWS, metavar="N",
                                        help="Skip the first N matching cases.")] = 0,
) -> None:
    """The portfolio: one line per case."""
    from workflows.read.cases import case_page

    page = case_page(unit_of_work(), state=[s.value for s in state] if state else None, departement=dept or None,
                     region=region or None, size=size, name=name, limit=limit, offset=offset)
    if as_json:
        print_json([c.as_dict() for c in page.cases])
        return
    for c in page.cases:
        typer.echo(f"{c.id:>5}  {c.seat_departement:<3}  {c.state:<26} size {c.size}  {render.printable(c.name)}")
    shown = len(page.cases)
    typer.echo(f"{shown} case(s)" if shown == page.total else
               f"{shown} of {page.total} case(s), from #{page.offset + 1}")


@case_app.command("verify")
def case_verify(
    case_id: Annotated[str | None, typer.Argument(metavar="[CASE]", help="Case number (or --all).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Check every case's journal.")] = False,
) -> None:
    """Check a journal's keyed hash chain from its genesis entry (the case's identity) to its head; exit 1 and
    name each finding if it is broken."""
    from workflows.read.cases import verify_all, verify_journal

    if (case_id is None) == (not every):
        fail("give a case number, or --all for every case (not both)")
    uow = unit_of_work()
    findings = verify_all(uow) if every else [(case_id, verify_journal(uow, case_id))]
    findings = [(case, problems) for case, problems in findings if problems]
    for case, problems in findings:
        for problem in problems:
            typer.echo(f"TAMPERED: case {case}: {render.printable(problem)}", err=True)
    if findings:
        raise typer.Exit(1)
    unkeyed = "" if uow.keys.keyed else " (unkeyed hashes: set CPTS_JOURNAL_KEY so that a rewrite is detected)"
    typer.echo(("every journal intact" if every else f"case {case_id}: journal intact") + unkeyed)


@app.command("deadlines")
def deadlines_command(
    due_before: Annotated[str | None, typer.Option("--due-before", metavar="YYYY-MM-DD",
                                                   help="Only deadlines due before this date.")] = None,
    status: Annotated[DeadlineStatus | None, typer.Option("--status", help="Only deadlines with this status.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Deadlines across the portfolio, by due date."""
    from workflows.read.cases import list_deadlines

    rows = list_deadlines(unit_of_work(), due_before=day(due_before, "--due-before"),
                          status=status.value if status else None)
    if as_json:
        print_json([r.as_dict() for r in rows])
        return
    for r in rows:
        typer.echo(f"{r.due.isoformat()}  {r.status:<9}  case {r.case:>4}  {r.key:<30} {render.printable(r.case_name)}")
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
                    "breached": [{"case": c, "deadline": i} for c, i in report.breached],
                    "refused": [{"case": c, "problem": p} for c, p in report.refused]})
        if report.refused:
            raise typer.Exit(1)
        return
    echo_sweep(report, "swept")


def echo_sweep(report: SweepReport, done: str) -> None:
    """A sweep's (or a refresh's) report on stdout, the cases refused on stderr (then exit 1)."""
    for case_id, event_type, at in report.system_events:
        typer.echo(f"case {case_id}: {event_type} dated {at.isoformat()}")
    for case_id, ident in report.breached:
        typer.echo(f"case {case_id}: {ident} breached")
    for case_id, problem in report.refused:
        typer.echo(f"error: case {case_id} not {done}: {problem}", err=True)
    typer.echo(f"{done} {report.cases} case(s): {len(report.system_events)} system event(s), "
               f"{len(report.breached)} new breach(es)")
    if report.refused:
        raise typer.Exit(1)
