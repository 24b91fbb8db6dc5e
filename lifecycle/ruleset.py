"""Load and validate the versioned ruleset files (TOML): sizes, amounts, deadlines, reminders.

The ruleset is the only place a number lives (STYLE habit 2). A malformed or inconsistent file raises
`RulesetError` naming the file, the key and the problem.

Rulesets form lineages: a file may name a `parent` and write only what differs from it (`ACI-2019+A2` extends
`ACI-2019`). Every row (a table of values: an amount, a deadline, a section's settings) keeps the ruleset that
wrote it, its source and whether its values were checked against the signed text (`verified`). A lineage's
versions are ordered by their in-force date (`effective`); `Ruleset.version_on` and `Ruleset.contract_version`
say which version governs a day or a contract year. A deployment adds or replaces files with
`set_rulesets_dir` (the CLI and the web read `CPTS_RULESETS_DIR`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from lifecycle.calendar import DeadlineKind, Period, add_months
from lifecycle.errors import RulesetError
from lifecycle.events import CPL_SECTIONS, EVENT_SPECS, MISSIONS

DEFAULT_RULESET = "ACI-2019"
# How a contract signed before a version's in-force date comes under it (SPEC §7.6 reading): from the first
# anniversary on or after that date ("next_anniversary"), or never: it ends under the version it was signed
# under ("at_renewal").
TRANSITIONS = ("next_anniversary", "at_renewal")
# Which contract years a raise of the fonctionnement applies to: every year governed by the version that
# raises it, or the signature year only (paid as a complement when the contract comes under that version).
RAISE_APPLIES_TO = ("every_year", "signature_year")
# Keys of a row that describe it rather than give a value.
_META_KEYS = ("source", "verified", "interpretation", "_ruleset", "_source", "_verified")
AT_EXPIRY = ("breach", "system_event", "none")
SPECIAL_ANCHORS = ("anniversary", "termination_effective_date", "cpl_meeting_date")
RECIPIENT_ROLES = ("cpts", "legal")
# Who must act before a deadline's due date (the pages' "who acts"); none: a date of effect.
ACTORS = ("binome", "ars", "am", "cpts", "cpl", "funders", "none")


@dataclass(frozen=True)
class RowSource:
    """Where a row's values come from: the ruleset file that wrote it, the row's key, its source (an article,
    a report) and whether the values were checked against the signed text."""

    ruleset: str
    key: str
    source: str
    verified: bool = True
    interpretation: bool = False

    def marker(self) -> str:
        """The French flag every output puts beside a value computed from an unverified row ("" if verified)."""
        return "" if self.verified else f"à confirmer ({self.source})"

    def cite(self) -> str:
        """`ACI-2019+A2 amounts.missions.crisis` — the text and the row."""
        return f"{self.ruleset} {self.key}"


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
    ruleset: str = DEFAULT_RULESET  # the ruleset file that wrote the row
    verified: bool = True  # its period was checked against the signed text
    in_force: date | None = None  # a row added by an amendment: the day it came into force (None: the accord's)

    @property
    def row(self) -> RowSource:
        return RowSource(self.ruleset, f"deadlines.{self.key}", self.source, self.verified, self.interpretation)


@dataclass(frozen=True)
class FonctionnementRaise:
    """A raise of the fonctionnement for contracts signed on or before a day (avenant 2: +75 %)."""

    rate: Fraction
    amounts: tuple[int, ...]  # the raised annual amounts, sizes 1–4 (checked: fonctionnement × (1 + rate))
    signed_on_or_before: date
    applies_to: str  # RAISE_APPLIES_TO


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
    # The fixed envelope of the mission's first paid year when it differs from the following years' (the
    # crisis mission: its plan is drawn up in the first year, updated in the others).
    first_year: tuple[int, ...] = ()


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
    parent: str | None = None
    transition: str = "next_anniversary"
    # A mission added by an amendment: the day it came into force, when not the ruleset's own (`effective`).
    mission_in_force: dict[str, date] = field(default_factory=dict)
    loi_support: tuple[int, ...] = ()  # paid when the lettre d'intention is validated, sizes 1–4
    fonctionnement_raise: FonctionnementRaise | None = None
    rows: dict[str, RowSource] = field(repr=False, compare=False, default_factory=dict)
    # The versions of the same lineage, oldest first (this one included), set when the registry is built.
    versions: tuple[Ruleset, ...] = field(repr=False, compare=False, default=())

    def row(self, key: str) -> RowSource:
        """Where the row `key` (`amounts.missions.crisis`, `sizes`, …) comes from; its nearest enclosing row
        when `key` is a value inside one (`amounts.fonctionnement` → `amounts`)."""
        while key:
            found = self.rows.get(key)
            if found is not None:
                return found
            key = key.rpartition(".")[0]
        return RowSource(self.id, "", self.title, True)

    @property
    def missions_offered(self) -> tuple[str, ...]:
        return (*self.socle_missions, *self.optional_missions)

    def version_on(self, day: date) -> Ruleset:
        """The version of this ruleset's lineage in force on `day` (the lineage's first version before any)."""
        chosen = self.versions[0] if self.versions else self
        for version in self.versions:
            if version.effective <= day:
                chosen = version
        return chosen

    def contract_version(self, signed: date, year_begins: date) -> Ruleset:
        """The version governing the contract year that begins on `year_begins` of a contract signed on
        `signed`: the one in force at the signature, or a later one from the first anniversary on or after its
        in-force date, unless its `transition` keeps older contracts as they were signed (SPEC §7.6 reading)."""
        chosen = self.version_on(signed)
        for version in self.versions:
            if signed < version.effective <= year_begins and version.transition == "next_anniversary":
                chosen = version
        return chosen

    @cached_property
    def lineage_deadlines(self) -> dict[str, DeadlineRule]:
        """Every deadline row of this ruleset's lineage, as its latest version writes it (a row an amendment
        added, the crisis mission's, included): what a stored deadline key may name. Computed once (read models
        ask for it per row); the registry gives a ruleset its versions before anyone reads it."""
        latest = self.versions[-1] if self.versions else self
        if latest is self:
            return self.deadlines
        return {**self.deadlines, **latest.deadlines}

    def mission_from(self, mission: str) -> date:
        """The day a mission came into force under this version."""
        return self.mission_in_force.get(mission, self.effective)

    def missions_at_signature(self, signed: date) -> tuple[str, ...]:
        """The socle missions of a contract signed on `signed` from its first day."""
        version = self.version_on(signed)
        return tuple(m for m in version.socle_missions if version.mission_from(m) <= signed)

    def missions_coming(self, signed: date, anniversaries: tuple[date, ...]) -> dict[str, tuple[int, Ruleset]]:
        """The socle missions a contract signed on `signed` comes under later (SPEC §7.6 reading): mission →
        (the contract year whose first day, anniversary K−1, is the first on or after the mission's in-force
        date, the version that adds it). `anniversaries`: 0 (the signature) to the contract's end."""
        coming: dict[str, tuple[int, Ruleset]] = {}
        present = set(self.missions_at_signature(signed))
        at_signature = self.version_on(signed)
        for version in self.versions or (self,):
            older = version.effective <= signed and version is not at_signature
            if version.transition != "next_anniversary" or older:
                continue
            for mission in version.socle_missions:
                if mission in present or mission in coming:
                    continue
                from_day = max(version.mission_from(mission), version.effective)
                for year in range(2, len(anniversaries)):
                    if anniversaries[year - 1] >= from_day:
                        coming[mission] = (year, version)
                        break
        return coming

    def deadline(self, key: str) -> DeadlineRule:
        """The rule of a deadline key (`mission_start.access`, `annual_review`, …)."""
        try:
            return self.deadlines[key]
        except KeyError:
            raise RulesetError(self.path, f"deadlines.{key}", "no such deadline in this ruleset") from None

    def size_for(self, population: int) -> int:
        """Size 1–4 of a territory by its population (ACI art. 7.1, SPEC §3): each band's bound is the largest
        population it holds."""
        for size, up_to in self.size_bands:
            if up_to is None or population <= up_to:
                return size
        raise AssertionError("the last size band is open-ended")  # guaranteed by the loader

    def annual_total(self, size: int, *, snp_orientation: bool, missions: tuple[str, ...] | None = None) -> int:
        """Annual envelope for a size, all five missions unless told otherwise, SNP compensation included."""
        chosen = missions if missions is not None else tuple(self.missions)
        i = size - 1
        total = self.fonctionnement[i]
        for name in chosen:
            amounts = self.missions[name]
            total += (amounts.first_year or amounts.fixed)[i] + amounts.variable[i]
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
    """A ruleset by id (packaged, or from the deployment's directory: `set_rulesets_dir`), or the file at
    `path` (its parent, if any, taken from the known rulesets), validated."""
    if path is None:
        found = _registry().get(ruleset_id)
        if found is None:
            known = ", ".join(sorted(_registry()))
            raise RulesetError("<rulesets>", "id", f"unknown ruleset {ruleset_id!r}: known: {known}")
        return found
    name = str(path)
    doc = _read(Path(path))
    parent = doc.get("parent")
    if parent is None:
        return _build(name, _stamped(name, doc))
    if not isinstance(parent, str) or parent not in _registry():
        raise RulesetError(name, "parent", f"no ruleset {parent!r} to extend: known: {', '.join(sorted(_registry()))}")
    return _build(name, _merged(_registry()[parent].raw, _stamped(name, doc)))


def known_rulesets() -> dict[str, Ruleset]:
    """Every ruleset the engine knows (packaged and the deployment's), by id."""
    return dict(_registry())


_rulesets_dir: Path | None = None


def set_rulesets_dir(directory: str | Path | None) -> None:
    """Add the deployment's ruleset files (`*.toml` in `directory`) to the packaged ones: a file with a packaged
    id replaces it (e.g. the same values checked against the signed text, marked verified). Every file is
    loaded and checked at once: RulesetError (`file: key: problem`) on the first problem."""
    global _rulesets_dir
    previous = _rulesets_dir
    _rulesets_dir = None if directory is None else Path(directory)
    _registry.cache_clear()
    try:
        _registry()
    except RulesetError:
        _rulesets_dir = previous
        _registry.cache_clear()
        raise


def rulesets_dir() -> Path | None:
    return _rulesets_dir


def _packaged_files() -> Iterator[tuple[str, str]]:
    """(name, text) of each packaged ruleset file."""
    folder = resources.files("lifecycle.rulesets")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            yield f"lifecycle/rulesets/{entry.name}", entry.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _registry() -> dict[str, Ruleset]:
    docs: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, text in _packaged_files():
        doc = _parse(name, text)
        docs[_id_of(name, doc)] = (name, doc)
    directory = _rulesets_dir
    if directory is not None:
        if not directory.is_dir():
            raise RulesetError(str(directory), "<directory>", "not a directory (CPTS_RULESETS_DIR)")
        own: dict[str, str] = {}
        for file in sorted(directory.glob("*.toml")):
            doc = _read(file)
            ruleset_id = _id_of(str(file), doc)
            if ruleset_id in own:
                raise RulesetError(str(file), "id", f"{ruleset_id!r} is also the id of {own[ruleset_id]}")
            own[ruleset_id] = str(file)
            docs[ruleset_id] = (str(file), doc)
    merged: dict[str, dict[str, Any]] = {}

    def resolve(ruleset_id: str, chain: tuple[str, ...]) -> dict[str, Any]:
        if ruleset_id in merged:
            return merged[ruleset_id]
        name, doc = docs[ruleset_id]
        parent = doc.get("parent")
        stamped = _stamped(name, doc)
        if parent is None:
            merged[ruleset_id] = stamped
        else:
            if not isinstance(parent, str) or parent not in docs:
                raise RulesetError(name, "parent", f"no ruleset {parent!r} to extend: known: {', '.join(sorted(docs))}")
            if parent in chain:
                raise RulesetError(name, "parent", f"{parent!r} extends {ruleset_id!r} in turn (a cycle)")
            merged[ruleset_id] = _merged(resolve(parent, (*chain, ruleset_id)), stamped)
        return merged[ruleset_id]

    built = {ruleset_id: _build(docs[ruleset_id][0], resolve(ruleset_id, (ruleset_id,))) for ruleset_id in docs}
    _link_versions(built)
    return built


def _link_versions(built: dict[str, Ruleset]) -> None:
    """Order each lineage by in-force date and give each version the lineage; refuse overlapping dates."""
    def root(ruleset: Ruleset) -> str:
        while ruleset.parent is not None:
            ruleset = built[ruleset.parent]
        return ruleset.id

    lineages: dict[str, list[Ruleset]] = {}
    for ruleset in built.values():
        lineages.setdefault(root(ruleset), []).append(ruleset)
    for members in lineages.values():
        members.sort(key=lambda r: r.effective)
        for earlier, later in zip(members, members[1:], strict=False):
            if later.effective <= earlier.effective:
                raise RulesetError(later.path, "effective", f"{later.effective.isoformat()} overlaps {earlier.id} "
                                   f"(in force from {earlier.effective.isoformat()}): the versions of one accord "
                                   "come into force on different days, each after the one it extends")
            if later.parent != earlier.id:
                raise RulesetError(later.path, "parent", f"extends {later.parent!r}, but the version in force "
                                   f"just before it is {earlier.id!r}: a version extends the one before it")
        versions = tuple(members)
        for ruleset in members:
            object.__setattr__(ruleset, "versions", versions)


def _id_of(name: str, doc: dict[str, Any]) -> str:
    ruleset_id = doc.get("id")
    if not isinstance(ruleset_id, str) or not ruleset_id:
        raise RulesetError(name, "id", f"expected the ruleset's id, a text, got {ruleset_id!r}")
    return ruleset_id


def _read(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesetError(str(path), "<file>", f"cannot be read ({exc.strerror})") from None
    return _parse(str(path), text)


def _parse(name: str, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesetError(name, "<file>", f"not valid TOML: {exc}") from None


def _is_row(node: dict[str, Any]) -> bool:
    """A table that gives values of its own (not only sub-tables and descriptions) is a row."""
    return any(not isinstance(v, dict) and k not in _META_KEYS for k, v in node.items())


def _stamped(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A copy of a file's document whose every row carries the file's id (`_ruleset`), its source (`_source`:
    its own, else its nearest enclosing table's) and whether it was checked against the signed text
    (`_verified`: its own `verified`, else the enclosing tables', else the file's, which is required)."""
    ruleset_id = _id_of(name, doc)
    top = doc.get("verified")
    if not isinstance(top, bool):
        raise RulesetError(name, "verified", f"expected true or false (were this file's values checked against "
                                             f"the signed text?), got {top!r}")

    def walk(node: dict[str, Any], path: str, source: str, verified: bool) -> dict[str, Any]:
        if "verified" in node and not isinstance(node["verified"], bool):
            raise RulesetError(name, f"{path}.verified" if path else "verified",
                               f"expected true or false, got {node['verified']!r}")
        if "source" in node and not isinstance(node["source"], str):
            raise RulesetError(name, f"{path}.source" if path else "source", f"expected a text, got {node['source']!r}")
        source, verified = node.get("source", source), node.get("verified", verified)
        # A deadline's own tables (only_if) are values of its row, not rows.
        inside_row = path.startswith("deadlines.")
        copy = {k: walk(v, f"{path}.{k}" if path else k, source, verified)
                if isinstance(v, dict) and not inside_row else v for k, v in node.items()}
        if _is_row(node):
            copy.update(_ruleset=ruleset_id, _source=source, _verified=verified)
        return copy

    return walk(doc, "", str(doc.get("title", ruleset_id)), top)


def _merged(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """`child` written over `parent`: tables merged key by key, any other value replaced."""
    out = dict(parent)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _rows(doc: dict[str, Any]) -> dict[str, RowSource]:
    rows: dict[str, RowSource] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        if "_ruleset" in node:
            rows[path] = RowSource(node["_ruleset"], path, node["_source"], node["_verified"],
                                   bool(node.get("interpretation", False)))
        for key, value in node.items():
            if isinstance(value, dict):
                walk(value, f"{path}.{key}" if path else key)

    walk(doc, "")
    return rows


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


def _build(name: str, doc: dict[str, Any]) -> Ruleset:
    """The ruleset of a (merged, stamped) document, validated."""
    r = _Reader(name, doc)

    bands_raw = r.get("sizes.bands", list)
    bands: list[tuple[int, int | None]] = []
    for i, band in enumerate(bands_raw):
        key = f"sizes.bands[{i}]"
        if not isinstance(band, dict) or "size" not in band:
            raise r.fail(key, "expected { size = N, up_to = POPULATION } (the largest population of the band)")
        if "below" in band and "up_to" in band:
            raise r.fail(key, "give up_to (the band's largest population) or below (the next band's smallest), "
                              "not both")
        bound_key = "below" if "below" in band else "up_to"
        bound = band.get(bound_key)
        if bound is not None and (not isinstance(bound, int) or isinstance(bound, bool) or bound <= 0):
            raise r.fail(f"{key}.{bound_key}", f"expected a positive population, got {bound!r}")
        if band["size"] != i + 1:
            raise r.fail(f"{key}.size", f"expected size {i + 1} (bands are listed in order), got {band['size']!r}")
        bands.append((band["size"], None if bound is None else bound - 1 if bound_key == "below" else bound))
    if len(bands) != 4 or bands[-1][1] is not None or any(b[1] is None for b in bands[:-1]):
        raise r.fail("sizes.bands", "expected four bands, the last one without an upper bound")
    limits = [b[1] for b in bands[:-1]]
    if limits != sorted(limits) or len(set(limits)) != len(limits):
        raise r.fail("sizes.bands", f"upper bounds must increase, got {limits}")

    socle = tuple(r.get("contract.socle_missions", list))
    optional = tuple(r.get("contract.optional_missions", list))
    strange = [m for m in (*socle, *optional) if m not in MISSIONS]
    if strange:
        raise r.fail("contract", f"unknown mission(s) {', '.join(map(str, strange))}: expected among "
                                 f"{', '.join(MISSIONS)}")
    if set(socle) & set(optional) or len(set(socle)) != len(socle) or len(set(optional)) != len(optional):
        raise r.fail("contract", "a mission is listed twice among the socle and optional missions")
    missions: dict[str, MissionAmounts] = {}
    mission_in_force: dict[str, date] = {}
    missions_doc = r.get("amounts.missions", dict)
    for mission in (*socle, *optional):
        node = missions_doc.get(mission)
        if not isinstance(node, dict):
            raise r.fail(f"amounts.missions.{mission}", "missing")
        base = f"amounts.missions.{mission}"
        extra = {
            part: r.amounts(f"{base}.{part}", node)
            for part in ("snp_compensation", "snp_orientation", "first_year")
            if part in node
        }
        if "in_force" in node:
            mission_in_force[mission] = r.get(f"{base}.in_force", date, node=node)
        missions[mission] = MissionAmounts(
            fixed=r.amounts(f"{base}.fixed", node), variable=r.amounts(f"{base}.variable", node), **extra
        )
    unknown_missions = sorted(set(missions_doc) - set(socle) - set(optional) - set(_META_KEYS))
    if unknown_missions:
        raise r.fail("amounts.missions", f"mission(s) {', '.join(unknown_missions)} not among the contract's "
                                         f"socle and optional missions")

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
    transition = r.get("transition.contracts_signed_before", str, default="next_anniversary")
    if transition not in TRANSITIONS:
        raise r.fail("transition.contracts_signed_before", f"unknown transition {transition!r}: expected one of "
                                                          f"{', '.join(TRANSITIONS)}")
    parent = r.get("parent", str, default=None)
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
        socle_missions=socle,
        optional_missions=optional,
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
        parent=parent,
        transition=transition,
        mission_in_force=mission_in_force,
        loi_support=r.amounts("amounts.loi_support.amounts") if "loi_support" in r.get("amounts", dict) else (),
        fonctionnement_raise=_fonctionnement_raise(r),
        rows=_rows(doc),
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
        "in_force", *_META_KEYS,
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
        ruleset=node.get("_ruleset", DEFAULT_RULESET),
        verified=node.get("_verified", True),
        in_force=get("in_force", date, None),
    )


def _fonctionnement_raise(r: _Reader) -> FonctionnementRaise | None:
    node = r.get("amounts", dict).get("fonctionnement_raise")
    if node is None:
        return None
    base = "amounts.fonctionnement_raise"
    rate_text = r.get(f"{base}.rate", str)
    try:
        rate = Fraction(rate_text)
    except (ValueError, ZeroDivisionError):
        raise r.fail(f"{base}.rate", f"expected a fraction such as \"3/4\", got {rate_text!r}") from None
    if rate <= 0:
        raise r.fail(f"{base}.rate", f"expected a raise > 0, got {rate_text}")
    applies_to = r.get(f"{base}.applies_to", str)
    if applies_to not in RAISE_APPLIES_TO:
        raise r.fail(f"{base}.applies_to",
                     f"unknown value {applies_to!r}: expected one of {', '.join(RAISE_APPLIES_TO)}")
    return FonctionnementRaise(rate=rate, amounts=r.amounts(f"{base}.amounts"),
                               signed_on_or_before=r.get(f"{base}.signed_on_or_before", date), applies_to=applies_to)


def _check_consistency(r: _Reader, rules: Ruleset) -> None:
    """Cross-checks between sections: totals, missions, contract length."""
    for label, with_orientation in (("without_snp_orientation", False), ("with_snp_orientation", True)):
        key = f"amounts.totals.{label}"
        expected = r.amounts(key)
        computed = tuple(rules.annual_total(s, snp_orientation=with_orientation) for s in (1, 2, 3, 4))
        if computed != expected:
            raise r.fail(key, f"components add up to {list(computed)}, not {list(expected)}")
    raise_ = rules.fonctionnement_raise
    if raise_ is not None:
        expected_raised = tuple(amount * (1 + raise_.rate) for amount in rules.fonctionnement)
        if raise_.amounts != expected_raised:
            raise r.fail("amounts.fonctionnement_raise.amounts",
                         f"fonctionnement × (1 + {raise_.rate}) is {[str(a) for a in expected_raised]}, "
                         f"not {list(raise_.amounts)}")
    for key, rule in rules.deadlines.items():
        if rule.mission is not None and rule.mission not in rules.missions:
            raise r.fail(f"deadlines.{key}.mission", f"mission {rule.mission!r} is not among this ruleset's missions")
    if rules.contract_months != 12 * rules.contract_years:
        raise r.fail("contract.duration_months", f"expected 12 × years = {12 * rules.contract_years}")
    if rules.effective < rules.validity_start:
        raise r.fail("effective", "a ruleset cannot take effect before the accord's validity starts")
