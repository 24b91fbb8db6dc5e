"""Typed scopes and a delivery that never stalls (issue 10), on SQLite and PostgreSQL, with a real SMTP server.

The legal staff's notices follow their scope, région and département codes never compared with each other: a
Metz case (département 57, région 44 Grand Est) is not Loire-Atlantique's (44), a Bordeaux case (33, région 75
Nouvelle-Aquitaine) is not Paris's (75); the calendar feed and the notices agree on who sees which case.
Values written around the checks (a legacy database, a direct write) cannot stop the drain: a bad recipient
is left out and noted, a message nobody can receive is `dead` with the reason, and the others go out. A notice
waits for its day at the seat, and its countdown is the one of the day it is sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from email.parser import BytesParser
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from alembic import command
from builders import LOI_VALIDATED_2024, LOOPBACK, free_port, new_case, outbox, record, record_all
from spec_example import ALL_DOCUMENTS
from sqlalchemy import Engine, text

from notifications.smtp import SmtpSettings
from workflows.persistence.db import alembic_config
from workflows.persistence.tables import OutboxRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.calendar import calendar_items
from workflows.services import sweep
from workflows.services.outbox import drain, retry, smtp_sender
from workflows.services.people import add_user, assign, edit_user

pytestmark = pytest.mark.integration

D = date.fromisoformat
FROM = "suivi-cpts@ars.example.fr"
ARS, CPAM = "elise.martin@ars.example.fr", "paul.durand@cpam.example.fr"
MEGABYTE = 1_000_000
# A contract refused on 7 Apr 2025: the CPTS may refer to the CPL until Tue 10 Jun 2025 (ACI art. 12.4.1); the
# reminders of that window go to the binôme, the CPTS and the legal staff whose scope covers the case.
REFUSED = [*LOI_VALIDATED_2024,
           ("2025-01-06", "health_project_received", {}), ("2025-02-03", "health_project_validated", {}),
           ("2025-03-03", "adhesion_requested", ALL_DOCUMENTS),
           ("2025-04-07", "contract_refusal_received", {})]
WINDOW_DUE = D("2025-06-10")
THIRTY_DAYS_BEFORE = D("2025-05-11")


def at(day: date, hour: int = 5) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)


def refused_case(engine: Engine, name: str, departement: str) -> int:
    case_id = new_case(engine, name, departement=departement)
    record_all(engine, case_id, REFUSED)
    return case_id


def emails(row: OutboxRow) -> set[str]:
    return {r["email"] for r in json.loads(row.recipients)}


def legal_staff(engine: Engine, **scopes: list[str]) -> None:
    """Legal officers named after their scope: `juridique.dep44@…` for ["44"]."""
    for label, scope in scopes.items():
        add_user(SqlUnitOfWork(engine), f"Juridique {label}", f"juridique.{label}@ars.example.fr", "legal", scope)


# ------------------------------------------------------------------------------------------- SMTP server
class Inbox:
    """An aiosmtpd handler keeping every message it accepts, parsed, with its envelope recipients."""

    def __init__(self) -> None:
        self.messages: list[tuple[tuple[str, ...], object]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        parsed = BytesParser(policy=default_policy).parsebytes(envelope.content)
        self.messages.append((tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname=LOOPBACK, port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def deliver(engine: Engine, port: int, now: datetime):  # type: ignore[no-untyped-def]
    return drain(SqlUnitOfWork(engine), smtp_sender(SmtpSettings.from_url(f"smtp://{LOOPBACK}:{port}")), now=now,
                 from_address=FROM)


# ------------------------------------------------------------------------------------------- typed scopes
def test_legal_staff_for_loire_atlantique_44_get_no_notice_of_a_metz_case_in_region_44(db):
    legal_staff(db, dep44=["44"], dep57=["57"], reg44=["reg:44"])
    refused_case(db, "CPTS du Pays Messin", "57")

    sweep(SqlUnitOfWork(db), today=THIRTY_DAYS_BEFORE, now=at(THIRTY_DAYS_BEFORE))

    [notice] = outbox(db)
    assert (notice.deadline_key, notice.offset_days) == ("contract_refusal_cpl_window", 30)
    assert emails(notice) == {"juridique.dep57@ars.example.fr", "juridique.reg44@ars.example.fr"}


def test_legal_staff_for_paris_75_get_no_notice_of_a_bordeaux_case_in_region_75(db):
    legal_staff(db, dep75=["75"], dep33=["33"], reg75=["reg:75"])
    refused_case(db, "CPTS Bordeaux Rive Droite", "33")

    sweep(SqlUnitOfWork(db), today=THIRTY_DAYS_BEFORE, now=at(THIRTY_DAYS_BEFORE))

    [notice] = outbox(db)
    assert emails(notice) == {"juridique.dep33@ars.example.fr", "juridique.reg75@ars.example.fr"}


def test_the_calendar_and_the_notices_agree_on_which_cases_a_legal_officer_sees(db):
    scopes = {"dep44": ["44"], "dep75": ["75"], "dep57": ["57"], "reg75": ["reg:75"], "both": ["33", "reg:44"]}
    legal_staff(db, **scopes)
    metz = refused_case(db, "CPTS du Pays Messin", "57")
    bordeaux = refused_case(db, "CPTS Bordeaux Rive Droite", "33")
    sweep(SqlUnitOfWork(db), today=THIRTY_DAYS_BEFORE, now=at(THIRTY_DAYS_BEFORE))

    rows = outbox(db)
    for label in scopes:
        email = f"juridique.{label}@ars.example.fr"
        notified = {r.case_id for r in rows if email in emails(r)}
        calendar = {int(i.case_id) for i in calendar_items(SqlUnitOfWork(db), now=at(THIRTY_DAYS_BEFORE),
                                                            referent=email)}
        assert notified == calendar, label
    assert {r.case_id for r in rows if "juridique.both@ars.example.fr" in emails(r)} == {metz, bordeaux}
    assert not any("juridique.dep44@ars.example.fr" in emails(r) or "juridique.dep75@ars.example.fr" in emails(r)
                   for r in rows)


# ------------------------------------------------------------------------------------------- migration 0006
def test_upgrading_to_0006_types_the_scopes_and_a_legal_officer_without_one_receives_nothing(db):
    command.downgrade(alembic_config(db), "0005")
    with db.begin() as connection:  # users as the application wrote them at revision 0005
        connection.execute(text("INSERT INTO users (name, email, role, scope, created_at) VALUES "
                                "(:name, :email, :role, :scope, :now)"), [
            {"name": n, "email": e, "role": r, "scope": json.dumps(s), "now": at(D("2025-01-06"))}
            for n, e, r, s in [("Élise Martin", ARS, "ars", ["44"]), ("Paul Durand", CPAM, "cpam", ["57"]),
                               ("Juridique 44", "juridique.dep44@ars.example.fr", "legal", ["44"]),
                               ("Juridique partout", "juridique@ars.example.fr", "legal", []),
                               ("Inès Legrand", "ines@dgos.example.fr", "national", [])]])

    command.upgrade(alembic_config(db), "head")

    with db.connect() as connection:
        scopes = dict(connection.execute(text("SELECT email, scope FROM users")).all())
    assert {e: json.loads(s) for e, s in scopes.items()} == {
        ARS: ["reg:44"], CPAM: ["dep:57"], "juridique.dep44@ars.example.fr": ["dep:44"],
        "juridique@ars.example.fr": [], "ines@dgos.example.fr": ["national"]}
    case_id = refused_case(db, "CPTS du Pays Messin", "57")
    assign(SqlUnitOfWork(db), case_id, ars_email=ARS, cpam_email=CPAM)
    sweep(SqlUnitOfWork(db), today=THIRTY_DAYS_BEFORE, now=at(THIRTY_DAYS_BEFORE))
    [notice] = outbox(db)
    assert emails(notice) == {ARS, CPAM}  # neither the département-44 officer nor the one without a scope


# ------------------------------------------------------------------------------------------- delivery
def metz_with_binome(engine: Engine, name: str = "CPTS du Pays Messin") -> int:
    case_id = refused_case(engine, name, "57")
    assign(SqlUnitOfWork(engine), case_id, ars_email=ARS, cpam_email=CPAM, contact_name="Dr Anne Weber",
           contact_email="contact@cpts-metz.example.fr")
    return case_id


def binome(engine: Engine) -> None:
    add_user(SqlUnitOfWork(engine), "Élise Martin", ARS, "ars", ["44"])
    add_user(SqlUnitOfWork(engine), "Paul Durand", CPAM, "cpam", ["57"])


def legacy_write(engine: Engine, statement: str, **values: object) -> None:
    """A value written straight into the database, around the application's checks."""
    with engine.begin() as connection:
        connection.execute(text(statement), values)


def test_legacy_names_and_addresses_never_stall_the_drain_and_every_valid_recipient_gets_the_notice(db, smtp):
    inbox, port = smtp
    binome(db)
    crlf_name, huge_contact = metz_with_binome(db, "CPTS A"), metz_with_binome(db, "CPTS B")
    bad_contact, nobody_valid = metz_with_binome(db, "CPTS C"), refused_case(db, "CPTS D", "57")
    legacy_write(db, "UPDATE users SET name = :name WHERE email = :email", name="Eve\r\nBcc: x@y.fr", email=ARS)
    legacy_write(db, "UPDATE cases SET cpts_contact_name = :name WHERE id = :id", name="W" * MEGABYTE,
                 id=huge_contact)
    legacy_write(db, "UPDATE cases SET cpts_contact_email = 'a(comment)b@x.fr' WHERE id = :id", id=bad_contact)
    legacy_write(db, "UPDATE cases SET cpts_contact_email = 'évé@exämple.fr' WHERE id = :id", id=nobody_valid)
    sweep(SqlUnitOfWork(db), today=THIRTY_DAYS_BEFORE, now=at(THIRTY_DAYS_BEFORE))

    report = deliver(db, port, at(THIRTY_DAYS_BEFORE))

    rows = {r.case_id: r for r in outbox(db)}
    assert (report.sent, report.retried, report.dead) == (3, 0, 1)
    assert [rows[c].status for c in (crlf_name, huge_contact, bad_contact)] == ["sent"] * 3
    received = {str(m["Message-ID"]): (rcpt, m) for rcpt, m in inbox.messages}
    rcpt, message = received[rows[huge_contact].message_id]
    assert set(rcpt) == {ARS, CPAM, "contact@cpts-metz.example.fr"} and len(str(message["To"])) < 600
    assert message["Bcc"] is None and "x@y.fr" not in rcpt
    assert set(received[rows[bad_contact].message_id][0]) == {ARS, CPAM}
    assert "'a(comment)b@x.fr' (cpts) left out" in rows[bad_contact].last_error
    dead = rows[nobody_valid]
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert "no recipient has a usable address" in dead.last_error and "non-ASCII" in dead.last_error


def test_a_dead_notice_goes_out_once_the_address_is_corrected_and_it_is_retried(db, smtp):
    inbox, port = smtp
    binome(db)
    case_id = metz_with_binome(db)
    legacy_write(db, "UPDATE users SET email = 'évé@exämple.fr' WHERE email = :email", email=ARS)
    legacy_write(db, "UPDATE users SET email = 'a(comment)b@x.fr' WHERE email = :email", email=CPAM)
    legacy_write(db, "UPDATE cases SET cpts_contact_email = NULL WHERE id = :id", id=case_id)
    sweep(SqlUnitOfWork(db), today=THIRTY_DAYS_BEFORE, now=at(THIRTY_DAYS_BEFORE))
    assert deliver(db, port, at(THIRTY_DAYS_BEFORE)).dead == 1

    edit_user(SqlUnitOfWork(db), "évé@exämple.fr", new_email=ARS)
    edit_user(SqlUnitOfWork(db), "a(comment)b@x.fr", new_email=CPAM)
    [row] = outbox(db)
    retry(SqlUnitOfWork(db), row.id, at(THIRTY_DAYS_BEFORE, 9))
    report = deliver(db, port, at(THIRTY_DAYS_BEFORE, 9))

    [row] = outbox(db)
    assert report.sent == 1 and (row.status, row.last_error) == ("sent", None)
    assert [set(rcpt) for rcpt, _ in inbox.messages] == [{ARS, CPAM}]


def test_a_notice_queued_ahead_of_its_day_waits_for_that_day_at_the_seat_without_an_attempt_counted(db, smtp):
    inbox, port = smtp
    binome(db)
    metz_with_binome(db)
    sweep(SqlUnitOfWork(db), today=THIRTY_DAYS_BEFORE, now=at(THIRTY_DAYS_BEFORE))
    # Queued by a sweep run ahead with `--today` before sweeps refused to: due to go at once.
    legacy_write(db, "UPDATE outbox SET next_attempt_at = :early", early=at(D("2025-05-01")))

    early = deliver(db, port, at(D("2025-05-10"), 21))  # 23:00 on 10 May in Metz
    [held] = outbox(db)
    assert (early.sent, inbox.messages) == (0, [])
    assert (held.status, held.attempts, held.last_error) == ("pending", 0, None)

    on_the_day = deliver(db, port, at(D("2025-05-10"), 22))  # midnight: 11 May in Metz
    assert on_the_day.sent == 1 and len(inbox.messages) == 1


def test_a_reminder_delivered_late_gives_the_countdown_of_the_day_it_is_sent_with_the_same_message_id(db, smtp):
    inbox, port = smtp
    binome(db)
    metz_with_binome(db)
    sweep(SqlUnitOfWork(db), today=D("2025-06-03"), now=at(D("2025-06-03")))  # the 7-day reminder
    [queued] = outbox(db)
    assert "échéance dans 7 jours" in queued.subject

    deliver(db, port, at(D("2025-06-07")))  # the server was unreachable until Saturday 7 June
    again = deliver(db, port, at(D("2025-06-07"), 9))

    [(_, message)] = inbox.messages
    body = message.get_body(("plain",)).get_content()
    assert "échéance dans 3 jours" in str(message["Subject"]) and "7 jours" not in str(message["Subject"])
    assert "Ce rappel, prévu le mardi 3 juin 2025, est envoyé avec retard." in body
    assert str(message["Message-ID"]) == queued.message_id and again.sent == 0
    [sent] = outbox(db)
    assert sent.subject == str(message["Subject"])  # the outbox shows what was sent


def test_a_reminder_sent_on_the_due_day_says_today(db, smtp):
    inbox, port = smtp
    binome(db)
    metz_with_binome(db)
    sweep(SqlUnitOfWork(db), today=D("2025-06-09"), now=at(D("2025-06-09")))  # the 1-day reminder

    deliver(db, port, at(WINDOW_DUE))

    [(_, message)] = inbox.messages
    assert "échéance aujourd'hui" in str(message["Subject"]) and "demain" not in str(message["Subject"])


# ------------------------------------------------------------------------------------------- late breach
def test_a_deadline_already_breached_when_recorded_gets_its_breach_notice_once_on_the_next_sweep(db):
    binome(db)
    case_id = new_case(db)
    assign(SqlUnitOfWork(db), case_id, ars_email=ARS, cpam_email=CPAM)
    # First contact on 6 Jan 2025, recorded on 3 Mar: the first meeting was due on 21 Jan and never held.
    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "ars"}, today="2025-03-03")

    first = sweep(SqlUnitOfWork(db), today=D("2025-03-03"), now=at(D("2025-03-03")))
    later = [sweep(SqlUnitOfWork(db), today=D(day), now=at(D(day))) for day in ("2025-03-04", "2025-03-09")]

    [notice] = outbox(db)
    assert (notice.kind, notice.deadline_key, notice.send_on) == ("breach", "first_meeting", D("2025-03-03"))
    assert first.notifications == 1 and [r.notifications for r in later] == [0, 0]
    assert emails(notice) == {ARS, CPAM}
