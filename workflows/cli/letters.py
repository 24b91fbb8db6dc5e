"""`cpts letter KIND CASE`: a Word letter legal staff edit and sign, filled with the case's dates and amounts and
the explanation of each (issue 12; the web's *Lettres* page writes the same files)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workflows.cli.apps import app
from workflows.cli.common import day, fail, unit_of_work

# `documents.letters.KINDS`, spelled out so that `cpts --help` need not load the application.
KIND_HELP = "resiliation, accuse-saisine-cpl, convocation-cpl, decision-financeurs or remboursement"


@app.command("letter")
def letter_command(
    kind: Annotated[str, typer.Argument(metavar="KIND", help=f"The letter: {KIND_HELP}.")],
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="Case number.")],
    out: Annotated[Path | None, typer.Option("--out", metavar="FILE", help=(
        "The .docx to write (default: lettre-KIND-cpts-CASE.docx in the current directory)."))] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    today: Annotated[str | None, typer.Option("--today", metavar="YYYY-MM-DD", help=(
        "The letter's date (default: today at the seat)."))] = None,
) -> None:
    """Write a French Word letter for the case: the funders' termination letter, the acknowledgement of a CPL
    referral, the convocation of the CPL's members, the funders' new decision, the refund demand. Each date and
    amount comes with the explanation of how it was computed. A letter whose dates the case does not have yet is
    refused, naming the event to record first."""
    from dashboard.letters_data import letter_data, letter_file_name
    from documents.letters import letter_kind, render_letter
    from workflows.services.clock import local_today, utc_now

    letter_kind(kind)  # an unknown kind is refused before the database is opened
    when = day(today, "--today")
    uow = unit_of_work()
    with uow:
        case = uow.cases.get(case_id)
    content = render_letter(kind, letter_data(uow, case, kind, today=when or local_today(case, utc_now())))
    path = out if out is not None else Path(letter_file_name(kind, case.id))
    if path.is_dir():
        fail(f"--out {path} is a directory: give a file name, e.g. {path / letter_file_name(kind, case.id)}")
    if path.exists() and not force:
        fail(f"{path} exists (perhaps a letter already edited): choose another --out, or give --force to "
             "overwrite it")
    if not path.parent.is_dir():
        fail(f"cannot write {path}: the directory {path.parent} does not exist")
    # Written next to its place, then moved there: an interrupted write never leaves half a letter.
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(content)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(f"cannot write {path}: {exc.strerror or exc}")
    typer.echo(str(path))
