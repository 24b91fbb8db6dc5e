"""`CPTS_CPL_MEMBERS` on the command line: the deployment's CPL composition is recorded into a deliberation recorded
with `cpts case event … cpl_meeting_held`; a malformed value stops the command with one line naming the variable.

The case: a Moselle contract refused on Mon 6 Jan 2025, referred to the CPL on Mon 3 Feb, the meeting fixed for
Thu 20 March 2025 and held that day.
"""

from __future__ import annotations

import json

import pytest
from builders import LOI_VALIDATED_2024, new_case, record_all
from freezegun import freeze_time
from spec_example import ALL_DOCUMENTS

from workflows.persistence.db import make_engine

REFERRED = [
    *LOI_VALIDATED_2024,
    ("2024-11-20", "health_project_received", {}),
    ("2024-12-10", "health_project_validated", {}),
    ("2024-12-16", "adhesion_requested", ALL_DOCUMENTS),
    ("2025-01-06", "contract_refusal_received", {}),
    ("2025-02-03", "cpl_referral_received", {"subject": "contract_refusal"}),
    ("2025-02-10", "cpl_meeting_scheduled", {"date": "2025-03-20"}),
]
# Five members of each section present; 6 for, 4 against.
DELIBERATION = json.dumps({"present": {"professional": 5, "social": 5},
                           "votes": {"for": 6, "against": 4, "blank": 0, "abstention": 0}})


@pytest.fixture
def referred(cpts, database) -> str:
    engine = make_engine(database)
    case_id = new_case(engine, "CPTS du Saulnois", population=30_000)
    record_all(engine, case_id, REFERRED)
    engine.dispose()
    return str(case_id)


def hold_meeting(cpts, case_id: str):  # type: ignore[no-untyped-def]
    with freeze_time("2025-03-20 12:00:00"):
        return cpts("case", "event", case_id, "cpl_meeting_held", "--at", "2025-03-20", "--data", DELIBERATION)


def last_data(cpts, case_id: str) -> dict:
    return cpts("case", "show", case_id, "--json").json()["journal"][-1]["data"]


def test_the_deployments_seats_for_the_departement_are_recorded(cpts, referred, monkeypatch):
    monkeypatch.setenv("CPTS_CPL_MEMBERS", "57=10/10,*=6/6")
    recorded = hold_meeting(cpts, referred)
    assert recorded.code == 0, recorded.err
    assert last_data(cpts, referred)["seats"] == {"professional": 10, "social": 10}


def test_a_quorum_short_of_the_deployments_seats_is_refused(cpts, referred, monkeypatch):
    monkeypatch.setenv("CPTS_CPL_MEMBERS", "57=12/12")  # quorum 6: 5 present is short
    refused = hold_meeting(cpts, referred)
    assert refused.code == 2
    assert "no quorum in the professional section (5 present or represented, at least 6 of 12 needed)" in refused.err
    assert refused.err.count("\n") == 1
    assert cpts("case", "show", referred, "--json").json()["journal"][-1]["type"] == "cpl_meeting_scheduled"


def test_a_malformed_setting_stops_the_command_with_one_line_naming_it(cpts, referred, monkeypatch):
    monkeypatch.setenv("CPTS_CPL_MEMBERS", "moselle=8")
    refused = hold_meeting(cpts, referred)
    assert refused.code == 2
    assert refused.err.startswith("error: CPTS_CPL_MEMBERS: 'moselle=8' is not DEPT=PROFESSIONAL/SOCIAL")
    assert refused.err.count("\n") == 1
