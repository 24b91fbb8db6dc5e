"""A long-running writer (the web server, the scheduler) starts a case's next write from the case as it left it,
without reading it: the write's versioned UPDATE requires the row unchanged since, and anything else — another
process's write, a rekey, an edit — sends it back to a read. It must decide exactly as a fresh writer would.

The case: a CPTS of Moselle contacted on 6 Jan 2025, its first meeting on 13 Jan, its lettre d'intention on 20 Jan.
"""

from __future__ import annotations

from datetime import date

import pytest
from builders import new_case, noon, record
from sqlalchemy import Engine, event, text

from lifecycle.errors import TransitionRejected
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


def test_a_servers_in_order_write_to_a_case_it_wrote_last_reads_nothing_of_it(db):
    """What makes a write cost about one raw UPDATE + INSERT (issue 9): no SELECT before the versioned UPDATE."""
    case_id = new_case(db)
    server = SqlUnitOfWork(db)
    write(server, case_id, CONTACT)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split())[:60])

    event.listen(db, "before_cursor_execute", seen)
    try:
        write(server, case_id, FIRST_MEETING)
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
