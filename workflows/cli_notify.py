"""`cpts user add`, `cpts case assign`, `cpts outbox …`, `cpts scheduler run`, `cpts calendar export`."""

from __future__ import annotations

import typer


def register(app: typer.Typer, case_app: typer.Typer, calendar_app: typer.Typer) -> None:
    """Add the notification commands to the CLI."""
