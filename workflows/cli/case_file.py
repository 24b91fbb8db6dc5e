"""`cpts case file CASE --pdf [--out FILE]`: the court-ready case file, the same PDF as the case page's download.

The file is only produced as a PDF: without `--pdf` the command says so on one line (exit 2) rather than print
something else, so that a script never mistakes text for the file. It is written to FILE (default
`dossier-cpts-CASE.pdf` in the current directory; `-` writes the PDF to standard output), then one line on
stderr says what was written and what the journal's verification found. A journal that fails the check still
gets its file — the file says so, with each finding — and the line on stderr starts with `warning:`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from workflows.cli.apps import case_app
from workflows.cli.common import fail, unit_of_work


@case_app.command("file")
def case_file_command(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="Case number.")],
    pdf: Annotated[bool, typer.Option("--pdf", help="Produce the case file as a PDF (the only format; required).")]
    = False,
    out: Annotated[str | None, typer.Option("--out", "-o", metavar="FILE",
                                            help="Write to FILE (default dossier-cpts-CASE.pdf here; - for stdout).")]
    = None,
) -> None:
    """The court-ready case file: identity, full journal, every deadline explained with its outcome, the
    notifications sent (Message-ID, time), and the journal's hash-chain proof verified now."""
    if not pdf:
        fail("the case file is produced as a PDF only: add --pdf (e.g. cpts case file 12 --pdf --out dossier.pdf)")
    # The CLI may use the web application's French (an allowed exception): one builder for both entrypoints.
    from dashboard.case_file_data import case_file_data
    from documents.case_file import file_name, render_case_file
    from workflows.cli.render import printable
    from workflows.services.clock import utc_now

    if out and out != "-" and not Path(out).parent.is_dir():  # said before the file is drawn up (a second or so)
        fail(f"cannot write {out}: its directory does not exist; give a writable file path with --out")
    uow = unit_of_work()
    with uow:
        case = uow.cases.get(case_id)  # UnknownCase: a one-line error
    data = case_file_data(uow, case, now=utc_now())
    document = render_case_file(data)
    target = out or file_name(case.id)
    if target == "-":
        sys.stdout.buffer.write(document)
        sys.stdout.buffer.flush()
    else:
        try:
            Path(target).write_bytes(document)
        except OSError as exc:
            fail(f"cannot write {target}: {exc.strerror or exc}; give a writable file path with --out")
    where = "standard output" if target == "-" else printable(target)
    rows = f"{len(data.journal)} journal row{'s' if len(data.journal) != 1 else ''}"
    if data.chain.intact:
        typer.echo(f"wrote {where}: case {case.id}, {rows}, journal intact", err=True)
    else:
        typer.echo(f"warning: wrote {where}: case {case.id}, {rows}, but its journal FAILS its integrity check "
                   f"({len(data.chain.findings)} finding(s), listed in the file; see `cpts case verify {case.id}`)",
                   err=True)
