"""The seats of a CPL's sections (annex 5 art. 2 quorum) as a deployment setting (`CPTS_CPL_MEMBERS`), recorded
into each deliberation when it is recorded: the engine checks quorum against the seats in the event when it has
them, else the ruleset's defaults, so that a later change of setting never changes a past deliberation.

The case: a contract refused on Mon 6 Jan 2025 in Paris (75), referred to the CPL on Mon 3 Feb, the meeting fixed
on Thu 20 March 2025 (as in test_cpl_procedure). The ruleset's default: 6 seats per section (quorum 3).
"""

from __future__ import annotations

from datetime import date

import pytest
from test_cpl_procedure import DELIBERATION, REFERRED, replay

from lifecycle.errors import EventRejected, TransitionRejected
from lifecycle.events import validate_data
from workflows.persistence.memory import InMemoryUnitOfWork
from workflows.services import NewEvent, apply, create_case
from workflows.settings import Settings, SettingsError, load_settings

D = date.fromisoformat
THREE_AND_THREE = {"present": {"professional": 3, "social": 3},
                   "votes": {"for": 4, "against": 2, "blank": 0, "abstention": 0}}


# ------------------------------------------------------------------------------------------ the engine
def test_three_members_of_each_section_make_the_quorum_of_the_default_six_seats():
    projection = replay([*REFERRED, ("2025-03-20", "cpl_meeting_held", THREE_AND_THREE)], today="2025-03-21")
    assert projection.rejected == ()


def test_the_seats_recorded_with_the_meeting_decide_the_quorum():
    # 8 seats per section: the quorum is 4 (half of 8), and 3 present is short of it in both sections.
    data = {**THREE_AND_THREE, "seats": {"professional": 8, "social": 8}}
    projection = replay([*REFERRED, ("2025-03-20", "cpl_meeting_held", data)], today="2025-03-21")

    error = projection.rejected[-1].error
    assert "no quorum in the professional section (3 present or represented, at least 4 of 8 needed)" in error
    assert "no quorum in the social section" in error


def test_seats_need_a_deliberation_and_at_least_one_seat_per_section():
    with pytest.raises(EventRejected, match="seats go with a deliberation"):
        validate_data("cpl_meeting_held", {"seats": {"professional": 8, "social": 8}})
    with pytest.raises(EventRejected, match=r"seats.social=0 is not accepted: a section of the CPL has at least 1"):
        validate_data("cpl_meeting_held", {**THREE_AND_THREE, "seats": {"professional": 8, "social": 0}})


# ------------------------------------------------------------------------------------------ the setting
def test_the_setting_reads_seats_per_departement_and_a_default_for_the_others():
    settings = load_settings({"CPTS_CPL_MEMBERS": " 57=8/8 , 2a=6/7; *=7/7"})
    assert settings.cpl_seats("57") == {"professional": 8, "social": 8}
    assert settings.cpl_seats("2A") == {"professional": 6, "social": 7}
    assert settings.cpl_seats("33") == {"professional": 7, "social": 7}
    assert Settings().cpl_seats("57") is None and load_settings({}).cpl_members == {}


@pytest.mark.parametrize(("raw", "says"), [
    ("57=8", "CPTS_CPL_MEMBERS: '57=8' is not DEPT=PROFESSIONAL/SOCIAL: expected e.g. 57=8/8,67=6/6,*=7/7"),
    ("57:8/8", "CPTS_CPL_MEMBERS: '57:8/8' is not DEPT=PROFESSIONAL/SOCIAL"),
    ("99=8/8", "CPTS_CPL_MEMBERS: '99=8/8': unknown département 99"),
    ("57=0/8", "CPTS_CPL_MEMBERS: '57=0/8': each section has from 1 to 1000 seats"),
    ("57=8/8,57=6/6", "CPTS_CPL_MEMBERS: département 57 is given twice"),
])
def test_a_malformed_setting_is_one_line_naming_the_variable(raw, says):
    with pytest.raises(SettingsError) as refused:
        load_settings({"CPTS_CPL_MEMBERS": raw})
    assert str(refused.value).startswith(says) and "\n" not in str(refused.value)


# ------------------------------------------------------------------------------------------ the application
def referred_case(uow: InMemoryUnitOfWork) -> int:
    case = create_case(uow, name="CPTS Paris 14", departement="75", population=50_000)
    for at, kind, data in REFERRED:
        apply(uow, case.id, NewEvent(kind, D(at), data), "ars.agent", today=D(at))
    return case.id


def meeting(uow: InMemoryUnitOfWork, case_id: int, data: dict, members: dict | None):  # type: ignore[no-untyped-def]
    return apply(uow, case_id, NewEvent("cpl_meeting_held", D("2025-03-20"), data), "juridique", today=D("2025-03-20"),
                 cpl_members=members)


def recorded_data(uow: InMemoryUnitOfWork, case_id: int, kind: str = "cpl_meeting_held") -> dict:
    import json

    [row] = [r for r in uow.committed.journal[case_id] if r.type == kind]
    return json.loads(row.data)


def test_the_deployments_seats_are_recorded_into_the_deliberation():
    uow = InMemoryUnitOfWork()
    case_id = referred_case(uow)
    meeting(uow, case_id, DELIBERATION, {"75": (8, 8)})  # 4 of each section present or represented: quorum 4
    assert recorded_data(uow, case_id)["seats"] == {"professional": 8, "social": 8}


def test_without_a_setting_the_rulesets_default_seats_are_recorded():
    uow = InMemoryUnitOfWork()
    case_id = referred_case(uow)
    meeting(uow, case_id, DELIBERATION, None)
    assert recorded_data(uow, case_id)["seats"] == {"professional": 6, "social": 6}


def test_a_deployment_with_larger_sections_refuses_a_deliberation_short_of_its_quorum():
    uow = InMemoryUnitOfWork()
    case_id = referred_case(uow)
    with pytest.raises(TransitionRejected, match=r"no quorum in the professional section \(4 present or represented, "
                                                 r"at least 5 of 10 needed\)"):
        meeting(uow, case_id, DELIBERATION, {"*": (10, 10)})
    assert [r.type for r in uow.committed.journal[case_id]][-1] == "cpl_meeting_scheduled"


def test_seats_given_with_the_deliberation_win_over_the_setting():
    uow = InMemoryUnitOfWork()
    case_id = referred_case(uow)
    meeting(uow, case_id, {**DELIBERATION, "seats": {"professional": 7, "social": 7}}, {"75": (10, 10)})
    assert recorded_data(uow, case_id)["seats"] == {"professional": 7, "social": 7}


def test_a_later_change_of_setting_does_not_change_a_past_deliberation():
    uow = InMemoryUnitOfWork()
    case_id = referred_case(uow)
    meeting(uow, case_id, DELIBERATION, {"75": (8, 8)})
    # The deployment now says 10 seats (quorum 5): the meeting of 20 March, held with 8, stays valid on replay.
    later = apply(uow, case_id, NewEvent("cpl_opinion_notified", D("2025-03-27"), {"opinion": "favourable"}),
                  "juridique", today=D("2025-03-27"), cpl_members={"75": (10, 10)})
    assert later.projection.rejected == ()
    assert [h.event for h in later.projection.history][-2:] == ["cpl_meeting_held", "cpl_opinion_notified"]
