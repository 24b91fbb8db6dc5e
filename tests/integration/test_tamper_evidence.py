"""Tamper evidence that survives operation: every edit made behind the engine's back is found by
`case verify`, shown by reads, and refused by the next write (sweep, event) instead of being "healed".

The probe's edits, each on a case whose health project was received on 18 Feb 2025 in Moselle (its ARS
opposition window closes on 22 Apr 2025, so the sweep of 23 Apr has a tacit validation to journal).
"""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from builders import health_project_received_18_feb_2025, noon, record
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from workflows.persistence.errors import TamperedJournal
from workflows.persistence.journal import JournalKeys, canonical_json, row_hash
from workflows.persistence.tables import JournalRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import case_view, verify_all, verify_journal
from workflows.services import NewEvent, apply, sweep
from workflows.services.integrity import rekey

KEY = "a-test-journal-key-of-sixty-four-characters-0123456789abcdef0123"
NEW_KEY = "another-journal-key-for-rotation-tests-0123456789abcdefghijklmn"
SWEEP_DAY = date(2025, 4, 23)


def uow(db: Engine, keys: JournalKeys | None = None) -> SqlUnitOfWork:
    return SqlUnitOfWork(db, keys=keys or JournalKeys.from_secrets(KEY))


def keyed_case(db: Engine) -> int:
    """The Moselle case, every row signed with KEY (the builders record through an unkeyed unit of work)."""
    case_id = health_project_received_18_feb_2025(db)
    report = rekey(uow(db))
    assert report.signed >= 1 and not report.refused
    assert verify_journal(uow(db), case_id) == []
    return case_id


def sql(db: Engine, statement: str, **params: object) -> None:
    with db.begin() as connection:
        connection.execute(text(statement), params)


def journal_length(db: Engine, case_id: int) -> int:
    with db.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM journal WHERE case_id = :c"), {"c": case_id}).scalar()


def last_seq(db: Engine, case_id: int) -> int:
    with db.connect() as connection:
        return connection.execute(text("SELECT max(seq) FROM journal WHERE case_id = :c"), {"c": case_id}).scalar()


EDITS = {
    "delete the last row": "DELETE FROM journal WHERE case_id = :c AND seq = (SELECT max(seq) FROM journal j "
                           "WHERE j.case_id = :c)",
    "delete a row in the middle": "DELETE FROM journal WHERE case_id = :c AND seq = 3",
    "move an event's date": "UPDATE journal SET at = '2025-02-10' WHERE case_id = :c AND type = "
                            "'health_project_received'",
    "change an event's data": "UPDATE journal SET data = '{\"party\": \"ars\", \"decision\": \"reject\"}' "
                              "WHERE case_id = :c AND seq = 4",
    "change an event's type": "UPDATE journal SET type = 'first_meeting_held' WHERE case_id = :c AND seq = 3",
    "change who recorded it": "UPDATE journal SET actor = 'someone.else' WHERE case_id = :c AND seq = 2",
    "change the evidence": "UPDATE journal SET evidence = 'LRAR forged' WHERE case_id = :c AND seq = 2",
    "move the seat": "UPDATE cases SET seat_departement = '54' WHERE id = :c",
    "change the communes": "UPDATE cases SET communes = '[\"57463\", \"75056\"]' WHERE id = :c",
    "change the declared population": "UPDATE cases SET declared_population = 250000 WHERE id = :c",
    "change the ruleset": "UPDATE cases SET ruleset_id = 'ACI-2019+A2' WHERE id = :c",
    "edit the recorded head": "UPDATE cases SET journal_head = :forged WHERE id = :c",
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edit_behind_the_engines_back_is_found_shown_and_refused_by_every_later_write(db, edit):
    case_id = keyed_case(db)
    rows_before = journal_length(db, case_id)
    sql(db, EDITS[edit], c=case_id, forged="f" * 64)
    rows_after_edit = journal_length(db, case_id)

    assert verify_journal(uow(db), case_id), f"{edit}: verify says intact"
    assert [found for found, _ in verify_all(uow(db))] == [case_id]
    # A journal that cannot even be replayed (its ruleset id edited) makes the page say why instead.
    with contextlib.suppress(TamperedJournal):
        assert case_view(uow(db), case_id, today=SWEEP_DAY).integrity, f"{edit}: the case page shows no warning"

    report = sweep(uow(db), today=SWEEP_DAY, now=noon(SWEEP_DAY))
    assert [refused for refused, _ in report.refused] == [case_id]
    assert report.system_events == ()  # no tacit validation journaled on a tampered journal
    with pytest.raises(TamperedJournal, match="integrity check"):
        apply(uow(db), case_id, NewEvent("health_project_opposed", SWEEP_DAY, {"grounds": "territory"}), "ars",
              today=SWEEP_DAY, now=noon(SWEEP_DAY))

    assert journal_length(db, case_id) == rows_after_edit <= rows_before  # nothing appended after the edit
    assert verify_journal(uow(db), case_id), f"{edit}: the finding was erased by normal operation"


def test_deleting_the_last_row_then_sweeping_leaves_the_finding_in_place(db):
    case_id = keyed_case(db)
    sql(db, EDITS["delete the last row"], c=case_id)

    sweep(uow(db), today=SWEEP_DAY, now=noon(SWEEP_DAY))

    problems = verify_journal(uow(db), case_id)
    assert any("recorded head" in p for p in problems)


def test_a_row_rewritten_and_the_chain_recomputed_without_the_key_is_detected(db):
    case_id = keyed_case(db)
    with Session(db) as session:
        rows = list(session.exec(select(JournalRow).where(JournalRow.case_id == case_id).order_by(JournalRow.seq)))
    # The forger moves the receipt of the health project a week earlier and recomputes every hash after it, with
    # the only hash function they know: plain SHA-256, and the key id copied from the rows.
    previous = rows[0].prev_hash
    for stored in rows:
        row = JournalRow(**{**stored.model_dump(), "prev_hash": previous})
        if row.type == "health_project_received":
            row.at = date(2025, 2, 11)
        forged = row_hash(JournalRow(**{**row.model_dump(), "key_id": ""}))
        sql(db, "UPDATE journal SET at = :at, prev_hash = :p, hash = :h WHERE id = :i", at=row.at, p=previous,
            h=forged, i=row.id)
        previous = forged
    sql(db, "UPDATE cases SET journal_head = :h WHERE id = :c", h=previous, c=case_id)

    problems = verify_journal(uow(db), case_id)

    assert any("content does not match its hash" in p for p in problems)


def test_an_unkeyed_deployment_still_detects_edits_and_says_its_hashes_are_unkeyed(db):
    case_id = health_project_received_18_feb_2025(db)
    unkeyed = SqlUnitOfWork(db)
    assert verify_journal(unkeyed, case_id) == []

    sql(db, EDITS["move an event's date"], c=case_id)

    assert any("content does not match" in p for p in verify_journal(unkeyed, case_id))


def test_rows_signed_with_a_retired_key_still_verify_and_rekey_moves_them_to_the_new_key(db):
    case_id = keyed_case(db)
    rotated = JournalKeys.from_secrets(NEW_KEY, [KEY])
    record_on = date(2025, 3, 3)
    apply(SqlUnitOfWork(db, keys=rotated), case_id, NewEvent("health_project_opposed", record_on,
                                                             {"grounds": "territory"}), "ars",
          today=record_on, now=noon(record_on))
    assert verify_journal(SqlUnitOfWork(db, keys=rotated), case_id) == []  # old rows: KEY; the new one: NEW_KEY
    without_old = JournalKeys.from_secrets(NEW_KEY)
    assert any("cannot be checked" in p for p in verify_journal(SqlUnitOfWork(db, keys=without_old), case_id))

    report = rekey(SqlUnitOfWork(db, keys=rotated))

    assert report.signed == 1 and report.refused == ()
    assert verify_journal(SqlUnitOfWork(db, keys=without_old), case_id) == []


def test_rekey_leaves_a_tampered_journal_alone_instead_of_laundering_it(db):
    case_id = keyed_case(db)
    sql(db, EDITS["change an event's data"], c=case_id)

    report = rekey(uow(db))

    assert [refused for refused, _ in report.refused] == [case_id]
    assert verify_journal(uow(db), case_id)


def test_an_empty_journal_is_covered_by_its_genesis_entry(db):
    from builders import new_case

    case_id = new_case(db)
    assert verify_journal(SqlUnitOfWork(db), case_id) == []

    sql(db, EDITS["move the seat"], c=case_id)

    assert any("genesis entry" in p for p in verify_journal(SqlUnitOfWork(db), case_id))
    with pytest.raises(TamperedJournal):
        record(db, case_id, "2025-01-06", "contact_recorded", {"source": "ars"})


def test_an_intact_case_is_written_as_usual_with_keyed_rows(db):
    case_id = keyed_case(db)

    report = sweep(uow(db), today=SWEEP_DAY, now=noon(SWEEP_DAY))

    assert [(c, t) for c, t, _ in report.system_events] == [(case_id, "health_project_tacitly_validated")]
    assert verify_journal(uow(db), case_id) == []
    with db.connect() as connection:
        key_ids = {r[0] for r in connection.execute(text("SELECT key_id FROM journal WHERE case_id = :c"),
                                                    {"c": case_id})}
    assert len(key_ids) == 1 and "" not in key_ids
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


def test_a_long_running_writer_with_the_replay_cached_still_refuses_a_journal_cut_short(db):
    """The web server and the scheduler keep each case's replay between writes: the check before an append
    reads where the journal ends instead of trusting its cache."""
    writer = uow(db)
    case_id = health_project_received_18_feb_2025(db)
    rekey(writer)
    day = date(2025, 3, 3)
    apply(writer, case_id, NewEvent("health_project_opposed", day, {"grounds": "territory"}), "ars", today=day,
          now=noon(day))  # the replay at the head is now cached in `writer`
    sql(db, EDITS["delete the last row"], c=case_id)

    with pytest.raises(TamperedJournal, match="recorded head"):
        apply(writer, case_id, NewEvent("event_voided", day, {"seq": 1}), "ars", today=day, now=noon(day))
    with pytest.raises(TamperedJournal, match="recorded head"):
        # A resubmission, which the lifecycle would accept: only the journal's damage refuses it.
        apply(writer, case_id, NewEvent("health_project_received", day, {}), "ars", today=day, now=noon(day))


CASE_ROW_AND_TAIL_EDITS = ["delete the last row", "move the seat", "change the communes",
                           "change the declared population", "change the ruleset", "edit the recorded head"]


@pytest.mark.parametrize("edit", CASE_ROW_AND_TAIL_EDITS)
def test_a_long_running_writer_that_starts_from_the_case_it_last_wrote_refuses_an_edit_of_the_case_or_the_tail(
        db, edit):
    """The writer's next write does not read the case: its UPDATE requires the row as last written, and an edit
    sends it back to a read, which finds the edit, refuses and alerts."""
    writer = uow(db)
    case_id = keyed_case(db)
    day = date(2025, 3, 3)
    apply(writer, case_id, NewEvent("health_project_opposed", day, {"grounds": "territory"}), "ars", today=day,
          now=noon(day))  # the case as written is now cached in `writer`
    sql(db, EDITS[edit], c=case_id, forged="f" * 64)
    rows_after_edit = journal_length(db, case_id)

    with pytest.raises(TamperedJournal, match="integrity check"):
        # A resubmission, which the lifecycle would accept: only the edit refuses it.
        apply(writer, case_id, NewEvent("health_project_received", day, {}), "ars", today=day, now=noon(day))

    assert journal_length(db, case_id) == rows_after_edit
    assert verify_journal(uow(db), case_id), f"{edit}: the finding was erased by the write"
