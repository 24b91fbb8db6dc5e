"""Deadline instances: created from a rule and an anchor, then completed, cancelled, elapsed or breached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from lifecycle.calendar import DateExplanation
from lifecycle.ruleset import DeadlineRule

PENDING, MET, MET_LATE, BREACHED, ELAPSED, CANCELLED = (
    "pending", "met", "met_late", "breached", "elapsed", "cancelled",
)
STATUSES = (PENDING, MET, MET_LATE, BREACHED, ELAPSED, CANCELLED)


@dataclass
class OpenDeadline:
    """A deadline while the journal is replayed (mutable; frozen into `Deadline` at the end)."""

    rule: DeadlineRule
    key: str
    anchor_event: str
    explanation: DateExplanation
    year: int | None = None
    completed_on: date | None = None
    completed_by_seq: int | None = None
    closed_on: date | None = None  # cancelled or elapsed on that date
    closed_as: str | None = None
    note: str = ""

    @property
    def due(self) -> date:
        return self.explanation.due

    @property
    def ident(self) -> str:
        """Stable identity of this deadline instance: key and anchor date."""
        return f"{self.key}:{self.explanation.anchor.isoformat()}"

    @property
    def is_open(self) -> bool:
        return self.completed_on is None and self.closed_as is None

    def status(self, today: date) -> str:
        if self.completed_on is not None:
            return MET if self.completed_on <= self.due else MET_LATE
        if self.closed_as is not None:
            return self.closed_as
        if self.due < today and self.rule.at_expiry == "breach":
            return BREACHED  # SPEC §6: breached from the first local day after the due date
        return PENDING

    def freeze(self, today: date) -> Deadline:
        return Deadline(
            key=self.key,
            ident=self.ident,
            rule_key=self.rule.key,
            label=self.rule.label.format(year=self.year or ""),
            year=self.year,
            mission=self.rule.mission,
            anchor_event=self.anchor_event,
            anchor=self.explanation.anchor,
            due=self.due,
            kind=self.rule.kind.value,
            status=self.status(today),
            met_on=self.completed_on,
            closed_on=self.closed_on,
            at_expiry=self.rule.at_expiry,
            recipients=self.rule.recipients,
            source=self.rule.source,
            interpretation=self.rule.interpretation,
            explanation=self.explanation,
            note=self.note,
            ruleset=self.rule.ruleset,
            verified=self.rule.verified,
        )


@dataclass(frozen=True)
class Deadline:
    """A deadline of SPEC §5 as of a given day, with the explanation of its due date."""

    key: str
    ident: str
    rule_key: str
    label: str
    year: int | None
    mission: str | None
    anchor_event: str
    anchor: date
    due: date
    kind: str
    status: str
    met_on: date | None
    closed_on: date | None
    at_expiry: str
    recipients: tuple[str, ...]
    source: str
    interpretation: bool
    explanation: DateExplanation
    note: str = ""
    ruleset: str = ""  # the ruleset file whose row gave the period (`ACI-2019`, `ACI-2019+A2`)
    verified: bool = True  # that row was checked against the signed text; else the date is "à confirmer"

    def explain(self) -> str:
        return explain(self.explanation, self.note)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "ident": self.ident,
            "label": self.label,
            "due": self.due.isoformat(),
            "status": self.status,
            "met_on": self.met_on.isoformat() if self.met_on else None,
            "kind": self.kind,
            "anchor_event": self.anchor_event,
            "anchor": self.anchor.isoformat(),
            "source": self.source,
            "interpretation": self.interpretation,
            "ruleset": self.ruleset,
            "verified": self.verified,
            "explanation": self.explain(),
        }


def explain(explanation: DateExplanation, note: str = "") -> str:
    """Why a deadline falls on its date, followed by its note (why it was cancelled, what a refund owes…)."""
    text = explanation.text()
    return f"{text}; {note}" if note else text
