"""ICS export of pending deadlines (RFC 5545), read back with the icalendar package."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from freezegun import freeze_time
from icalendar import Calendar

from notifications.ics import CalendarItem, export_calendar

STAMP = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
OPPOSITION = CalendarItem(
    case_id="cpts-34-lunel",
    case_name="CPTS du Pays de Lunel",
    anchor_key="health_project_opposition:2025-02-18",
    label="délai d'opposition de l'ARS au projet de santé",
    due=date(2025, 4, 18),
    explanation="Projet de santé reçu le 18 février 2025 ; deux mois après : vendredi 18 avril 2025.",
    offsets=(30, 7, 1),
)
MISSION = CalendarItem(
    case_id="cpts-57-metz",
    case_name="CPTS de Metz",
    anchor_key="mission_start.access:2024-11-12",
    label="démarrage de la mission d'accès aux soins",
    due=date(2025, 5, 12),
    explanation="Contrat signé le 12 novembre 2024 ; six mois après : lundi 12 mai 2025.",
    offsets=(30, 7, 1),
)


def events(ics: bytes) -> list:
    return Calendar.from_ical(ics).walk("VEVENT")


def test_the_export_has_one_event_per_pending_deadline():
    calendar = Calendar.from_ical(export_calendar([OPPOSITION, MISSION], stamp=STAMP))

    assert len(calendar.walk("VEVENT")) == 2
    assert calendar["VERSION"] == "2.0" and "cpts-lifecycle" in str(calendar["PRODID"])


def test_an_empty_export_is_still_a_valid_calendar():
    calendar = Calendar.from_ical(export_calendar([], stamp=STAMP))

    assert calendar.walk("VEVENT") == []


def test_a_deadline_is_an_all_day_event_on_its_due_date():
    (event,) = events(export_calendar([OPPOSITION], stamp=STAMP))

    assert event.decoded("DTSTART") == date(2025, 4, 18)
    assert not isinstance(event.decoded("DTSTART"), datetime)
    assert event.decoded("DTEND") == date(2025, 4, 19)


def test_the_summary_names_the_cpts_and_the_deadline_and_the_description_explains_the_date():
    (event,) = events(export_calendar([OPPOSITION], stamp=STAMP))

    assert str(event["SUMMARY"]) == "CPTS du Pays de Lunel — délai d'opposition de l'ARS au projet de santé"
    assert "vendredi 18 avril 2025" in str(event["DESCRIPTION"])
    assert OPPOSITION.explanation in str(event["DESCRIPTION"])


def test_a_date_computed_from_an_unverified_ruleset_row_says_it_is_to_be_confirmed_with_its_source():
    crisis = replace(MISSION, anchor_key="mission_start.crisis:2024-11-12", to_confirm="calendrier rapporté (JO)")
    doubtful, certain = events(export_calendar([crisis, MISSION], stamp=STAMP))

    assert "Date à confirmer" in str(doubtful["DESCRIPTION"]) and "calendrier rapporté (JO)" in str(
        doubtful["DESCRIPTION"])
    assert "à confirmer" not in str(certain["DESCRIPTION"])


def test_each_event_has_an_alarm_at_each_reminder_offset():
    (event,) = events(export_calendar([OPPOSITION], stamp=STAMP))
    alarms = event.walk("VALARM")

    assert sorted(alarm.decoded("TRIGGER") for alarm in alarms) == [
        timedelta(days=-30),
        timedelta(days=-7),
        timedelta(days=-1),
    ]
    assert all(str(alarm["ACTION"]) == "DISPLAY" and alarm.get("DESCRIPTION") for alarm in alarms)


def test_uids_are_stable_across_exports_so_a_reimport_updates_rather_than_duplicates():
    first = events(export_calendar([OPPOSITION, MISSION], stamp=STAMP))
    moved = replace(OPPOSITION, due=date(2025, 4, 22), sequence=1)  # a backdated event moved the due date
    second = events(export_calendar([MISSION, moved], stamp=STAMP + timedelta(days=3)))

    assert {str(e["UID"]) for e in first} == {str(e["UID"]) for e in second}
    assert len({str(e["UID"]) for e in first}) == 2
    by_uid = {str(e["UID"]): e for e in second}
    assert by_uid[OPPOSITION.uid]["SEQUENCE"] == 1
    assert by_uid[OPPOSITION.uid].decoded("DTSTART") == date(2025, 4, 22)


def test_a_new_deadline_instance_of_the_same_key_gets_a_new_uid():
    resubmitted = replace(OPPOSITION, anchor_key="health_project_opposition:2025-06-02")

    assert resubmitted.uid != OPPOSITION.uid


def test_dtstamp_is_the_given_stamp_in_utc_and_the_clock_is_never_read():
    paris = timezone(timedelta(hours=1))
    with freeze_time("2031-01-01 12:00:00"):
        first = export_calendar([OPPOSITION, MISSION], stamp=datetime(2025, 3, 1, 9, 0, tzinfo=paris))
    with freeze_time("2040-06-15 03:00:00"):
        second = export_calendar([MISSION, OPPOSITION], stamp=STAMP)

    assert first == second
    assert {e.decoded("DTSTAMP") for e in events(first)} == {STAMP}


def test_a_naive_stamp_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        export_calendar([OPPOSITION], stamp=datetime(2025, 3, 1, 8, 0))


def test_the_export_is_folded_crlf_text_as_rfc_5545_requires():
    ics = export_calendar([OPPOSITION], stamp=STAMP)

    lines = ics.split(b"\r\n")
    assert lines[0] == b"BEGIN:VCALENDAR" and ics.endswith(b"END:VCALENDAR\r\n")
    assert all(len(line) <= 75 for line in lines)
