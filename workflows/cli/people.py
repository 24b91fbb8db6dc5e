"""`cpts user add|list` and `cpts case assign`: who follows which CPTS (SPEC §2)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workflows.cli.apps import case_app, user_app
from workflows.cli.common import JsonFlag, print_json, unit_of_work

if TYPE_CHECKING:
    from workflows.persistence.tables import User

# `workflows.services.people.ROLES`, for the help text without importing the application (an e2e test checks
# that they agree).
ROLES = ("ars", "cpam", "legal", "national", "admin")


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "role": user.role,
            "scope": json.loads(user.scope)}


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    email: Annotated[str, typer.Option("--email", help="E-mail address (identifies the user).")],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(ROLES)}.")],
    scope: Annotated[list[str] | None, typer.Option(
        "--scope", help="Région codes (ars) or département codes (cpam, legal), comma-separated or "
                        "repeated; none for national and admin.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a user with their role and territory."""
    from workflows.services.people import add_user

    user = add_user(unit_of_work(), name, email, role, scope or [])
    if as_json:
        print_json(user_json(user))
        return
    where = ", ".join(json.loads(user.scope)) or "everywhere"
    typer.echo(f"user {user.id} added: {user.name} <{user.email}>, {user.role} ({where})")


@user_app.command("list")
def user_list(
    role: Annotated[str | None, typer.Option("--role", help="Only users with this role.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every user, by role."""
    from workflows.read.people import list_users

    users = list_users(unit_of_work(), role=role)
    if as_json:
        print_json([user_json(u) for u in users])
        return
    for u in users:
        typer.echo(f"{u.id:>4}  {u.role:<8}  {', '.join(json.loads(u.scope)) or '—':<12}  {u.name} <{u.email}>")
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
    contact = done.contact_email and f"{done.contact_name or '—'} <{done.contact_email}>"
    typer.echo(f"case {done.case_id} {done.case_name}: ARS {done.ars or '—'}, CPAM {done.cpam or '—'}, "
               f"contact {contact or '—'}")
    if done.unaddressed:
        ids = " ".join(str(i) for i in done.unaddressed)
        typer.echo(f"{len(done.unaddressed)} notification(s) of this case had nobody to go to: "
                   f"`cpts outbox retry ID` for {ids}")
