"""`cpts`: the command line of the engine. Every command calls the application's use cases and read models
(`workflows.services`, `workflows.read`) and renders what they return; errors a user can act on are printed on
one line on stderr with exit code 2, and nothing is written."""

from __future__ import annotations

import sys

import typer
from typer.exceptions import TyperException

from lifecycle.errors import DomainError

# Each command module adds its commands to the groups of `workflows.cli.apps`. They are cheap to import (no
# SQLAlchemy, no application): `cpts --help` builds the whole command tree.
from workflows.cli import calendar, cases, db, outbox, payments, people, simulate, territory  # noqa: F401
from workflows.cli.apps import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point: one-line errors, exit code 2, never a traceback for a user's mistake."""
    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="cpts", standalone_mode=False)
    except DomainError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except TyperException as exc:
        # Usage errors of the command-line parser (missing option, bad choice): one line too.
        typer.echo(f"error: {exc.format_message()} (see cpts --help)", err=True)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if not _database_error(exc):
            raise
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        if getattr(exc, "statement", None) is None:  # never got as far as a statement: the connection failed
            typer.echo(f"error: cannot reach the database ({detail}); check CPTS_DATABASE_URL", err=True)
        else:
            typer.echo(f"error: database error ({detail}); is the schema up to date? run `cpts db init`", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _database_error(exc: Exception) -> bool:
    """An SQLAlchemy error (SQLAlchemy is imported by the commands that use a database, and only by them)."""
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.SQLAlchemyError)
