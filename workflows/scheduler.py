"""`cpts scheduler run`: APScheduler 3 wiring of the sweep, the outbox drain and the referents' daily digest.

The scheduler holds no state of its own: timers are deadline rows, notifications are outbox rows, and every
job reads the tables and writes them in its own transactions. Hence:

- a tick missed while the machine slept or the process was down is caught up by the next sweep (each case is
  swept up to its own local today; notices are still sent up to the ruleset's catch-up window late), and the
  outbox's unique keys make a repeated tick, a restart or a second scheduler a no-op;
- the sweep runs at start-up and then every `sweep_minutes` (coalesced, one instance at a time, never skipped
  as "misfired"); the drain every `outbox_seconds`; the digest at 07:00 Europe/Paris, and at start-up when it
  is already past 07:00 there (one digest per referent and day: a restart does not send it twice);
- SIGTERM / SIGINT stop the scheduler cleanly: no new job starts, the sweep stops between chunks of cases and
  the drain between small batches of messages (each message it sent is recorded `sent` first), and the process
  exits 0 once the running jobs are done. What is left is done by the next run.

On SQLite (one writer at a time) every job runs on one worker thread; on PostgreSQL the drain has its own, so
a slow SMTP server never delays the sweep. Several schedulers may share one PostgreSQL database: cases are
locked while swept (FOR UPDATE SKIP LOCKED), each scheduler takes the chunks of due cases in its own random
order, and outbox rows are claimed before they are sent.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time as _time
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from lifecycle.errors import DomainError
from notifications.smtp import SmtpSettings
from workflows.persistence.errors import DuplicateKey
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.clock import latest_local_date, utc_now
from workflows.services.outbox import Sender, drain, enqueue_digests, smtp_sender
from workflows.services.sweep import SweepReport, due_case_ids, sweep
from workflows.settings import SMTP_URL_ENV, Settings, use_rulesets

log = logging.getLogger("cpts.scheduler")

PARIS = ZoneInfo("Europe/Paris")
DIGEST_AT = time(7, 0)
DEFAULT_SWEEP_MINUTES = 5
DEFAULT_OUTBOX_SECONDS = 30
DEFAULT_DRAIN_BATCH = 10  # a stop request waits for at most this many messages
SWEEP_CHUNK = 100
# Cases committed together (one disk sync for the group); a group that fails is swept again case by case.
SWEEP_CASES_PER_TRANSACTION = 20
SENDER_LOCAL_PART = "suivi-cpts"
# A tick missed (machine asleep, long job) is run once late, never skipped; never two at once.
JOB_OPTIONS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
SMTP_URL_EXAMPLE = "smtp://user:password@mail.example.org:587?starttls=true&sender=suivi-cpts@example.org"


class SchedulerSettingsError(DomainError):
    """A setting the scheduler cannot start with (missing SMTP URL, bad interval)."""


def smtp_settings(url: str | None) -> SmtpSettings:
    """Settings from `CPTS_SMTP_URL`; a missing or malformed URL is a one-line DomainError."""
    if not url or not url.strip():
        raise SchedulerSettingsError(f"{SMTP_URL_ENV} is not set: the outbox is delivered over SMTP, set it to "
                                     f"e.g. {SMTP_URL_EXAMPLE}")
    return SmtpSettings.from_url(url)


def sender_address(smtp: SmtpSettings, mail_domain: str, explicit: str | None = None) -> str:
    """From: the explicit address (`--from`), else the URL's `sender=`, else suivi-cpts@$CPTS_MAIL_DOMAIN."""
    address = explicit or smtp.sender or f"{SENDER_LOCAL_PART}@{mail_domain}"
    if "@" not in address or any(c.isspace() for c in address.strip()):
        raise SchedulerSettingsError(f"sender {address!r} is not an e-mail address: expected e.g. "
                                     "suivi-cpts@ars.sante.fr")
    return address.strip()


# ------------------------------------------------------------------------------------------- jobs
def sweep_job(uow: SqlUnitOfWork, stopping: threading.Event | None = None, chunk: int = SWEEP_CHUNK,
              settings: Settings | None = None) -> None:
    """`workflows.services.sweep` over the due cases, by chunks taken in random order: a stop request is honoured
    between chunks, and two schedulers sharing a database mostly work on different cases (a case already swept
    by the other no longer matches `wake_on <= today` and is passed over)."""
    now = utc_now()
    started = _time.monotonic()
    settings = settings or Settings()
    ids = due_case_ids(uow, latest_local_date(now))
    if not ids:
        log.debug("sweep: no case due")
        return
    log.info("sweep: %d case(s) due", len(ids))
    chunks = [ids[i:i + chunk] for i in range(0, len(ids), chunk)]
    random.shuffle(chunks)
    cases = fired = breached = notices = 0
    for part in chunks:
        if stopping is not None and stopping.is_set():
            log.info("sweep interrupted by the stop request; the next sweep takes over")
            break
        for report in _sweep_chunk(uow, part, now, settings.mail_domain):
            cases += report.cases
            fired += len(report.system_events)
            breached += len(report.breached)
            notices += report.notifications
    log.info("sweep: %d case(s) swept in %.1f s: %d system event(s), %d new breach(es), %d notification(s) "
             "enqueued", cases, _time.monotonic() - started, fired, breached, notices)


def _sweep_chunk(uow: SqlUnitOfWork, case_ids: list[int], now: datetime, mail_domain: str) -> list[SweepReport]:
    """Sweep a chunk; if it fails (a case changed meanwhile, a database hiccup), sweep its cases one by one so
    that one failing case does not hold back the others. A case that fails is retried at the next tick."""
    try:
        return [sweep(uow, now=now, case_ids=case_ids, mail_domain=mail_domain,
                      cases_per_transaction=SWEEP_CASES_PER_TRANSACTION)]
    except Exception:  # noqa: BLE001 - logged below, case by case
        reports = []
        for case_id in case_ids:
            try:
                reports.append(sweep(uow, now=now, case_ids=[case_id], mail_domain=mail_domain))
            except Exception:
                log.exception("sweep: case %s failed; it is retried at the next tick", case_id)
        return reports


def outbox_job(uow: SqlUnitOfWork, sender: Sender, from_address: str, stopping: threading.Event,
               batch: int = DEFAULT_DRAIN_BATCH, settings: Settings | None = None) -> None:
    """Drain in batches until nothing more is due, the server fails, or the scheduler is stopping."""
    sent = retried = dead = 0
    while not stopping.is_set():
        report = drain(uow, sender, now=utc_now(), from_address=from_address, limit=batch,
                       max_attempts=(settings or Settings()).outbox_max_attempts)
        sent, retried, dead = sent + report.sent, retried + report.retried, dead + report.dead
        # Another drainer may have claimed part of the batch: go on while this pass made progress. Stop when
        # nothing is left to take, or when the server is failing (the backoff decides when to try again).
        if report.sent + report.retried + report.dead == 0 or (report.retried and not report.sent):
            break
    if sent or retried or dead:
        log.info("outbox: %d sent, %d to retry, %d dead", sent, retried, dead)


def digest_job(uow: SqlUnitOfWork, now: datetime | None = None, settings: Settings | None = None) -> int:
    """Enqueue today's digests (Paris date); one per referent and day, whoever enqueues them first."""
    now = now or utc_now()
    day = now.astimezone(PARIS).date()
    try:
        written = enqueue_digests(uow, day, now, mail_domain=(settings or Settings()).mail_domain)
    except DuplicateKey:
        log.info("digest %s: another scheduler enqueued it meanwhile", day.isoformat())
        return 0
    if written:
        log.info("digest %s: %d referent(s)", day.isoformat(), written)
    return written


def digest_due_at_start(now: datetime) -> bool:
    """Past 07:00 in Paris: today's digest should exist (a restart after 07:00 catches it up)."""
    return now.astimezone(PARIS).time() >= DIGEST_AT


# ------------------------------------------------------------------------------------------- wiring
def build_scheduler(
    uow: SqlUnitOfWork,
    *,
    settings: Settings | None = None,
    smtp_url: str | None = None,
    from_address: str | None = None,
    sender: Sender | None = None,
    sweep_minutes: float = DEFAULT_SWEEP_MINUTES,
    outbox_seconds: float = DEFAULT_OUTBOX_SECONDS,
    drain_batch: int = DEFAULT_DRAIN_BATCH,
    blocking: bool = True,
    stopping: threading.Event | None = None,
    now: datetime | None = None,
) -> BaseScheduler:
    """A BlockingScheduler (BackgroundScheduler with `blocking=False`) with the sweep, drain and digest jobs.

    `settings` gives the mail domain and the outbox's attempts (defaults otherwise). Delivery goes through
    `sender` when given (tests), else over SMTP per `smtp_url`. `stopping` is set by
    `run` on SIGTERM/SIGINT so that a sweep or a drain in progress stops at its next chunk or batch. `now`
    (the start time) decides the first runs and whether today's digest is caught up at start.
    """
    if sweep_minutes <= 0 or outbox_seconds <= 0 or drain_batch <= 0:
        raise SchedulerSettingsError("--sweep-minutes, --outbox-seconds and the drain batch must be positive")
    settings = settings or Settings()
    if sender is None:
        smtp = smtp_settings(smtp_url)
        sender = smtp_sender(smtp)
        from_address = sender_address(smtp, settings.mail_domain, from_address)
    elif from_address is None:
        from_address = f"{SENDER_LOCAL_PART}@{settings.mail_domain}"
    stopping = stopping or threading.Event()
    now = now or utc_now()

    single_writer = uow.engine.dialect.name == "sqlite"
    executors = {"default": ThreadPoolExecutor(1)}
    if not single_writer:
        executors["outbox"] = ThreadPoolExecutor(1)
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = kind(executors=executors, job_defaults=JOB_OPTIONS, timezone="UTC")

    scheduler.add_job(sweep_job, IntervalTrigger(minutes=sweep_minutes), args=[uow, stopping],
                      kwargs={"settings": settings}, id="sweep",
                      name="sweep due deadlines", next_run_time=now, **JOB_OPTIONS)
    scheduler.add_job(outbox_job, IntervalTrigger(seconds=outbox_seconds),
                      args=[uow, sender, from_address, stopping, drain_batch], kwargs={"settings": settings},
                      id="outbox",
                      name="drain the outbox", next_run_time=now + timedelta(milliseconds=1),
                      executor="default" if single_writer else "outbox", **JOB_OPTIONS)
    scheduler.add_job(digest_job, CronTrigger(hour=DIGEST_AT.hour, minute=DIGEST_AT.minute, timezone=PARIS),
                      args=[uow], kwargs={"settings": settings}, id="digest", name="referents' daily digest",
                      **JOB_OPTIONS)
    if digest_due_at_start(now):
        # After the start-up sweep (same single worker, submitted later), so the deadlines are fresh.
        scheduler.add_job(digest_job, DateTrigger(run_date=now + timedelta(milliseconds=2)), args=[uow],
                          kwargs={"settings": settings},
                          id="digest-catch-up", name="today's digest, after a start past 07:00", **JOB_OPTIONS)
    return scheduler


def _shutdown(scheduler: BaseScheduler, timeout: float = 30) -> None:
    """shutdown(wait=True), once the scheduler has started (a signal may come while it is starting)."""
    deadline = _time.monotonic() + timeout
    while not scheduler.running and _time.monotonic() < deadline:
        _time.sleep(0.05)
    if scheduler.running:
        scheduler.shutdown(wait=True)


def run(
    uow: SqlUnitOfWork,
    *,
    settings: Settings,
    smtp_url: str | None,
    from_address: str | None = None,
    sweep_minutes: float = DEFAULT_SWEEP_MINUTES,
    outbox_seconds: float = DEFAULT_OUTBOX_SECONDS,
) -> None:
    """Run in the foreground until SIGTERM or SIGINT; return once the running jobs are done."""
    use_rulesets(settings)  # the deployment's ruleset files (CPTS_RULESETS_DIR), before the first sweep
    stopping = threading.Event()
    scheduler = build_scheduler(uow, settings=settings, smtp_url=smtp_url, from_address=from_address,
                                sweep_minutes=sweep_minutes, outbox_seconds=outbox_seconds, stopping=stopping)
    stopper: list[threading.Thread] = []

    def on_signal(signum: int, _frame: object) -> None:
        if stopping.is_set():
            # A second signal: stop now. Safe (transactions roll back, claims expire); a message the server
            # accepted but not yet recorded `sent` will be sent again, with the same Message-ID.
            log.warning("%s received again: exiting without waiting", signal.Signals(signum).name)
            os._exit(1)
        stopping.set()
        log.info("%s received: finishing the running jobs, then stopping", signal.Signals(signum).name)
        # shutdown(wait=True) waits for the worker threads; called from the handler itself it could wait on a
        # lock the interrupted main loop holds, so it runs in its own thread and the main loop ends after it.
        thread = threading.Thread(target=_shutdown, args=[scheduler], name="cpts-shutdown", daemon=True)
        stopper.append(thread)
        thread.start()

    # The state machine's library logs every transition at INFO (thousands of lines per sweep): only its warnings
    # are worth a line; ours say what each job did.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    log.info("scheduler started on %s: sweep every %s min, outbox every %s s, digest at 07:00 Europe/Paris",
             uow.engine.url.render_as_string(hide_password=True), sweep_minutes, outbox_seconds)
    try:
        scheduler.start()
    finally:
        for thread in stopper:
            thread.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("scheduler stopped")
