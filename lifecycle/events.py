"""The event vocabulary (SPEC §4, §11): names, data shapes, and the journal entry value.

`parse_event` turns untrusted input (CLI, scenario file) into a validated `EventData` or raises
`EventRejected` naming the offending key or value and what would be accepted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lifecycle.errors import EventRejected

MISSIONS = ("access", "parcours", "prevention", "quality", "support")
OPTIONAL_MISSIONS = ("quality", "support")
DOCUMENTS = ("health_project", "statutes", "territory", "members")
PAYMENT_COMPONENTS = (
    "fonctionnement.advance",
    "fonctionnement.balance",
    *(f"{m}.{part}" for m in MISSIONS for part in ("fixed.advance", "fixed.balance", "variable")),
    "refund",
)


def parse_date(value: object, what: str = "date") -> date:
    """An ISO date 'YYYY-MM-DD', or a clear error."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise EventRejected(f"malformed {what} {value!r}: expected a calendar date as YYYY-MM-DD, e.g. 2025-02-18")


# ---------------------------------------------------------------------------------------- field checkers
Checker = Callable[[str, object], object]


def _choice(*allowed: str) -> Checker:
    def check(key: str, value: object) -> object:
        if value not in allowed:
            raise EventRejected(f"{key}={value!r} is not accepted: expected one of {', '.join(allowed)}")
        return value

    return check


def _boolean(key: str, value: object) -> object:
    if not isinstance(value, bool):
        raise EventRejected(f"{key}={value!r} is not accepted: expected true or false")
    return value


def _positive_int(key: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EventRejected(f"{key}={value!r} is not accepted: expected a whole number ≥ 0")
    return value


def _year(key: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise EventRejected(f"{key}={value!r} is not accepted: expected a contract year from 1 to 5")
    return value


def _amount(key: str, value: object) -> object:
    if isinstance(value, bool):
        raise EventRejected(f"{key}={value!r} is not accepted: expected an amount such as \"12500.00\"")
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise EventRejected(f"{key}={value!r} is not accepted: expected an amount such as \"12500.00\"") from None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise EventRejected(f"{key}={value!r} is not accepted: expected an amount ≥ 0 with at most 2 decimals")
    return str(amount.quantize(Decimal("0.01")))


def _missions(allowed: tuple[str, ...]) -> Checker:
    def check(key: str, value: object) -> object:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EventRejected(f"{key}={value!r} is not accepted: expected a list among {', '.join(allowed)}")
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise EventRejected(
                f"{key}: unknown mission(s) {', '.join(unknown)}: expected among {', '.join(allowed)}"
            )
        return sorted(set(value), key=allowed.index)

    return check


def _documents(key: str, value: object) -> object:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EventRejected(f"{key}={value!r} is not accepted: expected a list among {', '.join(DOCUMENTS)}")
    unknown = [v for v in value if v not in DOCUMENTS]
    if unknown:
        raise EventRejected(f"{key}: unknown document(s) {', '.join(unknown)}: expected {', '.join(DOCUMENTS)}")
    return sorted(set(value), key=DOCUMENTS.index)


def _iso_date(key: str, value: object) -> object:
    return parse_date(value, key).isoformat()


def _text(key: str, value: object) -> object:
    if not isinstance(value, str) or not value.strip():
        raise EventRejected(f"{key}={value!r} is not accepted: expected a non-empty text")
    return value


def _seq(key: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EventRejected(f"{key}={value!r} is not accepted: expected the journal sequence number (≥ 1)")
    return value


def _number(key: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise EventRejected(f"{key}={value!r} is not accepted: expected a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise EventRejected(f"{key}={value!r} is not accepted: expected a number") from None
    if not number.is_finite():
        raise EventRejected(f"{key}={value!r} is not accepted: expected a finite number")
    return str(value) if isinstance(value, str) else value


def _indicator_missions(key: str, value: object) -> object:
    """{"<mission>": {"attainment": r} or {"indicators": [{name, baseline, target, actual, weight}]}} (§9)."""
    if not isinstance(value, dict) or not value:
        raise EventRejected(f"{key} must be an object keyed by mission, e.g. {{\"access\": {{\"attainment\": 0.8}}}}")
    for mission, report in value.items():
        if mission not in MISSIONS:
            raise EventRejected(f"{key}: unknown mission {mission!r}: expected among {', '.join(MISSIONS)}")
        if not isinstance(report, dict) or set(report) not in ({"attainment"}, {"indicators"}):
            raise EventRejected(
                f"{key}.{mission} must be {{\"attainment\": r}} or {{\"indicators\": [...]}}, got {report!r}"
            )
        if "attainment" in report:
            rate = _number(f"{key}.{mission}.attainment", report["attainment"])
            if not Decimal(0) <= Decimal(str(rate)) <= Decimal(1):
                raise EventRejected(f"{key}.{mission}.attainment={rate!r} is not accepted: expected a rate in [0, 1]")
            continue
        indicators = report["indicators"]
        if not isinstance(indicators, list) or not indicators:
            raise EventRejected(f"{key}.{mission}.indicators must be a non-empty list")
        for i, ind in enumerate(indicators):
            where = f"{key}.{mission}.indicators[{i}]"
            expected = {"name", "baseline", "target", "actual", "weight"}
            if not isinstance(ind, dict) or set(ind) - expected or not {"baseline", "target", "actual"} <= set(ind):
                raise EventRejected(
                    f"{where} must have name, baseline, target, actual and optional weight; got {ind!r}"
                )
            for part in ("baseline", "target", "actual", "weight"):
                if part in ind:
                    _number(f"{where}.{part}", ind[part])
            if Decimal(str(ind["target"])) == Decimal(str(ind["baseline"])):
                raise EventRejected(f"{where}: target equals baseline, so attainment is undefined")
            if "weight" in ind and Decimal(str(ind["weight"])) < 0:
                raise EventRejected(f"{where}.weight must be ≥ 0")
        if sum(Decimal(str(ind.get("weight", 1))) for ind in indicators) == 0:
            raise EventRejected(f"{key}.{mission}.indicators: the weights add up to 0; give at least one weight > 0")
    return value


@dataclass(frozen=True)
class EventSpec:
    """One event type: its data keys (required and optional) and whether only the system may record it."""

    name: str
    required: Mapping[str, Checker] = field(default_factory=dict)
    optional: Mapping[str, Checker] = field(default_factory=dict)
    system: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)


_AMOUNT = {"amount": _amount}

EVENT_SPECS: dict[str, EventSpec] = {
    spec.name: spec
    for spec in [
        EventSpec("contact_recorded", required={"source": _choice("ars", "cpam", "msa", "porteur")}),
        EventSpec("first_meeting_held"),
        EventSpec("loi_submitted", optional={"orientations": _text}),
        EventSpec(
            "loi_decision",
            required={"party": _choice("ars", "am"), "decision": _choice("approve", "reject")},
        ),
        EventSpec("fir_granted", optional=_AMOUNT),
        EventSpec("fir_followup_meeting_held"),
        EventSpec("fir_renewed", optional=_AMOUNT),
        EventSpec("health_project_received"),
        EventSpec("health_project_opposed", required={"grounds": _choice("prs_objectives", "territory")}),
        EventSpec("health_project_validated"),
        EventSpec("health_project_tacitly_validated", system=True),
        EventSpec("adhesion_requested", required={"documents": _documents}),
        EventSpec("contract_refusal_received"),
        EventSpec(
            "contract_signed",
            optional={
                "missions": _missions(OPTIONAL_MISSIONS),
                "snp_compensation": _boolean,
                "snp_orientation": _boolean,
                "population": _positive_int,
            },
            defaults={"missions": [], "snp_compensation": True, "snp_orientation": False},
        ),
        EventSpec("mission_started", required={"mission": _choice(*MISSIONS)}),
        EventSpec("mission_deployed", required={"mission": _choice(*MISSIONS)}),
        EventSpec("annual_review_held", required={"year": _year}),
        EventSpec("indicators_reported", required={"year": _year, "missions": _indicator_missions}),
        EventSpec("members_list_updated", optional={"year": _year}),
        EventSpec(
            "avenant_signed",
            optional={
                "population": _positive_int,
                "add_missions": _missions(OPTIONAL_MISSIONS),
                "drop_missions": _missions(OPTIONAL_MISSIONS),
                "snp_orientation": _boolean,
            },
        ),
        EventSpec(
            "payment_recorded",
            required={"component": _choice(*PAYMENT_COMPONENTS), "year": _year, "amount": _amount},
        ),
        EventSpec(
            "termination_notice_received",
            required={"initiator": _choice("cpts", "funders")},
            optional={"grounds": _choice("non_compliance", "ineligible")},
        ),
        EventSpec("cpl_referral_received", required={"subject": _choice("termination", "contract_refusal")}),
        EventSpec("cpl_meeting_scheduled", required={"date": _iso_date}),
        EventSpec("cpl_meeting_held"),
        EventSpec("cpl_opinion_notified", required={"opinion": _choice("favourable", "unfavourable")}),
        EventSpec("cpl_opinion_deemed", system=True),
        EventSpec(
            "funders_decision_notified",
            required={"outcome": _choice("maintained", "withdrawn", "granted")},
        ),
        EventSpec("termination_effective", system=True),
        EventSpec("contract_expired", system=True),
        EventSpec("refund_received", optional=_AMOUNT),
        EventSpec("project_abandoned", optional={"reason": _text}),
        EventSpec("event_voided", required={"seq": _seq}, optional={"reason": _text}),
    ]
}
SYSTEM_EVENTS = frozenset(name for name, spec in EVENT_SPECS.items() if spec.system)


def validate_data(event_type: str, data: object, *, allow_system: bool = False) -> dict[str, Any]:
    """Check an event's type and data against the vocabulary; return the normalised data."""
    spec = EVENT_SPECS.get(event_type)
    if spec is None:
        raise EventRejected(
            f"unknown event {event_type!r}: expected one of {', '.join(sorted(set(EVENT_SPECS) - SYSTEM_EVENTS))}"
        )
    if spec.system and not allow_system:
        raise EventRejected(f"{event_type} is recorded by the engine's timers, not by hand")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EventRejected(f"{event_type}: data must be a JSON object, got {type(data).__name__}")
    known = {**spec.required, **spec.optional}
    unknown = sorted(set(data) - set(known))
    if unknown:
        allowed = ", ".join(known) or "no data"
        raise EventRejected(f"{event_type}: unknown data key(s) {', '.join(unknown)}: accepted: {allowed}")
    missing = [key for key in spec.required if key not in data]
    if missing:
        raise EventRejected(f"{event_type}: missing data key(s) {', '.join(missing)}")
    clean: dict[str, Any] = dict(spec.defaults)
    for key, value in data.items():
        clean[key] = known[key](key, value)
    if event_type == "avenant_signed" and not clean:
        raise EventRejected("avenant_signed: an avenant must change something (population, add_missions, "
                            "drop_missions or snp_orientation)")
    return clean


@dataclass(frozen=True)
class JournalEntry:
    """One row of a case's journal as the domain sees it."""

    seq: int
    type: str
    at: date
    data: Mapping[str, Any] = field(default_factory=dict)
    actor: str = ""
    evidence: str | None = None
    recorded_at: datetime | None = None

    @property
    def is_system(self) -> bool:
        return self.type in SYSTEM_EVENTS
