"""`cpts web`: serve the web application (uvicorn) on the configured database."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from workflows.cli.apps import app
from workflows.cli.common import fail, settings, unit_of_work

if TYPE_CHECKING:
    from workflows.settings import Settings

HostOption = Annotated[str, typer.Option("--host", help="Address to listen on (0.0.0.0: every interface).")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")]


@app.command("web")
def web_command(host: HostOption = "127.0.0.1", port: PortOption = 8000) -> None:
    """Serve the dashboard (sign-in, À traiter, portefeuille, fiches CPTS) until Ctrl-C."""
    config = settings()
    serve(config, host, port)


def serve(config: Settings, host: str, port: int, *, banner: list[str] | None = None) -> None:
    """Start uvicorn on the application; `banner` lines are printed once it is about to listen."""
    import socket

    import uvicorn

    from dashboard.app import create_app

    if config.web_secret is not None and len(config.web_secret) < 32:
        fail("CPTS_WEB_SECRET is too short to sign sessions: give at least 32 characters, e.g. "
             "python3 -c 'import secrets; print(secrets.token_hex(32))'")
    application = create_app(config, uow=unit_of_work(config))
    try:  # a port already taken is the user's to fix: one line, not uvicorn's traceback
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port} ({exc.strerror}): choose another --port or --host")
    shown = f"[{host}]" if ":" in host else host
    for line in [f"dashboard: http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else shown}:{port}/",
                 *(banner or []), "stop it with Ctrl-C"]:
        typer.echo(line)
    uvicorn.run(application, host=host, port=port, log_level="warning", proxy_headers=False)
