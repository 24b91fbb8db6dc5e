"""Structured evidence (issue 12): an event's evidence may carry the registered letter's number (LRAR), its first
presentation and its signed receipt besides a free reference. The event's date stays the legal anchor; a text
evidence is stored exactly as before, so that journals written earlier keep their hashes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lifecycle.errors import EventRejected
from lifecycle.events import Evidence, read_evidence, validate_evidence
from workflows.persistence.journal import JournalKeys, chained_row

NOTICE = "termination_notice_received"
TUE_10_JUNE = date(2025, 6, 10)
LETTER = {"lrar": "1a 234  567 8901 2", "presented_on": "2025-06-09", "received_on": "2025-06-12"}


def notice_evidence(evidence: object, at: date = TUE_10_JUNE) -> str | None:
    return validate_evidence(evidence, event_type=NOTICE, at=at)


# ------------------------------------------------------------------------------------------ text, as before
def test_a_text_evidence_is_stored_trimmed_as_it_always_was():
    assert validate_evidence("  LRAR 1A 234 567 8901 2 ") == "LRAR 1A 234 567 8901 2"
    assert read_evidence("LRAR 1A 234 567 8901 2") == Evidence(reference="LRAR 1A 234 567 8901 2")


def test_structured_evidence_with_a_reference_only_is_stored_as_that_text():
    assert notice_evidence({"reference": "courrier 2025-118"}) == "courrier 2025-118"


def test_a_row_with_text_evidence_hashes_as_it_did_before_structured_evidence():
    # The hash below was computed by the journal code of the commit before structured evidence (unchanged since):
    # a text evidence goes into the hash as the text itself.
    keys = JournalKeys.from_secrets("a-test-journal-key-of-sixty-four-characters-0123456789abcdef0123")
    row = chained_row(7, (0, "genesis"), type=NOTICE, at=TUE_10_JUNE,
                      recorded_at=datetime(2025, 6, 10, 10, 0, tzinfo=UTC), actor="juridique@ars.example.fr",
                      data={"initiator": "funders"}, evidence=validate_evidence("LRAR 1A 234 567 8901 2"), keys=keys)
    assert row.hash == "184fac3a0512177beef225391fc7c94371409f9fbdd52d147ccf3227191bbed1"


def test_an_old_text_that_looks_like_json_reads_back_as_text():
    # Only the exact canonical form is structured evidence; anything else written earlier stays a reference.
    assert read_evidence('{ "lrar": "1A" }') == Evidence(reference='{ "lrar": "1A" }')
    assert read_evidence('{"courrier": "1A"}') == Evidence(reference='{"courrier": "1A"}')


# ------------------------------------------------------------------------------------------ structured
def test_structured_evidence_is_stored_as_canonical_json_and_reads_back_the_same():
    stored = notice_evidence({**LETTER, "reference": "scan-notification.pdf"})
    assert stored == ('{"lrar":"1A 234 567 8901 2","presented_on":"2025-06-09","received_on":"2025-06-12",'
                      '"reference":"scan-notification.pdf"}')
    evidence = read_evidence(stored)
    assert evidence == Evidence(reference="scan-notification.pdf", lrar="1A 234 567 8901 2",
                                presented_on=date(2025, 6, 9), received_on=date(2025, 6, 12))
    assert evidence.stored() == stored and evidence.structured


def test_the_same_letter_typed_twice_is_stored_identically():
    typed = notice_evidence({"received_on": "2025-06-12", "lrar": " 1A 234 567 8901 2", "presented_on": "2025-06-09"})
    assert typed == notice_evidence(LETTER)


def test_the_anchor_may_be_the_first_presentation_or_the_signed_receipt():
    assert notice_evidence(LETTER, at=date(2025, 6, 9))
    assert notice_evidence(LETTER, at=date(2025, 6, 12))


def test_a_letter_sent_by_the_event_is_presented_on_or_after_its_date():
    stored = validate_evidence({"lrar": "2C 111 222 3334 5", "presented_on": "2025-06-20"},
                               event_type="cpl_convocations_sent", at=date(2025, 6, 18))
    assert read_evidence(stored).presented_on == date(2025, 6, 20)


@pytest.mark.parametrize(("evidence", "at", "message"), [
    ({"presented_on": "2025-06-31"}, TUE_10_JUNE, "malformed presented_on '2025-06-31': expected a calendar date"),
    ({"received_on": "12/06/2025"}, TUE_10_JUNE, "malformed received_on '12/06/2025'"),
    ({"presented_on": "2015-06-09"}, TUE_10_JUNE, "presented_on 2015-06-09 is out of range"),
    ({"lrar": "n/a"}, TUE_10_JUNE, "lrar='n/a' is not accepted: expected the registered letter's number"),
    ({"lrar": "1A;DROP"}, TUE_10_JUNE, "lrar='1A;DROP' is not accepted"),
    ({"presented_on": "2025-06-09", "received_on": "2025-06-08"}, date(2025, 6, 8),
     "evidence: received_on 2025-06-08 is before presented_on 2025-06-09: a letter is received on or after its "
     "first presentation"),
    ({"presented_on": "2025-06-11"}, TUE_10_JUNE,
     "evidence: presented_on 2025-06-11 is after the event date 2025-06-10: a letter received that day was first "
     "presented on or before it"),
    ({"received_on": "2025-06-09"}, TUE_10_JUNE, "evidence: received_on 2025-06-09 is before the event date"),
    ({"lrar": "1A", "scan": "x.pdf"}, TUE_10_JUNE,
     "evidence: unknown key(s) scan: accepted: reference, lrar, presented_on, received_on"),
    ("{\"lrar\": \"1A 2\"}", TUE_10_JUNE, "evidence text starts with '{', which marks structured evidence"),
    ({"lrar": "1A 2", "reference": "a\nb"}, TUE_10_JUNE, "evidence contains a control character U+000A"),
])
def test_malformed_or_contradictory_evidence_is_refused_in_one_line(evidence, at, message):
    with pytest.raises(EventRejected) as refused:
        notice_evidence(evidence, at)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_letter_sent_by_the_event_cannot_arrive_before_it_was_sent():
    with pytest.raises(EventRejected, match="evidence: presented_on 2025-06-17 is before the event date 2025-06-18"):
        validate_evidence({"presented_on": "2025-06-17"}, event_type="cpl_agenda_sent", at=date(2025, 6, 18))
