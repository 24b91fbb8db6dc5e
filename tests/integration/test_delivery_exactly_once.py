"""Exactly-once notifications, tested for real (SPEC §10): a real SMTP server (aiosmtpd on 127.0.0.1), real
databases, real scheduler processes killed, restarted and run two at a time. Every assertion counts what the
SMTP server received, by Message-ID.

The one duplicate the design allows: a process dying after the server accepted a message but before `sent`
was committed. The message is then sent again, with the same Message-ID, once its claim has timed out.

Cases are built relative to the day they are swept: a CPTS seated in Moselle whose health project was received
~75 days ago (the ARS's opposition window closed: the sweep journals its tacit validation) and whose FIR was
granted ~6 months ago (the 30-day reminder of the follow-up meeting fell 1–5 days ago: within the catch-up
window, it is sent). Each such case owes exactly one system event and one notification.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from apscheduler.events import EVENT_JOB_EXECUTED
from builders import LOOPBACK, free_port, outbox, record
from cli_runner import make_runner
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from lifecycle.calendar import add_months
from notifications.smtp import SmtpSettings
from workflows.persistence.journal import UNKEYED, resign
from workflows.persistence.tables import Case, DeadlineRow, JournalRow, OutboxRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.scheduler import build_scheduler, digest_due_at_start, sweep_job
from workflows.services import create_case, people, sweep
from workflows.services.outbox import CLAIM_TIMEOUT, drain, enqueue_digests, retry, smtp_sender
from workflows.settings import load_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PARIS = ZoneInfo("Europe/Paris")
FROM = "suivi-cpts@ars.example.fr"
ARS, CPAM, CONTACT = "elise.martin@ars.example.fr", "paul.durand@cpam.example.fr", "contact@cpts-metz.example.fr"
TACIT = "health_project_tacitly_validated"
# 10 000 cases (10 000 due deadlines firing a system event, 10 000 e-mails) take ~150 s on 2 cores; the default
# keeps the suite near a minute. CPTS_TEST_BULK_CASES=10000 runs the full-size check.
BULK_CASES = int(os.environ.get("CPTS_TEST_BULK_CASES", "2000"))


# ------------------------------------------------------------------------------------------- SMTP server
@dataclass(frozen=True)
class Received:
    message_id: str
    rcpt_tos: tuple[str, ...]
    subject: str


class Inbox:
    """An aiosmtpd handler that records what it accepts. `mode` makes it refuse (550 on every recipient) or
    defer (451 at DATA); `delay` slows each message; `block_at` = k records the k-th message, then holds the
    reply until `release` is set (the client can be killed meanwhile: accepted, but never told so)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.mode = "accept"
        self.delay = 0.0
        self.block_at: int | None = None
        self.blocked = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.mode == "refuse":
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.mode == "defer":
            return "451 4.3.0 Try again later"
        headers = BytesHeaderParser(policy=default_policy).parsebytes(envelope.content)
        self.received.append(Received(str(headers["Message-ID"]), tuple(envelope.rcpt_tos), str(headers["Subject"])))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.block_at is not None and len(self.received) == self.block_at:
            self.blocked.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return "250 Message accepted for delivery"

    def ids(self) -> Counter[str]:
        return Counter(r.message_id for r in self.received)


@pytest.fixture
def cpts(sqlite_db, monkeypatch, capsys):
    """Run `cpts ARGS…` in-process on the test's SQLite database, as the entry point does."""
    return make_runner(monkeypatch, capsys, url_of(sqlite_db))


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname=LOOPBACK, port=port or free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        inbox.release.set()
        controller.stop()


@pytest.fixture
def server() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as running:
        yield running


def sender_to(port: int):
    return smtp_sender(SmtpSettings.from_url(f"smtp://{LOOPBACK}:{port}"))


# ------------------------------------------------------------------------------------------- cases
def add_referents(engine: Engine) -> None:
    people.add_user(SqlUnitOfWork(engine), "Élise Martin", ARS, "ars", ["44"])
    people.add_user(SqlUnitOfWork(engine), "Paul Durand", CPAM, "cpam", ["57"])


def due_case(engine: Engine, today: date, name: str = "CPTS du Pays Messin", *, assign: bool = True) -> int:
    """A case that, swept on `today`, owes one system event (tacit validation) and one reminder (see top)."""
    fir = next(today - timedelta(days=d) for d in range(150, 220)
               if 25 <= (add_months(today - timedelta(days=d), 6) - today).days <= 29)
    case = create_case(SqlUnitOfWork(engine), name=name, departement="57", population=60_000)
    for days_ago, kind, data in [
        (300, "contact_recorded", {"source": "ars"}), (295, "first_meeting_held", {}), (290, "loi_submitted", {}),
        (280, "loi_decision", {"party": "ars", "decision": "approve"}),
        (279, "loi_decision", {"party": "am", "decision": "approve"}),
    ]:
        record(engine, case.id, today - timedelta(days=days_ago), kind, data)
    record(engine, case.id, fir, "fir_granted", {"amount": "30000.00"})
    record(engine, case.id, today - timedelta(days=75), "health_project_received")
    if assign:
        people.assign(SqlUnitOfWork(engine), case.id, ars_email=ARS, cpam_email=CPAM, contact_name="Dr Anne Roux",
                      contact_email=CONTACT)
    return case.id


def morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 5, 0, tzinfo=UTC)


def paris_today() -> date:
    return datetime.now(PARIS).date()


def statuses(engine: Engine) -> Counter[str]:
    return Counter(r.status for r in outbox(engine))


def system_events_per_case(engine: Engine) -> Counter[int]:
    with Session(engine) as session:
        return Counter(session.exec(select(JournalRow.case_id).where(JournalRow.type == TACIT)))


def notices_sent(engine: Engine) -> int:
    """Reminders and breach notices sent (digests aside: they exist only after 07:00 in Paris)."""
    return sum(1 for r in outbox(engine) if r.kind != "digest" and r.status == "sent")


def wait_until(condition: Callable[[], bool], timeout: float, what: str, logs: Callable[[], str] = str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs()}")


# ------------------------------------------------------------------------------------------- (a) sweep + drain
def test_sweep_then_drain_delivers_each_notice_once_and_a_second_pass_sends_nothing(db, server):
    inbox, port = server
    day = date(2025, 4, 23)
    add_referents(db)
    cases = [due_case(db, day, f"CPTS {i}") for i in range(3)]

    report = sweep(SqlUnitOfWork(db), today=day, now=morning(day))
    first = drain(SqlUnitOfWork(db), sender_to(port), now=morning(day), from_address=FROM)

    assert (report.cases, len(report.system_events), report.notifications) == (3, 3, 3)
    assert (first.sent, first.retried, first.dead) == (3, 0, 0)
    rows = outbox(db)
    assert [(r.case_id, r.kind, r.deadline_key, r.offset_days, r.status) for r in rows] == [
        (c, "reminder", "fir_followup_meeting", 30, "sent") for c in cases]
    assert inbox.ids() == Counter({r.message_id: 1 for r in rows})
    assert {r.rcpt_tos for r in inbox.received} == {(ARS, CPAM, CONTACT)}

    again = sweep(SqlUnitOfWork(db), today=day, now=morning(day) + timedelta(hours=1))
    later = drain(SqlUnitOfWork(db), sender_to(port), now=morning(day) + timedelta(hours=1), from_address=FROM)

    assert (again.notifications, len(again.system_events), later.sent) == (0, 0, 0)
    assert len(inbox.received) == 3
    assert system_events_per_case(db) == Counter({c: 1 for c in cases})


def test_a_referents_digest_is_enqueued_once_a_day_and_delivered_once(sqlite_db, server):
    inbox, port = server
    day = date(2025, 4, 23)
    add_referents(sqlite_db)
    due_case(sqlite_db, day)
    sweep(SqlUnitOfWork(sqlite_db), today=day, now=morning(day))

    written = [enqueue_digests(SqlUnitOfWork(sqlite_db), day, morning(day)) for _ in range(2)]
    drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=morning(day), from_address=FROM)

    assert written == [2, 0]  # one per referent (ARS, CPAM); the second call finds them there
    digests = [r for r in outbox(sqlite_db) if r.kind == "digest"]
    assert sorted(json_emails(r) for r in digests) == [[ARS], [CPAM]]
    assert all(inbox.ids()[r.message_id] == 1 for r in digests)


def json_emails(row: OutboxRow) -> list[str]:
    return [r["email"] for r in json.loads(row.recipients)]


# ------------------------------------------------------------------------------------------- (b) server failures
def test_with_the_smtp_server_down_notices_wait_with_backoff_and_go_out_once_when_it_is_back(sqlite_db):
    day = date(2025, 4, 23)
    t0 = morning(day)
    add_referents(sqlite_db)
    for i in range(3):
        due_case(sqlite_db, day, f"CPTS {i}")
    sweep(SqlUnitOfWork(sqlite_db), today=day, now=t0)
    port = free_port()  # nothing listens there yet

    down = drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=t0, from_address=FROM)
    rows = outbox(sqlite_db)
    too_soon = drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=t0 + timedelta(seconds=30), from_address=FROM)

    assert (down.sent, down.retried, down.dead) == (0, 3, 0)
    assert {(r.status, r.attempts) for r in rows} == {("pending", 1)}
    assert all(r.next_attempt_at.replace(tzinfo=UTC) == t0 + timedelta(minutes=1) for r in rows)
    assert all("(connect)" in r.last_error for r in rows)
    assert (too_soon.sent, too_soon.retried) == (0, 0)  # the backoff holds them back

    with smtp_server(port) as (inbox, _):
        back = drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=t0 + timedelta(minutes=1), from_address=FROM)
        after = drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=t0 + timedelta(minutes=5), from_address=FROM)

    assert (back.sent, after.sent) == (3, 0)
    assert statuses(sqlite_db) == Counter(sent=3)
    assert inbox.ids() == Counter({r.message_id: 1 for r in rows})
    assert {r.attempts for r in outbox(sqlite_db)} == {2}


def test_an_smtp_outage_of_eighteen_hours_delays_a_notice_without_making_it_dead(sqlite_db, monkeypatch):
    day = date(2025, 4, 23)
    t0 = morning(day)
    add_referents(sqlite_db)
    due_case(sqlite_db, day)
    sweep(SqlUnitOfWork(sqlite_db), today=day, now=t0)
    port = free_port()  # nothing listens there: every attempt fails to connect

    now = t0
    while now < t0 + timedelta(hours=18):
        drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=now, from_address=FROM)
        [row] = [r for r in outbox(sqlite_db) if r.kind == "reminder"]
        assert row.status == "pending", f"dead after {now - t0} and {row.attempts} attempts"
        now = row.next_attempt_at.replace(tzinfo=UTC)

    with smtp_server(port) as (inbox, _):
        drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=now, from_address=FROM)
    assert inbox.ids() == Counter({row.message_id: 1})


def test_a_550_refusal_makes_the_notice_dead_at_once_and_retry_delivers_it_once(sqlite_db, server, cpts):
    inbox, port = server
    day = date(2025, 4, 23)
    add_referents(sqlite_db)
    due_case(sqlite_db, day)
    sweep(SqlUnitOfWork(sqlite_db), today=day, now=morning(day))
    inbox.mode = "refuse"

    report = drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=morning(day), from_address=FROM)
    listed = cpts("outbox", "list", "--status", "dead", "--json")

    assert (report.sent, report.dead) == (0, 1)
    assert listed.code == 0
    [dead] = listed.json()
    assert dead["status"] == "dead" and dead["attempts"] == 1 and "550" in dead["last_error"]
    assert inbox.received == []

    inbox.mode = "accept"
    retried = cpts("outbox", "retry", str(dead["id"]))  # queued again as of the wall clock
    delivered = drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=datetime.now(UTC), from_address=FROM)

    assert retried.code == 0 and f"outbox entry {dead['id']} is pending again" in retried.out
    assert delivered.sent == 1
    assert inbox.ids() == Counter({dead["message_id"]: 1})


def test_after_n_temporary_failures_a_notice_is_dead_and_retry_delivers_it_once(sqlite_db, server):
    inbox, port = server
    max_attempts = load_settings({"CPTS_OUTBOX_MAX_ATTEMPTS": "3"}).outbox_max_attempts
    day = date(2025, 4, 23)
    t = morning(day)
    add_referents(sqlite_db)
    due_case(sqlite_db, day)
    sweep(SqlUnitOfWork(sqlite_db), today=day, now=t)
    inbox.mode = "defer"

    history = []
    for minutes in (0, 1, 3):  # each attempt once its backoff (1, 2 minutes) has passed
        report = drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=t + timedelta(minutes=minutes),
                       from_address=FROM, max_attempts=max_attempts)
        [row] = outbox(sqlite_db)
        history.append((report.retried, report.dead, row.status, row.attempts))

    assert history == [(1, 0, "pending", 1), (1, 0, "pending", 2), (0, 1, "dead", 3)]
    assert "451" in row.last_error and inbox.received == []

    inbox.mode = "accept"
    retry(SqlUnitOfWork(sqlite_db), row.id, t + timedelta(minutes=10))
    report = drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=t + timedelta(minutes=10), from_address=FROM)

    assert report.sent == 1 and inbox.ids() == Counter({row.message_id: 1})


# ------------------------------------------------------------------------------------------- (d) missed ticks
def opposition_case(engine: Engine) -> int:
    """Health project received Tue 18 Feb 2025 in Moselle: the opposition window closes Tue 22 Apr 2025
    (Good Friday and Easter Monday are holidays there); reminders fall on 23 Mar, 15 Apr and 21 Apr."""
    case = create_case(SqlUnitOfWork(engine), name="CPTS du Pays Messin", departement="57", population=60_000)
    for at, kind, data in [
        ("2024-09-02", "contact_recorded", {"source": "ars"}), ("2024-09-09", "first_meeting_held", {}),
        ("2024-10-07", "loi_submitted", {}), ("2024-11-04", "loi_decision", {"party": "ars", "decision": "approve"}),
        ("2024-11-12", "loi_decision", {"party": "am", "decision": "approve"}),
        ("2025-02-18", "health_project_received", {}),
    ]:
        record(engine, case.id, date.fromisoformat(at), kind, data)
    people.assign(SqlUnitOfWork(engine), case.id, ars_email=ARS, cpam_email=CPAM)
    return case.id


def test_missed_ticks_catch_up_on_the_next_sweep_within_the_window_without_duplicates(db, server):
    inbox, port = server
    add_referents(db)
    case_id = opposition_case(db)
    sent: dict[str, int] = {}
    # The machine sleeps between these days; some days it is swept twice (restart).
    for day in ("2025-03-22", "2025-03-25", "2025-03-25", "2025-04-17", "2025-04-23", "2025-04-23"):
        d = date.fromisoformat(day)
        sweep(SqlUnitOfWork(db), today=d, now=morning(d))
        sent[day] = sent.get(day, 0) + drain(SqlUnitOfWork(db), sender_to(port), now=morning(d), from_address=FROM).sent

    rows = outbox(db)
    assert [(r.kind, r.offset_days, r.send_on.isoformat()) for r in rows] == [
        ("reminder", 30, "2025-03-23"),  # sent on the 25th: two days late, within the 7-day window
        ("reminder", 7, "2025-04-15"),  # sent on the 17th; the 30-day one is not sent again
    ]
    assert sent == {"2025-03-22": 0, "2025-03-25": 1, "2025-04-17": 1, "2025-04-23": 0}
    assert inbox.ids() == Counter({r.message_id: 1 for r in rows})
    with Session(db) as session:
        fired = session.exec(select(JournalRow.at).where(JournalRow.case_id == case_id, JournalRow.type == TACIT))
        assert [d.isoformat() for d in fired] == ["2025-04-22"]  # once, dated the window's last day


def test_a_notice_more_than_seven_days_late_is_skipped_and_the_next_one_still_goes(sqlite_db, server):
    inbox, port = server
    add_referents(sqlite_db)
    opposition_case(sqlite_db)

    for day in ("2025-03-22", "2025-04-02", "2025-04-16"):  # asleep from 22 Mar to 2 Apr (30-day reminder: 23 Mar)
        d = date.fromisoformat(day)
        sweep(SqlUnitOfWork(sqlite_db), today=d, now=morning(d))
        drain(SqlUnitOfWork(sqlite_db), sender_to(port), now=morning(d), from_address=FROM)

    assert [(r.offset_days, r.send_on.isoformat()) for r in outbox(sqlite_db)] == [(7, "2025-04-15")]
    assert len(inbox.received) == 1


# ------------------------------------------------------------------------------------------- scheduler wiring
def test_the_scheduler_sweeps_at_start_coalesces_missed_ticks_and_digests_at_seven_paris_time(sqlite_db):
    before_seven = datetime(2025, 1, 15, 5, 59, tzinfo=UTC)  # 06:59 in Paris (UTC+1 in winter)
    after_seven = datetime(2025, 7, 15, 5, 0, tzinfo=UTC)  # 07:00 in Paris (UTC+2 in summer)

    early = build_scheduler(SqlUnitOfWork(sqlite_db), sender=lambda m: None, blocking=False, now=before_seven)
    late = build_scheduler(SqlUnitOfWork(sqlite_db), sender=lambda m: None, blocking=False, now=after_seven)

    jobs = {job.id: job for job in early.get_jobs()}
    assert set(jobs) == {"sweep", "outbox", "digest"}
    assert {"digest-catch-up"} == {job.id for job in late.get_jobs()} - set(jobs)
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)
    assert jobs["sweep"].next_run_time == before_seven  # once at start, then every interval
    cron = jobs["digest"].trigger
    assert str(cron.timezone) == "Europe/Paris" and "hour='7'" in str(cron) and "minute='0'" in str(cron)
    assert (digest_due_at_start(before_seven), digest_due_at_start(after_seven)) == (False, True)


def test_an_in_process_scheduler_delivers_each_notice_once(sqlite_db, server):
    inbox, port = server
    add_referents(sqlite_db)
    for i in range(3):
        due_case(sqlite_db, paris_today(), f"CPTS {i}")
    scheduler = build_scheduler(SqlUnitOfWork(sqlite_db), smtp_url=f"smtp://{LOOPBACK}:{port}", from_address=FROM,
                                outbox_seconds=0.2, blocking=False)
    scheduler.start()
    try:
        wait_until(lambda: notices_sent(sqlite_db) == 3, 30, "the three notices to be sent")
    finally:
        scheduler.shutdown(wait=True)

    # After 07:00 in Paris the start-up digests are in the outbox too; whatever was sent arrived once.
    assert inbox.ids() == Counter({r.message_id: 1 for r in outbox(sqlite_db) if r.status == "sent"})


def test_a_case_that_cannot_be_swept_does_not_hold_back_the_others_and_is_retried_at_the_next_tick(
        sqlite_db, caplog):
    add_referents(sqlite_db)
    cases = [due_case(sqlite_db, paris_today(), f"CPTS {i}") for i in range(3)]

    class HiccupOnOneCase(SqlUnitOfWork):
        def __enter__(self):
            uow = super().__enter__()
            real_lock = uow.cases.lock_for_sweep

            def lock_for_sweep(case_id):
                if case_id == cases[1]:
                    raise RuntimeError("database hiccup")
                return real_lock(case_id)

            uow.cases.lock_for_sweep = lock_for_sweep
            return uow

    sweep_job(HiccupOnOneCase(sqlite_db))
    swept_first = system_events_per_case(sqlite_db)
    sweep_job(SqlUnitOfWork(sqlite_db))

    assert swept_first == Counter({cases[0]: 1, cases[2]: 1})
    assert f"sweep: case {cases[1]} failed; it is retried at the next tick" in caplog.text
    assert system_events_per_case(sqlite_db) == Counter({c: 1 for c in cases})
    assert sorted(r.case_id for r in outbox(sqlite_db)) == cases


def test_a_scheduler_started_after_seven_in_paris_sends_todays_digests_once_even_when_restarted(
        sqlite_db, server, monkeypatch):
    inbox, port = server
    add_referents(sqlite_db)
    due_case(sqlite_db, paris_today())
    monkeypatch.setattr("workflows.scheduler.digest_due_at_start", lambda now: True)

    def digests_sent() -> int:
        return sum(1 for r in outbox(sqlite_db) if r.kind == "digest" and r.status == "sent")

    def start_and_stop() -> None:
        scheduler = build_scheduler(SqlUnitOfWork(sqlite_db), smtp_url=f"smtp://{LOOPBACK}:{port}", from_address=FROM,
                                    outbox_seconds=0.2, blocking=False)
        caught_up = threading.Event()
        scheduler.add_listener(lambda event: event.job_id == "digest-catch-up" and caught_up.set(), EVENT_JOB_EXECUTED)
        scheduler.start()
        try:
            wait_until(lambda: caught_up.is_set() and digests_sent() == 2 and notices_sent(sqlite_db) == 1, 30,
                       "the start-up digest catch-up to run and the digests to be sent")
        finally:
            scheduler.shutdown(wait=True)

    start_and_stop()
    start_and_stop()  # a restart the same day

    digests = [r for r in outbox(sqlite_db) if r.kind == "digest"]
    assert sorted(json_emails(r)[0] for r in digests) == [ARS, CPAM]
    assert all(r.send_on == paris_today() for r in digests)
    assert inbox.ids() == Counter({r.message_id: 1 for r in outbox(sqlite_db)})


# ------------------------------------------------------------------------------------------- (c) processes
@dataclass
class SchedulerProcess:
    process: subprocess.Popen
    log: Path

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def scheduler_process(database_url: str, smtp_port: int, log: Path, *,
                      outbox_seconds: float = 0.3) -> Iterator[SchedulerProcess]:
    """`cpts scheduler run` in its own process, as an operator starts it; always killed at the end."""
    env = {**os.environ, "CPTS_DATABASE_URL": database_url, "CPTS_SMTP_URL": f"smtp://{LOOPBACK}:{smtp_port}",
           "CPTS_MAIL_DOMAIN": "ars.example.fr", "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", "from workflows.cli import main; main()", "scheduler", "run",
             "--sweep-minutes", "60", "--outbox-seconds", str(outbox_seconds), "--from", FROM],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        yield SchedulerProcess(process, log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_a_scheduler_killed_mid_delivery_and_restarted_loses_nothing_and_resends_only_with_the_same_message_id(
        sqlite_db, server, tmp_path):
    inbox, port = server
    add_referents(sqlite_db)
    cases = [due_case(sqlite_db, paris_today(), f"CPTS {i}") for i in range(8)]
    inbox.block_at = 3  # the third message is accepted, then the reply is held: the sender is killed meanwhile

    with scheduler_process(url_of(sqlite_db), port, tmp_path / "first.log") as first:
        wait_until(inbox.blocked.is_set, 60, "the third message to reach the server", first.logs)
        first.process.send_signal(signal.SIGKILL)
        assert first.process.wait(timeout=10) == -signal.SIGKILL
    inbox.release.set()

    in_doubt = [r for r in outbox(sqlite_db) if r.status == "sending"]
    assert [r.message_id for r in in_doubt] == [inbox.received[2].message_id]
    assert statuses(sqlite_db)["sent"] == 2
    # Time passes: the dead process's claim expires (CLAIM_TIMEOUT), so the row may be taken again.
    with Session(sqlite_db) as session, session.begin():
        row = session.get(OutboxRow, in_doubt[0].id)
        row.claimed_at = datetime.now(UTC) - CLAIM_TIMEOUT - timedelta(seconds=1)

    with scheduler_process(url_of(sqlite_db), port, tmp_path / "second.log") as second:
        wait_until(lambda: notices_sent(sqlite_db) == len(cases), 60, "every notice to be sent", second.logs)
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=15) == 0, second.logs()

    rows = outbox(sqlite_db)
    notices = [r for r in rows if r.kind != "digest"]
    assert sorted(r.case_id for r in notices) == cases  # one notice per case, enqueued once across the restart
    received = inbox.ids()
    assert {r.message_id for r in notices} <= set(received)  # none lost
    assert set(received) == {r.message_id for r in rows if r.status == "sent"}  # and nothing sent unrecorded
    assert {m: n for m, n in received.items() if n > 1} == {in_doubt[0].message_id: 2}  # the one in doubt only
    assert system_events_per_case(sqlite_db) == Counter({c: 1 for c in cases})


def test_sigterm_stops_the_scheduler_cleanly_with_exit_code_zero_and_nothing_left_in_doubt(
        sqlite_db, server, tmp_path):
    inbox, port = server
    add_referents(sqlite_db)
    for i in range(6):
        due_case(sqlite_db, paris_today(), f"CPTS {i}")
    inbox.delay = 0.4

    with scheduler_process(url_of(sqlite_db), port, tmp_path / "scheduler.log") as running:
        wait_until(lambda: len(inbox.received) >= 1, 60, "a first message", running.logs)
        running.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = running.process.wait(timeout=15)
        elapsed = time.monotonic() - started

    assert code == 0, running.logs()
    assert elapsed < 5
    assert "SIGTERM received" in running.logs() and "scheduler stopped" in running.logs()
    rows = outbox(sqlite_db)
    assert "sending" not in {r.status for r in rows}  # the message in flight was finished and recorded
    sent = {r.message_id for r in rows if r.status == "sent"}
    assert sent and inbox.ids() == Counter({m: 1 for m in sent})


# ------------------------------------------------------------------------------------------- (e) two schedulers
def clone_case(engine: Engine, proto: int, copies: int) -> list[int]:
    """`copies` clones of case `proto` in three INSERT … SELECT: same journal (its hash chain is not re-computed:
    the sweep only chains onto its last hash), same deadlines, same referents."""
    tables = {"cases": Case.__table__, "journal": JournalRow.__table__, "deadlines": DeadlineRow.__table__}

    def columns(name: str, overrides: dict[str, str]) -> tuple[str, str]:
        names = [c.name for c in tables[name].columns if c.name != "id" or "id" in overrides]
        # Quoted: `overlaps` is a reserved word in PostgreSQL.
        return ", ".join(f'"{n}"' for n in names), ", ".join(overrides.get(n, f't."{n}"') for n in names)

    with engine.begin() as connection:
        target, source = columns("cases", {"id": "t.id + g", "name": "t.name || ' #' || g"})
        connection.execute(text(f"INSERT INTO cases ({target}) SELECT {source} FROM cases t "
                                "CROSS JOIN generate_series(1, :n) AS g WHERE t.id = :proto"),
                           {"n": copies, "proto": proto})
        connection.execute(text("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))"))
        for name in ("journal", "deadlines"):
            target, source = columns(name, {"case_id": "t.case_id + g"})
            connection.execute(text(f"INSERT INTO {name} ({target}) SELECT {source} FROM {name} t "
                                    "CROSS JOIN generate_series(1, :n) AS g WHERE t.case_id = :proto"),
                               {"n": copies, "proto": proto})
    clones = [proto + g for g in range(1, copies + 1)]
    _sign(engine, clones)
    return [proto, *clones]


def _sign(engine: Engine, case_ids: list[int]) -> None:
    """Sign each clone's journal as its own (a copied chain names the prototype: the engine would refuse it)."""
    with Session(engine) as session:
        cases = {c.id: c for c in session.exec(select(Case).where(col(Case.id).in_(case_ids)))}
        journals: dict[int, list[JournalRow]] = {case_id: [] for case_id in case_ids}
        for row in session.exec(select(JournalRow).where(col(JournalRow.case_id).in_(case_ids))
                                .order_by(JournalRow.case_id, JournalRow.seq)):
            journals[row.case_id].append(row)
    rows, heads = [], []
    for case_id, journal in journals.items():
        head, signed = resign(cases[case_id], journal, UNKEYED)
        rows += [{"i": row_id, "p": prev_hash, "h": digest} for row_id, prev_hash, digest in signed]
        heads.append({"c": case_id, "h": head})
    with engine.begin() as connection:
        connection.execute(text("UPDATE journal SET prev_hash = :p, hash = :h WHERE id = :i"), rows)
        connection.execute(text("UPDATE cases SET journal_head = :h WHERE id = :c"), heads)


@pytest.mark.postgres
def test_two_schedulers_on_one_postgresql_database_sweep_thousands_of_due_deadlines_exactly_once(
        postgres_db, server, tmp_path):
    inbox, port = server
    add_referents(postgres_db)
    started = time.monotonic()
    proto = due_case(postgres_db, paris_today())
    cases = clone_case(postgres_db, proto, BULK_CASES - 1)
    setup = time.monotonic() - started

    with scheduler_process(url_of(postgres_db), port, tmp_path / "a.log", outbox_seconds=0.5) as a, \
            scheduler_process(url_of(postgres_db), port, tmp_path / "b.log", outbox_seconds=0.5) as b:
        def logs() -> str:
            return f"--- a\n{a.logs()[-3000:]}\n--- b\n{b.logs()[-3000:]}\n{statuses(postgres_db)}"

        def done() -> bool:
            with postgres_db.connect() as connection:
                notices, unsent = connection.execute(text(
                    "SELECT count(*) FILTER (WHERE kind <> 'digest'), count(*) FILTER (WHERE status <> 'sent') "
                    "FROM outbox")).one()
            return notices == BULK_CASES and unsent == 0

        wait_until(done, 600, f"{BULK_CASES} notices to be enqueued and sent", logs)
        elapsed = time.monotonic() - started - setup
        for running in (a, b):
            running.process.send_signal(signal.SIGTERM)
        assert (a.process.wait(timeout=30), b.process.wait(timeout=30)) == (0, 0), logs()

    with postgres_db.connect() as connection:
        per_key = connection.execute(text(
            "SELECT count(*), count(DISTINCT (case_id, deadline_key, due, kind, offset_days)) "
            "FROM outbox WHERE kind <> 'digest'")).one()
        fired = connection.execute(text(
            f"SELECT count(*), count(DISTINCT case_id) FROM journal WHERE type = '{TACIT}'")).one()
        ids = [r[0] for r in connection.execute(text("SELECT message_id FROM outbox"))]
        journals = Counter(n for (n,) in connection.execute(text("SELECT count(*) FROM journal GROUP BY case_id")))
    received = inbox.ids()
    print(f"\n{BULK_CASES} cases: set-up {setup:.1f} s, two schedulers swept and delivered in {elapsed:.1f} s; "
          f"sent by a: {sent_in(a.logs())}, by b: {sent_in(b.logs())}")

    assert tuple(per_key) == (BULK_CASES, BULK_CASES)  # one notice per (case, deadline, due, kind, offset)
    assert tuple(fired) == (BULK_CASES, BULK_CASES)  # one tacit validation per case, never two
    assert journals == Counter({8: BULK_CASES})  # 7 recorded events + 1 system event in every journal
    assert set(received) == set(ids) and len(ids) == len(set(ids))  # none lost
    assert max(received.values()) == 1  # nobody died between acceptance and commit: no duplicate at all
    assert len(cases) == BULK_CASES


def sent_in(log: str) -> int:
    return sum(int(line.split("outbox: ")[1].split(" sent")[0]) for line in log.splitlines() if "outbox: " in line)
