"""Delivery never stalls, scopes are typed, countdowns are true on the day a notice goes (issue 10).

Without a database: names and addresses checked when entered and again when a message is built, the countdown
rendered for the day of sending, typed scopes, and the breach notice of a deadline already breached when it
was recorded; the drain's behaviour on the in-memory unit of work, with a sender that records what it is given.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from notices import ARS, CPAM, OPPOSITION_REMINDER

from lifecycle.events import JournalEntry, validate_data
from lifecycle.projection import project
from lifecycle.reminders import next_notice_day, notices_due
from lifecycle.ruleset import load_ruleset
from notifications.model import Recipient
from notifications.render import UnbuildableMessage, build_message, render_notice, usable_recipients
from workflows.persistence.memory import InMemoryUnitOfWork
from workflows.persistence.tables import Case, OutboxRow
from workflows.services.outbox import drain, retry
from workflows.services.people import PeopleError, Scope, add_user, covers, edit_user, normalise_scope

RULES = load_ruleset()
D = date.fromisoformat
MEGABYTE = 1_000_000
MID = "<abc@cpts.example.fr>"
CRLF_NAME = "Eve\r\nBcc: x@y.fr"
BAD_ADDRESSES = ["évé@exämple.fr", "a(comment)b@x.fr", "eve@exämple.fr"]


def parsed(message: EmailMessage):  # type: ignore[no-untyped-def]
    return message_from_bytes(message.as_bytes(), policy=policy.default)


# ------------------------------------------------------------------------------------------- entering people
@pytest.mark.parametrize("address", BAD_ADDRESSES)
def test_an_address_with_accents_an_idn_domain_or_a_comment_is_refused_when_a_user_is_added(address):
    uow = InMemoryUnitOfWork()

    with pytest.raises(PeopleError, match="is not a usable e-mail address") as refused:
        add_user(uow, "Ève Martin", address, "cpam", ["57"])

    assert "expected an ASCII address of at most 254 characters" in str(refused.value)
    with uow:
        assert uow.users.with_roles(["cpam"]) == []


def test_a_name_holding_a_line_break_is_refused_with_the_character_named():
    with pytest.raises(PeopleError, match=r"control or invisible characters \(U\+000D, U\+000A\)"):
        add_user(InMemoryUnitOfWork(), CRLF_NAME, "eve@ars.example.fr", "ars", ["44"])


def test_a_megabyte_name_and_a_255_character_address_are_refused_with_the_limits():
    with pytest.raises(PeopleError, match="at most 200 are allowed"):
        add_user(InMemoryUnitOfWork(), "É" * MEGABYTE, "eve@ars.example.fr", "ars", ["44"])
    with pytest.raises(PeopleError, match="at most 254"):
        add_user(InMemoryUnitOfWork(), "Ève", "e" * 64 + "@" + "a" * 180 + ".example.fr", "ars", ["44"])


def test_editing_a_user_applies_the_checks_of_add():
    uow = InMemoryUnitOfWork()
    add_user(uow, "Ève Martin", "eve@ars.example.fr", "ars", ["44"])

    with pytest.raises(PeopleError, match="control or invisible characters"):
        edit_user(uow, "eve@ars.example.fr", name=CRLF_NAME)
    with pytest.raises(PeopleError, match="not a usable e-mail address"):
        edit_user(uow, "eve@ars.example.fr", new_email="évé@ars.example.fr")
    edited = edit_user(uow, "EVE@ars.example.fr", name="Ève Martin-Roux", new_email="eve.roux@ars.example.fr")

    assert (edited.name, edited.email, json.loads(edited.scope)) == ("Ève Martin-Roux", "eve.roux@ars.example.fr",
                                                                     ["reg:44"])


# ------------------------------------------------------------------------------------------- building messages
def test_a_crlf_display_name_stored_around_the_checks_is_sent_on_one_line():
    message = build_message(render_notice(OPPOSITION_REMINDER), sender="suivi@ars.example.fr",
                            recipients=[Recipient(CRLF_NAME, "eve@ars.example.fr", "ars")], message_id=MID)

    headers = parsed(message)
    assert [a.addr_spec for a in headers["To"].addresses] == ["eve@ars.example.fr"]
    assert headers["Bcc"] is None
    assert headers["To"].addresses[0].display_name == "Eve Bcc: x@y.fr"


def test_a_megabyte_contact_name_makes_a_short_to_line():
    message = build_message(render_notice(OPPOSITION_REMINDER), sender="suivi@ars.example.fr",
                            recipients=[Recipient("Dr " + "W" * MEGABYTE, "contact@cpts.example.fr", "cpts")],
                            message_id=MID)

    assert len(str(message["To"])) < 300


def test_a_megabyte_case_name_renders_in_well_under_a_second_with_a_short_subject():
    started = time.perf_counter()
    email = render_notice(replace(OPPOSITION_REMINDER, case_name="CPTS " + "x" * MEGABYTE))
    build_message(email, sender="suivi@ars.example.fr", recipients=[ARS], message_id=MID)

    assert time.perf_counter() - started < 1
    assert len(email.subject) <= 250 and len(email.text) < 5000


def test_unusable_recipients_are_left_out_with_the_reason_and_the_others_kept():
    usable, left_out = usable_recipients([ARS, {"name": "Ève", "email": "évé@exämple.fr", "role": "cpam"},
                                          {"name": "A", "email": "a(comment)b@x.fr", "role": "cpts"}])

    assert usable == [ARS]
    assert len(left_out) == 2 and "'évé@exämple.fr' (cpam) left out: the address holds non-ASCII" in left_out[0]
    assert "invalid characters" in left_out[1]


def test_a_message_to_an_unusable_address_cannot_be_built():
    with pytest.raises(UnbuildableMessage, match="évé@exämple.fr"):
        build_message(render_notice(OPPOSITION_REMINDER), sender="suivi@ars.example.fr",
                      recipients=[Recipient("Ève", "évé@exämple.fr", "ars")], message_id=MID)


# ------------------------------------------------------------------------------------------- countdown
# A 7-day reminder of a deadline due on Fri 18 Apr 2025, due to go on Fri 11 Apr.
SEVEN_DAY = replace(OPPOSITION_REMINDER, offset_days=7, on=D("2025-04-11"))


def test_a_reminder_sent_three_days_before_the_due_date_says_three_days_and_that_it_is_late():
    email = render_notice(SEVEN_DAY, sent_on=D("2025-04-15"))

    assert "échéance dans 3 jours" in email.subject and "dans 7 jours" not in email.subject
    assert "Ce rappel, prévu le vendredi 11 avril 2025, est envoyé avec retard." in email.text


def test_a_reminder_sent_on_the_due_day_says_today_not_tomorrow():
    email = render_notice(replace(SEVEN_DAY, offset_days=1, on=D("2025-04-17")), sent_on=D("2025-04-18"))

    assert "échéance aujourd'hui" in email.subject and "demain" not in email.subject
    assert "arrive aujourd'hui" in email.text


def test_a_reminder_sent_after_the_due_date_says_how_long_it_is_past():
    email = render_notice(SEVEN_DAY, sent_on=D("2025-04-20"))

    assert "échéance dépassée depuis 2 jours" in email.subject
    assert "est dépassée depuis 2 jours" in email.text


def test_a_reminder_sent_on_its_day_is_not_called_late():
    email = render_notice(SEVEN_DAY, sent_on=D("2025-04-11"))

    assert "échéance dans 7 jours" in email.subject and "retard" not in email.text


# ------------------------------------------------------------------------------------------- typed scopes
def seated(name: str, departement: str, region: str) -> Case:
    at = datetime(2025, 1, 6, tzinfo=UTC)
    return Case(name=name, seat_departement=departement, region=region, population=60_000, size=2,
                ruleset_id="aci-2019", state="contact", created_at=at, updated_at=at)


METZ = seated("CPTS du Pays Messin", "57", "44")  # région 44: Grand Est
BORDEAUX = seated("CPTS Bordeaux Rive Droite", "33", "75")  # région 75: Nouvelle-Aquitaine


def legal(scope: list[str]):  # type: ignore[no-untyped-def]
    uow = InMemoryUnitOfWork()
    return add_user(uow, "Service juridique", "juridique@ars.example.fr", "legal", scope)


def test_legal_staff_for_departement_44_do_not_cover_a_metz_case_in_region_44():
    assert not covers(legal(["44"]), METZ)
    assert covers(legal(["57"]), METZ) and covers(legal(["reg:44"]), METZ)


def test_legal_staff_for_departement_75_do_not_cover_a_bordeaux_case_in_region_75():
    assert not covers(legal(["75"]), BORDEAUX)
    assert covers(legal(["dep:33"]), BORDEAUX) and covers(legal(["reg:75"]), BORDEAUX)


def test_legal_staff_need_a_scope_and_national_reach_is_for_national_roles():
    with pytest.raises(PeopleError, match="legal staff act for départements or régions"):
        normalise_scope("legal", [])
    with pytest.raises(PeopleError, match="national reach is for the roles national and admin"):
        normalise_scope("legal", ["national"])


def test_scopes_are_stored_typed_plain_codes_by_role_and_national_explicitly():
    assert normalise_scope("ars", "44 reg:11").tokens() == ["reg:44", "reg:11"]
    assert normalise_scope("cpam", ["57", "dep:2a"]).tokens() == ["dep:57", "dep:2A"]
    assert normalise_scope("legal", ["57", "reg:44"]).tokens() == ["reg:44", "dep:57"]
    assert normalise_scope("national", []).tokens() == ["national"]
    assert normalise_scope("admin", ["all"]).tokens() == ["national"]


def test_an_ars_scope_cannot_hold_a_departement_nor_a_cpam_scope_a_region():
    with pytest.raises(PeopleError, match="an ARS agent acts for régions, not départements"):
        normalise_scope("ars", ["dep:57"])
    with pytest.raises(PeopleError, match="a CPAM agent acts for départements, not régions"):
        normalise_scope("cpam", ["reg:44"])


def test_a_bare_code_stored_before_the_migration_matches_nothing():
    assert Scope.stored('["44", "57"]') == Scope()
    assert not Scope.stored('["44"]').covers("57", "44")


# ------------------------------------------------------------------------------------------- late breach
def contact_recorded(at: str, recorded_on: str) -> list[JournalEntry]:
    return [JournalEntry(seq=1, type="contact_recorded", at=D(at),
                         data=validate_data("contact_recorded", {"source": "ars"}),
                         recorded_at=datetime.fromisoformat(recorded_on + "T09:00:00+00:00"))]


def test_a_first_meeting_already_breached_when_the_contact_is_recorded_gets_its_breach_notice_that_day():
    # Contact on 6 Jan 2025, recorded on 3 Mar: the first meeting was due on 21 Jan (15 days), breached since.
    projection = project(contact_recorded("2025-01-06", "2025-03-03"), RULES, D("2025-03-03"), departement="57",
                         population=60_000)

    [notice] = notices_due(projection, RULES, D("2025-03-03"))

    assert (notice.deadline.key, notice.kind, notice.send_on) == ("first_meeting", "breach", D("2025-03-03"))
    assert next_notice_day(projection, RULES, D("2025-03-03")) == D("2025-03-03")
    assert next_notice_day(projection, RULES, D("2025-03-04")) is None  # once: not the day after


def test_a_breach_recorded_on_time_and_missed_for_weeks_stays_skipped():
    projection = project(contact_recorded("2025-01-06", "2025-01-06"), RULES, D("2025-03-03"), departement="57",
                         population=60_000)

    assert notices_due(projection, RULES, D("2025-03-03")) == []


# ------------------------------------------------------------------------------------------- drain
NOW = datetime(2025, 4, 11, 7, 0, tzinfo=UTC)
TODAY = NOW.date()


class Outbox:
    """Rows written straight into an in-memory outbox (what a legacy database may hold)."""

    def __init__(self) -> None:
        self.uow = InMemoryUnitOfWork()
        self.sent: list[EmailMessage] = []

    def add(self, recipients: list[dict[str, str]], *, send_on: date = TODAY, key: str = "k") -> int:
        with self.uow:
            self.uow.outbox.add(OutboxRow(
                unique_key=key, kind="digest", send_on=send_on, recipients=json.dumps(recipients),
                subject="Échéances CPTS", text_body="texte", html_body="<p>texte</p>",
                message_id=f"<{key}@cpts.example.fr>", status="pending", attempts=0, next_attempt_at=NOW,
                created_at=NOW))
            self.uow.commit()
            return max(self.uow.outbox.state.outbox)

    def row(self, row_id: int) -> OutboxRow:
        with self.uow:
            return self.uow.outbox.get(row_id)

    def drain(self, now: datetime = NOW):  # type: ignore[no-untyped-def]
        return drain(self.uow, self.sent.append, now=now, from_address="suivi@ars.example.fr")


GOOD = {"name": "Élise Martin", "email": "elise.martin@ars.example.fr", "role": "ars"}


def test_a_message_that_cannot_be_built_is_dead_with_its_reason_and_the_batch_goes_on():
    outbox = Outbox()
    broken = outbox.add([{"name": CRLF_NAME, "email": "évé@exämple.fr", "role": "ars"}], key="a")
    fine = outbox.add([GOOD], key="b")

    report = outbox.drain()

    row = outbox.row(broken)
    assert (report.sent, report.dead) == (1, 1)
    assert (row.status, row.attempts) == ("dead", 1)
    assert "no recipient has a usable address" in row.last_error and "évé@exämple.fr" in row.last_error
    assert outbox.row(fine).status == "sent" and len(outbox.sent) == 1


def test_a_bad_recipient_is_left_out_and_noted_while_the_others_get_the_notice():
    outbox = Outbox()
    row_id = outbox.add([GOOD, {"name": "A", "email": "a(comment)b@x.fr", "role": "cpam"},
                         {"name": "Dr " + "W" * MEGABYTE, "email": "contact@cpts.example.fr", "role": "cpts"}])

    outbox.drain()

    row = outbox.row(row_id)
    assert row.status == "sent" and "'a(comment)b@x.fr' (cpam) left out" in row.last_error
    assert [a.addr_spec for a in parsed(outbox.sent[0])["To"].addresses] == [
        "elise.martin@ars.example.fr", "contact@cpts.example.fr"]


def test_a_sender_failing_unexpectedly_counts_an_attempt_and_does_not_leave_the_row_sending():
    outbox = Outbox()
    row_id = outbox.add([GOOD])

    def broken(message: EmailMessage) -> None:
        raise UnicodeEncodeError("ascii", "é", 0, 1, "no SMTPUTF8")

    report = drain(outbox.uow, broken, now=NOW, from_address="suivi@ars.example.fr")

    row = outbox.row(row_id)
    assert report.retried == 1 and (row.status, row.attempts) == ("pending", 1)
    assert row.last_error.startswith("UnicodeEncodeError")


def test_nothing_is_sent_before_its_day_and_it_goes_on_that_day():
    outbox = Outbox()
    outbox.add([GOOD], send_on=TODAY + timedelta(days=2))

    early = outbox.drain()
    assert early.sent == 0 and outbox.sent == []

    on_the_day = outbox.drain(datetime(2025, 4, 13, 5, 0, tzinfo=UTC))  # 07:00 in Paris
    assert on_the_day.sent == 1 and len(outbox.sent) == 1


@pytest.mark.parametrize("status", ["pending", "sending", "dead"])
def test_a_row_not_sent_can_be_retried_whatever_its_status(status):
    outbox = Outbox()
    row_id = outbox.add([GOOD])
    with outbox.uow:
        outbox.uow.outbox.update(row_id, {"status": status, "attempts": 3, "last_error": "boom"})
        outbox.uow.commit()

    row = retry(outbox.uow, row_id, NOW)

    assert (row.status, row.attempts, row.last_error) == ("pending", 0, None)


def test_the_recipients_of_the_reminder_used_by_the_render_tests_are_valid():
    assert usable_recipients([ARS, CPAM]) == ([ARS, CPAM], [])
