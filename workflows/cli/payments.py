"""`cpts case payments` and `cpts forecast`: the contract's échéancier and the portfolio's budget (SPEC §7)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

import typer

from workflows.cli.apps import app, case_app
from workflows.cli.common import CsvFlag, JsonFlag, csv_text, day, print_json, unit_of_work


class GroupBy(StrEnum):
    region = "region"
    departement = "departement"
    component = "component"


@case_app.command("payments")
def payments_command(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="Case number.")],
    as_json: JsonFlag = False,
    as_csv: CsvFlag = False,
    today: Annotated[str | None, typer.Option("--today", metavar="YYYY-MM-DD",
                                              help="Statuses as of this date.")] = None,
) -> None:
    """The contract's échéancier: every payment line with its due date, amount, status and arithmetic."""
    from workflows.read.finance import case_payments

    lines = case_payments(unit_of_work(), case_id, today=day(today, "--today"))
    if as_json:
        print_json([line.as_dict() for line in lines])
        return
    if as_csv:
        typer.echo(csv_text(["due", "component", "year", "amount", "paid", "remaining", "status", "explanation",
                             "ruleset", "row", "a_confirmer"],
                            [[line.due.isoformat(), line.component, line.year, _plain(line.amount), str(line.paid),
                              _plain(line.remaining), line.status, line.explanation,
                              line.origin.ruleset if line.origin else "", line.origin.key if line.origin else "",
                              "" if line.verified or line.origin is None else line.origin.source]
                             for line in lines]), nl=False)
        return
    if not lines:
        typer.echo("no payment: the contract is not signed")
        return
    for line in lines:
        amount = "—" if line.amount is None else _euros(line.amount)
        instalments = (f" (paid {_euros(line.paid)} €, {_euros(line.remaining or 0)} € left)"
                       if line.status == "partially_paid" else "")
        # An amount computed from a row not checked against the signed text says so up front (its explanation
        # ends with the row and its source).
        doubt = "[à confirmer] " if not line.verified else ""
        typer.echo(f"{line.due}  {line.component:<26} year {line.year}  {amount:>12} €  {line.status:<19} "
                   f"{doubt}{line.explanation}{instalments}")


def _plain(amount: Decimal | None) -> str:
    return "" if amount is None else str(amount)


def _euros(amount: Decimal) -> str:
    """1234567.8 → "1 234 567.80" (a narrow, unambiguous grouping for a terminal)."""
    return f"{amount:,.2f}".replace(",", " ")


@app.command("forecast")
def forecast_command(
    year: Annotated[int, typer.Option("--year", metavar="YYYY", help="Calendar year to forecast, e.g. 2026.")],
    by: Annotated[GroupBy, typer.Option("--by", help="Group by region, departement or component.")] = (
        GroupBy.region),
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """What the funders will pay in a year across the portfolio (budget planning).

    `committed` counts known amounts (refunds negative); variable lines still awaiting their year's
    assessment are shown apart at full attainment, so `maximum` is the budget ceiling.
    """
    from workflows.read.finance import forecast, forecast_to_confirm, total

    uow = unit_of_work()
    groups = forecast(uow, year, by=by.value)
    rows = [*groups, total(groups, year)]
    if as_json:
        print_json([g.as_dict() for g in rows])
        return
    header = ["group", "label", "committed", "awaiting_assessment_max", "maximum", "already_paid", "lines",
              "cases"]
    if as_csv:
        typer.echo(csv_text(header, [list(g.as_dict().values()) for g in rows]), nl=False)
        return
    typer.echo(f"{'':<40}{'committed':>16}{'variable (max)':>16}{'maximum':>16}{'paid':>16}")
    for g in rows:
        # A région or département: its code and name; a component is its own name.
        name = g.key if g.label == g.key else f"{g.key:<6}{g.label}"
        amounts = (f"{_euros(amount):>16}" for amount in (g.committed, g.awaiting_ceiling, g.maximum, g.paid))
        typer.echo(f"{name[:39]:<40}{''.join(amounts)}")
    doubt = forecast_to_confirm(uow, year, by=by.value).get("total")
    if doubt is not None:
        # Amounts computed from ruleset rows not checked against the signed text are never silent (issue 13).
        typer.echo(f"including {_euros(doubt.amount)} € à confirmer ({doubt.lines} line(s); source: {doubt.text()})")
