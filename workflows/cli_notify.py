"""`cpts user add`, `cpts case assign`, `cpts outbox …`, `cpts scheduler run`, `cpts calendar export`."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from lifecycle.errors import DomainError
from notifications.explain import explain_fr
from notifications.ics import CalendarItem, export_calendar
from notifications.outbox import STATUSES, drain, retry, smtp_sender
from notifications.smtp import SMTP_URL_ENV
from workflows import engine as services
from workflows import people
from workflows.cli_common import JsonFlag, print_json
from workflows.db import open_engine
from workflows.tables import Case, DeadlineRow, OutboxRow

FromOption = Annotated[str | None, typer.Option(
    "--from", help="Sender address (default: the URL's sender=, else suivi-cpts@$CPTS_MAIL_DOMAIN).")]


# ------------------------------------------------------------------------------------------- services
def outbox_rows(engine: Engine, *, status: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise DomainError(f"unknown outbox status {status!r}: expected one of {', '.join(STATUSES)}")
    with Session(engine) as session:
        query = select(OutboxRow).order_by(OutboxRow.id)
        if status is not None:
            query = query.where(OutboxRow.status == status)
        if limit is not None:
            query = query.limit(limit)
        return [_outbox_dict(r) for r in session.exec(query)]


def _outbox_dict(row: OutboxRow) -> dict[str, Any]:
    def stamp(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": row.id, "status": row.status, "kind": row.kind, "case": row.case_id, "deadline": row.deadline_key,
        "due": row.due.isoformat() if row.due else None, "offset_days": row.offset_days,
        "send_on": row.send_on.isoformat(), "roles": json.loads(row.roles),
        "recipients": [r["email"] for r in json.loads(row.recipients)], "subject": row.subject,
        "message_id": row.message_id, "attempts": row.attempts, "next_attempt_at": stamp(row.next_attempt_at),
        "last_error": row.last_error, "sent_at": stamp(row.sent_at),
    }


def calendar_feed(engine: Engine, *, referent: str | None = None, now: datetime | None = None) -> bytes:
    """RFC 5545 calendar of the pending deadlines of the cases `referent` follows (every case without one)."""
    now = now or services.utc_now()
    items: list[CalendarItem] = []
    with Session(engine) as session:
        legal_only = False
        case_ids: list[int] | None = None
        if referent is not None:
            user = people.get_user(engine, referent)
            case_ids = people.followed_case_ids(session, user)
            legal_only = user.role == "legal"
        query = select(DeadlineRow.case_id).where(DeadlineRow.status == "pending").distinct()
        if case_ids is not None:
            query = query.where(col(DeadlineRow.case_id).in_(case_ids))
        for case_id in sorted(session.exec(query)):
            case = session.get(Case, case_id)
            rules = services.ruleset_for(case)
            # The projection is the truth (and explain_fr needs its deadlines): rebuilt as of the seat's today.
            projection = services.project_case(session, case, services.local_today(case, now))
            for deadline in projection.deadlines:
                if deadline.status != "pending" or (legal_only and "legal" not in deadline.recipients):
                    continue
                items.append(CalendarItem(
                    case_id=str(case.id), case_name=case.name, anchor_key=deadline.ident, label=deadline.label,
                    due=deadline.due, explanation=explain_fr(deadline), offsets=rules.reminder_offsets,
                    # The case's version only grows: a re-import updates the events of a case that changed.
                    sequence=case.version,
                ))
    name = f"Échéances CPTS — {referent}" if referent else "Échéances CPTS"
    return export_calendar(items, stamp=now, name=name)


# ------------------------------------------------------------------------------------------- commands
def register(app: typer.Typer, case_app: typer.Typer, calendar_app: typer.Typer) -> None:
    """Add the notification commands to the CLI."""
    user_app = typer.Typer(help="Users: ARS and CPAM agents, legal and national staff, administrators (SPEC §2).",
                           no_args_is_help=True)
    outbox_app = typer.Typer(help="Notifications waiting to be sent, sent, or dead (SPEC §10).",
                             no_args_is_help=True)
    scheduler_app = typer.Typer(help="The scheduler: sweep, outbox delivery, daily digest.", no_args_is_help=True)
    app.add_typer(user_app, name="user")
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(scheduler_app, name="scheduler")

    @user_app.command("add")
    def user_add(
        name: Annotated[str, typer.Option("--name", help="Full name.")],
        email: Annotated[str, typer.Option("--email", help="E-mail address (identifies the user).")],
        role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(people.ROLES)}.")],
        scope: Annotated[list[str] | None, typer.Option(
            "--scope", help="Région codes (ars) or département codes (cpam, legal), comma-separated or "
                            "repeated; none for national and admin.")] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Register a user with their role and territory."""
        user = people.add_user(open_engine(), name, email, role, scope or [])
        if as_json:
            print_json(people.user_dict(user))
            return
        where = ", ".join(json.loads(user.scope)) or "everywhere"
        typer.echo(f"user {user.id} added: {user.name} <{user.email}>, {user.role} ({where})")

    @user_app.command("list")
    def user_list(
        role: Annotated[str | None, typer.Option("--role", help="Only users with this role.")] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Every user, by role."""
        users = people.list_users(open_engine(), role=role)
        if as_json:
            print_json([people.user_dict(u) for u in users])
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
        done = people.assign(open_engine(), case_id, ars_email=ars, cpam_email=cpam, contact_name=contact_name,
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

    @outbox_app.command("list")
    def outbox_list(
        status: Annotated[str | None, typer.Option("--status", help=f"One of {', '.join(STATUSES)}.")] = None,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N entries.")] = None,
        as_json: JsonFlag = False,
    ) -> None:
        """Notifications in the outbox, oldest first, with their delivery status."""
        rows = outbox_rows(open_engine(), status=status, limit=limit)
        if as_json:
            print_json(rows)
            return
        for r in rows:
            error = f"  ({r['last_error']})" if r["last_error"] and r["status"] != "sent" else ""
            typer.echo(f"{r['id']:>6}  {r['status']:<11} {r['kind']:<8} {r['send_on']}  case {r['case'] or '—':>4}  "
                       f"tries {r['attempts']}  {r['subject']}{error}")
        typer.echo(f"{len(rows)} notification(s)")

    @outbox_app.command("retry")
    def outbox_retry(
        entry: Annotated[int, typer.Argument(metavar="ID", help="Outbox entry number (`cpts outbox list`).")],
    ) -> None:
        """Put a dead or unaddressed notification back in the queue (sent on the next drain)."""
        row = retry(open_engine(), entry, services.utc_now())
        typer.echo(f"outbox entry {row.id} is pending again: {row.subject}")

    @outbox_app.command("drain")
    def outbox_drain(
        sender: FromOption = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="At most N messages in this pass.")] = 500,
    ) -> None:
        """Send what is due now, once (for cron-style use); reads CPTS_SMTP_URL."""
        from workflows.scheduler import sender_address, smtp_settings

        settings = smtp_settings(os.environ.get(SMTP_URL_ENV))
        report = drain(open_engine(), smtp_sender(settings), now=services.utc_now(),
                       from_address=sender_address(settings, sender), limit=limit)
        typer.echo(f"sent {report.sent}, to retry {report.retried}, dead {report.dead}")

    @scheduler_app.command("run")
    def scheduler_run(
        sweep_minutes: Annotated[float, typer.Option("--sweep-minutes", min=0.01, help="Sweep period.")] = 5,
        outbox_seconds: Annotated[float, typer.Option("--outbox-seconds", min=0.1, help="Drain period.")] = 30,
        sender: FromOption = None,
    ) -> None:
        """Sweep, deliver and digest until SIGTERM/SIGINT (reads CPTS_SMTP_URL)."""
        import logging

        from workflows import scheduler

        url = os.environ.get(SMTP_URL_ENV)
        settings = scheduler.smtp_settings(url)  # a bad URL is a one-line error before anything starts
        scheduler.sender_address(settings, sender)
        engine = open_engine()
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler.run(engine, smtp_url=url, from_address=sender, sweep_minutes=sweep_minutes,
                      outbox_seconds=outbox_seconds)

    @calendar_app.command("export")
    def calendar_export(
        referent: Annotated[str | None, typer.Option(
            "--referent", help="E-mail of a user: only the cases they follow (default: every case).")] = None,
        output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE (default stdout).")] = None,
    ) -> None:
        """iCalendar (RFC 5545) of the pending deadlines, with reminders; stable UIDs (re-import updates)."""
        data = calendar_feed(open_engine(), referent=referent)
        if output is None:
            typer.echo(data, nl=False)
            return
        output.write_bytes(data)
        typer.echo(f"wrote {output}", err=True)
