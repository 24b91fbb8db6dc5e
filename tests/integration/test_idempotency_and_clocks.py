"""Writes that can be retried safely, and clocks that cannot be pushed ahead on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from builders import health_project_received_18_feb_2025, new_case, noon, record
from cli_runner import assert_one_line_error, make_runner
from freezegun import freeze_time
from sqlalchemy import Engine, text

from lifecycle.errors import EventRejected
from workflows.persistence.errors import ClockRefused
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import case_view
from workflows.services import NewEvent, apply, sweep


class AcknowledgementLost(SqlUnitOfWork):
    """Commits, then fails as a dropped connection would: the caller never learns that the write landed."""

    def commit(self) -> None:
        super().commit()
        raise ConnectionError("connection reset by peer after COMMIT")


def journal_types(db: Engine, case_id: int) -> list[str]:
    with db.connect() as connection:
        return [r[0] for r in connection.execute(
            text("SELECT type FROM journal WHERE case_id = :c ORDER BY seq"), {"c": case_id})]


OPPOSITION = NewEvent("health_project_opposed", date(2025, 3, 10), {"grounds": "territory"})


def test_a_write_whose_acknowledgement_was_lost_is_retried_with_its_key_and_recorded_once(db):
    case_id = health_project_received_18_feb_2025(db)
    before = journal_types(db, case_id)

    with pytest.raises(ConnectionError):
        apply(AcknowledgementLost(db), case_id, OPPOSITION, "ars", today=date(2025, 3, 10),
              now=noon(date(2025, 3, 10)), idempotency_key="form-7f3a")
    retried = apply(SqlUnitOfWork(db), case_id, OPPOSITION, "ars", today=date(2025, 3, 11),
                    now=noon(date(2025, 3, 11)), idempotency_key="form-7f3a")

    assert journal_types(db, case_id) == [*before, "health_project_opposed"]
    assert retried.seq == len(before) + 1
    assert (retried.event_from, retried.event_to) == ("health_project_submitted", "health_project_opposed")


def test_the_same_key_for_a_different_event_is_refused_naming_the_first_one(db):
    case_id = health_project_received_18_feb_2025(db)
    record_day = date(2025, 3, 10)
    apply(SqlUnitOfWork(db), case_id, OPPOSITION, "ars", today=record_day, now=noon(record_day),
          idempotency_key="k-1")

    with pytest.raises(EventRejected, match="was used for #.* health_project_opposed dated 2025-03-10"):
        apply(SqlUnitOfWork(db), case_id, NewEvent("health_project_validated", record_day, {}), "ars",
              today=record_day, now=noon(record_day), idempotency_key="k-1")


def test_a_write_dated_after_today_at_the_seat_is_refused_and_writes_nothing(db):
    case_id = health_project_received_18_feb_2025(db)
    before = journal_types(db, case_id)
    real_now = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)

    with pytest.raises(ClockRefused, match="after today's date at the seat"):
        apply(SqlUnitOfWork(db), case_id, NewEvent("health_project_opposed", date(2025, 3, 12),
                                                   {"grounds": "territory"}), "ars",
              today=date(2025, 3, 12), now=real_now)
    with pytest.raises(ClockRefused, match="a sweep cannot run ahead"):
        sweep(SqlUnitOfWork(db), today=date(2025, 4, 23), now=real_now)

    assert journal_types(db, case_id) == before


def test_the_case_page_of_a_past_day_shows_only_what_had_been_recorded_by_then(db):
    case_id = new_case(db)
    record(db, case_id, "2025-01-06", "contact_recorded", {"source": "ars"})
    # The first meeting of 13 January was only recorded on 20 January (backdated).
    record(db, case_id, "2025-01-13", "first_meeting_held", today="2025-01-20")

    as_of_the_15th = case_view(SqlUnitOfWork(db), case_id, today=date(2025, 1, 15))
    as_of_the_20th = case_view(SqlUnitOfWork(db), case_id, today=date(2025, 1, 20))

    assert (as_of_the_15th.state, len(as_of_the_15th.journal), as_of_the_15th.recorded_later) == ("prospect", 1, 1)
    assert (as_of_the_20th.state, len(as_of_the_20th.journal)) == ("accompanied", 2)


# ----------------------------------------------------------------------------------------------- CLI
@pytest.fixture
def cpts(tmp_path, monkeypatch, capsys):
    run = make_runner(monkeypatch, capsys, f"sqlite:///{tmp_path / 'cpts.db'}")
    assert run("db", "init").code == 0
    assert run("case", "create", "--name", "CPTS du Pays Messin", "--dept", "57", "--population", "60000").code == 0
    return run


@freeze_time("2025-01-06 10:00:00")
def test_cpts_case_event_retried_with_its_idempotency_key_prints_the_first_result(cpts):
    args = ("case", "event", "1", "contact_recorded", "--at", "2025-01-06", "--data", '{"source": "ars"}',
            "--idempotency-key", "3f2c9a1e-retry")

    first, second = cpts(*args), cpts(*args)

    assert first.code == second.code == 0
    assert first.out == second.out == "case 1 #1 contact_recorded: new → prospect\n"
    assert len(cpts("case", "show", "1", "--json").json()["journal"]) == 1


@freeze_time("2025-01-06 10:00:00")
def test_cpts_case_event_with_today_in_the_future_is_one_line_and_writes_nothing(cpts):
    outcome = cpts("case", "event", "1", "contact_recorded", "--at", "2031-01-01", "--data", '{"source": "ars"}',
                   "--today", "2031-01-01")

    assert_one_line_error(outcome, "--today 2031-01-01", "cpts simulate")
    assert cpts("case", "show", "1", "--json").json()["journal"] == []


@freeze_time("2025-01-06 10:00:00")
def test_cpts_sweep_with_today_a_week_ahead_is_refused(cpts):
    assert_one_line_error(cpts("sweep", "--today", "2025-01-13"), "--today 2025-01-13", "ahead of the clock")
