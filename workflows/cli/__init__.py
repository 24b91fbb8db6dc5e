"""`cpts`: the command line of the engine. Every command calls the application's use cases and read models
(`workflows.services`, `workflows.read`) and renders what they return; errors a user can act on are printed on
one line on stderr with exit code 2, and nothing is written. Exit code 1 is left to what the user cannot fix
from the command line: a database that cannot be reached, a journal found broken, a bug (with its traceback)."""

from __future__ import annotations

import re
import sys
from typing import NoReturn

import typer
from typer.exceptions import TyperException

from lifecycle.errors import DomainError

# Each command module adds its commands to the groups of `workflows.cli.apps`. They are cheap to import (no
# SQLAlchemy, no application): `cpts --help` builds the whole command tree.
from workflows.cli import (  # noqa: F401
    calendar,
    case_file,
    cases,
    db,
    legal,
    letters,
    outbox,
    payments,
    people,
    rulesets,
    simulate,
    territory,
    web,
)
from workflows.cli.apps import app, command_tree
from workflows.cli.render import printable

__all__ = ["app", "database_problem", "main"]

# A lone surrogate is how Python decodes bytes of an argument that are not UTF-8; NUL cannot be stored.
_UNREADABLE = re.compile(r"[\ud800-\udfff\x00]")
INT32_MAX = 2**31 - 1


def main() -> None:
    """Entry point: one-line errors, exit code 2, never a traceback for a user's mistake."""
    for arg in sys.argv[1:]:
        if _UNREADABLE.search(arg):
            shown = printable(arg if len(arg) <= 60 else arg[:60] + "…")
            _fail(f"argument '{shown}' is not valid text (bytes that are not UTF-8, a lone surrogate or a NUL "
                  "character): type it again in UTF-8", 2)
    command = command_tree()
    try:
        code = command.main(prog_name="cpts", standalone_mode=False)
    except DomainError as exc:
        _fail(str(exc), 2)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(130)
    except TyperException as exc:
        # Usage errors of the command-line parser (missing option, bad choice): one line too.
        message = exc.format_message().replace("Value error, ", "")  # typer's prefix of a refused choice
        _fail(f"{message} (see cpts --help)", exc.exit_code)
    except Exception as exc:
        problem = database_problem(exc)
        if problem is None:
            raise  # a programming error: its traceback is what a bug report needs
        _fail(*problem)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> NoReturn:
    """`error: …` on one line of stderr (control characters of user input escaped), then exit."""
    typer.echo(f"error: {printable(message)}", err=True)
    sys.exit(code)


def database_problem(exc: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code of a database failure, or None if `exc` is not one.

    SQLAlchemy is imported by the commands that use a database, and only by them: an exception can be one of its
    errors only if it is loaded. ORM misuse (a detached instance…) is a programming error: None.
    """
    errors = sys.modules.get("sqlalchemy.exc")
    if errors is None or not isinstance(exc, errors.DBAPIError):
        return None
    orig = _driver_error(exc.orig)
    detail = _first_line(orig) or _first_line(exc)
    text = detail.lower()
    sqlstate = str(getattr(orig, "sqlstate", None) or "")
    if "unable to open database file" in text:
        return (f"cannot open the SQLite database file {_sqlite_file()}: check that its directory exists and that "
                "you may write there (or set CPTS_DATABASE_URL)", 2)
    if "file is not a database" in text:
        return f"{_sqlite_file()} is not an SQLite database file: check CPTS_DATABASE_URL", 2
    if "readonly database" in text or "read-only database" in text:
        return (f"the database file {_sqlite_file()} is read-only: check its permissions (and its directory's: "
                "SQLite writes a journal file next to it)", 2)
    if sqlstate == "25006":
        return f"the database is read-only ({detail}): point CPTS_DATABASE_URL at a writable server", 2
    if sqlstate == "42501":
        return f"the database user may not do this ({detail}): check its privileges", 2
    if "no such table" in text or "no such column" in text or sqlstate in ("42P01", "42703", "3F000"):
        return f"the database schema is missing or out of date ({detail}): run `cpts db init`", 2
    if isinstance(exc, errors.DataError) or sqlstate.startswith("22"):
        return _refused_value(exc.params, detail), 2
    if "database is locked" in text:
        return f"the database is busy ({detail}): another process holds it; try again", 1
    if exc.statement is None or sqlstate.startswith("08") or (
            isinstance(exc, errors.OperationalError | errors.InterfaceError) and not sqlstate):
        # The connection failed: a server down (try again) or a wrong URL (fix it); we cannot tell which.
        return f"cannot reach the database ({detail}); check CPTS_DATABASE_URL", 1
    return f"database error ({detail})", 1


def _driver_error(orig: BaseException | None) -> BaseException | None:
    """The driver's own error; psycopg's "pipeline aborted" stands for the error that aborted the pipeline."""
    if orig is not None and str(orig).lower().startswith("pipeline aborted"):
        return orig.__cause__ or orig.__context__ or orig
    return orig


def _first_line(error: BaseException | None) -> str:
    lines = str(error or "").strip().splitlines()
    return lines[0].strip() if lines else ""


def _refused_value(params: object, detail: str) -> str:
    """What a data error says: the number too large, the text with a NUL, or the driver's words."""
    values = list(_leaves(params))
    numbers = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and abs(v) > INT32_MAX]
    if numbers:
        return f"the number {max(numbers, key=abs)} is too large for the database ({detail}): give a smaller one"
    texts = [v for v in values if isinstance(v, str) and "\x00" in v]
    if texts:
        return f"the text '{texts[0][:60]}' contains a NUL character, which the database cannot store: remove it"
    return f"the database refused a value ({detail}): check the values given"


def _leaves(params: object) -> list[object]:
    if isinstance(params, dict):
        return [leaf for value in params.values() for leaf in _leaves(value)]
    if isinstance(params, list | tuple):
        return [leaf for value in params for leaf in _leaves(value)]
    return [params]


def _sqlite_file() -> str:
    """The SQLite file named by CPTS_DATABASE_URL (the only SQLite database a command opens but `cpts demo`'s)."""
    from workflows.cli.common import settings
    from workflows.persistence.db import sqlite_file

    path = sqlite_file(settings().database_url)
    return str(path.absolute()) if path is not None else "named by CPTS_DATABASE_URL"
