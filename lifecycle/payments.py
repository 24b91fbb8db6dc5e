"""The payment projection of a contracted CPTS (SPEC §7, ACI art. 7–9 and 11.3, annex 4).

`payment_schedule` is pure: it reads the case's journal entries, the ruleset and a `today` given by the
caller, never the clock. Amounts stay exact `Fraction`s until each line is rounded half-up to the cent.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import Any

from lifecycle.calendar import LegalCalendar, Period, add_months, contract_anniversary
from lifecycle.events import MISSIONS, PAYMENT_COMPONENTS, JournalEntry
from lifecycle.indicators import attainment
from lifecycle.rates import rate_text
from lifecycle.ruleset import RowSource, Ruleset

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
STATUSES = ("scheduled", "partially_paid", "paid", "overdue", "awaiting_assessment", "cancelled")
# What the funders recorded as paid, summed by the line it settles: (component, year) → euros.
Recorded = Mapping[tuple[str, int], Decimal]
_COMPONENT_ORDER = {component: i for i, component in enumerate(PAYMENT_COMPONENTS)}


@dataclass(frozen=True)
class PaymentLine:
    """One payment (or refund) of the schedule, with the arithmetic that produced it."""

    component: str
    year: int
    due: date
    amount: Decimal | None
    status: str
    explanation: str
    mission: str | None = None
    ceiling: Decimal | None = None  # at full attainment for a variable line; else the amount
    paid: Decimal = ZERO  # recorded payments allocated to this line (one or more instalments)
    origin: RowSource | None = None  # the ruleset and the row whose amounts produced the line

    @property
    def verified(self) -> bool:
        """Whether the line's amount comes from values checked against the signed text (else "à confirmer")."""
        return self.origin is None or self.origin.verified

    @property
    def remaining(self) -> Decimal | None:
        """What the line still owes: None while its amount awaits assessment, 0 once paid or cancelled."""
        return remaining_on(self.amount, self.paid, self.status)

    def as_dict(self) -> dict[str, object]:
        """The SPEC §11 shape (amount as a string with 2 decimals, or None while awaiting assessment), with
        what was paid and what remains."""
        remaining = self.remaining
        return {
            "component": self.component,
            "year": self.year,
            "due": self.due.isoformat(),
            "amount": None if self.amount is None else str(self.amount),
            "status": self.status,
            "paid": str(self.paid),
            "remaining": None if remaining is None else str(remaining),
            "explanation": self.explanation,
            "ruleset": self.origin.ruleset if self.origin else None,
            "row": self.origin.key if self.origin else None,
            "verified": self.verified,
        }


def remaining_on(amount: Decimal | None, paid: Decimal, status: str) -> Decimal | None:
    """What a payment line of `amount` with `paid` on it and `status` still owes: None while its amount awaits
    assessment, 0 once paid in full or cancelled."""
    if amount is None:
        return None
    if status == "cancelled":
        return ZERO
    return max(amount - paid, ZERO)


@dataclass(frozen=True)
class Outstanding:
    """What the échéancier still owes on the line(s) a payment names (SPEC §7), to check the payment against.

    Attributes:
        what: the line as a user names it ("access.fixed.advance of year 1", "the refund").
        owed: the sum still owed on its live lines whose amount is known.
        lines: how many lines of it exist (cancelled ones included).
        awaiting: whether one of them awaits its year's assessment (amount not known yet).
        cancelled: how many of them were cancelled (by a termination).
    """

    what: str
    owed: Decimal
    lines: int
    awaiting: bool
    cancelled: int

    def refusal(self, amount: Decimal | None) -> str | None:
        """Why a payment of `amount` (None: whatever is owed) cannot be recorded against it, or None."""
        if self.lines == 0:
            return f"the échéancier has no {self.what}: check the component and the contract year"
        if self.owed == 0:
            if self.awaiting:
                return (f"{self.what} awaits its year's assessment (record indicators_reported first): "
                        "its amount is not known yet")
            if self.cancelled == self.lines:
                return f"{self.what} was cancelled by the termination: nothing is owed on it"
            return f"nothing more is owed on {self.what} (paid in full)"
        if amount is not None and amount > self.owed:
            return f"{amount} € is more than the {self.owed} € still owed on {self.what}; record at most {self.owed} €"
        return None


@dataclass(frozen=True)
class PaymentSchedule:
    """Every payment of a contract, plus the termination settlement when there is one."""

    lines: tuple[PaymentLine, ...]
    refund_owed: Decimal
    termination_year_due: Decimal | None


def to_cents(value: Fraction) -> Decimal:
    """Round an exact amount half-up to the cent (SPEC §7.5)."""
    # Exact integer arithmetic: a Decimal division would first round the quotient to 28 digits.
    # floor(|n/d| · 100 + 1/2) = (200·|n| + d) // 2d: half-up, away from zero for negatives.
    value = value if type(value) is Fraction else Fraction(value)
    numerator, denominator = value.numerator, value.denominator
    cents = (200 * abs(numerator) + denominator) // (2 * denominator)
    signed = Decimal(cents if numerator >= 0 else -cents)
    # scaleb would round past the context's 28 digits; quantize refuses such an amount instead.
    return signed.scaleb(-2) if cents < 10**26 else (signed / 100).quantize(CENT)


@dataclass(frozen=True)
class _YearTerms:
    """The contract's terms for one contract year, after the avenants that apply to it."""

    size: int
    missions: frozenset[str]
    snp_compensation: bool
    snp_orientation: bool


@dataclass(frozen=True)
class _Draft:
    component: str
    year: int
    due: date
    exact: Fraction | None
    explanation: str
    mission: str | None = None
    termination_settlement: bool = False
    ceiling: Fraction | None = None  # a variable line's amount at full attainment (budget planning)


def payment_schedule(
    entries: Sequence[JournalEntry],
    ruleset: Ruleset,
    today: date,
    *,
    population: int,
    termination_effective: date | None = None,
    calendar: LegalCalendar | None = None,
    recorded: Recorded | None = None,
) -> PaymentSchedule:
    """Project every payment of a case's contract from its journal (replay order, voided entries removed).

    With the seat's `calendar`, the refund falls due on the `refund` deadline's date (rolled over non-working
    days like that procedural deadline); without it, on the raw date. `recorded` is the sum of `entries`'
    recorded payments by (component, year) when the caller keeps it (a replay does), else summed here.
    """
    drafting = contract_drafting(entries, ruleset, population=population,
                                 termination_effective=termination_effective, calendar=calendar)
    if drafting is None:
        return PaymentSchedule(lines=(), refund_owed=Decimal("0.00"), termination_year_due=None)
    drafted = drafting.lines()
    return drafted.schedule(recorded if recorded is not None else _recorded_payments(entries, drafted), today)


def contract_lines(
    entries: Sequence[JournalEntry],
    ruleset: Ruleset,
    *,
    population: int,
    termination_effective: date | None = None,
    calendar: LegalCalendar | None = None,
) -> ContractLines | None:
    """The lines of the contract of `entries` before recorded payments and `today` set their statuses (None
    before the signature); they change only with the contract's terms (`TERMS_EVENTS`) and its termination."""
    drafting = contract_drafting(entries, ruleset, population=population,
                                 termination_effective=termination_effective, calendar=calendar)
    return None if drafting is None else drafting.lines()


def outstanding(lines: ContractLines | None, key: tuple[str, int], recorded: Recorded) -> Outstanding:
    """What `lines` still owe on the line(s) of `key` = (component, year) after the `recorded` payments;
    ("refund", 0) is the refund. Allocated as `payment_schedule` allocates them, on those lines only."""
    what = _what(key)
    if lines is None:
        return Outstanding(what, ZERO, 0, False, 0)
    if key == ("refund", 0):
        key = ("refund", lines.termination_year or 0)
    order = lines.filling_order.get(key, ())
    return _owed(what, [(lines.amounts[i][0], lines.cancelled(i)) for i in order],
                 _by_line(lines, recorded).get(key, ZERO))


def _what(key: tuple[str, int]) -> str:
    component, year = key
    return "the refund" if key == ("refund", 0) else f"{component} of year {year}"


def _owed(what: str, lines: Sequence[tuple[Decimal | None, bool]], left: Decimal) -> Outstanding:
    """What the lines of one (component, year) still owe once `left` was paid on them: `lines` are their
    (amount, cancelled) in the order a sum paid on them fills them (`ContractLines.filling_order`)."""
    paid = _allocation([amount for amount, _ in lines], left)
    owed, awaiting, cancelled = ZERO, False, 0
    for (amount, is_cancelled), on_line in zip(lines, paid, strict=True):
        on_line = ZERO if on_line is None else on_line
        if is_cancelled and (amount is None or on_line < amount):
            cancelled += 1
        elif amount is None:
            awaiting = True
        else:
            owed += max(amount - on_line, ZERO)
    return Outstanding(what, owed, len(lines), awaiting, cancelled)


class Drafting:
    """The lines of one contract under one set of terms (signature, starts, avenants, attainments, termination,
    the LOI's validation), drafted as asked: the whole contract, or the lines of one (component, year).

    The payment guard reads what one (component, year) still owes (`outstanding`); after each change of terms
    it drafts only that key's lines (`_Projection.rows_of`), the same as the whole contract has for it.
    """

    def __init__(self, ruleset: Ruleset, terms: Sequence[JournalEntry], population: int,
                 termination: date | None, calendar: LegalCalendar | None,
                 loi: tuple[_Draft, str, RowSource] | None) -> None:
        self.ruleset = ruleset
        self._terms, self._population, self._termination, self._calendar = terms, population, termination, calendar
        self._loi = loi
        self._projection: _Projection | None = None
        self._whole: ContractLines | None = None
        self._keys: dict[tuple[str, int], list[_Row]] = {}  # (component, year) → its lines alone (`outstanding`)

    def lines(self) -> ContractLines:
        """Every line of the contract."""
        whole = self._whole
        if whole is None:
            projection = self._drafter()
            whole = self._whole = self._with_loi(
                projection.drafted() if projection is not None else
                ContractLines(self.ruleset, (), (), (), Fraction(0), None, None, None))
        return whole

    def outstanding(self, key: tuple[str, int], recorded: Recorded) -> Outstanding:
        """`outstanding(self.lines(), key, recorded)`; drafting only the lines of `key` = (component, year)
        while the whole contract is not drafted, and a termination does not make it read every line."""
        if self._whole is None:
            rows = self._keys.get(key)
            if rows is None:
                projection = self._drafter()
                found = projection.rows_of(*key) if projection is not None else []
                if found is not None:
                    loi = self._loi_row()
                    if loi is not None and (loi[0].component, loi[0].year) == key:
                        found = [loi, *found]
                    # Their filling order (ContractLines.filling_order): no line is cancelled without a
                    # termination, so the earliest first.
                    rows = self._keys[key] = sorted(found, key=lambda row: row[0].due)
            if rows is not None:
                return _owed(_what(key), [(row[2][0], False) for row in rows], recorded.get(key, ZERO))
        return outstanding(self.lines(), key, recorded)

    def _drafter(self) -> _Projection | None:
        projection = self._projection
        if projection is None and self._terms:
            projection = _Projection(self._terms, self.ruleset, self._population, self._termination)
            projection.calendar = self._calendar
            self._projection = projection
        return projection

    def _loi_row(self) -> _Row | None:
        """The payment at the lettre d'intention's validation, under a version that has one."""
        if self._loi is None:
            return None
        draft, explanation, origin = self._loi
        return draft, explanation, (to_cents(draft.exact or Fraction(0)),) * 2, origin

    def _with_loi(self, drafted: ContractLines) -> ContractLines:
        """The lines with the payment at the lettre d'intention's validation first, when there is one."""
        loi = self._loi_row()
        if loi is None:
            return drafted
        draft, explanation, amounts, origin = loi
        return replace(drafted, drafts=(draft, *drafted.drafts), explanations=(explanation, *drafted.explanations),
                       amounts=(amounts, *drafted.amounts),
                       origins=(origin, *(drafted.origins or (None,) * len(drafted.drafts))))


def contract_drafting(entries: Sequence[JournalEntry], ruleset: Ruleset, *, population: int,
                      termination_effective: date | None = None, calendar: LegalCalendar | None = None,
                      ) -> Drafting | None:
    """The drafting of the contract of `entries` (None before the signature, unless the validation of the
    lettre d'intention brought a payment), memoised on what its lines are computed from; of `entries` it reads
    only those of `TERMS_EVENTS`."""
    signed_at = next((i for i, entry in enumerate(entries) if entry.type == "contract_signed"), None)
    validated = loi_validated_on(entries)
    loi = _loi_line(ruleset, validated, population) if validated is not None else None
    if signed_at is None and loi is None:
        return None
    terms = [e for e in entries[signed_at:] if e.type in TERMS_EVENTS] if signed_at is not None else []
    # The lines and their arithmetic depend only on the contract's terms (signature, starts, avenants,
    # attainments, termination) and the LOI's validation; recorded payments and `today` only set statuses.
    # Memoised on those inputs.
    key = (id(ruleset), population, termination_effective, calendar.departement if calendar else None, validated,
           tuple(_terms_key(e) for e in terms))
    drafting = _DRAFTED.get(key)
    if drafting is None or drafting.ruleset is not ruleset:
        # The contract's entries that change no term (payments) are left out: they are most of a contract's.
        drafting = _DRAFTED[key] = Drafting(ruleset, terms, population, termination_effective, calendar, loi)
        while len(_DRAFTED) > _DRAFTED_CAPACITY:
            _DRAFTED.popitem(last=False)
    else:
        _DRAFTED.move_to_end(key)
    return drafting


# Journal events that change the contract's lines (payment_recorded and refund_received only change statuses).
TERMS_EVENTS = frozenset({"contract_signed", "mission_started", "avenant_signed", "indicators_reported",
                           "termination_effective", "loi_submitted", "loi_decision"})
_DRAFTED_CAPACITY = 512
_DRAFTED: OrderedDict[tuple[Any, ...], Drafting] = OrderedDict()
# One finished line: the draft, its explanation, its (amount, ceiling) in cents, its ruleset row.
_Row = tuple["_Draft", str, tuple[Decimal | None, Decimal | None], RowSource | None]
# The finished lines of one mission's year (`_Projection._fixed_rows`, `_variable_rows`): key → (the ruleset, the rows).
# Bounded (emptied when full): a lifecycle needs a few dozen mission-year entries and a couple of the others
# at a time; the bounds keep a long-running server's share of these tables to a few MB.
_MISSION_YEARS_CAPACITY = 4096
_PER_CONTRACT_CAPACITY = 512
_MISSION_YEARS: dict[Any, tuple[object, Any]] = {}
_FONCTIONNEMENT: dict[Any, tuple[object, Any]] = {}  # see `_Projection._fonctionnement_rows`


def _memoised(table: dict[Any, tuple[object, Any]], key: Any, owner: object, compute: Callable[[], Any],
              capacity: int = _MISSION_YEARS_CAPACITY) -> Any:
    """`compute()`, kept in `table` under `key`, which names `owner` by its `id` (a ruleset, a journal entry):
    an entry is used only for that very object, never for another that came to have its id. The table is
    emptied when it holds `capacity` entries."""
    found = table.get(key)
    if found is not None and found[0] is owner:
        return found[1]
    value = compute()
    if len(table) >= capacity:
        table.clear()
    table[key] = (owner, value)
    return value


def _terms_key(entry: JournalEntry) -> tuple[str, date, Any]:
    """An entry's part of the drafting memo's key: its type, date and data (hashable), computed once per entry
    object (an entry's data is never changed once journaled: replays copy it before handlers see it)."""
    return _memoised(_TERMS_KEYS, id(entry), entry, lambda: (entry.type, entry.at, _frozen(entry.data)),
                     _PER_ENTRY_CAPACITY)


def _attainments(entry: JournalEntry) -> dict[tuple[str, int], Fraction]:
    """The attainment r of each mission an `indicators_reported` entry reports, by (mission, contract year);
    computed once per entry object (like `_terms_key`)."""
    info = entry.data
    return _memoised(_ATTAINMENTS, id(entry), entry, lambda: {
        (mission, info["year"]): attainment(report) for mission, report in info["missions"].items()},
        _PER_ENTRY_CAPACITY)


_PER_ENTRY_CAPACITY = _DRAFTED_CAPACITY * 16
_TERMS_KEYS: dict[Any, tuple[object, Any]] = {}  # id(entry) → (the entry, `_terms_key`)
_ATTAINMENTS: dict[Any, tuple[object, Any]] = {}  # id(entry) → (the entry, `_attainments`)


def _frozen(value: Any) -> Any:
    """A hashable copy of JSON-like event data."""
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


RECORDED_PAYMENT_EVENTS = frozenset({"payment_recorded", "refund_received"})


def recorded_payment_key(entry: JournalEntry) -> tuple[str, int]:
    """The line a recorded payment settles: (component, year); a refund received, ("refund", 0)."""
    if entry.type == "refund_received":
        return ("refund", 0)
    return (entry.data["component"], entry.data["year"])


def recorded_amount(entry: JournalEntry) -> Decimal | None:
    """The amount a recorded payment moved; None for a refund received without one (the whole refund)."""
    amount = entry.data.get("amount")
    return None if amount is None else Decimal(str(amount))


def _recorded_payments(contract: Sequence[JournalEntry], drafted: ContractLines) -> dict[tuple[str, int], Decimal]:
    recorded: dict[tuple[str, int], Decimal] = {}
    for entry in contract:
        if entry.type in RECORDED_PAYMENT_EVENTS:
            key = recorded_payment_key(entry)
            amount = recorded_amount(entry)
            recorded[key] = recorded.get(key, ZERO) + (to_cents(drafted.refund) if amount is None else amount)
    return recorded


def loi_validated_on(entries: Sequence[JournalEntry]) -> date | None:
    """The day the lettre d'intention was validated: the loi_decision that completed both approvals (ARS and
    AM) of the letter last submitted (I §3); None if it never was."""
    approvals: set[str] = set()
    for entry in entries:
        if entry.type == "loi_submitted":
            approvals = set()
        elif entry.type == "loi_decision":
            if entry.data.get("decision") != "approve":
                approvals = set()
                continue
            approvals.add(entry.data.get("party", ""))
            if {"ars", "am"} <= approvals:
                return entry.at
        elif entry.type == "contract_signed":
            return None
    return None


def _loi_line(ruleset: Ruleset, validated: date, population: int) -> tuple[_Draft, str, RowSource] | None:
    """The payment at the validation of the lettre d'intention, under a version that has one (avenant 2)."""
    version = ruleset.version_on(validated)
    if not version.loi_support:
        return None
    size = version.size_for(population)
    amount = version.loi_support[size - 1]
    origin = version.row("amounts.loi_support")
    draft = _Draft("loi_support", 0, validated, Fraction(amount),
                   f"{_euros(amount)} for a size-{size} territory ({version.id}: support from the lettre "
                   "d'intention)")
    explanation = (f"{draft.explanation}; due {validated.isoformat()}: the validation of the lettre d'intention "
                   f"(the second approval, ARS and AM){_marker(origin)}")
    return draft, explanation, origin


def _marker(origin: RowSource | None) -> str:
    """What an explanation says of a line computed from an unverified row."""
    return "" if origin is None or origin.verified else f"; {origin.cite()} — {origin.marker()}"


@dataclass(frozen=True)
class ContractLines:
    """A contract's lines before statuses: what recorded payments and `today` do not change.

    Attributes:
        drafts, explanations, amounts: each line, its arithmetic and due rule, its (amount, ceiling) in cents.
        refund, year_due, termination_year, termination: the termination settlement, when there is one.
    """

    ruleset: Ruleset
    drafts: tuple[_Draft, ...]
    explanations: tuple[str, ...]  # each line's arithmetic and the rule of its due date
    amounts: tuple[tuple[Decimal | None, Decimal | None], ...]  # each line's (amount, ceiling) in cents
    refund: Fraction
    year_due: Fraction | None
    termination_year: int | None
    termination: date | None
    origins: tuple[RowSource | None, ...] = ()  # each line's ruleset row

    @cached_property
    def by_line(self) -> dict[tuple[str, int], tuple[int, ...]]:
        """The indices of the lines of each (component, year)."""
        found: dict[tuple[str, int], list[int]] = {}
        for index, d in enumerate(self.drafts):
            found.setdefault((d.component, d.year), []).append(index)
        return {key: tuple(indices) for key, indices in found.items()}

    def cancelled(self, index: int) -> bool:
        """SPEC §7.7: lines of the termination year and later falling due after E are cancelled; completed
        years' settlements stay owed, and so do the termination settlement lines."""
        d, year, end = self.drafts[index], self.termination_year, self.termination
        return year is not None and end is not None and not d.termination_settlement \
            and d.year >= year and d.due > end

    @cached_property
    def filling_order(self) -> dict[tuple[str, int], tuple[int, ...]]:
        """The indices of the lines of each (component, year) in the order a sum paid on it fills them: live
        lines first, earliest first."""
        return {key: indices if len(indices) == 1 else
                tuple(sorted(indices, key=lambda i: (self.cancelled(i), self.drafts[i].due)))
                for key, indices in self.by_line.items()}

    @cached_property
    def order(self) -> tuple[int, ...]:
        """The indices of the lines in the échéancier's order (due date, component, year; statuses never change
        it). The sort is stable, as sorting the lines themselves was."""
        drafts = self.drafts
        return tuple(sorted(range(len(drafts)), key=lambda i: (
            drafts[i].due, _COMPONENT_ORDER.get(drafts[i].component, len(_COMPONENT_ORDER)), drafts[i].year)))

    @cached_property
    def settlement(self) -> tuple[Decimal, Decimal | None]:
        """(refund owed, what the termination year is due) in cents."""
        return to_cents(self.refund), None if self.year_due is None else to_cents(self.year_due)

    @cached_property
    def _last_statuses(self) -> list[tuple[dict[tuple[str, int], Decimal], date, tuple[PaymentLine, ...]]]:
        """The statuses last computed (at most one): (the sums paid by line, today, the lines by index). The
        next payment changes one (component, year): only its lines are computed again (see `_statuses`)."""
        return []

    def schedule(self, payments: Recorded, today: date) -> PaymentSchedule:
        lines = _statuses(self, payments, today)  # by index
        refund_owed, termination_year_due = self.settlement
        return PaymentSchedule(lines=tuple(lines[i] for i in self.order), refund_owed=refund_owed,
                               termination_year_due=termination_year_due)


@dataclass(frozen=True)
class _SignatureDates:
    """What a contract's signature day alone decides under a ruleset (`_signature_dates`)."""

    anniversaries: dict[int, date]  # K → anniversary K, filled as asked
    settlements: dict[int, date]  # K → settle(K), filled as asked
    coming: dict[str, int]  # socle missions an amendment adds from an anniversary (SPEC §7.6 reading) → first year
    versions: dict[int, Ruleset]  # the version governing each contract year
    socle: frozenset[str]  # the socle missions from the first day


def _signature_dates(rules: Ruleset, signed: date) -> _SignatureDates:
    """The anniversaries, versions and coming missions of a contract signed on `signed`, computed once per
    signature day (every change of terms drafts the lines again, from the same signature)."""
    def compute() -> _SignatureDates:
        anniversaries = {k: contract_anniversary(signed, k) for k in range(rules.contract_years + 1)}
        dated = tuple(anniversaries.values())
        return _SignatureDates(
            anniversaries=anniversaries, settlements={},
            coming={m: year for m, (year, _) in rules.missions_coming(signed, dated).items()},
            versions={year: rules.contract_version(signed, dated[year - 1])
                      for year in range(1, rules.contract_years + 1)},
            socle=frozenset(rules.missions_at_signature(signed)),
        )

    return _memoised(_SIGNATURES, (id(rules), signed), rules, compute, _PER_CONTRACT_CAPACITY)


_SIGNATURES: dict[Any, tuple[object, Any]] = {}


class _Projection:
    """The facts of one contract gathered from its journal, and the rules of SPEC §7 applied to them."""

    def __init__(self, entries: Sequence[JournalEntry], rules: Ruleset, population: int,
                 termination: date | None) -> None:
        signature = entries[0]
        self.calendar: LegalCalendar | None = None
        self.rules, self.signed, self.years = rules, signature.at, rules.contract_years
        dates = _signature_dates(rules, self.signed)
        # Filled as drafting asks (shared by every projection of a contract signed on that day: same values).
        self._anniversaries: dict[int, date] = dates.anniversaries
        self._settlements: dict[int, date] = dates.settlements
        self.rate = rules.advance_rate
        self.starts: dict[str, date] = {}
        self.attainments: dict[tuple[str, int], Fraction] = {}
        avenants: list[tuple[date, dict]] = []
        data, chosen = signature.data, signature.data.get("population")
        self.coming, self.versions = dates.coming, dates.versions
        initial = _YearTerms(
            size=rules.size_for(population if chosen is None else chosen),
            missions=dates.socle | frozenset(data.get("missions") or ()),
            snp_compensation=bool(data.get("snp_compensation", True)),
            snp_orientation=bool(data.get("snp_orientation", False)),
        )
        for entry in entries[1:]:
            info = entry.data
            if entry.type == "mission_started":
                self.starts.setdefault(info["mission"], entry.at)
            elif entry.type == "avenant_signed":
                avenants.append((entry.at, dict(info)))
            elif entry.type == "indicators_reported":
                self.attainments.update(_attainments(entry))  # a later report wins
            elif entry.type == "termination_effective" and termination is None:
                termination = entry.at
        self.terms = {year: self._terms(initial, avenants, year) for year in range(1, self.years + 1)}
        self.termination = termination
        # The lines drafted so far by (mission, year), and the terms they read (`_fixed_rows`, `_variable_rows`).
        self._fixed_drafted: dict[tuple[str, int], tuple[list[_Row], list[_Row]]] = {}
        self._variable_drafted: dict[tuple[str, int], list[_Row]] = {}
        self._terms_around: dict[str, tuple[tuple[bool, int, bool, bool] | None, ...]] = {}
        contracted = frozenset().union(*(t.missions for t in self.terms.values()))
        started = [day for mission, day in self.starts.items() if mission in contracted]
        self.first_start = min(started) if started else None

    # ------------------------------------------------------------------------------------ calendar
    def anniversary(self, year: int) -> date:
        """Anniversary K of the contract (SPEC §6); computed once per K (drafting asks for each hundreds of times)."""
        found = self._anniversaries.get(year)
        if found is None:
            found = self._anniversaries[year] = contract_anniversary(self.signed, year)
        return found

    def settlement(self, year: int) -> date:
        """settle(K) = anniversary K + the ruleset's `settlement_delay_months` (ACI art. 9.2)."""
        found = self._settlements.get(year)
        if found is None:
            found = self._settlements[year] = add_months(self.anniversary(year), self.rules.settlement_delay_months)
        return found

    def due_rule(self, d: _Draft) -> str:
        """Why a payment falls due on its date (every computed date explains itself, SPEC §6)."""
        if d.component == "refund" and self.termination is not None:
            rule = self.rules.deadline("refund")
            text = f"{rule.period.describe()} after the termination's effect on {self.termination.isoformat()}"
            if self.calendar is not None:
                text = self.calendar.add(self.termination, rule.period, kind=rule.kind, franc=rule.franc,
                                         anchor_label="the termination's effect").text()
            return f"{text} (ACI art. 11.3)"
        if d.termination_settlement and self.termination is not None:
            return (f"settlement of the termination year, {self.rules.settlement_delay_months} months after "
                    f"{self.termination.isoformat()}")
        if d.due == self.signed:
            return "at signature (ACI art. 9.1)"
        for year in range(1, self.years + 1):
            if d.due == self.settlement(year):
                return (f"settle({year}) = anniversary {year} ({self.anniversary(year).isoformat()}) + "
                        f"{self.rules.settlement_delay_months} months (ACI art. 9.2)")
        for year in range(1, self.years):
            if d.due == self.anniversary(year):
                return f"anniversary {year} of the contract, which opens year {year + 1} (ACI art. 9.1)"
        if d.mission is not None and self.starts.get(d.mission) == d.due:
            return f"the {d.mission} mission's start (ACI art. 9.2, annex 4)"
        return "the first mission's start, later than the anniversary (ACI art. 9.1)"

    def days_in(self, year: int) -> int:
        return (self.anniversary(year) - self.anniversary(year - 1)).days

    def year_of(self, day: date) -> int:
        """The contract year a date falls in (an anniversary opens a year); years + 1 past the end."""
        for year in range(1, self.years + 1):
            if day < self.anniversary(year):
                return year
        return self.years + 1

    def _terms(self, initial: _YearTerms, avenants: list[tuple[date, dict]], year: int) -> _YearTerms:
        """SPEC §7.6 (interpretation): an avenant applies from the anniversary that follows its signature; so
        does a socle mission an amendment of the accord adds to a contract signed before it."""
        coming = frozenset(m for m, first in self.coming.items() if first <= year)
        terms = replace(initial, missions=initial.missions | coming) if coming else initial
        for signed, changes in avenants:
            if self.year_of(signed) >= year:
                continue
            added = frozenset(changes.get("add_missions") or ())
            dropped = frozenset(changes.get("drop_missions") or ())
            terms = replace(
                terms, missions=(terms.missions | added) - dropped,
                size=self.rules.size_for(changes["population"]) if "population" in changes else terms.size,
                snp_orientation=changes.get("snp_orientation", terms.snp_orientation),
            )
        return terms

    # ------------------------------------------------------------------------------------ amounts
    def fonctionnement(self, year: int) -> int:
        return self._fonctionnement(year)[0]

    def _fonctionnement(self, year: int) -> tuple[int, RowSource]:
        """F for a year and the row it comes from: the version's, or its raise for a contract signed early
        enough when the raise applies to every year."""
        version, i = self.versions[year], self.terms[year].size - 1
        raised = version.fonctionnement_raise
        if raised is not None and self.signed <= raised.signed_on_or_before and (
                raised.applies_to == "every_year" or year == 1):
            return raised.amounts[i], version.row("amounts.fonctionnement_raise")
        return version.fonctionnement[i], version.row("amounts.fonctionnement")

    def _complement(self) -> _Draft | None:
        """A raise of the signature year's fonctionnement (`applies_to = "signature_year"`) for a contract signed
        before the version that raises it: the difference, paid when the contract comes under that version."""
        if self.versions[1].fonctionnement_raise is not None:
            return None
        for year in range(2, self.years + 1):
            raised = self.versions[year].fonctionnement_raise
            if raised is not None and self.signed <= raised.signed_on_or_before:
                if raised.applies_to != "signature_year":
                    return None
                paid = self.versions[1].fonctionnement[self.terms[1].size - 1]
                amount = raised.rate * paid
                return _Draft("fonctionnement.complement", year, self.anniversary(year - 1), amount,
                              f"{rate_text(raised.rate)} × {_euros(paid)} (raise of the fonctionnement paid at "
                              f"signature, {self.versions[year].id})")
        return None

    def origin(self, d: _Draft) -> RowSource:
        """The ruleset row whose amounts produced a line."""
        if d.component.startswith("fonctionnement"):
            if d.component == "fonctionnement.complement":
                return self.versions[d.year].row("amounts.fonctionnement_raise")
            return self._fonctionnement(d.year)[1]
        if d.component == "refund":
            return self._refund_origin(d.year)
        mission = d.mission or d.component.split(".")[0]
        return self.versions[d.year].row(f"amounts.missions.{mission}")

    def _refund_origin(self, year: int) -> RowSource:
        """A refund is computed from every component paid in its year: unverified if one of them is."""
        version = self.versions[year]
        rows = [self._fonctionnement(year)[1],
                *(version.row(f"amounts.missions.{m}") for m in sorted(self.terms[year].missions)
                  if self.active(m, year))]
        doubtful = [row for row in rows if not row.verified]
        refund = version.row("deadlines.refund")
        if not doubtful:
            return refund
        return replace(refund, verified=False, source="; ".join(dict.fromkeys(row.source for row in doubtful)))

    def fixed_envelope(self, mission: str, year: int) -> tuple[Fraction, str]:
        """X_m for a year: the fixed envelope (the first-year one in the mission's first paid year when the
        ruleset has one), plus for access the SNP components the contract has chosen."""
        terms, amounts = self.terms[year], self.versions[year].missions[mission]
        i = terms.size - 1
        first = amounts.first_year and not self.active(mission, year - 1)
        parts = [("first-year fixed" if first else "fixed", (amounts.first_year if first else amounts.fixed)[i])]
        # SPEC §7 (interpretation, ruleset payments.snp_paid_like_access_fixed): SNP follows access fixed.
        if amounts.snp_compensation and terms.snp_compensation:
            parts.append(("SNP compensation", amounts.snp_compensation[i]))
        if amounts.snp_orientation and terms.snp_orientation:
            parts.append(("SNP orientation", amounts.snp_orientation[i]))
        total = sum(amount for _, amount in parts)
        detail = "" if len(parts) == 1 else f"; {_euros(total)} = " + " + ".join(
            f"{label} {_euros(amount)}" for label, amount in parts
        )
        return Fraction(total), detail

    def variable_envelope(self, mission: str, year: int) -> int:
        return self.versions[year].missions[mission].variable[self.terms[year].size - 1]

    def active(self, mission: str, year: int) -> bool:
        """Whether mission m is paid for year K: in that year's terms, and started before the year ends."""
        start = self.starts.get(mission)
        return 1 <= year <= self.years and mission in self.terms[year].missions \
            and start is not None and start < self.anniversary(year)

    # ------------------------------------------------------------------------------------ schedule
    def drafted(self) -> ContractLines:
        """Every line of the contract with its arithmetic, before recorded payments and today set statuses."""
        rows = list(self._fonctionnement_rows())
        for mission in MISSIONS:
            if mission in self.starts:  # else never started: never active
                rows += self._mission_rows(mission)
        refund, year_due, year = Fraction(0), None, None
        if self.termination is not None and self.year_of(self.termination) <= self.years:
            year = self.year_of(self.termination)
            settlement, refund, year_due = self._termination(year, [row[0] for row in rows])
            rows += self._finished(settlement)
        drafts, explanations, amounts, origins = zip(*rows, strict=True) if rows else ((), (), (), ())
        return ContractLines(self.rules, tuple(drafts), tuple(explanations), tuple(amounts), refund, year_due, year,
                             self.termination, tuple(origins))

    def rows_of(self, component: str, year: int) -> list[_Row] | None:
        """The finished lines of (component, year), those `drafted()` has, in its order, drafting no other line
        (the payment guard's); None when only the whole contract tells: a termination's settlement reads every
        line."""
        if self.termination is not None or component == "refund":
            return None
        mission = component.split(".", 1)[0]
        if mission == "fonctionnement":
            rows = self._fonctionnement_rows()
        elif mission not in self.starts or mission not in MISSIONS:
            rows = []
        elif component == f"{mission}.variable":
            rows = self._variable_rows(mission, year) if self.active(mission, year) else []
        else:
            # A mission's fixed lines of year K: the advance paid with the settlement of year K − 1, then those of
            # its year K (the first advance, the balance), as `drafted()` orders them.
            rows = [*(self._fixed_rows(mission, year - 1)[1] if self.active(mission, year - 1) else ()),
                    *(self._fixed_rows(mission, year)[0] if self.active(mission, year) else ())]
        return [row for row in rows if row[0].year == year and row[0].component == component]

    def _mission_rows(self, mission: str) -> list[_Row]:
        """The finished lines of a started mission's active years, in order: for each year its fixed lines
        (`_mission_lines`), with its variable part between the balance and the next advance."""
        rows: list[_Row] = []
        for year in range(1, self.years + 1):
            if self.active(mission, year):
                before, after = self._fixed_rows(mission, year)
                rows += [*before, *self._variable_rows(mission, year), *after]
        return rows

    def _fixed_rows(self, mission: str, year: int) -> tuple[list[_Row], list[_Row]]:
        """The finished fixed lines of an active year of a mission, before its variable part and after it.

        Memoised on every input they read: the ruleset, the signature (anniversaries, settlement dates,
        versions), the mission's start, its terms in the years around (active, size, SNP choices); the variable
        part (`_variable_rows`) also on the year's attainment. A change of terms (a start, a report, an avenant)
        so drafts only the lines it moves: a report, only its year's variable parts. Kept in this projection
        too: the payment guard's `rows_of` asks for a year's lines again and again.
        """
        found = self._fixed_drafted.get((mission, year))
        if found is None:
            terms = self._mission_terms_around(mission)
            found = self._fixed_drafted[(mission, year)] = _memoised(_MISSION_YEARS, (
                id(self.rules), self.signed, mission, year, self.starts.get(mission), terms[year - 1], terms[year],
                terms[year + 1]), self.rules,
                lambda: tuple(self._finished(drafts) for drafts in self._mission_lines(mission, year)))
        return found

    def _variable_rows(self, mission: str, year: int) -> list[_Row]:
        """The finished variable line of an active year of a mission (see `_fixed_rows`)."""
        found = self._variable_drafted.get((mission, year))
        if found is None:
            found = self._variable_drafted[(mission, year)] = _memoised(_MISSION_YEARS, (
                id(self.rules), self.signed, mission, year, self.starts.get(mission),
                self._mission_terms_around(mission)[year], "variable", self.attainments.get((mission, year))),
                self.rules,
                lambda: self._finished([self._variable(mission, year, *self._year_share(mission, year), "")]))
        return found

    def _mission_terms_around(self, mission: str) -> tuple[tuple[bool, int, bool, bool] | None, ...]:
        """What the mission's lines read of each year's terms (`_mission_terms`), years 0 to years + 1."""
        found = self._terms_around.get(mission)
        if found is None:
            found = self._terms_around[mission] = tuple(
                self._mission_terms(mission, year) for year in range(self.years + 2))
        return found

    def _finished(self, drafts: Sequence[_Draft]) -> list[_Row]:
        """Each line with its explanation (arithmetic, due rule, unverified source), its (amount, ceiling) in
        cents and its ruleset row."""
        rows = []
        for d in drafts:
            origin = self.origin(d)
            amount = None if d.exact is None else to_cents(d.exact)
            rows.append((d, f"{d.explanation}; due {d.due.isoformat()}: {self.due_rule(d)}{_marker(origin)}",
                         (amount, to_cents(d.ceiling) if d.ceiling is not None else amount), origin))
        return rows

    def _fonctionnement_rows(self) -> list[_Row]:
        """The finished fonctionnement lines, memoised: they read the ruleset, the signature (anniversaries,
        versions), the first mission's start and each year's size."""
        return _memoised(_FONCTIONNEMENT, (
            id(self.rules), self.signed, self.first_start, tuple(t.size for t in self.terms.values())), self.rules,
            lambda: self._finished(self._fonctionnement_lines()), _PER_CONTRACT_CAPACITY)

    def _mission_terms(self, mission: str, year: int) -> tuple[bool, int, bool, bool] | None:
        """What of a year's terms a mission's lines read: whether it is contracted, the size, the SNP choices."""
        terms = self.terms.get(year)
        if terms is None:
            return None
        return mission in terms.missions, terms.size, terms.snp_compensation, terms.snp_orientation

    def _fonctionnement_lines(self) -> list[_Draft]:
        # ACI art. 9.1: the whole year-1 amount at signature, without waiting for a mission to start.
        first = Fraction(self.fonctionnement(1))
        drafts = [_Draft("fonctionnement.advance", 1, self.signed, first,
                         f"{_euros(first)} in full at signature (ACI art. 9.1)")]
        complement = self._complement()
        if complement is not None:
            drafts.append(complement)
        for year in range(2, self.years + 1):
            if self.first_start is None or self.first_start >= self.anniversary(year):
                continue  # no mission had started by the end of that year: no fonctionnement for it
            amount, opens = self.fonctionnement(year), self.anniversary(year - 1)
            due = max(opens, self.first_start)
            when = f"anniversary {opens}" if due == opens else f"first mission start, after {opens}"
            drafts += [
                _Draft("fonctionnement.advance", year, due, self.rate * amount,
                       f"{rate_text(self.rate)} × {_euros(amount)} ({when}; ACI art. 9.1)"),
                _Draft("fonctionnement.balance", year, self.settlement(year), (1 - self.rate) * amount,
                       f"{rate_text(1 - self.rate)} × {_euros(amount)} (balance of year {year}; ACI art. 9.1)"),
            ]
        return drafts

    def _year_share(self, mission: str, year: int) -> tuple[date, Fraction, str]:
        """A mission's active year: its settlement date, the share p of the year it is paid for (from its start
        in its first year), and p as the explanations write it."""
        closes, length = self.anniversary(year), self.days_in(year)
        begins = max(self.starts[mission], self.anniversary(year - 1))
        p = Fraction((closes - begins).days, length)
        return self.settlement(year), p, "" if p == 1 else f" × {(closes - begins).days}/{length}"

    def _mission_lines(self, mission: str, year: int) -> tuple[list[_Draft], list[_Draft]]:
        """The fixed lines of an active year of a mission: those before its variable part (the first advance,
        the balance) and after it (the next year's advance)."""
        before: list[_Draft] = []
        closes, begins = self.anniversary(year), max(self.starts[mission], self.anniversary(year - 1))
        settle, p, share = self._year_share(mission, year)
        fixed, detail = self.fixed_envelope(mission, year)
        rate = self.rate
        if not self.active(mission, year - 1):
            # ACI art. 9.2, annex 4: the first advance is prorated from the start to the anniversary; a
            # start on an anniversary opens a full year (cas 3).
            why = (f"{mission} started {self.starts[mission]}, anniversary {closes}" if p != 1
                   else f"{mission} paid from {begins}: a full year to anniversary {closes}")
            before.append(_Draft(f"{mission}.fixed.advance", year, begins, rate * fixed * p,
                                 f"{rate_text(rate)} × {_euros(fixed)}{share} ({why}{detail})", mission))
        balance = f"{rate_text(1 - rate)} × {_euros(fixed)}{share} (balance of year {year}{detail})"
        before.append(_Draft(f"{mission}.fixed.balance", year, settle, (1 - rate) * fixed * p, balance, mission))
        after: list[_Draft] = []
        if self.active(mission, year + 1):
            following, detail = self.fixed_envelope(mission, year + 1)
            why = f"advance for year {year + 1}, paid with the settlement of year {year}{detail}"
            after.append(_Draft(f"{mission}.fixed.advance", year + 1, settle, rate * following,
                                f"{rate_text(rate)} × {_euros(following)} ({why})", mission))
        return before, after

    def _variable(self, mission: str, year: int, due: date, p: Fraction, share: str, note: str) -> _Draft:
        """V_m · p · r, or awaiting assessment until the year's attainment is reported (SPEC §9)."""
        variable, r = self.variable_envelope(mission, year), self.attainments.get((mission, year))
        if r is None:
            text, amount = f"r (awaiting the year-{year} attainment{note})", None
        else:
            text, amount = f"{rate_text(r)} (year-{year} attainment{note})", variable * p * r
        return _Draft(f"{mission}.variable", year, due, amount, f"{_euros(variable)}{share} × {text}",
                      mission, termination_settlement=bool(note), ceiling=variable * p)

    def _termination(self, year: int, drafts: list[_Draft]) -> tuple[list[_Draft], Fraction, Fraction]:
        """ACI art. 11.3, SPEC §7.7: the termination year is due prorata temporis, net of its advances.

        The reading that reproduces SPEC §7's worked example (102 397.26 due against 112 125.00 paid): the
        "active components" are those paid by advance, i.e. fonctionnement and each mission's fixed envelope
        (SNP included), each × days(max(anniversary K−1, its start) → E) / days(year K):
        (60 000 + 29 500 + 10 000 + 35 000 + 15 000) × 250/365 = 102 397.26. The variable part has no advance
        to net: it gets its own line, prorated alike, once the year's attainment is known. "Advances paid" are
        the year-K advance lines due on or before E (the funders pay them on their due dates).
        """
        end = self.termination
        assert end is not None
        opens, length = self.anniversary(year - 1), self.days_in(year)
        settle_on = add_months(end, self.rules.settlement_delay_months)
        note = f"; termination effective {end}"
        rows: list[tuple[str, Fraction, Fraction, str]] = []  # (balance component, due, advanced, arithmetic)
        extra: list[_Draft] = []

        def row(component: str, begins: date, annual: Fraction) -> None:
            days = (end - begins).days
            advanced = sum((d.exact or 0 for d in drafts if d.year == year and d.due <= end
                            and d.component == component.replace(".balance", ".advance")), Fraction(0))
            text = f"{component.split('.')[0]} {_euros(annual)} × {days}/{length}"
            rows.append((component, annual * days / length, advanced, text))

        if year == 1 or (self.first_start is not None and self.first_start < end):
            begins = self.signed if year == 1 else max(opens, self.first_start or opens)
            row("fonctionnement.balance", begins, Fraction(self.fonctionnement(year)))
        for mission in MISSIONS:
            start = self.starts.get(mission)
            if mission in self.terms[year].missions and start is not None and start < end:
                begins = max(opens, start)
                row(f"{mission}.fixed.balance", begins, self.fixed_envelope(mission, year)[0])
                days = (end - begins).days
                share = f" × {days}/{length}"
                extra.append(self._variable(mission, year, settle_on, Fraction(days, length), share, note))

        due = sum((r[1] for r in rows), Fraction(0))
        paid = sum((r[2] for r in rows), Fraction(0))
        basis = (f"due for year {year}: {' + '.join(r[3] for r in rows) or 'nothing'} = {_cents(due)}; "
                 f"advances paid for year {year}: {_cents(paid)}{note} (ACI art. 11.3)")
        if due < paid:
            # ACI art. 11.3: refunded within the `refund` deadline's period after E, on that deadline's date.
            rule = self.rules.deadline("refund")
            refund_by = (self.calendar.add(end, rule.period, kind=rule.kind, franc=rule.franc).due
                         if self.calendar else _after(end, rule.period))
            text = f"{_cents(paid)} − {_cents(due)} to refund; {basis}"
            extra.append(_Draft("refund", year, refund_by, paid - due, text, termination_settlement=True))
            return extra, paid - due, due
        # The CPTS is owed the difference: one balance per component, a component's excess advance being
        # offset against the others' balances (in component order) so that no line is negative.
        excess = sum((a - d for _, d, a, _ in rows if a > d), Fraction(0))
        for component, owed_in_year, advanced, text in rows:
            offset = min(max(owed_in_year - advanced, Fraction(0)), excess)
            excess -= offset
            if owed_in_year - advanced - offset > 0:
                offset_text = f" − {_cents(offset)} offset" if offset else ""
                extra.append(_Draft(
                    component, year, settle_on, owed_in_year - advanced - offset,
                    f"{text} − advances {_cents(advanced)}{offset_text} (termination settlement: year {year} "
                    f"due {_cents(due)} against advances {_cents(paid)}{note}; ACI art. 11.3)",
                    None if component.startswith("fonctionnement") else component.split(".")[0],
                    termination_settlement=True,
                ))
        return extra, Fraction(0), due


def _by_line(drafted: ContractLines, payments: Recorded) -> Recorded:
    """`payments` by the (component, year) they settle: a refund received ("refund", 0) goes to the termination
    year's refund."""
    year = drafted.termination_year
    if year is None or ("refund", 0) not in payments:
        return payments
    unallocated = dict(payments)
    unallocated[("refund", year)] = unallocated.get(("refund", year), ZERO) + unallocated.pop(("refund", 0))
    return unallocated


def _allocated(drafted: ContractLines, key: tuple[str, int], left: Decimal) -> dict[int, Decimal]:
    """What the sum `left` paid on `key` = (component, year) puts on each of its lines, by index (`_allocation`);
    a line it puts nothing on is left out."""
    order = drafted.filling_order.get(key, ())
    return {index: paid for index, paid in zip(order, _allocation([drafted.amounts[i][0] for i in order], left),
                                               strict=True) if paid is not None}


def _allocation(amounts: Sequence[Decimal | None], left: Decimal) -> list[Decimal | None]:
    """What the sum `left` paid on one (component, year) puts on each of its lines, whose `amounts` are given in
    filling order (live lines first, earliest first; None: awaiting assessment). It fills them in turn; a line
    takes at most its amount (a payment is checked against what is owed when recorded), and what a later change
    of the contract left beyond the lines stays on the last one, so the sums reconcile. None: nothing put on it."""
    paid: list[Decimal | None] = [None] * len(amounts)
    last: int | None = None
    for i, amount in enumerate(amounts):
        if amount is None or left <= 0:
            continue
        on_line = paid[i] = min(left, amount)
        left = left - on_line
        last = i
    if last is not None:
        on_last = paid[last]
        assert on_last is not None
        paid[last] = on_last + left
    return paid


def _statuses(drafted: ContractLines, payments: Recorded, today: date) -> tuple[PaymentLine, ...]:
    """Every line (in the drafts' order) with what was paid on it and its status as of `today`.

    The lines of a (component, year) depend only on the sum paid on it and on the day: when the statuses last
    computed were for the same day, only the (component, year)s whose sum is not the same as then (to the
    exponent: `_same_sum`) are computed again."""
    by_line = _by_line(drafted, payments)
    memo = drafted._last_statuses
    last = memo[0] if memo else None  # one read: another thread may replace it meanwhile
    if last is not None and last[1] == today:
        sums, lines = last[0], list(last[2])
        changed = [key for key, left in by_line.items() if not _same_sum(sums.get(key), left)]
        changed += [key for key in sums if key not in by_line]
        for key in changed:
            indices = drafted.by_line.get(key)
            if indices is not None:
                for index, line in zip(indices, _group_statuses(drafted, key, indices, by_line.get(key), today),
                                       strict=True):
                    lines[index] = line
    else:
        placed = {index: line for key, indices in drafted.by_line.items()
                  for index, line in zip(indices, _group_statuses(drafted, key, indices, by_line.get(key), today),
                                         strict=True)}
        lines = [placed[index] for index in range(len(drafted.drafts))]
    computed = tuple(lines)
    memo[:] = [(dict(by_line), today, computed)]
    return computed


def _same_sum(a: Decimal | None, b: Decimal | None) -> bool:
    """The same sum, written alike: 10.0 and 10.00 are equal but shown differently (usually the very same
    object: a replay carries the sums a payment did not move)."""
    return a is b or (a is not None and b is not None and a.as_tuple() == b.as_tuple())


def _group_statuses(drafted: ContractLines, key: tuple[str, int], indices: tuple[int, ...], left: Decimal | None,
                    today: date) -> tuple[PaymentLine, ...]:
    """The lines of one (component, year), `left` having been paid on it (None: nothing)."""
    paid = _allocated(drafted, key, left) if left is not None else {}
    lines = []
    for index in indices:
        d = drafted.drafts[index]
        amount, ceiling = drafted.amounts[index]
        on_line = paid.get(index, ZERO)
        if drafted.cancelled(index) and (amount is None or on_line < amount):
            status = "cancelled"
        elif amount is None:
            status = "awaiting_assessment"
        elif on_line >= amount and index in paid:
            status = "paid"
        elif on_line > 0:
            status = "partially_paid"
        else:
            status = "overdue" if d.due < today else "scheduled"
        origin = drafted.origins[index] if drafted.origins else None
        lines.append(PaymentLine(d.component, d.year, d.due, amount, status, drafted.explanations[index], d.mission,
                                 ceiling, on_line, origin))
    return tuple(lines)


def _after(anchor: date, period: Period) -> date:
    if period.months:
        return add_months(anchor, period.months)
    return anchor + timedelta(days=period.days)


def _euros(value: int | Fraction) -> str:
    """'29 500' for whole euros, '17 275.68' otherwise (explanations only; amounts stay exact)."""
    if type(value) is int:
        return f"{value:,}".replace(",", " ")
    value = Fraction(value)
    if value.denominator == 1:
        return f"{value.numerator:,}".replace(",", " ")
    return _cents(value)


def _cents(value: Fraction) -> str:
    return f"{to_cents(value):,.2f}".replace(",", " ")
