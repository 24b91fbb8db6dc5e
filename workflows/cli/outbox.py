"""`cpts outbox list|retry|drain` and `cpts scheduler run` (SPEC §10)."""

from __future__ import annotations

from typing import Annotated

import typer

from workflows.cli.apps import outbox_app, scheduler_app
from workflows.cli.common import JsonFlag, print_json, settings, unit_of_work
from workflows.cli.render import printable

# `workflows.services.outbox.STATUSES`, for the help text without importing the application (an e2e test checks
# that they agree).
STATUSES = ("pending", "sending", "sent", "dead", "unaddressed")

FromOption = Annotated[str | None, typer.Option(
    "--from", help="Sender address (default: the URL's sender=, else suivi-cpts@$CPTS_MAIL_DOMAIN).")]


@outbox_app.command("list")
def outbox_list(
    status: Annotated[str | None, typer.Option("--status", help=f"One of {', '.join(STATUSES)}.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=2**31 - 1, help="At most N entries.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Notifications in the outbox, oldest first, with their delivery status."""
    from workflows.read.outbox import outbox_entries

    entries = outbox_entries(unit_of_work(), status=status, limit=limit)
    if as_json:
        print_json([e.as_dict() for e in entries])
        return
    for e in entries:
        error = f"  ({e.last_error})" if e.last_error and e.status != "sent" else ""
        typer.echo(f"{e.id:>6}  {e.status:<11} {e.kind:<8} {e.send_on.isoformat()}  case {e.case or '—':>4}  "
                   f"tries {e.attempts}  {printable(e.subject)}{printable(error)}")
    typer.echo(f"{len(entries)} notification(s)")


@outbox_app.command("retry")
def outbox_retry(
    entry: Annotated[int, typer.Argument(metavar="ID", help="Outbox entry number (`cpts outbox list`).")],
) -> None:
    """Put a notification not yet sent (dead, unaddressed, pending, stuck sending) back in the queue, to the
    case's people as they are now; it goes on the next drain (not before its day)."""
    from datetime import UTC

    from workflows.services.clock import utc_now
    from workflows.services.outbox import retry

    now = utc_now()
    row = retry(unit_of_work(), entry, now)
    at = row.next_attempt_at if row.next_attempt_at.tzinfo else row.next_attempt_at.replace(tzinfo=UTC)
    when = "" if at <= now else f" (not before {row.send_on.isoformat()}, its day at the seat)"
    typer.echo(f"outbox entry {row.id} is pending again{when}: {printable(row.subject)}")


@outbox_app.command("drain")
def outbox_drain(
    sender: FromOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000, help="At most N messages in this pass.")] = 500,
) -> None:
    """Send what is due now, once (for cron-style use); reads CPTS_SMTP_URL."""
    from workflows.scheduler import sender_address, smtp_settings
    from workflows.services.clock import utc_now
    from workflows.services.outbox import drain, smtp_sender

    config = settings()
    smtp = smtp_settings(config.smtp_url)
    report = drain(unit_of_work(config), smtp_sender(smtp), now=utc_now(),
                   from_address=sender_address(smtp, config.mail_domain, sender), limit=limit,
                   max_attempts=config.outbox_max_attempts)
    typer.echo(f"sent {report.sent}, to retry {report.retried}, dead {report.dead}")


@scheduler_app.command("run")
def scheduler_run(
    sweep_minutes: Annotated[float, typer.Option("--sweep-minutes", min=0.01, max=1440,
                                                 help="Sweep period (at most a day).")] = 5,
    outbox_seconds: Annotated[float, typer.Option("--outbox-seconds", min=0.1, max=86_400,
                                                  help="Drain period (at most a day).")] = 30,
    sender: FromOption = None,
) -> None:
    """Sweep, deliver and digest until SIGTERM/SIGINT (reads CPTS_SMTP_URL)."""
    import logging

    from workflows import scheduler

    config = settings()
    smtp = scheduler.smtp_settings(config.smtp_url)  # a bad URL is a one-line error before anything starts
    scheduler.sender_address(smtp, config.mail_domain, sender)
    uow = unit_of_work(config)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler.run(uow, settings=config, smtp_url=config.smtp_url, from_address=sender,
                  sweep_minutes=sweep_minutes, outbox_seconds=outbox_seconds)
