"""The service layer against real databases (SQLite and PostgreSQL): `apply` appends one hash-chained journal
row and refreshes the projections in one transaction, or raises a DomainError and writes nothing; `sweep`
fires due timers exactly once; `verify_journal` detects tampering.

Dates are counted by hand (SPEC §6): a health project received on Tue 18 Feb 2025 in Moselle (57) is
tacitly validated on Tue 22 Apr 2025 (Good Friday 18 Apr and Easter Monday 21 Apr are holidays there).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from builders import METZ, THIONVILLE, noon, record
from builders import health_project_received_18_feb_2025 as _health_project_received_18_feb_2025
from builders import new_case as _new_case
from spec_example import ALL_DOCUMENTS
from sqlalchemy import Engine, text
from sqlmodel import Session

from lifecycle.errors import DomainError, EventRejected, TransitionRejected
from workflows.persistence.journal import LEGACY_GENESIS_HASH
from workflows.persistence.projection_writer import write_projection
from workflows.persistence.tables import Case
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import case_view, list_deadlines, verify_journal
from workflows.services import ConcurrentModification, NewEvent, apply, sweep
from workflows.services.cases import project_case, ruleset_for
from workflows.services.clock import utc_now

D = date.fromisoformat


def new_case(db: Engine, name: str = "CPTS du Pays Messin", communes: tuple[str, ...] = (METZ,)) -> int:
    return _new_case(db, name, communes=communes)


def health_project_received_18_feb_2025(db: Engine, name: str = "CPTS du Pays Messin",
                                        communes: tuple[str, ...] = (METZ,)) -> int:
    return _health_project_received_18_feb_2025(db, name=name, communes=communes)


def journal(db: Engine, case_id: int) -> list[dict]:
    with db.connect() as connection:
        rows = connection.execute(
            text("SELECT seq, type, at, actor, prev_hash, hash FROM journal WHERE case_id = :c ORDER BY seq"),
            {"c": case_id},
        )
        return [dict(row._mapping) for row in rows]


def case_row(db: Engine, case_id: int) -> dict:
    with db.connect() as connection:
        row = connection.execute(text("SELECT state, version, journal_head FROM cases WHERE id = :c"),
                                 {"c": case_id}).one()
        return dict(row._mapping)


def deadline_rows(db: Engine, case_id: int) -> dict[str, tuple[str, str]]:
    with db.connect() as connection:
        rows = connection.execute(text("SELECT key, due, status FROM deadlines WHERE case_id = :c"), {"c": case_id})
        return {r.key: (str(r.due), r.status) for r in rows}


def snapshot(db: Engine, case_id: int) -> tuple:
    return journal(db, case_id), case_row(db, case_id), deadline_rows(db, case_id)


# --------------------------------------------------------------------------- apply

def test_recording_an_event_appends_a_hash_chained_row_and_refreshes_state_and_deadlines(db):
    case_id = new_case(db)
    genesis = case_row(db, case_id)["journal_head"]  # the case's identity, signed before any event

    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "cpam"})
    assert case_row(db, case_id)["state"] == "prospect"
    assert deadline_rows(db, case_id) == {"first_meeting": ("2025-01-21", "pending")}

    result = record(db, case_id, "2025-01-13", "first_meeting_held")
    assert (result.seq, result.state_before, result.state_after) == (2, "prospect", "accompanied")

    rows = journal(db, case_id)
    assert [(r["seq"], r["type"], str(r["at"])) for r in rows] == [
        (1, "contact_recorded", "2025-01-06"), (2, "first_meeting_held", "2025-01-13")]
    assert rows[0]["prev_hash"] == genesis != LEGACY_GENESIS_HASH
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    assert case_row(db, case_id) == {"state": "accompanied", "version": 2, "journal_head": rows[1]["hash"]}
    assert deadline_rows(db, case_id) == {"first_meeting": ("2025-01-21", "met")}


@pytest.mark.parametrize(
    ("kind", "at", "data", "error", "says"),
    [
        ("loi_submitted", "2025-01-20", {}, TransitionRejected, "not allowed in state prospect"),
        ("letter_of_intent_sent", "2025-01-20", {}, EventRejected, "unknown event 'letter_of_intent_sent'"),
        ("first_meeting_held", "2025-01-20", {"venue": "Metz"}, EventRejected, "unknown data key(s) venue"),
        ("first_meeting_held", "2025-02-30", {}, EventRejected, "malformed event date '2025-02-30'"),
        ("first_meeting_held", "2025-01-21", {}, EventRejected, "is in the future"),
        ("contract_expired", "2025-01-20", {}, EventRejected, "recorded by the engine's timers"),
    ],
    ids=["wrong state", "unknown event", "unknown data key", "malformed date", "future date", "system event"],
)
def test_a_rejected_event_raises_a_domain_error_and_writes_nothing(db, kind, at, data, error, says):
    case_id = new_case(db)
    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "cpam"})
    before = snapshot(db, case_id)

    with pytest.raises(error) as raised:
        apply(SqlUnitOfWork(db), case_id, NewEvent(kind, at, data), "ars.agent", today=D("2025-01-20"))

    assert isinstance(raised.value, DomainError)
    assert says in str(raised.value)
    assert snapshot(db, case_id) == before


def test_a_failure_just_before_commit_leaves_journal_and_projections_as_they_were(db):
    case_id = new_case(db)
    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "cpam"})
    before = snapshot(db, case_id)

    class DiskFullAtCommit(SqlUnitOfWork):
        def commit(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        apply(DiskFullAtCommit(db), case_id, NewEvent("first_meeting_held", D("2025-01-13")), "ars.agent",
              today=D("2025-01-13"))

    assert snapshot(db, case_id) == before
    assert case_row(db, case_id)["state"] == "prospect"


@pytest.mark.postgres
def test_a_case_changed_by_someone_else_meanwhile_raises_concurrent_modification_and_writes_nothing(
    postgres_db,
):
    # On PostgreSQL two agents' transactions interleave; on SQLite they cannot (BEGIN IMMEDIATE serialises
    # writers), which the next test covers.
    db = postgres_db
    case_id = new_case(db)
    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "cpam"})
    class ColleagueWritesAfterOurRead(SqlUnitOfWork):
        def __enter__(self):
            uow = super().__enter__()
            real_rows = uow.journal.rows

            def read_while_a_colleague_records(cid):
                rows = real_rows(cid)
                with db.begin() as colleague:  # another agent's transaction commits between our read and write
                    colleague.execute(text("UPDATE cases SET version = version + 1 WHERE id = :c"), {"c": cid})
                return rows

            uow.journal.rows = read_while_a_colleague_records
            return uow

    with pytest.raises(ConcurrentModification, match=f"case {case_id} was changed by someone else"):
        apply(ColleagueWritesAfterOurRead(db), case_id, NewEvent("first_meeting_held", D("2025-01-13")), "ars.agent",
              today=D("2025-01-13"))

    assert [r["seq"] for r in journal(db, case_id)] == [1]
    assert case_row(db, case_id)["state"] == "prospect"
    assert case_row(db, case_id)["version"] == 2  # ours was not written; the colleague's bump stays


def test_writing_projections_from_a_stale_read_of_the_case_is_refused_by_the_version_check(db):
    case_id = new_case(db)
    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "cpam"})
    with Session(db) as session:
        stale = session.get(Case, case_id)
        session.expunge(stale)
    record(db, case_id, "2025-01-13", "first_meeting_held", {})  # a colleague's write bumps the version

    with SqlUnitOfWork(db) as uow:
        projection = project_case(stale, uow.journal.rows(case_id), D("2025-01-13"))
        with pytest.raises(ConcurrentModification, match="changed by someone else"):
            write_projection(uow, stale, projection, ruleset_for(stale), now=utc_now(), head="0" * 64,
                             notices_from=D("2025-01-13"), tail=stale.journal_head, genesis=stale.journal_head)
    assert case_row(db, case_id)["state"] == "accompanied"


def test_an_event_recorded_for_an_unknown_case_is_refused(db):
    with pytest.raises(DomainError, match="unknown case"):
        apply(SqlUnitOfWork(db), 999, NewEvent("contact_recorded", D("2025-01-06"), {"source": "ars"}), "ars.agent",
              today=D("2025-01-06"))


# --------------------------------------------------------------------------- sweep

def test_the_sweep_writes_the_tacit_validation_of_22_april_2025_exactly_once(db):
    case_id = health_project_received_18_feb_2025(db)
    rows_before = len(journal(db, case_id))

    assert sweep(SqlUnitOfWork(db), today=D("2025-04-22")).system_events == ()  # the window is open on its last day

    report = sweep(SqlUnitOfWork(db), today=D("2025-04-23"))
    assert report.system_events == ((case_id, "health_project_tacitly_validated", D("2025-04-22")),)
    last = journal(db, case_id)[-1]
    assert (last["type"], str(last["at"]), last["actor"]) == ("health_project_tacitly_validated", "2025-04-22",
                                                             "system")
    assert case_row(db, case_id)["state"] == "health_project_validated"
    assert deadline_rows(db, case_id)["health_project_opposition"] == ("2025-04-22", "elapsed")
    assert len(journal(db, case_id)) == rows_before + 1


def test_cases_swept_several_per_transaction_fire_each_timer_once(db):
    cases = [health_project_received_18_feb_2025(db, name=f"CPTS {i}") for i in range(5)]

    report = sweep(SqlUnitOfWork(db), today=D("2025-04-23"), cases_per_transaction=2)
    again = sweep(SqlUnitOfWork(db), today=D("2025-04-23"), cases_per_transaction=2)

    assert report.system_events == tuple((c, "health_project_tacitly_validated", D("2025-04-22")) for c in cases)
    assert again.system_events == ()
    assert [case_row(db, c)["state"] for c in cases] == ["health_project_validated"] * 5


def test_a_case_failing_in_a_group_rolls_its_whole_group_back(db):
    cases = [health_project_received_18_feb_2025(db, name=f"CPTS {i}") for i in range(3)]
    before = [snapshot(db, c) for c in cases]

    class HiccupOnTheLastCase(SqlUnitOfWork):
        def __enter__(self):
            uow = super().__enter__()
            real_lock = uow.cases.lock_for_sweep

            def lock_for_sweep(case_id):
                if case_id == cases[-1]:
                    raise RuntimeError("database hiccup")
                return real_lock(case_id)

            uow.cases.lock_for_sweep = lock_for_sweep
            return uow

    with pytest.raises(RuntimeError, match="hiccup"):
        sweep(HiccupOnTheLastCase(db), today=D("2025-04-23"), cases_per_transaction=3)

    assert [snapshot(db, c) for c in cases] == before


def test_the_sweep_s_probe_finds_the_cases_due_by_their_wake_up_day_only(db):
    due = health_project_received_18_feb_2025(db)  # wakes up on 23 Apr 2025 (the day after the window)
    later = new_case(db, "CPTS plus tard")
    record(db, later, "2025-04-20", "contact_recorded", {"source": "ars"})  # wakes up for its first meeting
    uow = SqlUnitOfWork(db)

    with uow:
        wake = {c: uow.cases.get(c).wake_on for c in (due, later)}
    probe = [uow.due_case_ids(day) for day in (wake[due] - timedelta(days=1), wake[due], wake[later])]

    assert wake[due] < wake[later]
    assert probe == [[], [due], sorted([due, later])]


def test_a_second_sweep_on_the_same_day_writes_nothing(db):
    case_id = health_project_received_18_feb_2025(db)
    sweep(SqlUnitOfWork(db), today=D("2025-04-23"))
    after_first = snapshot(db, case_id)

    report = sweep(SqlUnitOfWork(db), today=D("2025-04-23"))

    assert (report.system_events, report.breached) == ((), ())
    assert snapshot(db, case_id) == after_first


def test_the_sweep_marks_a_missed_first_meeting_as_breached_once(db):
    case_id = new_case(db)
    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "porteur"})  # first meeting due 21 Jan

    assert sweep(SqlUnitOfWork(db), today=D("2025-01-21")).breached == ()
    report = sweep(SqlUnitOfWork(db), today=D("2025-01-22"))

    assert report.breached == ((case_id, "first_meeting:2025-01-06"),)
    assert deadline_rows(db, case_id)["first_meeting"] == ("2025-01-21", "breached")
    assert [d.key for d in list_deadlines(SqlUnitOfWork(db), status="breached")] == ["first_meeting"]
    assert sweep(SqlUnitOfWork(db), today=D("2025-01-23")).breached == ()


def test_a_first_meeting_held_after_the_breach_is_met_late(db):
    case_id = new_case(db)
    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "porteur"})
    sweep(SqlUnitOfWork(db), today=D("2025-01-22"))

    record(db, case_id, "2025-01-27", "first_meeting_held")

    assert deadline_rows(db, case_id)["first_meeting"] == ("2025-01-21", "met_late")


# --------------------------------------------------------------------------- backdating after the sweep

def test_a_backdated_opposition_is_refused_when_a_later_event_depends_on_the_tacit_validation(db):
    case_id = health_project_received_18_feb_2025(db)
    sweep(SqlUnitOfWork(db), today=D("2025-04-23"))
    record(db, case_id, "2025-05-05", "adhesion_requested", ALL_DOCUMENTS)
    before = snapshot(db, case_id)

    with pytest.raises(TransitionRejected) as raised:
        record(db, case_id, "2025-04-10", "health_project_opposed", {"grounds": "territory"}, today="2025-05-06")

    message = str(raised.value)
    assert "would invalidate" in message and "adhesion_requested of 2025-05-05" in message
    assert snapshot(db, case_id) == before


def test_a_backdated_opposition_is_accepted_when_nothing_depends_on_the_tacit_validation(db):
    case_id = health_project_received_18_feb_2025(db)
    sweep(SqlUnitOfWork(db), today=D("2025-04-23"), now=noon(D("2025-04-23")))
    tacit_seq = journal(db, case_id)[-1]["seq"]

    result = record(db, case_id, "2025-04-10", "health_project_opposed", {"grounds": "territory"},
                    today="2025-04-25")

    assert result.state_after == "health_project_opposed"
    assert case_row(db, case_id)["state"] == "health_project_opposed"
    view = case_view(SqlUnitOfWork(db), case_id, today=D("2025-04-25")).as_dict()
    superseded = {j["seq"]: j["superseded"] for j in view["journal"]}
    assert superseded[tacit_seq] is True  # kept in the journal, reported as superseded
    assert [seq for seq, flag in superseded.items() if flag] == [tacit_seq]
    assert "health_project_tacitly_validated" not in [h["event"] for h in view["history"]]


# --------------------------------------------------------------------------- voiding

def test_a_voided_opposition_stays_in_the_journal_and_the_state_is_rebuilt_without_it(db):
    case_id = health_project_received_18_feb_2025(db)
    opposition = record(db, case_id, "2025-03-10", "health_project_opposed", {"grounds": "territory"})

    result = record(db, case_id, "2025-03-11", "event_voided",
                    {"seq": opposition.seq, "reason": "recorded on the wrong CPTS"})

    assert result.state_after == "health_project_submitted"
    assert case_row(db, case_id)["state"] == "health_project_submitted"
    assert [r["type"] for r in journal(db, case_id)][-2:] == ["health_project_opposed", "event_voided"]
    view = case_view(SqlUnitOfWork(db), case_id, today=D("2025-03-11")).as_dict()
    voided_by = {j["seq"]: j["voided_by"] for j in view["journal"]}
    assert voided_by[opposition.seq] == result.seq
    assert deadline_rows(db, case_id)["health_project_opposition"] == ("2025-04-22", "pending")


def test_a_timer_s_event_cannot_be_voided(db):
    case_id = health_project_received_18_feb_2025(db)
    sweep(SqlUnitOfWork(db), today=D("2025-04-23"))
    tacit_seq = journal(db, case_id)[-1]["seq"]
    before = snapshot(db, case_id)

    with pytest.raises(EventRejected, match="fired by a timer"):
        record(db, case_id, "2025-04-24", "event_voided", {"seq": tacit_seq, "reason": "mistake"})

    assert snapshot(db, case_id) == before


def test_voiding_an_entry_that_does_not_exist_is_refused(db):
    case_id = new_case(db)
    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "cpam"})

    with pytest.raises(EventRejected, match="no journal entry #7"):
        record(db, case_id, "2025-01-07", "event_voided", {"seq": 7, "reason": "typo"})


# --------------------------------------------------------------------------- one health project per territory

def test_an_explicit_validation_is_refused_while_another_cpts_claims_a_commune_and_names_both(db):
    metz = health_project_received_18_feb_2025(db, name="CPTS Metz Centre", communes=(METZ,))
    pays_messin = health_project_received_18_feb_2025(db, name="CPTS du Pays Messin", communes=(METZ, THIONVILLE))
    before = snapshot(db, pays_messin)

    with pytest.raises(TransitionRejected) as raised:
        record(db, pays_messin, "2025-03-03", "health_project_validated")

    message = str(raised.value)
    assert METZ in message and THIONVILLE not in message
    assert f"case {metz}" in message and "CPTS Metz Centre" in message
    assert snapshot(db, pays_messin) == before


def test_once_the_other_cpts_abandons_its_project_the_validation_goes_through(db):
    metz = health_project_received_18_feb_2025(db, name="CPTS Metz Centre", communes=(METZ,))
    pays_messin = health_project_received_18_feb_2025(db, name="CPTS du Pays Messin", communes=(METZ, THIONVILLE))
    record(db, metz, "2025-02-28", "project_abandoned", {"reason": "fusion avec le Pays Messin"})

    result = record(db, pays_messin, "2025-03-03", "health_project_validated")

    assert result.state_after == "health_project_validated"


# --------------------------------------------------------------------------- journal integrity

def test_an_untouched_journal_verifies_intact(db):
    case_id = health_project_received_18_feb_2025(db)
    sweep(SqlUnitOfWork(db), today=D("2025-04-23"))

    assert verify_journal(SqlUnitOfWork(db), case_id) == []


def test_a_journal_row_edited_in_sql_is_detected(db):
    case_id = health_project_received_18_feb_2025(db)
    with db.begin() as connection:
        connection.execute(text("UPDATE journal SET data = :d WHERE case_id = :c AND seq = 1"),
                           {"d": json.dumps({"source": "msa"}), "c": case_id})

    problems = verify_journal(SqlUnitOfWork(db), case_id)

    assert problems and problems[0].startswith("row #1 contact_recorded")
    assert "edited" in problems[0]


def test_a_deleted_last_row_is_detected(db):
    case_id = health_project_received_18_feb_2025(db)
    last = journal(db, case_id)[-1]["seq"]
    with db.begin() as connection:
        connection.execute(text("DELETE FROM journal WHERE case_id = :c AND seq = :s"), {"c": case_id, "s": last})

    problems = verify_journal(SqlUnitOfWork(db), case_id)

    assert len(problems) == 1
    assert "rows removed at the end" in problems[0]
