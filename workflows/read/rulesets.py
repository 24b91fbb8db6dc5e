"""Read models of the rulesets (`cpts ruleset list|show|diff|check`, the case page's "régi par"): the known
rulesets, their effective rows (after inheritance) with source and verification, the differences between two,
which version governs a case, and the cases whose stored deadlines or payments use an unverified row.

Plain data for a query; rendering belongs to the caller (STYLE, cosmicpython `views.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from lifecycle.calendar import contract_anniversary
from lifecycle.ruleset import RowSource, Ruleset, known_rulesets, load_ruleset

if TYPE_CHECKING:
    from workflows.persistence.unit_of_work import SqlUnitOfWork

# Keys of a row that describe it (source, verification, the loader's stamps) rather than give a value; the
# top row's identity keys are shown by `list`, not as values.
_DESCRIPTIONS = frozenset({"source", "verified", "interpretation", "_ruleset", "_source", "_verified"})
_IDENTITY = frozenset({"id", "title", "parent"})
TOP_ROW = "(file)"  # how the file's top-level row (effective, currency…) is named


@dataclass(frozen=True)
class RulesetSummary:
    """One known ruleset (`cpts ruleset list`).

    Attributes:
        id, title, parent: as the file says (parent None for the first version of an accord).
        effective: the day it comes into force.
        file: the file that defines it (packaged, or the deployment's directory).
        unverified: how many of its effective rows were not checked against the signed text.
        transition: how contracts signed before it come under it (`next_anniversary`, `at_renewal`).
    """

    id: str
    title: str
    parent: str | None
    effective: date
    file: str
    unverified: int
    transition: str

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "parent": self.parent, "effective": self.effective.isoformat(),
                "file": self.file, "unverified": self.unverified, "transition": self.transition}


@dataclass(frozen=True)
class RulesetRow:
    """One effective row of a ruleset (`cpts ruleset show`).

    Attributes:
        key: the row's key (`amounts.missions.crisis`), TOP_ROW for the file's own values.
        values: the row's values (after inheritance), descriptions left out.
        source: the article or report its values come from.
        verified: whether they were checked against the signed text (else "à confirmer").
        interpretation: a reading of ours where the texts are silent.
        ruleset, file: the ruleset that wrote the row and its file.
    """

    key: str
    values: dict[str, Any]
    source: str
    verified: bool
    interpretation: bool
    ruleset: str
    file: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "values": json_ready(self.values), "source": self.source, "verified": self.verified,
                "interpretation": self.interpretation, "ruleset": self.ruleset, "file": self.file}


@dataclass(frozen=True)
class RowChange:
    """A row whose values differ between two rulesets (`cpts ruleset diff A B`): `change` is added (only in B),
    removed (only in A) or changed; `before`/`after` are None on the side that lacks it."""

    key: str
    change: str
    before: RulesetRow | None
    after: RulesetRow | None

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "change": self.change,
                "before": self.before.as_dict() if self.before else None,
                "after": self.after.as_dict() if self.after else None}


@dataclass(frozen=True)
class Governing:
    """The version of the accord governing a case on a day, and since when ("ACI-2019+A2 depuis le 2023-06-01").

    Attributes:
        ruleset: the version's id.
        since: the day it began to govern the case: its in-force date before a contract, else the signature or
            the anniversary from which the contract came under it (SPEC §7.6 reading).
        verified: False when the version has rows not checked against the signed text.
    """

    ruleset: str
    since: date
    verified: bool

    def text(self) -> str:
        return f"{self.ruleset} depuis le {self.since.isoformat()}"

    def as_dict(self) -> dict[str, Any]:
        return {"ruleset": self.ruleset, "since": self.since.isoformat(), "verified": self.verified}


@dataclass(frozen=True)
class CaseUse:
    """A stored deadline or payment of a case computed from an unverified row (`cpts ruleset check`).

    Attributes:
        case_id, case_name: the case.
        what: "deadline" or "payment".
        label: the deadline's label or the payment's component and year.
        due: its due date.
        origin: the ruleset and row ("ACI-2019+A2 amounts.missions.crisis").
        to_confirm: that row's source.
        stale: the row is verified in the rulesets loaded now (a deployment's verified copy): the stored line
            predates it and is rewritten at the case's next write or sweep.
    """

    case_id: int
    case_name: str
    what: str
    label: str
    due: date
    origin: str
    to_confirm: str
    stale: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"case": self.case_id, "name": self.case_name, "what": self.what, "label": self.label,
                "due": self.due.isoformat(), "origin": self.origin, "to_confirm": self.to_confirm,
                "stale": self.stale}


def summaries() -> list[RulesetSummary]:
    """Every known ruleset, by lineage then in-force date."""
    found = known_rulesets()
    ordered = sorted(found.values(), key=lambda r: ((r.versions[0].id if r.versions else r.id), r.effective))
    return [RulesetSummary(r.id, r.title, r.parent, r.effective, r.path,
                           sum(1 for row in r.rows.values() if not row.verified), r.transition) for r in ordered]


def effective_rows(ruleset_id: str) -> list[RulesetRow]:
    """The rows of a ruleset after inheritance, in key order (RulesetError for an unknown id)."""
    rules = load_ruleset(ruleset_id=ruleset_id)
    files = {r.id: r.path for r in known_rulesets().values()}
    rows = []
    for key, source in sorted(rules.rows.items()):
        rows.append(RulesetRow(key or TOP_ROW, _values(rules, key), source.source, source.verified,
                               source.interpretation, source.ruleset, files.get(source.ruleset, rules.path)))
    return rows


def differences(first: str, second: str) -> list[RowChange]:
    """The rows whose values differ between two rulesets (sources and verification alone are not a change)."""
    before = {row.key: row for row in effective_rows(first)}
    after = {row.key: row for row in effective_rows(second)}
    changes = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old is None:
            changes.append(RowChange(key, "added", None, new))
        elif new is None:
            changes.append(RowChange(key, "removed", old, None))
        elif json_ready(old.values) != json_ready(new.values):
            changes.append(RowChange(key, "changed", old, new))
    return changes


def unverified_rows() -> list[RulesetRow]:
    """Every row a known ruleset writes itself (not inherited) that was not checked against the signed text."""
    return [row for summary in summaries() for row in effective_rows(summary.id)
            if not row.verified and row.ruleset == summary.id]


def governing(ruleset_id: str, signed: date | None, today: date) -> Governing:
    """The version of the case's accord that governs it on `today`: before a contract, the one in force that day;
    under a contract, the one governing the contract year `today` falls in (`Ruleset.contract_version`)."""
    rules = load_ruleset(ruleset_id=ruleset_id)
    if signed is None or today < signed:
        version = rules.version_on(today)
        return Governing(version.id, version.effective, _all_verified(version))
    year = 0
    while contract_anniversary(signed, year + 1) <= today:
        year += 1
    version = rules.contract_version(signed, contract_anniversary(signed, year))
    since = year
    while since > 0 and rules.contract_version(signed, contract_anniversary(signed, since - 1)) is version:
        since -= 1
    return Governing(version.id, contract_anniversary(signed, since), _all_verified(version))


def cases_using_unverified(uow: SqlUnitOfWork) -> list[CaseUse]:
    """The cases whose stored deadlines (not cancelled) or payments were computed from an unverified row, as of
    their last refresh (a write or a sweep rewrites them)."""
    from sqlmodel import col, select

    from workflows.persistence.tables import Case, DeadlineRow, PaymentRow

    uses: list[CaseUse] = []
    with uow:
        deadlines = uow.session.exec(
            select(DeadlineRow, Case.name).join(Case, col(Case.id) == col(DeadlineRow.case_id))
            .where(col(DeadlineRow.to_confirm).is_not(None), col(DeadlineRow.status) != "cancelled")
            .order_by(col(DeadlineRow.case_id), col(DeadlineRow.due), col(DeadlineRow.id))).all()
        for row, name in deadlines:
            uses.append(CaseUse(row.case_id, name, "deadline", row.label, row.due, row.origin or "",
                                row.to_confirm or ""))
        payments = uow.session.exec(
            select(PaymentRow, Case.name).join(Case, col(Case.id) == col(PaymentRow.case_id))
            .where(col(PaymentRow.to_confirm).is_not(None))
            .order_by(col(PaymentRow.case_id), col(PaymentRow.due), col(PaymentRow.id))).all()
        for row, name in payments:
            label = f"{row.component} year {row.year}" if row.year else row.component
            uses.append(CaseUse(row.case_id, name, "payment", label, row.due, row.origin or "",
                                row.to_confirm or ""))
    known = known_rulesets()
    doubtful = {row.source for rules in known.values() for row in rules.rows.values() if not row.verified}

    def still_unverified(use: CaseUse) -> bool:
        ruleset, _, key = use.origin.partition(" ")
        found = known.get(ruleset)
        if found is None or not found.row(key).verified:
            return True
        # A refund names its own (verified) row but is computed from its year's amounts: unverified while one of
        # the sources it was marked with still is.
        return any(source in use.to_confirm for source in doubtful)

    uses = [replace(u, stale=not still_unverified(u)) for u in uses]
    return sorted(uses, key=lambda u: (u.case_id, u.what, u.due))


def origin_text(origin: str | None) -> str:
    """A stored origin ("ACI-2019+A2 amounts.missions.crisis") as pages show it: "ACI-2019+A2 · amounts…"."""
    if not origin:
        return ""
    ruleset, _, row = origin.partition(" ")
    return f"{ruleset} · {row}" if row else ruleset


def row_origin_text(row: RowSource | None) -> str:
    """A row's origin as pages show it: "ACI-2019+A2 · amounts.missions.crisis"."""
    return "" if row is None else origin_text(row.cite())


def _all_verified(rules: Ruleset) -> bool:
    return all(row.verified for row in rules.rows.values())


def _values(rules: Ruleset, key: str) -> dict[str, Any]:
    node: Any = rules.raw
    for part in _split(key):
        node = node[part]
    inside_row = key.startswith("deadlines.")
    return {k: v for k, v in node.items()
            if k not in _DESCRIPTIONS and not (key == "" and k in _IDENTITY)
            and (inside_row or not isinstance(v, dict))}


def _split(key: str) -> list[str]:
    """`deadlines.mission_start.crisis` → ["deadlines", "mission_start.crisis"]: a deadline's key has dots."""
    if not key:
        return []
    if key.startswith("deadlines."):
        return ["deadlines", key.removeprefix("deadlines.")]
    return key.split(".")


def json_ready(value: Any) -> Any:
    """Values as JSON can carry them (dates as ISO text)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value
