"""`cpts user add|edit|list` and `cpts case assign`: who follows which CPTS (SPEC §2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from workflows.cli.apps import case_app, user_app
from workflows.cli.common import JsonFlag, fail, print_json, unit_of_work
from workflows.cli.render import printable

if TYPE_CHECKING:
    from workflows.persistence.tables import User

# `workflows.services.people.ROLES`, for the help text without importing the application (an e2e test checks
# that they agree).
ROLES = ("ars", "cpam", "legal", "national", "admin")
SCOPE_HELP = ("Territory: région codes for ars (44 or reg:44), département codes for cpam (57 or dep:57), "
              "département or région codes for legal (57, dep:57, reg:44), national for national and admin "
              "(the default for them); comma-separated or repeated.")
NO_SCOPE = "no scope: receives nothing until `cpts user edit EMAIL --scope`"


def user_json(user: User) -> dict[str, Any]:
    from workflows.services.people import user_dict

    return user_dict(user)


def _where(user: User) -> str:
    from workflows.services.people import scope_of

    return scope_of(user).describe() or NO_SCOPE


def _print_user(user: User, done: str, as_json: bool) -> None:
    """What `user add` and `user edit` print: the user as stored, in JSON or on one line."""
    if as_json:
        print_json(user_json(user))
        return
    typer.echo(f"user {user.id} {done}: {printable(user.name)} <{printable(user.email)}>, {user.role} "
               f"({_where(user)})")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Option("--name", help="Full name (one line, at most 200 characters).")],
    email: Annotated[str, typer.Option("--email", help="ASCII e-mail address (identifies the user).")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help=SCOPE_HELP)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a user with their role and territory."""
    from workflows.services.people import add_user

    _print_user(add_user(unit_of_work(), name, email, role, scope or []), "added", as_json)


@user_app.command("set-password")
def user_set_password(
    email: Annotated[str, typer.Argument(help="The user's e-mail address.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from the first line of stdin "
                                                      "(for scripts) instead of asking for it twice.")] = False,
) -> None:
    """Set the password the user signs in to the web application with (12 to 256 characters, argon2-hashed)."""
    import sys

    from workflows.services.accounts import set_password

    try:
        interactive = sys.stdin.isatty()
    except (OSError, ValueError):
        interactive = False
    if not password_stdin and not interactive:
        fail("the password is asked at a terminal: here, pipe it as one line with --password-stdin")
    try:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    except (OSError, EOFError, typer.Abort):
        fail("no password was given: type it twice at the prompt, or pipe one line with --password-stdin")
    user = set_password(unit_of_work(), email, password)
    typer.echo(f"password set for user {user.id}: {printable(user.name)} <{printable(user.email)}>; "
               "they sign in at the web application (`cpts web`)")


@user_app.command("edit")
def user_edit(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's current e-mail address.")],
    name: Annotated[str | None, typer.Option("--name", help="New full name.")] = None,
    new_email: Annotated[str | None, typer.Option("--email", help="New e-mail address.")] = None,
    role: Annotated[str | None, typer.Option("--role", help=f"New role, one of {', '.join(ROLES)}.")] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="New scope (replaces it). " + SCOPE_HELP)]
    = None,
    as_json: JsonFlag = False,
) -> None:
    """Correct a user's name, e-mail, role or scope (the checks of `user add` apply)."""
    from workflows.services.people import edit_user

    user = edit_user(unit_of_work(), email, name=name, new_email=new_email, role=role, scope=scope)
    _print_user(user, "updated", as_json)


@user_app.command("list")
def user_list(
    role: Annotated[str | None, typer.Option("--role", help="Only users with this role.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every user, by role."""
    from workflows.read.people import list_users

    users = list_users(unit_of_work(), role=role)
    if as_json:
        print_json([u.as_dict() for u in users])
        return
    for u in users:
        where = NO_SCOPE if u.receives_nothing else ", ".join(u.scope.tokens())
        typer.echo(f"{u.id:>4}  {u.role:<8}  {where:<12}  {printable(u.name)} <{printable(u.email)}>")
    typer.echo(f"{len(users)} user(s)")


@case_app.command("assign")
def case_assign(
    case_id: Annotated[str, typer.Argument(metavar="CASE", help="Case number.")],
    ars: Annotated[str | None, typer.Option("--ars", help="E-mail of the ARS referent.")] = None,
    cpam: Annotated[str | None, typer.Option("--cpam", help="E-mail of the CPAM referent.")] = None,
    contact_name: Annotated[str | None, typer.Option("--contact-name", help="CPTS contact person.")] = None,
    contact_email: Annotated[str | None, typer.Option("--contact-email", help="Their e-mail.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Give a case its binôme (ARS and CPAM referents) and its CPTS contact (not a lifecycle event)."""
    from workflows.services.people import assign

    done = assign(unit_of_work(), case_id, ars_email=ars, cpam_email=cpam, contact_name=contact_name,
                  contact_email=contact_email)
    if as_json:
        print_json({"case": done.case_id, "ars": done.ars, "cpam": done.cpam, "contact_name": done.contact_name,
                    "contact_email": done.contact_email, "unaddressed": list(done.unaddressed)})
        return
    contact = done.contact_email and f"{printable(done.contact_name or '—')} <{printable(done.contact_email)}>"
    typer.echo(f"case {done.case_id} {printable(done.case_name)}: ARS {done.ars or '—'}, CPAM {done.cpam or '—'}, "
               f"contact {contact or '—'}")
    if done.unaddressed:
        ids = " ".join(str(i) for i in done.unaddressed)
        typer.echo(f"{len(done.unaddressed)} notification(s) of this case had nobody to go to: "
                   f"`cpts outbox retry ID` for {ids}")
