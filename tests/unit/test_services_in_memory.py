"""The use cases run unchanged on the in-memory unit of work: same rules, same all-or-nothing writes."""

from __future__ import annotations

import re
from datetime import date

import pytest

from lifecycle.errors import EventRejected, TransitionRejected
from workflows.persistence.memory import InMemoryUnitOfWork
from workflows.services import ConcurrentModification, NewEvent, apply, create_case, sweep, void
from workflows.services.people import add_user, assign

D = date.fromisoformat
LOI_VALIDATED = [
    ("2024-09-02", "contact_recorded", {"source": "ars"}),
    ("2024-09-09", "first_meeting_held", {}),
    ("2024-10-07", "loi_submitted", {}),
    ("2024-11-04", "loi_decision", {"party": "ars", "decision": "approve"}),
    ("2024-11-12", "loi_decision", {"party": "am", "decision": "approve"}),
    ("2025-02-18", "health_project_received", {}),
]


def received_18_feb_2025(uow: InMemoryUnitOfWork) -> int:
    case = create_case(uow, name="CPTS du Pays Messin", departement="57", population=60_000)
    for at, kind, data in LOI_VALIDATED:
        apply(uow, case.id, NewEvent(kind, D(at), data), "ars.agent", today=D(at))
    return case.id


def test_a_health_project_received_on_18_feb_2025_in_moselle_is_tacitly_validated_on_22_april_in_memory():
    uow = InMemoryUnitOfWork()
    case_id = received_18_feb_2025(uow)

    quiet = sweep(uow, today=D("2025-04-22"))
    fired = sweep(uow, today=D("2025-04-23"))
    again = sweep(uow, today=D("2025-04-23"))

    assert quiet.system_events == ()
    assert fired.system_events == ((case_id, "health_project_tacitly_validated", D("2025-04-22")),)
    assert again.system_events == ()
    assert uow.committed.cases[case_id].state == "health_project_validated"
    assert [r.type for r in uow.committed.journal[case_id]][-1] == "health_project_tacitly_validated"


def test_a_refused_event_writes_nothing_in_memory():
    uow = InMemoryUnitOfWork()
    case_id = received_18_feb_2025(uow)
    before = (uow.committed.cases[case_id].version, len(uow.committed.journal[case_id]))

    with pytest.raises(TransitionRejected):
        apply(uow, case_id, NewEvent("contract_signed", D("2025-03-01"), {}), "ars.agent", today=D("2025-03-01"))

    assert (uow.committed.cases[case_id].version, len(uow.committed.journal[case_id])) == before


def test_a_failure_at_commit_leaves_the_committed_state_as_it_was():
    class FailingCommit(InMemoryUnitOfWork):
        fail = False

        def commit(self) -> None:
            if self.fail:
                raise RuntimeError("disk full")
            super().commit()

    uow = FailingCommit()
    case_id = received_18_feb_2025(uow)
    uow.fail = True

    with pytest.raises(RuntimeError, match="disk full"):
        apply(uow, case_id, NewEvent("health_project_opposed", D("2025-03-10"), {"grounds": "territory"}),
              "ars.agent", today=D("2025-03-10"))

    assert uow.committed.cases[case_id].state == "health_project_submitted"
    assert len(uow.committed.journal[case_id]) == len(LOI_VALIDATED)


def test_a_voided_opposition_gives_the_case_back_its_opposition_window():
    uow = InMemoryUnitOfWork()
    case_id = received_18_feb_2025(uow)
    opposed = apply(uow, case_id, NewEvent("health_project_opposed", D("2025-03-10"), {"grounds": "territory"}),
                    "ars.agent", today=D("2025-03-10"))

    result = void(uow, case_id, opposed.seq, "ars.agent", at=D("2025-03-11"), reason="wrong CPTS",
                  today=D("2025-03-11"))

    assert (opposed.state_after, result.state_after) == ("health_project_opposed", "health_project_submitted")
    assert result.projection.deadline("health_project_opposition").due == D("2025-04-22")


def test_a_write_from_a_stale_version_is_refused_in_memory():
    uow = InMemoryUnitOfWork()
    case_id = received_18_feb_2025(uow)

    class ColleagueFirst(InMemoryUnitOfWork):
        def __enter__(self):
            entered = super().__enter__()
            self.committed.cases[case_id].version += 1  # a colleague's write lands after our read
            return entered

    stale = ColleagueFirst()
    stale.committed = uow.committed
    with pytest.raises(ConcurrentModification, match="changed by someone else"):
        apply(stale, case_id, NewEvent("health_project_opposed", D("2025-03-10"), {"grounds": "territory"}),
              "ars.agent", today=D("2025-03-10"))


def test_people_are_assigned_in_memory_and_notices_go_to_the_binome():
    uow = InMemoryUnitOfWork()
    add_user(uow, "Élise Martin", "elise.martin@ars.example.fr", "ars", ["44"])
    add_user(uow, "Paul Durand", "paul.durand@cpam.example.fr", "cpam", ["57"])
    case_id = received_18_feb_2025(uow)
    assign(uow, case_id, ars_email="elise.martin@ars.example.fr", cpam_email="paul.durand@cpam.example.fr")

    report = sweep(uow, today=D("2025-03-23"))  # 30 days before the opposition window closes on 22 April

    [notice] = uow.committed.outbox.values()
    assert report.notifications == 1
    assert (notice.kind, notice.offset_days, notice.status) == ("reminder", 30, "pending")
    assert {r for r in notice.recipients.split('"') if "@" in r} == {"elise.martin@ars.example.fr",
                                                                      "paul.durand@cpam.example.fr"}


@pytest.mark.parametrize(("name", "says"), [
    ("CPTS A\r\nBcc: x@y.fr", "U+000D, U+000A"),
    ("CPTS \u202eA", "U+202E"),  # a bidi override would reverse what a list or a subject shows
    ("C" * 201, "201 characters long: at most 200"),
    (None, "must be text"),
    ("   ", "a case needs a name"),
])
def test_a_case_name_that_would_forge_or_flood_a_list_or_a_subject_is_refused_and_nothing_is_created(name, says):
    uow = InMemoryUnitOfWork()

    with pytest.raises(EventRejected, match=re.escape(says)):
        create_case(uow, name=name, departement="57", population=60_000)

    assert uow.committed.cases == {}
