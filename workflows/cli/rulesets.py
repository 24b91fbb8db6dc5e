"""`cpts ruleset list|show|diff|check`: the versions of the accord the engine knows, their effective rows with
source and verification, what differs between two, and the unverified values the cases use (README, "Rulesets").

`check` exit codes: 0 when no case uses an unverified value (unverified rows may exist: they are listed); 1 when
a case's stored deadlines or payments use one (listed, and why on stderr); 2 for a refused ruleset file or a
usage error, as every command. A stored line marked with a row that the rulesets loaded now say is verified (a
deployment's verified copy, installed after the line was written) is listed as such and does not count.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from workflows.cli.apps import ruleset_app
from workflows.cli.common import JsonFlag, print_json, settings, unit_of_work

RulesetId = Annotated[str, typer.Argument(metavar="ID", help="A ruleset id, e.g. ACI-2019+A2 (see cpts ruleset list).")]


def _verification(verified: bool, interpretation: bool = False) -> str:
    text = "vérifié" if verified else "à confirmer"
    return f"{text}, interprétation" if interpretation else text


def _values_text(values: dict[str, Any]) -> str:
    from workflows.read.rulesets import json_ready

    return "; ".join(f"{k} = {json.dumps(json_ready(v), ensure_ascii=False)}" for k, v in values.items())


@ruleset_app.command("list")
def ruleset_list(as_json: JsonFlag = False) -> None:
    """The rulesets known (packaged and CPTS_RULESETS_DIR's): id, parent, in force from, file, unverified rows."""
    from workflows.read.rulesets import summaries

    settings()
    found = summaries()
    if as_json:
        print_json([s.as_dict() for s in found])
        return
    for s in found:
        parent = f"extends {s.parent}" if s.parent else "first version"
        typer.echo(f"{s.id}  in force from {s.effective.isoformat()}  {parent}  {s.unverified} row(s) à confirmer")
        typer.echo(f"    {s.title}")
        typer.echo(f"    file {s.file}; contracts signed before: {s.transition}")


@ruleset_app.command("show")
def ruleset_show(ruleset_id: RulesetId, as_json: JsonFlag = False) -> None:
    """The effective values of a ruleset (after inheritance), row by row, with source and verification."""
    from workflows.read.rulesets import effective_rows

    settings()
    rows = effective_rows(ruleset_id)
    if as_json:
        print_json({"id": ruleset_id, "rows": [row.as_dict() for row in rows]})
        return
    for row in rows:
        typer.echo(f"{row.key}  [{_verification(row.verified, row.interpretation)}]  from {row.ruleset} ({row.file})")
        if row.values:
            typer.echo(f"    {_values_text(row.values)}")
        typer.echo(f"    source: {row.source}")


@ruleset_app.command("diff")
def ruleset_diff(
    first: Annotated[str, typer.Argument(metavar="A", help="The ruleset to compare from, e.g. ACI-2019.")],
    second: Annotated[str, typer.Argument(metavar="B", help="The ruleset to compare to, e.g. ACI-2019+A2.")],
    as_json: JsonFlag = False,
) -> None:
    """The rows whose values differ from A to B: added (only in B), removed (only in A), changed."""
    from workflows.read.rulesets import differences

    settings()
    changes = differences(first, second)
    if as_json:
        print_json({"from": first, "to": second, "changes": [c.as_dict() for c in changes]})
        return
    if not changes:
        typer.echo(f"no difference between {first} and {second}")
    sign = {"added": "+", "removed": "-", "changed": "~"}
    for change in changes:
        typer.echo(f"{sign[change.change]} {change.key}  ({change.change})")
        for side, row in ((first, change.before), (second, change.after)):
            if row is not None:
                typer.echo(f"    {side}: {_values_text(row.values)}")
                typer.echo(f"        source ({row.ruleset}, {_verification(row.verified)}): {row.source}")


@ruleset_app.command("check")
def ruleset_check(as_json: JsonFlag = False) -> None:
    """List every unverified row and, with a database, the cases whose deadlines or payments use one.

    Exit 0 when no case uses an unverified value, 1 when one does (the reason on stderr), 2 on an error.
    """
    from workflows.persistence.db import DatabaseNotReady
    from workflows.read.rulesets import cases_using_unverified, unverified_rows

    config = settings()
    rows = unverified_rows()
    uses = None
    database_note = ""
    try:
        uses = cases_using_unverified(unit_of_work(config))
    except DatabaseNotReady as exc:
        database_note = f"no database checked ({exc})"
    if as_json:
        print_json({"unverified_rows": [row.as_dict() for row in rows],
                    "cases": None if uses is None else [u.as_dict() for u in uses],
                    "database": database_note or "checked"})
    else:
        typer.echo(f"{len(rows)} unverified row(s):" if rows else "every row is verified")
        for row in rows:
            typer.echo(f"  {row.ruleset} {row.key}: à confirmer ({row.source})")
        if uses is None:
            typer.echo(database_note)
        elif not uses:
            typer.echo("no case uses an unverified value")
        else:
            current = [u for u in uses if not u.stale]
            if current:
                typer.echo(f"{len(current)} deadline(s) or payment(s) of {len({u.case_id for u in current})} "
                           "case(s) use one:")
            for use in uses:
                stale = " (now verified: rewritten at the case's next write or sweep)" if use.stale else ""
                typer.echo(f"  case {use.case_id} {use.case_name}: {use.what} {use.label}, due {use.due.isoformat()}"
                           f" — {use.origin}: à confirmer ({use.to_confirm}){stale}")
    current = [u for u in uses or () if not u.stale]
    if current:
        cases = sorted({u.case_id for u in current})
        typer.echo(f"error: {len(cases)} case(s) use values not checked against the signed text (case(s) "
                   f"{', '.join(map(str, cases))}): check them, then supply verified ruleset files "
                   "(CPTS_RULESETS_DIR)", err=True)
        raise typer.Exit(1)
