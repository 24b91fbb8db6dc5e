"""The event vocabulary (SPEC §4, §11): names, data shapes, and the journal entry value.

`parse_event` turns untrusted input (CLI, scenario file) into a validated `EventData` or raises
`EventRejected` naming the offending key or value and what would be accepted.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from lifecycle.errors import EventRejected

MISSIONS = ("access", "parcours", "prevention", "quality", "support", "crisis")  # crisis: ACI avenant 2
OPTIONAL_MISSIONS = ("quality", "support")
DOCUMENTS = ("health_project", "statutes", "territory", "members")
CPL_SECTIONS = ("professional", "social")  # the two sections of a commission paritaire (ACI art. 12.1.1)
CPL_OPINIONS = ("favourable", "unfavourable", "no_agreement")  # annex 5 art. 2: a tie kept → no agreement
VOTE_KEYS = ("for", "against", "blank", "abstention")  # annex 5 art. 2: blanks and abstentions are not cast
MAX_CPL_MEMBERS = 1000  # far above any section's seats (a count, bounded so a message stays one line)
PAYMENT_COMPONENTS = (
    "fonctionnement.advance",
    "fonctionnement.balance",
    "fonctionnement.complement",  # ACI avenant 2 (signature_year reading): the raise of the signature year
    *(f"{m}.{part}" for m in MISSIONS for part in ("fixed.advance", "fixed.balance", "variable")),
    "refund",
    "loi_support",  # paid when the lettre d'intention is validated (ACI avenant 2), "year" 0
)


# Business dates (events, windows, anniversaries) lie between the law that created the CPTS (loi n° 2016-41
# of 26 January 2016, art. 65: CSP art. L. 1434-12) and the end of the century this engine is planned for.
FIRST_BUSINESS_DATE = date(2016, 1, 26)
LAST_BUSINESS_DATE = date(2100, 12, 31)
BUSINESS_RANGE = (f"between {FIRST_BUSINESS_DATE.isoformat()} (loi n° 2016-41, which created the CPTS) "
                  f"and {LAST_BUSINESS_DATE.isoformat()}")


def parse_date(value: object, what: str = "date") -> date:
    """An ISO date 'YYYY-MM-DD' within the business range (2016-01-26 to 2100-12-31), or a clear error."""
    day: date | None = None
    if isinstance(value, date) and not isinstance(value, datetime):
        day = value
    elif isinstance(value, str) and len(value) <= 40:
        try:  # not contextlib.suppress, 4× slower here: a batch parses two dates an event
            day = date.fromisoformat(value.strip())
        except ValueError:
            day = None
    if day is None:
        raise EventRejected(
            f"malformed {what} {_shown(value)}: expected a calendar date as YYYY-MM-DD, e.g. 2025-02-18")
    return check_business_date(day, what)


def check_business_date(day: date, what: str = "date") -> date:
    """`day` itself if it lies in the business range, else EventRejected naming the range and why."""
    if not FIRST_BUSINESS_DATE <= day <= LAST_BUSINESS_DATE:
        raise EventRejected(f"{what} {day.isoformat()} is out of range: business dates lie {BUSINESS_RANGE}")
    return day


# ---------------------------------------------------------------------------------------- bounded input
# Bounds of untrusted event data (CLI, scenario files, later the web): far above any real event, low enough
# that no input can exhaust the parser's stack, the journal or a one-line error message.
MAX_DATA_BYTES = 64 * 1024  # the event's data as UTF-8 JSON
MAX_DATA_DEPTH = 20  # nested objects and lists (indicators_reported needs 5)
MAX_EVIDENCE_CHARS = 500  # a reference to a letter (LRAR number, file name), not the letter itself
MAX_AMOUNT = Decimal("999999999999.99")  # what the échéancier stores (14 digits, 2 of them decimals)
MAX_INDICATOR = Decimal(10) ** 15  # an indicator's baseline, target, actual or weight (counts, rates)
# Declared populations: at least one inhabitant, at most 100 million (France has about 68 million); the
# bound also keeps the value within a 32-bit database integer.
MIN_POPULATION, MAX_POPULATION = 1, 100_000_000
POPULATION_RANGE = f"expected a whole number of inhabitants from {MIN_POPULATION} to {MAX_POPULATION:,}".replace(
    ",", " ")


def _shown(value: object, limit: int = 60) -> str:
    """A short repr of a user's value for a one-line message (a huge value is cut, never echoed whole)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


# The characters `_text_problem` refuses: C0 and C1 controls, DEL, and surrogates (unpaired in a str).
_UNSTORABLE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _text_problem(text: str) -> str | None:
    """Why a text cannot be stored in the journal (a control character, an unpaired surrogate), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    for char in found.group():
        code = ord(char)
        if 0xD800 <= code <= 0xDFFF:
            return f"an unpaired surrogate U+{code:04X} (not valid Unicode)"
        if code < 0x20 or 0x7F <= code < 0xA0:
            name = {0x00: "NUL", 0x09: "tab", 0x0A: "line feed", 0x0D: "carriage return"}.get(code, "control")
            return f"a control character U+{code:04X} ({name})"
    return None


def validate_evidence(evidence: object, *, event_type: str | None = None, at: date | None = None) -> str | None:
    """The evidence of an event as the journal stores it (and hashes it), or None; EventRejected when it is
    malformed or contradicts the event's date.

    A text (e.g. "LRAR 1A 123 456 7890 1") is a free reference, stored trimmed, as it always was. A mapping
    with `reference`, `lrar`, `presented_on` and `received_on` (each optional) is structured evidence, stored
    as `Evidence.stored()` (canonical JSON); given with a reference only, it is stored as that text."""
    if evidence is None:
        return None
    if isinstance(evidence, Evidence):
        evidence = evidence.as_dict()
    if isinstance(evidence, Mapping):
        return _structured_evidence(evidence, event_type, at).stored()
    if not isinstance(evidence, str):
        raise EventRejected(f"evidence={_shown(evidence)} is not accepted: expected a text such as "
                            "\"LRAR 1A 123 456 7890 1\"")
    text = _evidence_text(evidence)
    if text is not None and text.startswith("{"):
        raise EventRejected("evidence text starts with '{', which marks structured evidence: give the letter's "
                            "number and dates as lrar, presented_on and received_on")
    return text


def _evidence_text(text: str) -> str | None:
    """A free evidence reference, trimmed (None when blank): one line of at most 500 characters."""
    problem = _text_problem(text)
    if problem:
        raise EventRejected(f"evidence contains {problem}: expected one line of printable text")
    text = text.strip()
    if len(text) > MAX_EVIDENCE_CHARS:
        raise EventRejected(f"evidence has {len(text)} characters: at most {MAX_EVIDENCE_CHARS} "
                            "(a reference to the letter or file, not its text)")
    return text or None


# ---- structured evidence: the registered letter (lettre recommandée avec accusé de réception) behind an event.
# The event's own date stays the legal anchor; the letter's dates are what the legal staff quote in a dispute.
EVIDENCE_KEYS = ("reference", "lrar", "presented_on", "received_on")
MAX_LRAR_CHARS = 40  # La Poste's numbers have 13 characters ("1A 123 456 7890 1"); room for other carriers
_LRAR = re.compile(r"[A-Z0-9][A-Z0-9 .\-/]*")
# Events dated the day a letter was received (the CPTS, the funders or the CPL received it), and those dated
# the day one was sent: the letter's dates must fit around the event's date (README, "Structured evidence").
RECEIPT_EVENTS = frozenset({"health_project_received", "contract_refusal_received", "termination_notice_received",
                            "cpl_referral_received"})
SENDING_EVENTS = frozenset({"cpl_convocations_sent", "cpl_agenda_sent"})


@dataclass(frozen=True)
class Evidence:
    """An event's evidence as read back from the journal.

    Attributes:
        reference: the free reference (a file name, a register number), or None.
        lrar: the registered letter's number (LRAR), upper case, blanks collapsed, or None.
        presented_on: the day the letter was first presented (date de première présentation), or None.
        received_on: the day its receipt was signed (date de réception on the avis de réception), or None.
    """

    reference: str | None = None
    lrar: str | None = None
    presented_on: date | None = None
    received_on: date | None = None

    @property
    def structured(self) -> bool:
        return self.lrar is not None or self.presented_on is not None or self.received_on is not None

    def as_dict(self) -> dict[str, str]:
        """The parts given, dates as YYYY-MM-DD (the shape `validate_evidence` accepts and JSON outputs show)."""
        parts = {"reference": self.reference, "lrar": self.lrar,
                 "presented_on": self.presented_on.isoformat() if self.presented_on else None,
                 "received_on": self.received_on.isoformat() if self.received_on else None}
        return {key: value for key, value in parts.items() if value is not None}

    def stored(self) -> str | None:
        """What the journal's evidence column holds: the reference alone as its text (as evidence always was),
        else the parts as canonical JSON (keys sorted, no blanks), which `read_evidence` recognises."""
        if not self.structured:
            return self.reference
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def read_evidence(stored: str | None) -> Evidence | None:
    """The evidence of a journal row: structured when the column holds exactly the canonical JSON that
    `Evidence.stored` writes, else a free reference (every row written before structured evidence)."""
    if not stored:
        return None
    if stored.startswith("{"):
        with contextlib.suppress(ValueError, TypeError, EventRejected):
            parts = json.loads(stored)
            if isinstance(parts, dict) and parts and set(parts) <= set(EVIDENCE_KEYS):
                evidence = Evidence(
                    reference=parts.get("reference"), lrar=parts.get("lrar"),
                    presented_on=parse_date(parts["presented_on"]) if "presented_on" in parts else None,
                    received_on=parse_date(parts["received_on"]) if "received_on" in parts else None)
                if evidence.stored() == stored:
                    return evidence
    return Evidence(reference=stored)


def check_evidence_not_after(stored: str | None, today: date) -> None:
    """EventRejected if the letter's dates in `stored` evidence lie after `today` (they are facts of the past)."""
    evidence = read_evidence(stored)
    for key in ("presented_on", "received_on"):
        day = getattr(evidence, key) if evidence is not None else None
        if day is not None and day > today:
            raise EventRejected(f"evidence: {key} {day.isoformat()} is in the future (today is {today.isoformat()} "
                                "at the seat): give the date written on the letter or its receipt")


def _structured_evidence(parts: Mapping[object, object], event_type: str | None, at: date | None) -> Evidence:
    unknown = sorted(str(key)[:40] for key in parts if key not in EVIDENCE_KEYS)
    if unknown:
        raise EventRejected(f"evidence: unknown key(s) {', '.join(unknown)}: accepted: {', '.join(EVIDENCE_KEYS)}")
    given = {key: value for key, value in parts.items() if value is not None and value != ""}
    reference = given.get("reference")
    if reference is not None:
        if not isinstance(reference, str):
            raise EventRejected(f"evidence={_shown(reference)} is not accepted: expected a text such as "
                                "\"LRAR 1A 123 456 7890 1\"")
        reference = _evidence_text(reference)
    evidence = Evidence(
        reference=reference, lrar=_lrar(given["lrar"]) if "lrar" in given else None,
        presented_on=parse_date(given["presented_on"], "presented_on") if "presented_on" in given else None,
        received_on=parse_date(given["received_on"], "received_on") if "received_on" in given else None)
    if reference is not None and reference.startswith("{"):
        raise EventRejected("evidence text starts with '{', which marks structured evidence: give the letter's "
                            "number and dates as lrar, presented_on and received_on")
    _check_letter_dates(evidence, event_type, at)
    return evidence


def _lrar(value: object) -> str:
    text = " ".join(value.split()).upper() if isinstance(value, str) and len(value) <= 200 else None
    if not text or len(text) > MAX_LRAR_CHARS or not _LRAR.fullmatch(text) or not any(c.isdigit() for c in text):
        raise EventRejected(f"lrar={_shown(value)} is not accepted: expected the registered letter's number, letters "
                            f"and digits (at most {MAX_LRAR_CHARS} characters), e.g. \"1A 123 456 7890 1\"")
    return text


def _check_letter_dates(evidence: Evidence, event_type: str | None, at: date | None) -> None:
    """A letter is received on or after its first presentation; a letter whose receipt the event records was
    presented on or before the event's date and signed for on or after it (the anchor lies between the two);
    a letter the event sends was presented and received on or after the event's date."""
    presented, received = evidence.presented_on, evidence.received_on
    if presented and received and received < presented:
        raise EventRejected(f"evidence: received_on {received.isoformat()} is before presented_on "
                            f"{presented.isoformat()}: a letter is received on or after its first presentation")
    if at is None:
        return
    if event_type in RECEIPT_EVENTS:
        if presented and presented > at:
            raise EventRejected(f"evidence: presented_on {presented.isoformat()} is after the event date "
                                f"{at.isoformat()}: a letter received that day was first presented on or before it")
        if received and received < at:
            raise EventRejected(f"evidence: received_on {received.isoformat()} is before the event date "
                                f"{at.isoformat()}: the receipt the event records cannot come after the signed "
                                "receipt; date the event on or before it")
    elif event_type in SENDING_EVENTS:
        for key, day in (("presented_on", presented), ("received_on", received)):
            if day and day < at:
                raise EventRejected(f"evidence: {key} {day.isoformat()} is before the event date {at.isoformat()}: "
                                    "a letter sent that day reaches its addressee on or after it")


def parse_data_json(text: str) -> dict[str, Any]:
    """Event data given as JSON text (`--data`, the web), parsed within the bounds of `validate_data`:
    at most 64 KB and 20 levels of nesting, checked before the parser recurses; EventRejected otherwise."""
    if not isinstance(text, str):
        raise EventRejected(f"event data must be JSON text, got {type(text).__name__}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_DATA_BYTES:
        raise EventRejected(f"event data is {size} bytes of JSON: at most {MAX_DATA_BYTES} (64 KB)")
    depth = _json_depth(text)
    if depth > MAX_DATA_DEPTH:
        raise EventRejected(f"event data is nested {depth} levels deep: at most {MAX_DATA_DEPTH}")
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise EventRejected(f"event data is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                            "expected an object such as '{\"source\": \"ars\"}'") from None
    except ValueError as exc:  # NaN, Infinity, or an integer of thousands of digits
        reason = str(exc).split(";")[0].split(":")[0]
        raise EventRejected(f"event data is not accepted ({reason}): expected finite numbers of a few digits") \
            from None
    if not isinstance(data, dict):
        raise EventRejected(f"event data must be a JSON object such as '{{\"source\": \"ars\"}}', "
                            f"got {type(data).__name__}")
    return data


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON data may hold; expected a finite number")


def _json_depth(text: str) -> int:
    """The deepest nesting of brackets and braces outside strings (a linear scan, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _path(path: Any) -> str:
    """A value's place in event data, "indicators_reported data.missions.access", from `check_data_bounds`'
    (parent, separator, key) chain (iterative: the chain may be 20 levels deep)."""
    parts: list[str] = []
    while isinstance(path, tuple):
        path, separator, key = path
        parts.append(f".{key}" if separator == "." else f"[{key}]")
    return path + "".join(reversed(parts))


def _flat_and_small(data: dict[Any, Any]) -> bool:
    """Whether `data` passes `check_data_bounds` as a flat mapping: text keys, printable texts and numbers of at
    most 30 digits, booleans or nulls as values, and too few of them to reach the size limit (same bound)."""
    bound = 4
    for key, value in data.items():
        kind = type(value)
        if type(key) is not str or _UNSTORABLE.search(key):
            return False
        if kind is str:
            if _UNSTORABLE.search(value):
                return False
            bound += 4 * len(key) + 8 + 4 * len(value)
        elif (kind is int and -10**30 < value < 10**30) or kind is bool or value is None:
            bound += 4 * len(key) + 40
        else:
            return False  # nested, a float, or not JSON: the walk decides
    return bound <= MAX_DATA_BYTES


def check_data_bounds(data: object, what: str = "event data") -> None:
    """Depth, size and text checks on already-parsed data (a scenario's, a caller's dict): EventRejected if
    it is nested over 20 levels, over 64 KB as JSON, or holds a text with a control character or an unpaired
    surrogate."""
    if type(data) is dict and _flat_and_small(data):
        return  # most events' data: a few texts and numbers, checked at once (the walk below says what is wrong)
    # Each value with its depth and its path, kept as (parent path, key) until a message needs it.
    stack: list[tuple[object, int, Any]] = [(data, 0, what)]
    # An upper bound of the JSON's size in bytes: a character is at most 4 bytes of UTF-8 (2 when escaped, a
    # control character being refused), a number or a constant at most 32 (a longer int is counted as is),
    # and each value at most 4 more of quotes, brackets and separators.
    bound = 0
    while stack:  # iterative: a deeply nested value must not exhaust the interpreter's stack
        value, depth, path = stack.pop()
        bound += 4
        if isinstance(value, dict):
            if depth + 1 > MAX_DATA_DEPTH:
                raise EventRejected(f"{what} is nested more than {MAX_DATA_DEPTH} levels deep: at most "
                                    f"{MAX_DATA_DEPTH}")
            for key, item in value.items():
                problem = _text_problem(key) if isinstance(key, str) else "a key that is not a text"
                if problem:
                    raise EventRejected(f"{_path(path)}: a key contains {problem}: expected printable text")
                bound += 4 * len(key) + 4
                stack.append((item, depth + 1, (path, ".", key)))
        elif isinstance(value, list):
            if depth + 1 > MAX_DATA_DEPTH:
                raise EventRejected(f"{what} is nested more than {MAX_DATA_DEPTH} levels deep: at most "
                                    f"{MAX_DATA_DEPTH}")
            for index, item in enumerate(value):
                stack.append((item, depth + 1, (path, "[", index)))
        elif isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                raise EventRejected(f"{_path(path)} contains {problem}: expected one line of printable text")
            bound += 4 * len(value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise EventRejected(f"{_path(path)}={value!r} is not accepted: expected a finite number")
        elif not (value is None or isinstance(value, bool | int | float)):
            raise EventRejected(f"{_path(path)}: {type(value).__name__} is not JSON data")
        else:
            bound += 32 if not isinstance(value, int) or -10**30 < value < 10**30 else MAX_DATA_BYTES + 1
    if bound <= MAX_DATA_BYTES:
        return  # no JSON of these values can be longer: no need to write it to know
    size = len(json.dumps(data, ensure_ascii=False, default=str).encode("utf-8"))
    if size > MAX_DATA_BYTES:
        raise EventRejected(f"{what} is {size} bytes of JSON: at most {MAX_DATA_BYTES} (64 KB)")


# ---------------------------------------------------------------------------------------- field checkers
Checker = Callable[[str, object], object]


@dataclass(frozen=True)
class FieldShape:
    """What a data key holds, for a form to offer the right field (the checker still decides).

    Attributes:
        kind: choice (one of `allowed`), choices (a list among `allowed`), boolean, population, year (a contract
            year 1-5), amount, paid_amount (> 0), date, text, number, seq (a journal sequence number),
            indicators (the JSON of `indicators_reported`).
        allowed: the values of a choice or a list.
    """

    kind: str
    allowed: tuple[str, ...] = ()


_SHAPES: dict[Checker, FieldShape] = {}


def _shaped(kind: str, allowed: tuple[str, ...] = ()) -> Callable[[Checker], Checker]:
    def register(checker: Checker) -> Checker:
        _SHAPES[checker] = FieldShape(kind, allowed)
        return checker

    return register


def field_shape(checker: Checker) -> FieldShape:
    """The shape of a checker of EVENT_SPECS (every checker below is registered; a test checks it)."""
    return _SHAPES[checker]


def _choice(*allowed: str) -> Checker:
    @_shaped("choice", allowed)
    def check(key: str, value: object) -> object:
        if not isinstance(value, str) or value not in allowed:
            raise EventRejected(f"{key}={_shown(value)} is not accepted: expected one of {', '.join(allowed)}")
        return value

    return check


@_shaped("boolean")
def _boolean(key: str, value: object) -> object:
    if not isinstance(value, bool):
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected true or false")
    return value


@_shaped("population")
def _population(key: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_POPULATION <= value <= MAX_POPULATION:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: {POPULATION_RANGE}")
    return value


@_shaped("year")
def _year(key: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected a contract year from 1 to 5")
    return value


@_shaped("year")
def _payment_year(key: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected a contract year from 1 to 5 (0 for "
                            "loi_support, paid before the contract)")
    return value


def _parse_amount(key: str, value: object) -> Decimal:
    """An amount in euros, exact, with at most 2 decimals and at most 999 999 999 999.99 (never a float's
    approximation: "12500.00" or 12500 rather than 12500.1 typed as a float)."""
    expected = 'expected an amount in euros such as "12500.00"'
    if isinstance(value, bool) or not isinstance(value, str | int | float) or (isinstance(value, str)
                                                                                and len(value) > 40):
        raise EventRejected(f"{key}={_shown(value)} is not accepted: {expected}")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else str(value))
    except (InvalidOperation, ValueError):
        raise EventRejected(f"{key}={_shown(value)} is not accepted: {expected}") from None
    if not amount.is_finite() or abs(amount) > MAX_AMOUNT or amount != (cents := amount.quantize(_CENT)):
        most = f"{MAX_AMOUNT:,}".replace(",", " ")
        raise EventRejected(f"{key}={_shown(value)} is not accepted: {expected}, with at most 2 decimals and "
                            f"at most {most}")
    return cents


_CENT = Decimal("0.01")


@_shaped("amount")
def _amount(key: str, value: object) -> object:
    """An amount ≥ 0 (a grant may be recorded before its amount is known: 0.00)."""
    amount = _parse_amount(key, value)
    if amount < 0:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected an amount ≥ 0")
    return str(amount + 0)  # + 0 turns -0.00 into 0.00


@_shaped("paid_amount")
def _paid_amount(key: str, value: object) -> object:
    """What a payment or a refund moved: more than 0 (SPEC §7; a line is paid by one or more instalments)."""
    amount = _parse_amount(key, value)
    if amount <= 0:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: a payment is an amount > 0, e.g. \"60000.00\"")
    return str(amount)


def _missions(allowed: tuple[str, ...]) -> Checker:
    @_shaped("choices", allowed)
    def check(key: str, value: object) -> object:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise EventRejected(f"{key}={_shown(value)} is not accepted: expected a list among {', '.join(allowed)}")
        unknown = [v for v in value if v not in allowed]
        if unknown:
            raise EventRejected(
                f"{key}: unknown mission(s) {', '.join(unknown)}: expected among {', '.join(allowed)}"
            )
        return sorted(set(value), key=allowed.index)

    return check


@_shaped("choices", DOCUMENTS)
def _documents(key: str, value: object) -> object:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected a list among {', '.join(DOCUMENTS)}")
    unknown = [v for v in value if v not in DOCUMENTS]
    if unknown:
        raise EventRejected(f"{key}: unknown document(s) {', '.join(unknown)}: expected {', '.join(DOCUMENTS)}")
    return sorted(set(value), key=DOCUMENTS.index)


@_shaped("date")
def _iso_date(key: str, value: object) -> object:
    return parse_date(value, key).isoformat()


@_shaped("text")
def _text(key: str, value: object) -> object:
    if not isinstance(value, str) or not value.strip():
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected a non-empty text")
    return value


MAX_ORIENTATIONS = 50  # a lettre d'intention names a handful of orientations


@_shaped("text")
def _orientations(key: str, value: object) -> object:
    """The orientations of a lettre d'intention: a list of texts (each non-empty), or one text (as before)."""
    if isinstance(value, str):
        return _text(key, value)
    if not isinstance(value, list) or not value or len(value) > MAX_ORIENTATIONS:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected a list of 1 to {MAX_ORIENTATIONS} "
                            "texts, e.g. [\"accès aux soins\", \"parcours\"], or one text")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise EventRejected(f"{key}[{i}]={_shown(item)} is not accepted: expected a non-empty text")
    return value


@_shaped("seq")
def _seq(key: str, value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected the journal sequence number (≥ 1)")
    return value


@_shaped("number")
def _number(key: str, value: object) -> object:
    expected = "expected a number such as 0.8 or 1250"
    if isinstance(value, bool) or not isinstance(value, int | float | str) or len(str(value)) > 40:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: {expected}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: {expected}") from None
    if not number.is_finite() or abs(number) > MAX_INDICATOR:
        most = f"{MAX_INDICATOR:,}".replace(",", " ")
        raise EventRejected(f"{key}={_shown(value)} is not accepted: {expected}, finite and at most {most} in size")
    return str(value) if isinstance(value, str) else value


@_shaped("indicators")
def _indicator_missions(key: str, value: object) -> object:
    """{"<mission>": {"attainment": r} or {"indicators": [{name, baseline, target, actual, weight}]}} (§9)."""
    if not isinstance(value, dict) or not value:
        raise EventRejected(f"{key} must be an object keyed by mission, e.g. {{\"access\": {{\"attainment\": 0.8}}}}")
    for mission, report in value.items():
        if mission not in MISSIONS:
            raise EventRejected(f"{key}: unknown mission {_shown(mission)}: expected among {', '.join(MISSIONS)}")
        if not isinstance(report, dict) or set(report) not in ({"attainment"}, {"indicators"}):
            raise EventRejected(
                f"{key}.{mission} must be {{\"attainment\": r}} or {{\"indicators\": [...]}}, got {_shown(report)}"
            )
        if "attainment" in report:
            rate = _number(f"{key}.{mission}.attainment", report["attainment"])
            if not Decimal(0) <= Decimal(str(rate)) <= Decimal(1):
                raise EventRejected(
                    f"{key}.{mission}.attainment={_shown(rate)} is not accepted: expected a rate in [0, 1]")
            continue
        indicators = report["indicators"]
        if not isinstance(indicators, list) or not indicators:
            raise EventRejected(f"{key}.{mission}.indicators must be a non-empty list")
        for i, ind in enumerate(indicators):
            where = f"{key}.{mission}.indicators[{i}]"
            expected = {"name", "baseline", "target", "actual", "weight"}
            if not isinstance(ind, dict) or set(ind) - expected or not {"baseline", "target", "actual"} <= set(ind):
                raise EventRejected(
                    f"{where} must have name, baseline, target, actual and optional weight; got {_shown(ind)}"
                )
            if "name" in ind:
                _text(f"{where}.name", ind["name"])
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


# ---- the deliberation of a CPL (annex 5 art. 2): counts per section, proxies, votes. The form sends each as
# JSON text in a text field, so a text holding the JSON object (or list) is read as that value.
def _structured(key: str, value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        if len(value.encode("utf-8", "surrogatepass")) > MAX_DATA_BYTES or _json_depth(value) > MAX_DATA_DEPTH:
            raise ValueError("too large")
        return json.loads(value, parse_constant=_no_constant)
    except ValueError:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected JSON such as "
                            f"{_CPL_EXAMPLES.get(key, '{}')}") from None


_CPL_EXAMPLES = {
    "present": '{"professional": 3, "social": 3}', "represented": '{"professional": 1, "social": 1}',
    "proxies": '[{"holder": "Dr Martin", "count": 1}]',
    "votes": '{"for": 4, "against": 3, "blank": 1, "abstention": 0}',
    "second_vote": '{"for": 4, "against": 3, "blank": 1, "abstention": 0}',
    "seats": '{"professional": 8, "social": 8}',
}


def _count(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CPL_MEMBERS:
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected a whole number of members from 0 to "
                            f"{MAX_CPL_MEMBERS}")
    return value


def _counts(key: str, value: object, names: tuple[str, ...]) -> dict[str, int]:
    value = _structured(key, value)
    if not isinstance(value, dict) or set(value) != set(names):
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected JSON such as {_CPL_EXAMPLES[key]}")
    return {name: _count(f"{key}.{name}", value[name]) for name in names}


@_shaped("text")
def _sections(key: str, value: object) -> object:
    """Members per section: {"professional": n, "social": n}."""
    return _counts(key, value, CPL_SECTIONS)


@_shaped("text")
def _seats(key: str, value: object) -> object:
    """The CPL's composition the deliberation was held under: seats per section {"professional": n, "social": n},
    each at least 1 (recorded by the application from the deployment's setting when not given)."""
    seats = _counts(key, value, CPL_SECTIONS)
    empty = [section for section, count in seats.items() if count < 1]
    if empty:
        raise EventRejected(f"{key}.{empty[0]}=0 is not accepted: a section of the CPL has at least 1 seat")
    return seats


@_shaped("text")
def _votes(key: str, value: object) -> object:
    """A vote's count: {"for": n, "against": n, "blank": n, "abstention": n}."""
    return _counts(key, value, VOTE_KEYS)


@_shaped("text")
def _proxies(key: str, value: object) -> object:
    """The delegations of vote: [{"holder": "<member>", "count": n}] (each member's count, ≥ 1; the ruleset's
    ceiling is checked by the lifecycle)."""
    value = _structured(key, value)
    if not isinstance(value, list):
        raise EventRejected(f"{key}={_shown(value)} is not accepted: expected JSON such as {_CPL_EXAMPLES[key]}")
    clean = []
    for i, proxy in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(proxy, dict) or set(proxy) != {"holder", "count"}:
            raise EventRejected(f"{where}={_shown(proxy)} is not accepted: expected JSON such as "
                                f"{_CPL_EXAMPLES[key]}")
        holder = _text(f"{where}.holder", proxy["holder"])
        count = _count(f"{where}.count", proxy["count"])
        if count < 1:
            raise EventRejected(f"{where}.count={count} is not accepted: a member holding proxies holds at least 1")
        clean.append({"holder": str(holder).strip(), "count": count})
    holders = [p["holder"] for p in clean]
    twice = sorted({h for h in holders if holders.count(h) > 1})
    if twice:
        raise EventRejected(f"{key}: {', '.join(twice)} listed more than once: give each member's proxies once")
    return clean


def _check_deliberation(clean: dict[str, Any]) -> None:
    """cpl_meeting_held: a deliberation, when given, has its counts and its vote; a tie calls for the second,
    secret vote, and only a tie does (annex 5 art. 2)."""
    if not clean:
        return  # the meeting without its deliberation (journals recorded before the deliberation was asked)
    if set(clean) == {"seats"}:
        raise EventRejected("cpl_meeting_held: seats go with a deliberation: give present and votes too")
    missing = [key for key in ("present", "votes") if key not in clean]
    if missing:
        raise EventRejected(f"cpl_meeting_held: a deliberation needs {' and '.join(missing)} "
                            "(members present per section and the vote)")
    present, represented = clean["present"], clean.get("represented", dict.fromkeys(CPL_SECTIONS, 0))
    members = sum(present.values()) + sum(represented.values())
    proxies = sum(p["count"] for p in clean.get("proxies", []))
    if proxies > sum(represented.values()):
        raise EventRejected(f"cpl_meeting_held: {proxies} proxies for {sum(represented.values())} members "
                            "represented: each proxy represents a member")
    for key in ("votes", "second_vote"):
        if key in clean:
            cast = sum(clean[key].values())
            if cast > members:
                raise EventRejected(f"cpl_meeting_held: {key} counts {cast} ballots for {members} members present "
                                    "or represented")
    tied = clean["votes"]["for"] == clean["votes"]["against"]
    if tied and "second_vote" not in clean:
        raise EventRejected("cpl_meeting_held: the vote is tied: record the second, secret vote "
                            "(second_vote; annex 5 art. 2)")
    if not tied and "second_vote" in clean:
        raise EventRejected("cpl_meeting_held: a second vote follows only a tied vote (annex 5 art. 2)")


def deliberation_outcome(data: Mapping[str, Any]) -> str | None:
    """What a recorded deliberation decided: "majority", "no_agreement" (a tie kept after the second vote,
    annex 5 art. 2), or None when the meeting was recorded without its deliberation."""
    votes = data.get("second_vote") or data.get("votes")
    if not votes:
        return None
    return "no_agreement" if votes["for"] == votes["against"] else "majority"


@dataclass(frozen=True)
class EventSpec:
    """One event type: its data keys (required and optional) and whether only the system may record it."""

    name: str
    required: Mapping[str, Checker] = field(default_factory=dict)
    optional: Mapping[str, Checker] = field(default_factory=dict)
    system: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @cached_property
    def data_keys(self) -> dict[str, Checker]:
        """Every data key the event accepts, the required ones first, with its checker."""
        return {**self.required, **self.optional}


_AMOUNT = {"amount": _amount}

EVENT_SPECS: dict[str, EventSpec] = {
    spec.name: spec
    for spec in [
        EventSpec("contact_recorded", required={"source": _choice("ars", "cpam", "msa", "porteur")}),
        EventSpec("first_meeting_held"),
        EventSpec("loi_submitted", optional={"orientations": _orientations}),
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
                "population": _population,
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
                "population": _population,
                "add_missions": _missions(OPTIONAL_MISSIONS),
                "drop_missions": _missions(OPTIONAL_MISSIONS),
                "snp_orientation": _boolean,
            },
        ),
        EventSpec(
            "payment_recorded",
            required={"component": _choice(*PAYMENT_COMPONENTS), "year": _payment_year, "amount": _paid_amount},
        ),
        EventSpec(
            "termination_notice_received",
            required={"initiator": _choice("cpts", "funders")},
            optional={"grounds": _choice("non_compliance", "ineligible")},
        ),
        EventSpec("cpl_referral_received", required={"subject": _choice("termination", "contract_refusal")}),
        EventSpec("cpl_meeting_scheduled", required={"date": _iso_date}),
        EventSpec("cpl_convocations_sent"),
        EventSpec("cpl_agenda_sent"),
        EventSpec(
            "cpl_meeting_held",
            optional={"present": _sections, "represented": _sections, "proxies": _proxies, "votes": _votes,
                      "second_vote": _votes, "seats": _seats},
        ),
        EventSpec("cpl_opinion_notified", required={"opinion": _choice(*CPL_OPINIONS)}),
        EventSpec("cpl_opinion_deemed", system=True),
        EventSpec("cpl_minutes_signed"),
        EventSpec("cpl_carence_recorded", required={"section": _choice(*CPL_SECTIONS), "reason": _text}),
        EventSpec(
            "funders_decision_notified",
            required={"outcome": _choice("maintained", "withdrawn", "granted")},
        ),
        EventSpec("termination_effective", system=True),
        EventSpec("contract_expired", system=True),
        EventSpec("refund_received", optional={"amount": _paid_amount}),
        EventSpec("project_abandoned", optional={"reason": _text}),
        EventSpec("event_voided", required={"seq": _seq}, optional={"reason": _text}),
    ]
}
SYSTEM_EVENTS = frozenset(name for name, spec in EVENT_SPECS.items() if spec.system)


def validate_data(event_type: str, data: object, *, allow_system: bool = False) -> dict[str, Any]:
    """Check an event's type and data against the vocabulary; return the normalised data."""
    spec = EVENT_SPECS.get(event_type) if isinstance(event_type, str) else None
    if spec is None:
        raise EventRejected(
            f"unknown event {_shown(event_type)}: expected one of "
            f"{', '.join(sorted(set(EVENT_SPECS) - SYSTEM_EVENTS))}"
        )
    if spec.system and not allow_system:
        raise EventRejected(f"{event_type} is recorded by the engine's timers, not by hand")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise EventRejected(f"{event_type}: data must be a JSON object, got {type(data).__name__}")
    check_data_bounds(data, f"{event_type} data")
    known = spec.data_keys
    if not data.keys() <= known.keys():  # (the messages are built only for a refusal: this runs for every event)
        unknown = sorted(set(data) - known.keys())
        allowed = ", ".join(known) or "no data"
        shown = ", ".join(_shown(key, 40) if not isinstance(key, str) or len(key) > 40 else key for key in unknown)
        raise EventRejected(f"{event_type}: unknown data key(s) {shown}: accepted: {allowed}")
    if not data.keys() >= spec.required.keys():
        missing = [key for key in spec.required if key not in data]
        raise EventRejected(f"{event_type}: missing data key(s) {', '.join(missing)}")
    clean: dict[str, Any] = dict(spec.defaults)
    for key, value in data.items():
        clean[key] = known[key](key, value)
    if event_type == "avenant_signed" and not clean:
        raise EventRejected("avenant_signed: an avenant must change something (population, add_missions, "
                            "drop_missions or snp_orientation)")
    if event_type == "cpl_meeting_held":
        _check_deliberation(clean)
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
