"""A long-running writer (the web server, the scheduler) starts a case's next write from the case as it left it,
without reading it: the write's versioned UPDATE requires the row unchanged since, and anything else — another
process's write, a rekey, an edit — sends it back to a read. It must decide exactly as a fresh writer would.

The case: a CPTS of Moselle contacted on 6 Jan 2025, its first meeting on 13 Jan, its lettre d'intention on 20 Jan.
"""

from __future__ import annotations

from datetime import date

import pytest
from builders import LOI_VALIDATED_2024, new_case, noon, record
from sqlalchemy import Engine, event, text

from lifecycle.errors import EventRejected, TransitionRejected
from workflows.persistence.errors import DuplicateKey
from workflows.persistence.journal import JournalKeys, chained_row
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import verify_journal
from workflows.services import NewEvent, apply
from workflows.services.integrity import rekey

CONTACT = NewEvent("contact_recorded", date(2025, 1, 6), {"source": "ars"})
FIRST_MEETING = NewEvent("first_meeting_held", date(2025, 1, 13))
LOI = NewEvent("loi_submitted", date(2025, 1, 20))
KEY = "a-test-journal-key-of-sixty-four-characters-0123456789abcdef0123"
NEW_KEY = "another-journal-key-for-rotation-tests-0123456789abcdefghijklmn"


def write(uow: SqlUnitOfWork, case_id: int, new: NewEvent):  # noqa: ANN201 - ApplyResult
    return apply(uow, case_id, new, "ars.agent", today=new.at, now=noon(new.at))


def journal(db: Engine, case_id: int) -> list[tuple[int, str]]:
    with db.connect() as connection:
        return [tuple(r) for r in connection.execute(
            text("SELECT seq, type FROM journal WHERE case_id = :c ORDER BY seq"), {"c": case_id})]


def test_a_server_decides_its_next_event_on_the_journal_another_process_extended_meanwhile(db):
    case_id = new_case(db)
    server = SqlUnitOfWork(db)
    write(server, case_id, CONTACT)  # the server now holds the case as of #1 (state prospect)
    record(db, case_id, "2025-01-13", "first_meeting_held", {})  # the scheduler's process, say

    # Refused in `prospect`, the state the server last saw: allowed once the first meeting is on the journal.
    result = write(server, case_id, LOI)

    assert (result.seq, result.event_from, result.event_to) == (3, "accompanied", "loi_submitted")
    assert journal(db, case_id) == [(1, "contact_recorded"), (2, "first_meeting_held"), (3, "loi_submitted")]
    assert verify_journal(SqlUnitOfWork(db), case_id) == []


def test_a_server_refuses_an_event_that_another_process_made_invalid_meanwhile_and_writes_nothing(db):
    case_id = new_case(db)
    server = SqlUnitOfWork(db)
    write(server, case_id, CONTACT)
    write(server, case_id, FIRST_MEETING)  # cached: accompanied, where a lettre d'intention may be submitted
    record(db, case_id, "2025-01-15", "loi_submitted", {})  # submitted meanwhile through another process

    with pytest.raises(TransitionRejected, match="not allowed in state loi_submitted"):
        write(server, case_id, LOI)

    assert journal(db, case_id) == [(1, "contact_recorded"), (2, "first_meeting_held"), (3, "loi_submitted")]


def test_a_server_whose_cases_were_re_signed_by_a_rekey_meanwhile_writes_on_without_a_false_alarm(db, caplog):
    keys = JournalKeys.from_secrets(NEW_KEY, [KEY])
    case_id = new_case(db)
    server = SqlUnitOfWork(db, keys=keys)
    rekey(SqlUnitOfWork(db, keys=JournalKeys.from_secrets(KEY)))  # the genesis entry signed with the old key
    write(server, case_id, CONTACT)  # #1 signed with the new key; the genesis entry still with the old one
    report = rekey(SqlUnitOfWork(db, keys=keys))  # `cpts db rekey` in another process: every hash changes
    assert report.signed == 1

    result = write(server, case_id, FIRST_MEETING)

    assert result.seq == 2
    assert verify_journal(SqlUnitOfWork(db, keys=JournalKeys.from_secrets(NEW_KEY)), case_id) == []
    assert "refused a write" not in caplog.text


@pytest.mark.parametrize("key", [None, "form-2"], ids=["without", "with an idempotency key"])
def test_a_servers_in_order_write_to_a_case_it_wrote_last_reads_nothing_of_it(db, key):
    """What makes a write cost about one raw UPDATE + INSERT (issue 9): no SELECT before the versioned UPDATE, not
    even of the idempotency key (the journal's unique key refuses a second use)."""
    case_id = new_case(db)
    server = SqlUnitOfWork(db)
    write(server, case_id, CONTACT)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split())[:60])

    event.listen(db, "before_cursor_execute", seen)
    try:
        apply(server, case_id, FIRST_MEETING, "ars.agent", today=FIRST_MEETING.at, now=noon(FIRST_MEETING.at),
              idempotency_key=key)
    finally:
        event.remove(db, "before_cursor_execute", seen)

    statements = [s for s in statements if not s.startswith("BEGIN")]  # SQLite's BEGIN IMMEDIATE
    assert statements and not [s for s in statements if s.startswith("SELECT")], statements
    assert statements[0].startswith("UPDATE cases SET")
    assert journal(db, case_id)[-1] == (2, "first_meeting_held")


def test_a_journal_row_refused_by_its_unique_key_inside_a_pipeline_is_a_duplicate_key(db):
    case_id = new_case(db)
    write(SqlUnitOfWork(db), case_id, CONTACT)
    uow = SqlUnitOfWork(db)

    with pytest.raises(DuplicateKey, match="seq|unique|UNIQUE"), uow:
        again = chained_row(case_id, (0, "0" * 64), type="contact_recorded", at=CONTACT.at,
                            recorded_at=noon(CONTACT.at), actor="ars.agent", data={"source": "ars"}, evidence=None,
                            keys=uow.keys)
        with uow.pipelined():
            uow.journal.append(again)  # #1 exists already
        uow.commit()

    assert journal(db, case_id) == [(1, "contact_recorded")]



class AcknowledgementLost(SqlUnitOfWork):
    """A server whose commits land, the next one without its caller hearing of it (a reset after COMMIT)."""

    lose_next = False

    def commit(self) -> None:
        super().commit()
        if self.lose_next:
            self.lose_next = False
            raise ConnectionError("connection reset by peer after COMMIT")


FOLLOW_UP = NewEvent("fir_followup_meeting_held", date(2025, 2, 3))  # may be held again and again
OPPOSITION = NewEvent("health_project_opposed", date(2025, 3, 10), {"grounds": "territory"})  # once, then refused


@pytest.mark.parametrize("event", [FOLLOW_UP, OPPOSITION], ids=["a follow-up meeting", "an opposition"])
def test_a_form_resubmitted_to_the_server_that_wrote_it_is_recorded_once_and_answered_with_the_first_result(
        db, event):
    """A form resubmitted after a lost acknowledgement, to the server that wrote it and still holds the case: an
    event the lifecycle would record again and one it would now refuse each land once, and the retry gets the
    first write's result; the key reused for another event is refused naming the first one."""
    case_id = new_case(db)
    facts = [*LOI_VALIDATED_2024, ("2024-12-02", "fir_granted", {})] if event is FOLLOW_UP else \
        [*LOI_VALIDATED_2024, ("2025-02-18", "health_project_received", {})]
    server = AcknowledgementLost(db)
    for at, kind, data in facts:
        write(server, case_id, NewEvent(kind, date.fromisoformat(at), data))  # the server holds the case
    server.lose_next = True
    with pytest.raises(ConnectionError):
        apply(server, case_id, event, "ars.agent", today=event.at, now=noon(event.at), idempotency_key="form-1")

    retried = apply(server, case_id, event, "ars.agent", today=event.at, now=noon(event.at), idempotency_key="form-1")

    assert (retried.seq, journal(db, case_id)[-1]) == (len(facts) + 1, (len(facts) + 1, event.type))
    with pytest.raises(EventRejected, match=f"was used for #{len(facts) + 1} {event.type}"):
        apply(server, case_id, NewEvent("contact_recorded", event.at, {"source": "ars"}), "ars.agent",
              today=event.at, now=noon(event.at), idempotency_key="form-1")
    assert len(journal(db, case_id)) == len(facts) + 1
