"""Load and validate a versioned ruleset file (TOML): sizes, amounts, deadlines, reminders.

The ruleset is the only place a number lives (STYLE habit 2). A malformed or inconsistent file raises
`RulesetError` naming the file, the key and the problem.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lifecycle.calendar import DeadlineKind, Period, add_months
from lifecycle.errors import RulesetError
from lifecycle.events import CPL_SECTIONS, EVENT_SPECS, MISSIONS

DEFAULT_RULESET = "ACI-2019"
_RULESET_FILES = {"ACI-2019": "aci-2019.toml"}
AT_EXPIRY = ("breach", "system_event", "none")
SPECIAL_ANCHORS = ("anniversary", "termination_effective_date", "cpl_meeting_date")
RECIPIENT_ROLES = ("cpts", "legal")
# Who must act before a deadline's due date (the pages' "who acts"); none: a date of effect.
ACTORS = ("binome", "ars", "am", "cpts", "cpl", "funders", "none")


@dataclass(frozen=True)
class DeadlineRule:
    """One row of SPEC §5."""

    key: str
    label: str
    anchors: tuple[str, ...]
    period: Period
    before: bool
    kind: DeadlineKind
    completed_by: tuple[str, ...]
    cancelled_by: tuple[str, ...]
    at_expiry: str
    event: str | None
    source: str
    recipients: tuple[str, ...] = ()
    actor: str = "binome"
    mission: str | None = None
    per_contract_year: bool = False
    only_if: dict[str, str] = field(default_factory=dict)
    franc: bool = False
    interpretation: bool = False


@dataclass(frozen=True)
class CplSettings:
    """The deliberations of a commission paritaire locale (ACI annex 5 art. 2): its sections' seats, the quorum
    (a share of each section present or represented), and the most delegations of vote one member holds."""

    members: dict[str, int]  # seats per section: professional, social
    quorum: Fraction
    max_proxies_per_member: int
    source: str
    members_source: str
    members_interpretation: bool = False

    def quorum_of(self, section: str) -> int:
        """The fewest members of `section` present or represented for a valid deliberation."""
        seats = self.members[section] * self.quorum
        return seats.numerator // seats.denominator + (seats.denominator != 1)


@dataclass(frozen=True)
class MissionAmounts:
    fixed: tuple[int, ...]
    variable: tuple[int, ...]
    snp_compensation: tuple[int, ...] = ()
    snp_orientation: tuple[int, ...] = ()


@dataclass(frozen=True)
class Ruleset:
    id: str
    title: str
    effective: date
    path: str
    validity_start: date
    validity_years: int
    tacit_renewal: bool
    size_bands: tuple[tuple[int, int | None], ...]
    contract_months: int
    contract_years: int
    socle_missions: tuple[str, ...]
    optional_missions: tuple[str, ...]
    fonctionnement: tuple[int, ...]
    missions: dict[str, MissionAmounts]
    advance_rate: Fraction
    settlement_delay_months: int
    reminder_offsets: tuple[int, ...]
    breach_notice_days_after: int
    catch_up_days: int
    deadlines: dict[str, DeadlineRule]
    cpl: CplSettings
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def deadline(self, key: str) -> DeadlineRule:
        """The rule of a deadline key (`mission_start.access`, `annual_review`, …)."""
        try:
            return self.deadlines[key]
        except KeyError:
            raise RulesetError(self.path, f"deadlines.{key}", "no such deadline in this ruleset") from None

    def size_for(self, population: int) -> int:
        """Size 1–4 of a territory by its population (ACI art. 7.1)."""
        for size, below in self.size_bands:
            if below is None or population < below:
                return size
        raise AssertionError("the last size band is open-ended")  # guaranteed by the loader

    def annual_total(self, size: int, *, snp_orientation: bool, missions: tuple[str, ...] | None = None) -> int:
        """Annual envelope for a size, all five missions unless told otherwise, SNP compensation included."""
        chosen = missions if missions is not None else tuple(self.missions)
        i = size - 1
        total = self.fonctionnement[i]
        for name in chosen:
            amounts = self.missions[name]
            total += amounts.fixed[i] + amounts.variable[i]
            if amounts.snp_compensation:
                total += amounts.snp_compensation[i]
            if snp_orientation and amounts.snp_orientation:
                total += amounts.snp_orientation[i]
        return total

    def accord_in_force(self, day: date) -> bool:
        """Whether the accord is in force on `day` (tacitly renewed by periods of the same length)."""
        if day < self.validity_start:
            return False
        if self.tacit_renewal:
            return True
        return day < add_months(self.validity_start, 12 * self.validity_years)


def load_ruleset(path: str | Path | None = None, *, ruleset_id: str = DEFAULT_RULESET) -> Ruleset:
    """Load a ruleset file (by path, or the packaged file of `ruleset_id`) and validate it."""
    if path is None:
        return _packaged(ruleset_id)
    return _load(Path(path))


@lru_cache(maxsize=8)
def _packaged(ruleset_id: str) -> Ruleset:
    filename = _RULESET_FILES.get(ruleset_id)
    if filename is None:
        raise RulesetError("<rulesets>", "id", f"unknown ruleset {ruleset_id!r}: known: {', '.join(_RULESET_FILES)}")
    with resources.as_file(resources.files("lifecycle.rulesets") / filename) as file:
        return _load(file)


class _Reader:
    """Typed access to the TOML document that reports `file: key: problem`."""

    def __init__(self, path: str, doc: dict[str, Any]) -> None:
        self.path, self.doc = path, doc

    def fail(self, key: str, problem: str) -> RulesetError:
        return RulesetError(self.path, key, problem)

    def get(self, key: str, kind: type | tuple[type, ...], *, default: Any = ..., node: Any = None) -> Any:
        current = self.doc if node is None else node
        parts = key.split(".") if node is None else [key.rsplit(".", 1)[-1]]
        for part in parts:
            if not isinstance(current, dict) or part not in current:
                if default is not ...:
                    return default
                raise self.fail(key, "missing")
            current = current[part]
        if isinstance(current, bool) and kind in (int, (int,)):
            raise self.fail(key, f"expected a whole number, got {current!r}")
        if not isinstance(current, kind):
            name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(key, f"expected {name}, got {current!r}")
        return current

    def amounts(self, key: str, node: Any = None) -> tuple[int, ...]:
        values = self.get(key, list, node=node)
        if len(values) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            raise self.fail(key, f"expected 4 whole amounts in euros (sizes 1 to 4), got {values!r}")
        return tuple(values)


def _load(path: Path) -> Ruleset:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesetError(name, "<file>", f"cannot be read ({exc.strerror})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesetError(name, "<file>", f"not valid TOML: {exc}") from None
    r = _Reader(name, doc)

    bands_raw = r.get("sizes.bands", list)
    bands: list[tuple[int, int | None]] = []
    for i, band in enumerate(bands_raw):
        key = f"sizes.bands[{i}]"
        if not isinstance(band, dict) or "size" not in band:
            raise r.fail(key, "expected { size = N, below = POPULATION }")
        below = band.get("below")
        if below is not None and (not isinstance(below, int) or below <= 0):
            raise r.fail(f"{key}.below", f"expected a positive population, got {below!r}")
        if band["size"] != i + 1:
            raise r.fail(f"{key}.size", f"expected size {i + 1} (bands are listed in order), got {band['size']!r}")
        bands.append((band["size"], below))
    if len(bands) != 4 or bands[-1][1] is not None or any(b[1] is None for b in bands[:-1]):
        raise r.fail("sizes.bands", "expected four bands, the last one without an upper bound")
    limits = [b[1] for b in bands[:-1]]
    if limits != sorted(limits) or len(set(limits)) != len(limits):
        raise r.fail("sizes.bands", f"upper bounds must increase, got {limits}")

    missions: dict[str, MissionAmounts] = {}
    missions_doc = r.get("amounts.missions", dict)
    for mission in MISSIONS:
        node = missions_doc.get(mission)
        if not isinstance(node, dict):
            raise r.fail(f"amounts.missions.{mission}", "missing")
        base = f"amounts.missions.{mission}"
        extra = {
            part: r.amounts(f"{base}.{part}", node)
            for part in ("snp_compensation", "snp_orientation")
            if part in node
        }
        missions[mission] = MissionAmounts(
            fixed=r.amounts(f"{base}.fixed", node), variable=r.amounts(f"{base}.variable", node), **extra
        )
    unknown_missions = sorted(set(missions_doc) - set(MISSIONS))
    if unknown_missions:
        raise r.fail("amounts.missions", f"unknown mission(s) {', '.join(unknown_missions)}")

    advance_text = r.get("payments.advance_rate", str)
    try:
        advance_rate = Fraction(advance_text)
    except (ValueError, ZeroDivisionError):
        raise r.fail("payments.advance_rate", f"expected a fraction such as \"3/4\", got {advance_text!r}") from None
    if not 0 < advance_rate <= 1:
        raise r.fail("payments.advance_rate", f"must lie in (0, 1], got {advance_text}")

    offsets = r.get("reminders.offsets_days", list)
    if not all(isinstance(o, int) and not isinstance(o, bool) and o > 0 for o in offsets):
        raise r.fail("reminders.offsets_days", f"expected whole numbers of days > 0, got {offsets!r}")

    deadlines = {
        key: _deadline_rule(r, key, node) for key, node in r.get("deadlines", dict).items()
    }

    effective = r.get("effective", date)
    ruleset = Ruleset(
        id=r.get("id", str),
        title=r.get("title", str),
        effective=effective,
        path=name,
        validity_start=r.get("validity.start", date),
        validity_years=r.get("validity.years", int),
        tacit_renewal=r.get("validity.tacit_renewal", bool),
        size_bands=tuple(bands),
        contract_months=r.get("contract.duration_months", int),
        contract_years=r.get("contract.years", int),
        socle_missions=tuple(r.get("contract.socle_missions", list)),
        optional_missions=tuple(r.get("contract.optional_missions", list)),
        fonctionnement=r.amounts("amounts.fonctionnement"),
        missions=missions,
        advance_rate=advance_rate,
        settlement_delay_months=r.get("payments.settlement_delay_months", int),
        reminder_offsets=tuple(sorted(offsets, reverse=True)),
        breach_notice_days_after=r.get("reminders.breach_notice_days_after", int),
        catch_up_days=r.get("reminders.catch_up_days", int),
        deadlines=deadlines,
        cpl=_cpl_settings(r),
        raw=doc,
    )
    _check_consistency(r, ruleset)
    return ruleset


def _cpl_settings(r: _Reader) -> CplSettings:
    members = {}
    for section in CPL_SECTIONS:
        key = f"cpl.{section}_members"
        seats = r.get(key, int)
        if seats < 1:
            raise r.fail(key, f"expected a number of seats ≥ 1, got {seats}")
        members[section] = seats
    quorum_text = r.get("cpl.quorum", str)
    try:
        quorum = Fraction(quorum_text)
    except (ValueError, ZeroDivisionError):
        raise r.fail("cpl.quorum", f"expected a fraction such as \"1/2\", got {quorum_text!r}") from None
    if not 0 < quorum <= 1:
        raise r.fail("cpl.quorum", f"must lie in (0, 1], got {quorum_text}")
    most = r.get("cpl.max_proxies_per_member", int)
    if most < 0:
        raise r.fail("cpl.max_proxies_per_member", f"expected a whole number ≥ 0, got {most}")
    return CplSettings(members=members, quorum=quorum, max_proxies_per_member=most, source=r.get("cpl.source", str),
                       members_source=r.get("cpl.members_source", str),
                       members_interpretation=r.get("cpl.members_interpretation", bool, default=False))


def _deadline_rule(r: _Reader, key: str, node: Any) -> DeadlineRule:
    base = f"deadlines.{key}"
    if not isinstance(node, dict):
        raise r.fail(base, "expected a table")
    known = {
        "label", "anchor", "days", "months", "before", "kind", "completed_by", "at_expiry", "event", "source",
        "recipients", "mission", "per_contract_year", "only_if", "franc", "interpretation", "cancelled_by", "actor",
    }
    unknown = sorted(set(node) - known)
    if unknown:
        raise r.fail(base, f"unknown key(s) {', '.join(unknown)}")

    def get(part: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        return r.get(f"{base}.{part}", kind, default=default, node=node)

    anchor = get("anchor", (str, list))
    anchors = (anchor,) if isinstance(anchor, str) else tuple(anchor)
    for a in anchors:
        if a not in EVENT_SPECS and a not in SPECIAL_ANCHORS:
            raise r.fail(f"{base}.anchor", f"unknown anchor {a!r}: expected an event name or one of "
                                           f"{', '.join(SPECIAL_ANCHORS)}")
    if "days" in node and "months" in node:
        raise r.fail(base, "give the period in days or in months, not both")
    if "days" not in node and "months" not in node:
        raise r.fail(base, "missing period: days = N or months = N")
    days, months = get("days", int, 0), get("months", int, 0)
    if days < 0 or months < 0:
        raise r.fail(base, "a period cannot be negative; write before = true for a backward period")
    kind_text = get("kind", str)
    try:
        kind = DeadlineKind(kind_text)
    except ValueError:
        raise r.fail(f"{base}.kind", f"unknown kind {kind_text!r}: expected one of "
                                     f"{', '.join(k.value for k in DeadlineKind)}") from None
    completed_by = tuple(get("completed_by", list))
    for event in completed_by:
        if event not in EVENT_SPECS:
            raise r.fail(f"{base}.completed_by", f"unknown event {event!r}")
    cancelled_by = tuple(get("cancelled_by", list, []))
    for event in cancelled_by:
        if event not in EVENT_SPECS:
            raise r.fail(f"{base}.cancelled_by", f"unknown event {event!r}")
    at_expiry = get("at_expiry", str)
    if at_expiry not in AT_EXPIRY:
        raise r.fail(f"{base}.at_expiry", f"unknown action {at_expiry!r}: expected one of {', '.join(AT_EXPIRY)}")
    event = get("event", str, None)
    if at_expiry == "system_event":
        if event is None or not EVENT_SPECS.get(event) or not EVENT_SPECS[event].system:
            raise r.fail(f"{base}.event", f"at_expiry = system_event needs a system event, got {event!r}")
    elif event is not None:
        raise r.fail(f"{base}.event", "only a deadline with at_expiry = system_event names an event")
    recipients = tuple(get("recipients", list, []))
    bad = [x for x in recipients if x not in RECIPIENT_ROLES]
    if bad:
        raise r.fail(f"{base}.recipients", f"unknown role(s) {', '.join(map(str, bad))}: expected cpts or legal")
    actor = get("actor", str)
    if actor not in ACTORS:
        raise r.fail(f"{base}.actor", f"unknown actor {actor!r}: expected one of {', '.join(ACTORS)}")
    mission = get("mission", str, None)
    if mission is not None and mission not in MISSIONS:
        raise r.fail(f"{base}.mission", f"unknown mission {mission!r}")
    before = get("before", bool, False)
    if before and kind is not DeadlineKind.PROCEDURAL:
        raise r.fail(f"{base}.before", "only procedural deadlines count backward from an anchor")
    return DeadlineRule(
        key=key,
        label=get("label", str),
        anchors=anchors,
        period=Period(days=days, months=months),
        before=before,
        kind=kind,
        completed_by=completed_by,
        cancelled_by=cancelled_by,
        at_expiry=at_expiry,
        event=event,
        source=get("source", str),
        recipients=recipients,
        actor=actor,
        mission=mission,
        per_contract_year=get("per_contract_year", bool, False),
        only_if=dict(get("only_if", dict, {})),
        franc=get("franc", bool, False),
        interpretation=get("interpretation", bool, False),
    )


def _check_consistency(r: _Reader, rules: Ruleset) -> None:
    """Cross-checks between sections: totals, missions, contract length."""
    for label, with_orientation in (("without_snp_orientation", False), ("with_snp_orientation", True)):
        key = f"amounts.totals.{label}"
        expected = r.amounts(key)
        computed = tuple(rules.annual_total(s, snp_orientation=with_orientation) for s in (1, 2, 3, 4))
        if computed != expected:
            raise r.fail(key, f"components add up to {list(computed)}, not {list(expected)}")
    if set(rules.socle_missions) | set(rules.optional_missions) != set(MISSIONS):
        raise r.fail("contract", f"socle and optional missions must together be {', '.join(MISSIONS)}")
    if rules.contract_months != 12 * rules.contract_years:
        raise r.fail("contract.duration_months", f"expected 12 × years = {12 * rules.contract_years}")
    if rules.effective < rules.validity_start:
        raise r.fail("effective", "a ruleset cannot take effect before the accord's validity starts")
