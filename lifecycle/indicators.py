"""Indicators and attainment of a mission's variable part (SPEC §9, ACI art. 7.3.2).

Pure functions of a reported year's data (`indicators_reported.data["missions"][mission]`), and of a
projection for the per-year tracking; exact fractions (formatting is the caller's: `lifecycle.rates`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any, Protocol

from lifecycle.calendar import contract_anniversary
from lifecycle.errors import EventRejected
from lifecycle.events import JournalEntry
from lifecycle.ruleset import Ruleset


@dataclass(frozen=True)
class NationalIndicator:
    """One of the access mission's indicators every contract must track (ACI art. 7.3.2.2)."""

    name: str
    label: str
    direction: str  # "increasing" or "decreasing": which way is progress


# ACI art. 7.3.2.2: "les parties signataires de chaque contrat tripartite … doivent suivre l'ensemble de ces
# indicateurs". The names are the keys expected in an access report's `indicators[].name`.
NATIONAL_ACCESS_INDICATORS: tuple[NationalIndicator, ...] = (
    NationalIndicator(
        "patients_with_medecin_traitant",
        "progression de la patientèle avec médecin traitant dans la population couverte",
        "increasing",
    ),
    NationalIndicator(
        "patients_without_medecin_traitant_ald_70_cmuc",
        "pourcentage de patients sans médecin traitant parmi les patients en ALD, de plus de 70 ans et CMU-C",
        "decreasing",
    ),
    NationalIndicator(
        "emergency_visits_without_hospitalisation",
        "taux de passages aux urgences générales, pédiatriques et de gynécologie-obstétrique non suivis "
        "d'hospitalisation",
        "decreasing",
    ),
    NationalIndicator(
        "direct_admissions_referred_by_city_professional",
        "part des admissions directes en hospitalisation adressées par un professionnel de santé de ville",
        "increasing",
    ),
    NationalIndicator(
        "snp_orientation_consultations",
        "consultations enregistrées par le service de traitement et d'orientation des soins non programmés",
        "increasing",
    ),
)


def exact(value: object) -> Fraction:
    """A reported number (int, decimal string, or float as typed in JSON) as an exact fraction."""
    if isinstance(value, bool):
        raise EventRejected(f"{value!r} is not a number")
    if isinstance(value, Fraction | int):
        return Fraction(value)
    # str() first: the float 0.8 typed in a JSON file means 4/5, not its binary approximation.
    return Fraction(Decimal(str(value)))


def attainment(report: Mapping[str, Any]) -> Fraction:
    """Attainment rate r in [0, 1] of one mission for one year: given directly, or from its indicators.

    r = Σ w·clamp((actual − baseline) / (target − baseline), 0, 1) / Σ w (weight 1 unless given); a decreasing
    indicator has its target below its baseline, so the same formula measures its progress (SPEC §9).
    """
    if "attainment" in report:
        rate = exact(report["attainment"])
        if not 0 <= rate <= 1:
            raise EventRejected(f"attainment={report['attainment']!r}: expected a rate in [0, 1]")
        return rate
    indicators: Sequence[Mapping[str, Any]] = report.get("indicators") or ()
    if not indicators:
        raise EventRejected("an attainment report needs an attainment rate or a non-empty indicators list")
    weighted = Fraction(0)
    total_weight = Fraction(0)
    for indicator in indicators:
        weight = exact(indicator.get("weight", 1))
        weighted += weight * indicator_progress(indicator)
        total_weight += weight
    if total_weight <= 0:
        raise EventRejected("the indicators' weights add up to zero: give one indicator a weight > 0")
    return weighted / total_weight


def indicator_progress(indicator: Mapping[str, Any]) -> Fraction:
    """Share of the way from baseline to target actually covered, clamped to [0, 1]."""
    baseline, target, actual = (exact(indicator[part]) for part in ("baseline", "target", "actual"))
    if target == baseline:
        name = indicator.get("name", "?")
        raise EventRejected(f"indicator {name!r}: target equals baseline, so its attainment is undefined")
    return min(max((actual - baseline) / (target - baseline), Fraction(0)), Fraction(1))


def missing_national_indicators(report: Mapping[str, Any] | None) -> list[str]:
    """Names of the national access indicators absent from a year's access report (in SPEC order).

    A report given as a bare attainment rate carries no indicator, so all five are missing.
    """
    reported = {
        str(indicator.get("name", "")).strip().lower()
        for indicator in ((report or {}).get("indicators") or ())
    }
    return [national.name for national in NATIONAL_ACCESS_INDICATORS if national.name not in reported]


@dataclass(frozen=True)
class YearIndicators:
    """What a contract year's reports say (SPEC §9), for the case view.

    Attributes:
        year: the contract year, 1 to the ruleset's `contract_years`.
        attainment: the exact attainment rate r of each mission reported for the year, in report order (a
            later report of the same year and mission wins).
        national_indicators_missing: the national access indicators absent from the year's access report, in
            SPEC order; all of them when access was not reported.
    """

    year: int
    attainment: dict[str, Fraction]
    national_indicators_missing: tuple[str, ...]


class ReportedCase(Protocol):
    """What indicator tracking reads of a case: a `lifecycle.projection.Projection` (a protocol rather than an
    import, as the projection imports this module through the payments)."""

    @property
    def contract_signed_on(self) -> date | None: ...

    @property
    def accepted(self) -> Sequence[JournalEntry]: ...

    @property
    def today(self) -> date: ...


def indicator_tracking(projection: ReportedCase, rules: Ruleset) -> tuple[YearIndicators, ...]:
    """Per contract year, from the first up to the last one completed by `projection.today` or reported:
    the attainment reported per mission and the national access indicators still missing."""
    signed = projection.contract_signed_on
    if signed is None:
        return ()
    reports: dict[int, dict[str, Any]] = {}
    for entry in projection.accepted:
        if entry.type == "indicators_reported":
            reports.setdefault(entry.data["year"], {}).update(entry.data["missions"])
    years: list[YearIndicators] = []
    for year in range(1, rules.contract_years + 1):
        # Stop at the first year neither completed by `today` nor reported.
        if contract_anniversary(signed, year) > projection.today and year not in reports:
            break
        missions = reports.get(year, {})
        years.append(YearIndicators(
            year=year,
            attainment={mission: attainment(report) for mission, report in missions.items()},
            national_indicators_missing=tuple(missing_national_indicators(missions.get("access"))),
        ))
    return tuple(years)
