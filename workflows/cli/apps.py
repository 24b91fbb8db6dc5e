"""The `cpts` command tree: the root and its command groups (each command module adds its commands)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

app = typer.Typer(help="cpts-lifecycle: steer CPTS from first contact to contract end (ARS/CPAM binômes, "
                       "legal staff).", no_args_is_help=True, add_completion=False)
calendar_app = typer.Typer(help="Legal calendar: periods, roll-over, explanations (SPEC §6).", no_args_is_help=True)
territory_app = typer.Typer(help="Territory: communes, population, size (SPEC §3).", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
case_app = typer.Typer(help="CPTS cases: create, record events, show, list, verify.", no_args_is_help=True)
user_app = typer.Typer(help="Users: ARS and CPAM agents, legal and national staff, administrators (SPEC §2).",
                       no_args_is_help=True)
outbox_app = typer.Typer(help="Notifications waiting to be sent, sent, or dead (SPEC §10).", no_args_is_help=True)
scheduler_app = typer.Typer(help="The scheduler: sweep, outbox delivery, daily digest.", no_args_is_help=True)
ruleset_app = typer.Typer(help="Rulesets: the versions of the accord, their values, sources and what is à confirmer.",
                          no_args_is_help=True)

from workflows.cli.legal import legal_app  # noqa: E402 - its commands live with it (`cpts legal docket`)

for group, name in ((calendar_app, "calendar"), (territory_app, "territory"), (db_app, "db"), (case_app, "case"),
                    (user_app, "user"), (outbox_app, "outbox"), (scheduler_app, "scheduler"), (legal_app, "legal"),
                    (ruleset_app, "ruleset")):
    app.add_typer(group, name=name)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"cpts-lifecycle {version('cpts-lifecycle')}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                           help="Print the version and exit.")] = False,
) -> None:
    pass


def command_tree() -> Any:
    """The click command of `app`, its help tidied: flags (`--json`, `--help`…) show no `<bool>` type."""
    root = typer.main.get_command(app)
    stack = [root]
    while stack:
        command = stack.pop()
        help_option = command.get_help_option(typer.Context(command))
        for param in [*command.params, *([help_option] if help_option is not None else [])]:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        stack.extend(getattr(command, "commands", {}).values())
    return root
