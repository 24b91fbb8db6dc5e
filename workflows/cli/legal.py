"""`cpts legal …`: the legal workspace on the command line — `cpts legal docket`, every termination, contract
refusal and CPL referral with its dates and the next act due (the web page *Contentieux* shows the same rows).

The command line acts for no user: it shows every case, or those of the départements given with `--dept`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from workflows.cli.common import CsvFlag, JsonFlag, csv_text, day, print_json, unit_of_work

if TYPE_CHECKING:
    from workflows.read.docket import DocketRow

legal_app = typer.Typer(help="Legal workspace: the termination and CPL docket (ACI art. 11, 12.4).",
                        no_args_is_help=True)


@legal_app.callback()
def _legal() -> None:
    # A callback keeps `legal` a group of commands (`cpts legal docket`), even with one command.
    pass


@legal_app.command("docket")
def docket_command(
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    closed: Annotated[bool, typer.Option("--closed", help="List the closed cases (terminated, withdrawn…) "
                                                          "instead of those in progress.")] = False,
    dept: Annotated[list[str] | None, typer.Option("--dept", metavar="CODE",
                                                   help="Only the cases seated in this département (repeatable), "
                                                        "e.g. 57.")] = None,
    today: Annotated[str | None, typer.Option("--today", metavar="YYYY-MM-DD",
                                              help="Count the days left from this date (default: today in "
                                                   "France).")] = None,
) -> None:
    """Every termination, contract refusal and CPL referral: notice, dates, and the next act due (who, when)."""
    from datetime import UTC, datetime

    from workflows.read.docket import DocketFilters, docket
    from workflows.services.clock import latest_local_date
    from workflows.services.people import Scope

    if as_json and as_csv:
        raise typer.BadParameter("choose one of --json and --csv", param_hint="--json/--csv")
    departements = tuple(dict.fromkeys(code.strip().upper() for code in dept or ()))
    for code in departements:
        _check_departement(code)
    as_of = day(today, "--today") or latest_local_date(datetime.now(UTC))
    rows = docket(unit_of_work(), Scope(national=True), today=as_of,
                  filters=DocketFilters(state="closed" if closed else "open", departements=departements))
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    if as_csv:
        from dashboard.routes.docket import CSV_HEADERS, csv_cells

        typer.echo(csv_text(CSV_HEADERS, [csv_cells(row) for row in rows]), nl=False)
        return
    if not rows:
        typer.echo("no closed case on the docket" if closed else "no termination, contract refusal or CPL referral "
                                                                 "in progress")
        return
    for row in rows:
        typer.echo(_text(row))


def _check_departement(code: str) -> None:
    from lifecycle import territory
    from lifecycle.errors import DomainError
    from workflows.cli.common import fail

    try:
        territory.departement(code)
    except DomainError:
        fail(f"--dept {code}: unknown département code (e.g. 57, 2A, 971)")


def _text(row: DocketRow) -> str:
    from workflows.cli.render import printable

    who = f"{row.matter}"
    if row.initiator:
        who += f" by {row.initiator}" + (f" ({row.grounds})" if row.grounds else "")
    lines = [f"case {row.case_id}  {printable(row.case_name)}  [{row.departement}]  {row.state}"
             + ("  SUSPENDED" if row.suspended else ""), f"  {who}"]
    if row.notice_on:
        evidence = f"  evidence: {printable(row.notice_evidence)}" if row.notice_evidence else ""
        lines.append(f"  notice received {row.notice_on.isoformat()}{evidence}")
        letter = [f"LRAR {printable(row.notice_lrar)}"] if row.notice_lrar else []
        if row.notice_presented_on:
            letter.append(f"first presented {row.notice_presented_on.isoformat()}")
        if row.notice_received_on:
            letter.append(f"receipt signed {row.notice_received_on.isoformat()}")
        if letter:
            lines.append(f"  letter: {', '.join(letter)}")
    if row.referral_on:
        lines.append(f"  CPL referral received {row.referral_on.isoformat()}")
    if row.meeting_on:
        lines.append(f"  CPL meeting scheduled on {row.meeting_on.isoformat()}")
    for name, label in (("effective", "effective date"), ("referral_window", "CPL referral window ends"),
                        ("meeting_deadline", "CPL meeting due by"), ("convocation", "convocations due by"),
                        ("agenda", "agenda due by"), ("opinion", "CPL opinion due by"),
                        ("new_decision", "funders' new decision due by"), ("refund_due", "refund due by")):
        value = getattr(row, name)
        if value is not None:
            lines.append(f"  {label + ':':<31} {value.due.isoformat()}  {value.status}")
    if row.refund_amount is not None:
        lines.append(f"  {'refund amount:':<31} {row.refund_amount:.2f} €")
    if row.next_act is not None:
        act = row.next_act
        lines.append(f"  NEXT: {act.label} on {act.due.isoformat()} ({act.days_left} days left), "
                     f"to be done by: {act.actor}")
    else:
        lines.append("  NEXT: nothing pending")
    return "\n".join(lines)
