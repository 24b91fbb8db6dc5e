"""The legal calendar (SPEC §6): month arithmetic, roll-over over non-working days, explanations, time zones.

Dated facts below were worked out by hand and checked once against `holidays` 0.109 (France, language fr).
"""

from __future__ import annotations

import calendar as stdlib_calendar
from datetime import date, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecycle.calendar import (
    DeadlineKind,
    LegalCalendar,
    Period,
    add_months,
    french_date,
    normalise_departement,
    time_zone,
)
from lifecycle.errors import CalendarError

# Deterministic property tests: same examples on every run, fast enough for the default suite.
deterministic = settings(derandomize=True, max_examples=200, deadline=None, database=None)

DEPARTEMENTS = ("01", "2A", "57", "67", "68", "75", "971", "972", "973", "974", "976")
SUBDIVISION = {"57": "57", "67": "6AE", "68": "6AE", **{d: d for d in ("971", "972", "973", "974", "976")}}
NON_PROCEDURAL = (DeadlineKind.EFFECT, DeadlineKind.CONTRACTUAL, DeadlineKind.SERVICE)

anchors = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
month_counts = st.integers(min_value=-600, max_value=600)
recent_anchors = st.dates(min_value=date(2019, 1, 1), max_value=date(2040, 12, 31))
periods = st.one_of(
    st.builds(Period, days=st.integers(min_value=0, max_value=400)),
    st.builds(Period, months=st.integers(min_value=0, max_value=72)),
)


@cache
def _official_holidays(departement: str, year: int) -> frozenset[date]:
    """An oracle independent of the module under test: the `holidays` package asked directly."""
    return frozenset(holidays.France(subdiv=SUBDIVISION.get(departement), years=year))


def _is_non_working(departement: str, day: date) -> bool:
    return day.weekday() >= 5 or day in _official_holidays(departement, day.year)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _last_day(year: int, month: int) -> int:
    return stdlib_calendar.monthrange(year, month)[1]


# --- month arithmetic (CPC art. 641), properties ------------------------------------------------------


@deterministic
@given(anchors, month_counts)
def test_adding_months_keeps_the_day_number_or_gives_the_last_day_of_a_shorter_month(anchor, months):
    result = add_months(anchor, months)
    assert result.day == min(anchor.day, _last_day(result.year, result.month))


@deterministic
@given(anchors, month_counts)
def test_adding_months_lands_in_the_month_that_many_months_away(anchor, months):
    assert _month_index(add_months(anchor, months)) == _month_index(anchor) + months


@deterministic
@given(anchors, month_counts)
def test_adding_months_never_moves_more_than_a_month_length_from_the_naive_target(anchor, months):
    result = add_months(anchor, months)
    month_length = _last_day(result.year, result.month)
    # Naive target: the same day number counted from the first of the target month, overflowing if need be.
    same_day_number = result.replace(day=1) + timedelta(days=anchor.day - 1)
    assert timedelta(0) <= same_day_number - result < timedelta(days=month_length)
    # Naive target: an average Gregorian month (365.2425 / 12 days) per month.
    average = anchor + timedelta(days=round(months * 365.2425 / 12))
    assert abs(result - average) <= timedelta(days=month_length)


@deterministic
@given(
    anchors.filter(lambda d: d.day <= 28),
    st.integers(min_value=-300, max_value=300),
    st.integers(min_value=-300, max_value=300),
)
def test_adding_months_in_two_steps_equals_adding_them_at_once_when_no_day_is_clamped(anchor, first, second):
    assert add_months(anchor, first + second) == add_months(add_months(anchor, first), second)


@deterministic
@given(anchors.filter(lambda d: d.day <= 28), st.integers(min_value=0, max_value=600))
def test_going_back_n_months_then_forward_n_months_returns_to_the_anchor_when_the_day_is_at_most_28(anchor, months):
    assert add_months(add_months(anchor, -months), months) == anchor


# --- roll-over (CPC art. 642), properties -------------------------------------------------------------


@deterministic
@given(recent_anchors, periods, st.sampled_from(DEPARTEMENTS), st.booleans())
def test_a_procedural_due_date_is_a_working_day_reached_only_over_non_working_days(anchor, period, departement, before):
    explained = LegalCalendar(departement).add(anchor, period, kind=DeadlineKind.PROCEDURAL, before=before)
    raw, due = explained.raw, explained.due
    assert not _is_non_working(departement, due)
    assert due <= raw if before else due >= raw
    step = timedelta(days=-1 if before else 1)
    skipped = [raw + i * step for i in range(abs((due - raw).days))]
    assert [s.day for s in explained.steps] == skipped
    assert all(_is_non_working(departement, day) for day in skipped)


@deterministic
@given(recent_anchors, periods, st.sampled_from(DEPARTEMENTS), st.booleans(), st.sampled_from(NON_PROCEDURAL))
def test_effect_contractual_and_service_dates_never_roll_over(anchor, period, departement, before, kind):
    explained = LegalCalendar(departement).add(anchor, period, kind=kind, before=before)
    assert explained.due == explained.raw
    assert explained.steps == ()


@deterministic
@given(recent_anchors, periods, st.sampled_from(DEPARTEMENTS))
def test_the_raw_date_is_the_anchor_plus_the_period_without_counting_the_anchor_day(anchor, period, departement):
    explained = LegalCalendar(departement).add(anchor, period, kind=DeadlineKind.SERVICE)
    expected = add_months(anchor, period.months) if period.months else anchor + timedelta(days=period.days)
    assert explained.raw == expected


# --- month arithmetic on known dates ------------------------------------------------------------------


def test_31_august_plus_6_months_is_28_february():
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)


def test_31_august_plus_6_months_is_29_february_in_a_leap_year():
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)


def test_31_august_2099_plus_6_months_is_28_february_2100_which_is_not_a_leap_year():
    assert add_months(date(2099, 8, 31), 6) == date(2100, 2, 28)


def test_the_first_anniversary_of_a_contract_signed_on_29_february_is_28_february():
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)


def test_31_march_minus_one_month_is_28_february():
    assert add_months(date(2025, 3, 31), -1) == date(2025, 2, 28)


def test_a_contractual_6_month_period_from_31_august_ends_on_28_february_without_roll_over():
    explained = LegalCalendar("75").add(date(2024, 8, 31), Period(months=6), kind="contractual")
    assert (explained.raw, explained.due) == (date(2025, 2, 28), date(2025, 2, 28))


# --- roll-over on known dates -------------------------------------------------------------------------


def test_10_march_2025_plus_2_months_in_moselle_rolls_from_saturday_10_may_to_monday_12_may():
    explained = LegalCalendar("57").add(date(2025, 3, 10), Period(months=2), kind="procedural")
    assert explained.raw == date(2025, 5, 10)
    assert explained.due == date(2025, 5, 12)
    assert [s.day for s in explained.steps] == [date(2025, 5, 10), date(2025, 5, 11)]


def test_a_health_project_received_18_feb_2025_in_moselle_has_its_opposition_window_end_on_22_april():
    # Good Friday 18 Apr and Easter Monday 21 Apr are holidays in Moselle; 19–20 Apr is a weekend.
    explained = LegalCalendar("57").add(date(2025, 2, 18), Period(months=2), kind="procedural")
    assert explained.raw == date(2025, 4, 18)
    assert explained.due == date(2025, 4, 22)
    assert [s.day for s in explained.steps] == [
        date(2025, 4, 18),
        date(2025, 4, 19),
        date(2025, 4, 20),
        date(2025, 4, 21),
    ]


def test_a_health_project_received_18_feb_2025_in_paris_has_its_opposition_window_end_on_good_friday():
    # Good Friday is not a holiday in Paris: 18 Apr 2025 is a working day there.
    explained = LegalCalendar("75").add(date(2025, 2, 18), Period(months=2), kind="procedural")
    assert explained.due == date(2025, 4, 18)
    assert explained.steps == ()


@pytest.mark.parametrize("departement", ["57", "67", "68"])
def test_26_december_is_a_holiday_in_moselle_and_alsace(departement):
    assert LegalCalendar(departement).holiday_name(date(2025, 12, 26)) == "Saint-Étienne"


def test_26_december_is_a_working_day_in_paris():
    assert LegalCalendar("75").is_working_day(date(2025, 12, 26))


@pytest.mark.parametrize("departement", ["57", "67", "68"])
def test_good_friday_is_a_holiday_in_moselle_and_alsace(departement):
    assert LegalCalendar(departement).holiday_name(date(2025, 4, 18)) == "Vendredi saint"


def test_a_window_ending_on_christmas_2025_rolls_to_monday_29_december_in_moselle():
    # 25 Dec (Noël, Thursday), 26 Dec (Saint-Étienne), 27–28 Dec weekend.
    explained = LegalCalendar("57").add(date(2025, 10, 25), Period(months=2), kind="procedural")
    assert (explained.raw, explained.due) == (date(2025, 12, 25), date(2025, 12, 29))


def test_a_window_ending_on_christmas_2025_rolls_to_friday_26_december_in_paris():
    explained = LegalCalendar("75").add(date(2025, 10, 25), Period(months=2), kind="procedural")
    assert (explained.raw, explained.due) == (date(2025, 12, 25), date(2025, 12, 26))


@pytest.mark.parametrize(
    ("departement", "abolition_day"),
    [
        ("971", date(2025, 5, 27)),  # Guadeloupe
        ("972", date(2025, 5, 22)),  # Martinique
        ("973", date(2025, 6, 10)),  # Guyane
        ("974", date(2025, 12, 20)),  # La Réunion
        ("976", date(2025, 4, 27)),  # Mayotte
    ],
)
def test_each_overseas_departement_has_its_own_abolition_of_slavery_day(departement, abolition_day):
    assert LegalCalendar(departement).holiday_name(abolition_day) == "Abolition de l'esclavage"
    assert LegalCalendar("75").holiday_name(abolition_day) is None


def test_a_window_ending_on_10_june_2025_in_guyane_rolls_to_11_june():
    explained = LegalCalendar("973").add(date(2025, 4, 10), Period(months=2), kind="procedural")
    assert (explained.raw, explained.due) == (date(2025, 6, 10), date(2025, 6, 11))


def test_a_window_ending_on_10_june_2025_in_paris_does_not_roll():
    explained = LegalCalendar("75").add(date(2025, 4, 10), Period(months=2), kind="procedural")
    assert explained.due == date(2025, 6, 10)


def test_cpl_convocations_for_monday_16_june_2025_are_due_friday_30_may():
    # 15 days before 16 Jun is Sunday 1 Jun; back over Saturday 31 May to Friday 30 May.
    explained = LegalCalendar("75").add(date(2025, 6, 16), Period(days=15), kind="procedural", before=True)
    assert explained.raw == date(2025, 6, 1)
    assert explained.due == date(2025, 5, 30)
    assert [s.day for s in explained.steps] == [date(2025, 6, 1), date(2025, 5, 31)]


def test_a_backward_deadline_falling_on_ascension_moves_back_to_the_wednesday():
    # 5 days before Tuesday 3 Jun 2025 is Thursday 29 May, Ascension.
    explained = LegalCalendar("75").add(date(2025, 6, 3), Period(days=5), kind="procedural", before=True)
    assert (explained.raw, explained.due) == (date(2025, 5, 29), date(2025, 5, 28))


def test_a_15_day_service_deadline_from_friday_6_sept_2024_is_saturday_21_sept_without_roll_over():
    explained = LegalCalendar("75").add(date(2024, 9, 6), Period(days=15), kind="service")
    assert explained.raw == explained.due == date(2024, 9, 21)
    assert explained.steps == ()


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2025, 1, 1), "Jour de l'an"),
        (date(2025, 5, 1), "Fête du Travail"),
        (date(2025, 5, 8), "Fête de la Victoire"),
        (date(2025, 5, 29), "Ascension"),
        (date(2025, 6, 9), "Lundi de Pentecôte"),
        (date(2025, 7, 14), "Fête nationale"),
        (date(2025, 8, 15), "Assomption"),
        (date(2025, 11, 1), "Toussaint"),
        (date(2025, 11, 11), "Armistice"),
        (date(2025, 12, 25), "Noël"),
        (date(2026, 5, 14), "Ascension"),
        (date(2026, 5, 25), "Lundi de Pentecôte"),
    ],
)
def test_the_national_holidays_are_not_working_days_everywhere(day, name):
    for departement in DEPARTEMENTS:
        calendar = LegalCalendar(departement)
        assert calendar.holiday_name(day) == name
        assert not calendar.is_working_day(day)


def test_easter_monday_is_a_holiday_but_good_friday_is_not_in_paris():
    calendar = LegalCalendar("75")
    assert calendar.holiday_name(date(2025, 4, 21)) == "Lundi de Pâques"
    assert calendar.holiday_name(date(2025, 4, 18)) is None


def test_a_window_ending_on_bastille_day_2025_rolls_to_tuesday_15_july():
    explained = LegalCalendar("75").add(date(2025, 5, 14), Period(months=2), kind="procedural")
    assert (explained.raw, explained.due) == (date(2025, 7, 14), date(2025, 7, 15))


def test_a_window_ending_on_all_saints_day_2025_a_saturday_rolls_to_monday_3_november():
    explained = LegalCalendar("75").add(date(2025, 9, 1), Period(months=2), kind="procedural")
    assert (explained.raw, explained.due) == (date(2025, 11, 1), date(2025, 11, 3))


def test_a_délai_franc_ending_on_a_working_day_may_still_be_met_the_next_working_day():
    # 15 days after Thursday 12 Jun 2025 is Friday 27 Jun; the day after is Saturday 28, rolled to Monday 30.
    explained = LegalCalendar("75").add(date(2025, 6, 12), Period(days=15), kind="procedural", franc=True)
    assert explained.raw == date(2025, 6, 27)
    assert explained.due == date(2025, 6, 30)
    assert [s.day for s in explained.steps] == [date(2025, 6, 28), date(2025, 6, 29)]
    assert "délai franc" in explained.rule


def test_a_délai_franc_whose_next_day_is_a_working_day_ends_that_next_day():
    # 15 days after Monday 13 Jan 2025 is Tuesday 28 Jan; délai franc: Wednesday 29 Jan.
    explained = LegalCalendar("75").add(date(2025, 1, 13), Period(days=15), kind="procedural", franc=True)
    assert (explained.raw, explained.due, explained.steps) == (date(2025, 1, 28), date(2025, 1, 29), ())


def test_a_period_in_days_and_months_at_once_is_refused():
    with pytest.raises(CalendarError):
        Period(days=15, months=2)


def test_a_negative_period_is_refused():
    with pytest.raises(CalendarError):
        Period(days=-15)


# --- the explanation ----------------------------------------------------------------------------------


def _moselle_opposition_window():
    return LegalCalendar("57").add(
        date(2025, 2, 18),
        Period(months=2),
        kind="procedural",
        source="I §6",
        anchor_label="health_project_received",
    )


def test_the_explanation_names_the_anchor_the_raw_date_the_due_date_and_the_source():
    text = _moselle_opposition_window().text()
    assert "2025-02-18" in text
    assert "health_project_received" in text
    assert "2025-04-18" in text
    assert "2025-04-22" in text
    assert "mardi 22 avril 2025" in text
    assert "I §6" in text


def test_the_explanation_names_each_skipped_day_and_its_holiday_in_french():
    text = _moselle_opposition_window().text()
    for day in ("2025-04-18", "2025-04-19", "2025-04-20", "2025-04-21"):
        assert day in text
    assert "Vendredi saint" in text
    assert "Lundi de Pâques" in text
    assert "CPC art. 642" in text


def test_the_explanation_as_a_dict_gives_anchor_raw_due_and_steps():
    explained = _moselle_opposition_window().as_dict()
    assert explained["anchor"] == "2025-02-18"
    assert explained["raw"] == "2025-04-18"
    assert explained["due"] == "2025-04-22"
    assert [s["date"] for s in explained["steps"]] == ["2025-04-18", "2025-04-19", "2025-04-20", "2025-04-21"]
    assert "Vendredi saint" in explained["steps"][0]["reason"]
    assert "Lundi de Pâques" in explained["steps"][3]["reason"]
    assert explained["source"] == "I §6"


def test_the_explanation_of_a_date_that_does_not_roll_says_so():
    explained = LegalCalendar("75").add(date(2024, 9, 6), Period(days=15), kind="service")
    assert "no roll-over" in explained.text()
    assert explained.as_dict()["steps"] == []


# --- time zones and département codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("departement", "zone"),
    [
        ("01", "Europe/Paris"),
        ("2A", "Europe/Paris"),
        ("57", "Europe/Paris"),
        ("75", "Europe/Paris"),
        ("971", "America/Guadeloupe"),
        ("972", "America/Martinique"),
        ("973", "America/Cayenne"),
        ("974", "Indian/Reunion"),
        ("976", "Indian/Mayotte"),
    ],
)
def test_each_seat_is_evaluated_in_its_local_time_zone(departement, zone):
    assert time_zone(departement) == ZoneInfo(zone)
    assert LegalCalendar(departement).time_zone == ZoneInfo(zone)


def test_a_one_digit_departement_is_written_with_a_leading_zero():
    assert normalise_departement("1") == "01"


def test_a_corsican_departement_is_written_in_capitals():
    assert normalise_departement("2a") == "2A"
    assert normalise_departement("2b") == "2B"


@pytest.mark.parametrize("code", ["99", "20", "00", "100", "ABC", ""])
def test_a_code_that_is_no_departement_is_refused(code):
    with pytest.raises(CalendarError):
        normalise_departement(code)


def test_a_calendar_for_an_unknown_departement_is_refused():
    with pytest.raises(CalendarError):
        LegalCalendar("99")


# --- French dates -------------------------------------------------------------------------------------


def test_12_may_2025_reads_lundi_12_mai_2025():
    assert french_date(date(2025, 5, 12)) == "lundi 12 mai 2025"


def test_the_first_of_the_month_reads_1er():
    assert french_date(date(2025, 5, 1)) == "jeudi 1er mai 2025"


def test_february_and_august_keep_their_accents():
    assert french_date(date(2025, 2, 28)) == "vendredi 28 février 2025"
    assert french_date(date(2025, 8, 15)) == "vendredi 15 août 2025"
