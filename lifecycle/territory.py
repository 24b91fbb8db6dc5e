"""Territory of a CPTS: its communes, population and size, seat département, région (ARS) and CPL (SPEC §3).

Pure functions over the packaged reference files in `lifecycle/data/` (rebuilt by `scripts/build_communes.py`
from @etalab/decoupage-administratif 6.0.0), read once on first use and kept in memory.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from lifecycle.calendar import holiday_subdivision, normalise_departement, time_zone
from lifecycle.errors import CalendarError, DomainError, UnknownCommunes
from lifecycle.events import MAX_POPULATION, MIN_POPULATION, POPULATION_RANGE
from lifecycle.ruleset import Ruleset, load_ruleset

__all__ = [
    "Commune",
    "Departement",
    "Region",
    "TerritoryError",
    "TerritorySummary",
    "UnknownDepartement",
    "check_population",
    "communes",
    "cpl_name",
    "departement",
    "holiday_subdivision",
    "overlap",
    "population",
    "region_of",
    "summarise",
    "seat_time_zones",
    "time_zone",
]

_DATA_PACKAGE = "lifecycle.data"
# INSEE "type de nom en clair" (TNCC) → the preposition and article before the name ("CPL de la Moselle").
_PREPOSITION_BY_TNCC = {
    0: "de ",  # no article, consonant: "de Paris"
    1: "d'",  # no article, vowel or mute h: "d'Eure-et-Loir"
    2: "du ",  # Le: "du Nord"
    3: "de la ",  # La: "de la Moselle"
    4: "des ",  # Les: "des Vosges"
    5: "de l'",  # L': "de l'Ain"
    6: "des ",  # Aux
    7: "de Las ",
    8: "de Los ",
}
_CODE_SEPARATORS = re.compile(r"[\s,;]+")


class TerritoryError(DomainError):
    """A territory the engine cannot use (e.g. a negative declared population)."""


class UnknownDepartement(TerritoryError):
    """A département code that is not one the engine can seat a CPTS in."""


@dataclass(frozen=True)
class Commune:
    """A current commune with its INSEE legal population."""

    code: str
    name: str
    departement: str
    region: str
    population: int


@dataclass(frozen=True)
class Region:
    """A région; its ARS follows the CPTS seated in it."""

    code: str
    name: str


@dataclass(frozen=True)
class Departement:
    """A département; its CPAM (or CGSS) and its CPL follow the CPTS seated in it."""

    code: str
    name: str
    region: str


@dataclass(frozen=True)
class TerritorySummary:
    """What the engine needs to know of a territory: population, size and where it lies.

    Attributes:
        communes: the territory's communes, by INSEE code.
        population: the declared population if one was given, else the communes' sum (SPEC §3).
        size: 1–4 (ACI art. 7.1).
        departements, regions: the codes the communes lie in.
        seat: the seat département the summary was made for, if any.
        warnings: facts a binôme should check but that do not stop the case (communes outside the seat's
            région), one human-readable line each; empty without a seat.
    """

    communes: tuple[Commune, ...]
    population: int
    size: int
    departements: tuple[str, ...]
    regions: tuple[str, ...]
    seat: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def communes_population(self) -> int:
        """Sum of the communes' legal populations (may differ from a declared `population`)."""
        return sum(c.population for c in self.communes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view: population, size, commune count, départements and régions with names."""
        tables = _tables()
        shown: dict[str, Any] = {
            "population": self.population,
            "communes_population": self.communes_population,
            "size": self.size,
            "communes": len(self.communes),
            "departements": [{"code": c, "name": tables.departements[c].name} for c in self.departements],
            "regions": [{"code": c, "name": tables.regions[c].name} for c in self.regions],
        }
        if self.seat is not None:
            shown["seat"] = self.seat
            shown["warnings"] = list(self.warnings)
        return shown


@dataclass(frozen=True)
class _Tables:
    communes: dict[str, Commune]
    departements: dict[str, Departement]
    regions: dict[str, Region]
    tncc: dict[str, int]


def communes(codes: Iterable[str]) -> list[Commune]:
    """The communes of these INSEE codes, sorted by code; all unknown codes are reported at once.

    Codes are trimmed and upper-cased, a 4-digit code gets its leading zero back ('1001' → '01001', as
    spreadsheets drop it), blanks are skipped and duplicates counted once. A single string is read as a
    list separated by commas, semicolons or whitespace.
    """
    known = _tables().communes
    wanted = _normalise_codes(codes)
    unknown = sorted(code for code in wanted if code not in known)
    if unknown:
        raise UnknownCommunes(unknown)
    return [known[code] for code in sorted(wanted)]


def communes_of(departement_code: str) -> list[Commune]:
    """Every current commune of a département, sorted by INSEE code."""
    seat = departement(departement_code).code
    return sorted((c for c in _tables().communes.values() if c.departement == seat), key=lambda c: c.code)


def population(codes: Iterable[str]) -> int:
    """Sum of the legal populations of these communes (SPEC §3)."""
    return sum(c.population for c in communes(codes))


def check_population(value: object, what: str = "declared population") -> int:
    """A declared population (a whole number from 1 to 100 000 000), or TerritoryError saying so."""
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_POPULATION <= value <= MAX_POPULATION:
        shown = repr(value) if len(repr(value)) <= 40 else f"a number of {len(repr(value))} digits"
        raise TerritoryError(f"{what} {shown} is not accepted: {POPULATION_RANGE}")
    return value


def summarise(
    codes: Iterable[str], *, declared_population: int | None = None, ruleset: Ruleset | None = None,
    seat: str | None = None,
) -> TerritorySummary:
    """Population and size of a territory; a declared population wins over the communes' sum (SPEC §3).

    With the `seat` département, `warnings` names the communes outside the seat's région (its ARS would not
    be theirs): accepted, since a territory may cross a border, but worth a binôme's check.
    """
    members = tuple(communes(codes))
    if declared_population is not None:
        check_population(declared_population)
    if ruleset is None:
        ruleset = load_ruleset()
    total = declared_population if declared_population is not None else sum(c.population for c in members)
    seat_code = departement(seat).code if seat is not None else None
    return TerritorySummary(
        communes=members,
        population=total,
        size=ruleset.size_for(total),  # ACI art. 7.1
        departements=tuple(sorted({c.departement for c in members})),
        regions=tuple(sorted({c.region for c in members})),
        seat=seat_code,
        warnings=_outside_the_seat_region(members, seat_code) if seat_code else (),
    )


def _outside_the_seat_region(members: tuple[Commune, ...], seat: str) -> tuple[str, ...]:
    """One line per foreign région: its communes (the first ten) and the seat's région."""
    tables = _tables()
    home = tables.regions[tables.departements[seat].region]
    by_region: dict[str, list[Commune]] = {}
    for commune in members:
        if commune.region != home.code:
            by_region.setdefault(commune.region, []).append(commune)
    warnings = []
    for code in sorted(by_region):
        found = by_region[code]
        listed = ", ".join(f"{c.code} {c.name}" for c in found[:10])
        more = f" and {len(found) - 10} more" if len(found) > 10 else ""
        what = f"commune {listed} is" if len(found) == 1 else f"communes {listed}{more} are"
        warnings.append(f"{what} in région {code} {tables.regions[code].name}, outside the seat's région "
                        f"{home.code} {home.name} (seat département {seat})")
    return tuple(warnings)


def departement(code: str) -> Departement:
    """The département of an INSEE code ('57', '2A', '974'); only those that can seat a CPTS."""
    tables = _tables()
    try:
        normalised = normalise_departement(code)
    except CalendarError as exc:
        text = str(code).strip().upper()
        if text in tables.departements:
            # Collectivités d'outre-mer (975, 977, 978, 984–989) are in the reference data but have no
            # calendar, CPAM or CPL under the ACI.
            raise UnknownDepartement(
                f"département {text} ({tables.departements[text].name}) is outside the accord's scope: "
                "expected 01–95, 2A, 2B or 971–976"
            ) from None
        raise UnknownDepartement(str(exc)) from None
    try:
        return tables.departements[normalised]
    except KeyError:
        raise UnknownDepartement(f"unknown département {code!r}: not in the reference data") from None


def region(code: str) -> Region:
    """A région by its INSEE code ('44' Grand Est, '04' La Réunion)."""
    try:
        return _tables().regions[str(code).strip()]
    except KeyError:
        raise TerritoryError(f"unknown région code {code!r}: expected an INSEE région code such as 44 or 04") from None


def seat_regions() -> list[Region]:
    """The régions that have an ARS under the accord: those of the départements that can seat a CPTS."""
    tables = _tables()
    codes = set()
    for seat in tables.departements.values():
        try:
            departement(seat.code)
        except UnknownDepartement:
            continue  # collectivités d'outre-mer: no ARS, CPAM or CPL under the ACI
        codes.add(seat.region)
    return [tables.regions[code] for code in sorted(codes)]


@cache
def seat_time_zones() -> tuple[ZoneInfo, ...]:
    """The local time zones of every département that can seat a CPTS (mainland and overseas)."""
    zones: dict[str, ZoneInfo] = {}
    for seat in _tables().departements.values():
        try:
            zone = time_zone(departement(seat.code).code)
        except UnknownDepartement:
            continue  # collectivités d'outre-mer: no CPTS under the ACI
        zones.setdefault(zone.key, zone)
    return tuple(zones[key] for key in sorted(zones))


def region_of(departement_code: str) -> Region:
    """The région (hence the ARS) of a seat département."""
    return _tables().regions[departement(departement_code).region]


def cpl_name(departement_code: str) -> str:
    """French name of the seat's CPL ('CPL de la Moselle'; in 971–976 a commission paritaire territoriale)."""
    seat = departement(departement_code)
    preposition = _PREPOSITION_BY_TNCC.get(_tables().tncc.get(seat.code, 0), "de ")
    # ACI art. 12: in 971–976 the local commission is a commission paritaire territoriale. Once normalised,
    # those are the only three-character codes that can seat a CPTS.
    if len(seat.code) == 3:
        return f"commission paritaire territoriale {preposition}{seat.name}"
    return f"CPL {preposition}{seat.name}"


def overlap(codes_a: Iterable[str], codes_b: Iterable[str]) -> list[str]:
    """Sorted commune codes common to two territories (codes normalised as in `communes`, not looked up)."""
    return sorted(_normalise_codes(codes_a) & _normalise_codes(codes_b))


def _normalise_codes(codes: Iterable[str]) -> set[str]:
    if isinstance(codes, str):
        codes = _CODE_SEPARATORS.split(codes)
    result = set()
    for raw in codes:
        code = str(raw).strip().upper()
        if not code:
            continue
        if len(code) == 4 and code.isdigit():
            code = "0" + code
        result.add(code)
    return result


def _read_csv(name: str) -> list[list[str]]:
    resource = resources.files(_DATA_PACKAGE) / name
    raw = resource.read_bytes()
    if name.endswith(".gz"):
        raw = gzip.decompress(raw)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    return rows[1:]  # header


@cache
def _tables() -> _Tables:
    regions = {code: Region(code, name) for code, name in _read_csv("regions.csv")}
    departements: dict[str, Departement] = {}
    tncc: dict[str, int] = {}
    for code, name, region, type_liaison in _read_csv("departements.csv"):
        departements[code] = Departement(code, name, region)
        tncc[code] = int(type_liaison)
    communes_by_code = {
        code: Commune(code, name, dept, region, int(pop))
        for code, name, dept, region, pop in _read_csv("communes.csv.gz")
    }
    return _Tables(communes_by_code, departements, regions, tncc)
