"""`cpts case event … --lrar NUMBER --presented-on DATE --received-on DATE`: structured evidence of the letter behind
an event, shown by `cpts case show` and `cpts legal docket`; refused on one line (exit 2, nothing written) when
malformed or contradicting the event's date.
"""

from __future__ import annotations

import csv
import io

import pytest
from builders import new_case, record_all, signed_on_2_june_2025
from freezegun import freeze_time

from workflows.persistence.db import make_engine

CONTRACT_2025 = signed_on_2_june_2025("quality")
NOTICE = ["termination_notice_received", "--at", "2025-06-10", "--data",
          '{"initiator": "funders", "grounds": "non_compliance"}']


@pytest.fixture
def contracted(cpts, database) -> str:
    """A Moselle CPTS under contract since Mon 2 June 2025."""
    engine = make_engine(database)
    case_id = new_case(engine, "CPTS de Sarreguemines", population=65_000)
    record_all(engine, case_id, CONTRACT_2025)
    engine.dispose()
    return str(case_id)


def record_notice(cpts, case_id: str, *options: str):  # type: ignore[no-untyped-def]
    """The funders' notice of Tue 10 June 2025, recorded on Thu 12 June."""
    with freeze_time("2025-06-12 12:00:00"):
        return cpts("case", "event", case_id, *NOTICE, *options)


def journal(cpts, case_id: str) -> list[dict]:
    return cpts("case", "show", case_id, "--today", "2025-06-12", "--json").json()["journal"]


def test_the_letter_of_a_termination_notice_is_recorded_and_shown_on_the_docket(cpts, contracted):
    # The funders' notice, first presented on Mon 9 June (nobody there), collected and signed for on Tue 10 June:
    # the event's date, 10 June, is the anchor of the windows.
    recorded = record_notice(cpts, contracted, "--lrar", "1a 234 567 8901 2", "--presented-on",
                    "2025-06-09", "--received-on", "2025-06-10", "--evidence", "scan-notification.pdf")
    assert recorded.code == 0, recorded.err

    last = journal(cpts, contracted)[-1]
    assert last["evidence_parts"] == {"lrar": "1A 234 567 8901 2", "presented_on": "2025-06-09",
                                      "received_on": "2025-06-10", "reference": "scan-notification.pdf"}
    shown = cpts("case", "show", contracted, "--today", "2025-06-12").out
    assert ("evidence LRAR 1A 234 567 8901 2, first presented 2025-06-09, received 2025-06-10 "
            "(ref scan-notification.pdf)") in shown

    [row] = cpts("legal", "docket", "--today", "2025-06-12", "--json").json()
    assert (row["notice_on"], row["notice_lrar"], row["notice_presented_on"], row["notice_received_on"],
            row["notice_evidence"]) == ("2025-06-10", "1A 234 567 8901 2", "2025-06-09", "2025-06-10",
                                        "scan-notification.pdf")
    # The effect: 10 June + 2 months = Sun 10 August 2025, from the event's date, not from the letter's dates.
    assert row["effective"]["due"] == "2025-08-10"

    text = cpts("legal", "docket", "--today", "2025-06-12").out
    assert "notice received 2025-06-10  evidence: scan-notification.pdf" in text
    assert "letter: LRAR 1A 234 567 8901 2, first presented 2025-06-09, receipt signed 2025-06-10" in text
    [cells] = list(csv.DictReader(io.StringIO(cpts("legal", "docket", "--today", "2025-06-12", "--csv").out)))
    assert (cells["Notification reçue le"], cells["N° de LRAR"], cells["Première présentation le"],
            cells["AR signé le"]) == ("2025-06-10", "1A 234 567 8901 2", "2025-06-09", "2025-06-10")


def test_a_text_evidence_stays_a_text(cpts, contracted):
    assert record_notice(cpts, contracted, "--evidence", "LRAR 1A 234 567 8901 2").code == 0
    last = journal(cpts, contracted)[-1]
    assert last["evidence"] == "LRAR 1A 234 567 8901 2"
    assert last["evidence_parts"] == {"reference": "LRAR 1A 234 567 8901 2"}
    [row] = cpts("legal", "docket", "--today", "2025-06-12", "--json").json()
    assert (row["notice_evidence"], row["notice_lrar"], row["notice_presented_on"]) == (
        "LRAR 1A 234 567 8901 2", None, None)


@pytest.mark.parametrize(("options", "says"), [
    (["--presented-on", "2025-06-31"], "error: malformed presented_on '2025-06-31': expected a calendar date"),
    (["--lrar", "???"], "error: lrar='???' is not accepted: expected the registered letter's number"),
    (["--presented-on", "2025-06-11"], "error: evidence: presented_on 2025-06-11 is after the event date 2025-06-10"),
    (["--presented-on", "2025-06-09", "--received-on", "2025-06-08"],
     "error: evidence: received_on 2025-06-08 is before presented_on 2025-06-09"),
    (["--received-on", "2025-06-13"], "error: evidence: received_on 2025-06-13 is in the future (today is 2025-06-12"),
    (["--evidence", '{"lrar": "1A"}'], "error: evidence text starts with '{'"),
])
def test_bad_evidence_exits_2_with_one_line_and_writes_nothing(cpts, contracted, options, says):
    before = len(journal(cpts, contracted))
    outcome = record_notice(cpts, contracted, *options)
    assert outcome.code == 2, outcome.out
    assert outcome.err.startswith(says) and outcome.err.count("\n") == 1, outcome.err
    assert len(journal(cpts, contracted)) == before
