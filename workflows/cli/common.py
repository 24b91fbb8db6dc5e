"""What every `cpts` command module shares: the --json flag, JSON and CSV output, dates, the database.

The command modules are imported for every `cpts` invocation, `--help` included: at module level they import
only typer and what their signatures name; the application (SQLAlchemy, the domain's tables) is imported by the
command functions, when they run.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from workflows.persistence.unit_of_work import SqlUnitOfWork
    from workflows.settings import Settings

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
CsvFlag = Annotated[bool, typer.Option("--csv", help="Print CSV (for a spreadsheet).")]

# Bounds of counts typed on the command line (pages, offsets): what every database stores as an integer.
MAX_ROWS = 2**31 - 1


# The choices the help spells out, written here rather than imported: `lifecycle.machine` and
# `lifecycle.deadlines` load the state machine and the holiday tables, which `cpts --help` does not need (an e2e
# test checks that they agree with the application's).
class State(StrEnum):
    """`lifecycle.machine.STATES`."""

    new = "new"
    prospect = "prospect"
    accompanied = "accompanied"
    loi_submitted = "loi_submitted"
    loi_validated = "loi_validated"
    health_project_submitted = "health_project_submitted"
    health_project_opposed = "health_project_opposed"
    health_project_validated = "health_project_validated"
    adhesion_requested = "adhesion_requested"
    contract_refused = "contract_refused"
    contracted = "contracted"
    termination_pending = "termination_pending"
    termination_suspended = "termination_suspended"
    terminated = "terminated"
    expired = "expired"
    abandoned = "abandoned"


class DeadlineStatus(StrEnum):
    """`lifecycle.deadlines.STATUSES`."""

    pending = "pending"
    met = "met"
    met_late = "met_late"
    breached = "breached"
    elapsed = "elapsed"
    cancelled = "cancelled"


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


def csv_text(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def fail(message: str) -> None:
    """A usage error: one line on stderr (control characters of user input escaped), exit code 2."""
    from workflows.cli.render import printable

    typer.echo(f"error: {printable(message)}", err=True)
    raise typer.Exit(2)


def day(value: str | None, what: str) -> date | None:
    """An optional YYYY-MM-DD option (a malformed one is a one-line error naming the option)."""
    if not value:
        return None
    from lifecycle.events import parse_date

    return parse_date(value, what)


def settings() -> Settings:
    """The settings from the environment, the deployment's ruleset files loaded (CPTS_RULESETS_DIR): a refused
    file is a one-line `error: file: key: problem`, exit 2 (a RulesetError is a DomainError)."""
    from workflows.settings import load_settings, use_rulesets

    config = load_settings()
    use_rulesets(config)
    return config


def unit_of_work(config: Settings | None = None) -> SqlUnitOfWork:
    """A unit of work on the configured database, which must have its schema."""
    from workflows.persistence.db import open_engine
    from workflows.persistence.unit_of_work import SqlUnitOfWork

    config = config or settings()
    return SqlUnitOfWork(open_engine(config.database_url), keys=config.journal_keys())
