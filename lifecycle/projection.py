"""The projection: a pure function (journal, ruleset, today) → state, deadlines, due system events, payments.

The journal is replayed in business-date order; timers fire on the virtual calendar between events, so a
backdated or voided event simply changes what the replay sees (ARCHITECTURE: a case is its journal).
System events already written by the sweep are matched to the timers that produce them; one that no timer
produces any more (e.g. a tacit validation after a backdated opposition) is reported as superseded.
What each event type does besides moving the lifecycle table lives in lifecycle.handlers, one function each.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from lifecycle import handlers
from lifecycle.calendar import DateExplanation, LegalCalendar
from lifecycle.deadlines import CANCELLED, ELAPSED, Deadline, OpenDeadline
from lifecycle.errors import DuplicateDeadline, TransitionRejected, WindowClosed
from lifecycle.events import DOCUMENTS, JournalEntry
from lifecycle.machine import CaseFacts, LifecycleModel, fire, restore
from lifecycle.payments import (
    RECORDED_PAYMENT_EVENTS,
    TERMS_EVENTS,
    ContractLines,
    Drafting,
    Outstanding,
    PaymentSchedule,
    contract_drafting,
    outstanding,
    payment_schedule,
    recorded_amount,
    recorded_payment_key,
)
from lifecycle.ruleset import DeadlineRule, Ruleset


@dataclass(frozen=True)
class HistoryItem:
    at: date
    event: str
    source: str
    dest: str
    seq: int | None  # None: a system event due but not yet written to the journal

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "event": self.event, "from": self.source, "to": self.dest,
                "seq": self.seq}


@dataclass(frozen=True)
class SystemEvent:
    """A timer's event that is due: `type` dated `at`, produced by the deadline `deadline`."""

    type: str
    at: date
    deadline: str


@dataclass(frozen=True)
class Rejection:
    seq: int | None
    at: date
    type: str
    error: str


@dataclass(frozen=True)
class Projection:
    state: str
    history: tuple[HistoryItem, ...]
    deadlines: tuple[Deadline, ...]
    due_system_events: tuple[SystemEvent, ...]
    superseded: tuple[int, ...]
    rejected: tuple[Rejection, ...]
    accepted: tuple[JournalEntry, ...]
    voided: dict[int, int]  # voided seq → seq of the event_voided entry
    population: int
    contract_signed_on: date | None
    contract_missions: tuple[str, ...]
    termination_effective_on: date | None
    payments: PaymentSchedule | None
    today: date

    @property
    def legal_flags(self) -> tuple[str, ...]:
        """Breached mission deadlines: the 'missions non mises en œuvre' ground (SPEC §5)."""
        return tuple(
            f"{d.key} breached since {d.due.isoformat()}"
            for d in self.deadlines
            if d.rule_key.startswith("mission_") and d.status == "breached"
        )

    def deadline(self, key: str) -> Deadline:
        """The latest instance of a deadline key."""
        matches = [d for d in self.deadlines if d.key == key]
        if not matches:
            raise KeyError(key)
        return matches[-1]


@dataclass(frozen=True)
class NewEventCheck:
    """Context for guards that look outside the case, evaluated only for the event being recorded now."""

    seq: int
    overlaps: list[str] = field(default_factory=list)


def project(
    journal: Sequence[JournalEntry],
    rules: Ruleset,
    today: date,
    *,
    departement: str,
    population: int,
    check: NewEventCheck | None = None,
    with_payments: bool = True,
) -> Projection:
    """Replay `journal` as of `today` (timers due before `today` have fired).

    `with_payments=False` leaves the échéancier out (`payments` is None) for callers that only need the state,
    the deadlines or the due system events: it is the costliest part of a contracted case's projection.
    """
    return _Replay(journal, rules, today, departement, population, check).run(with_payments, keep_checkpoint=False)


@dataclass(frozen=True)
class Checkpoint:
    """A replay stopped right after the journal's last user event, before the timers that follow it fire.

    An event dated on or after that last event, appended to the journal, is applied to it (`resume`) exactly
    as a full replay would apply it: the replay is in business-date order, so nothing before it can change.
    Never mutated: each use works on copies of its mutable parts. Attributes:
        head_seq: the highest sequence number of the journal it was made from.
        last_user: (date, seq) of the last user event replayed, None if none.
        departement, base_population, ruleset_id: what the replay was made for (a resume checks them).
    """

    head_seq: int
    last_user: tuple[date, int] | None
    departement: str
    base_population: int
    ruleset_id: str
    state: str
    facts: CaseFacts
    deadlines: tuple[OpenDeadline, ...]
    history: tuple[HistoryItem, ...]
    due_system: tuple[SystemEvent, ...]
    rejected: tuple[Rejection, ...]
    accepted: tuple[JournalEntry, ...]
    recorded_payments: dict[tuple[str, int], Decimal]  # euros recorded as paid, by the line they settle
    voided: dict[int, int]
    journaled_system: dict[tuple[str, date], JournalEntry]
    population: int
    termination_effective_on: date | None
    # The contract's drafting as the replay last used it, with the terms it was for (a resume that keeps those
    # terms does not draft its lines again), and the accepted entries that change the terms.
    drafting: tuple[tuple[int, date | None], Drafting | None] | None = None
    terms_accepted: tuple[JournalEntry, ...] = ()
    idents: frozenset[str] = frozenset()  # of `deadlines`
    # The deadlines as last frozen by the replay that made the checkpoint (filled by its `finish`, before the
    # checkpoint is handed out; a cache, see `_Replay.freeze`): index → (the deadline frozen, its frozen form).
    frozen: dict[int, tuple[OpenDeadline, Deadline]] = field(default_factory=dict)


def replay(
    journal: Sequence[JournalEntry],
    rules: Ruleset,
    today: date,
    *,
    departement: str,
    population: int,
    check: NewEventCheck | None = None,
    with_payments: bool = True,
) -> tuple[Projection, Checkpoint]:
    """`project`, and the checkpoint at the journal's head that later in-order events can `resume` from."""
    run = _Replay(journal, rules, today, departement, population, check)
    projection = run.run(with_payments, keep_checkpoint=True)
    assert run.checkpoint is not None
    return projection, run.checkpoint


def resume(
    checkpoint: Checkpoint,
    entries: Sequence[JournalEntry],
    rules: Ruleset,
    today: date,
    *,
    check: NewEventCheck | None = None,
    with_payments: bool = True,
) -> tuple[Projection, Checkpoint] | None:
    """The projection of the checkpoint's journal plus `entries` (appended after its head, in seq order), as a
    full replay would give it; None when that needs a full replay: a voiding, a user event dated before the
    last one, or a system event dated before it (its timer has already been replayed as not yet journaled)."""
    if checkpoint.ruleset_id != rules.id or any(e.type == "event_voided" for e in entries):
        return None
    run = _Replay.resumed(checkpoint, rules, today, check)
    for entry in entries:
        if run.last_user is not None and entry.at < run.last_user[0]:
            return None
        if entry.is_system:
            if (entry.type, entry.at) in run.journaled_system:
                return None  # two journaled firings of one timer: only a full replay says which is kept
            run.journaled_system[(entry.type, entry.at)] = entry
        else:
            run._fire_timers(before=entry.at)
            run._apply(entry)
            run.last_user = (entry.at, entry.seq)
    run.head_seq = max([checkpoint.head_seq, *(e.seq for e in entries)])
    projection = run.finish(with_payments, keep_checkpoint=bool(entries))
    return projection, run.checkpoint or checkpoint


class _Replay:
    """One replay of a case's journal; the handlers see it as a `lifecycle.handlers.Replay`."""

    def __init__(self, journal: Sequence[JournalEntry], rules: Ruleset, today: date, departement: str,
                 population: int, check: NewEventCheck | None) -> None:
        self.rules, self.today, self.check = rules, today, check
        self.calendar = LegalCalendar(departement)
        self.base_population = population  # the case's territory (declared or communes' sum)
        self.population = population  # as amended by the contract and its avenants
        opinion = rules.deadlines.get("cpl_opinion")
        self.facts = CaseFacts(required_documents=DOCUMENTS, optional_missions=rules.optional_missions,
                               cpl_opinion_period=opinion.period if opinion else None)
        self.model = LifecycleModel(self.facts)
        self.deadlines: list[OpenDeadline] = []
        # The deadlines that may still be open, in opening order: `deadlines` less some closed ones. A deadline
        # never reopens, so the scans for open ones (each event, each timer) read this list and drop the
        # closed ones they meet, instead of reading every deadline of the case.
        self.maybe_open: list[OpenDeadline] = []
        self.idents: set[str] = set()  # of `deadlines`: no two deadlines of a case share an identity
        self.history: list[HistoryItem] = []
        self.due_system: list[SystemEvent] = []
        self.rejected: list[Rejection] = []
        self.accepted: list[JournalEntry] = []
        self.termination_effective_on: date | None = None
        self.voided = {
            e.data["seq"]: e.seq for e in journal if e.type == "event_voided"
        }
        self.journaled_system = {
            (e.type, e.at): e for e in journal if e.is_system and e.seq not in self.voided
        }
        self.user_entries = sorted(
            (e for e in journal if not e.is_system and e.type != "event_voided" and e.seq not in self.voided),
            key=lambda e: (e.at, e.seq),
        )
        self.departement = departement
        self.recorded_payments: dict[tuple[str, int], Decimal] = {}  # of the accepted entries, in euros
        self.head_seq = max((e.seq for e in journal), default=0)
        self.last_user: tuple[date, int] | None = (
            (self.user_entries[-1].at, self.user_entries[-1].seq) if self.user_entries else None)
        self.checkpoint: Checkpoint | None = None
        # The accepted entries that change the contract's terms (payments.TERMS_EVENTS): all its drafting reads.
        self.terms_accepted: list[JournalEntry] = []
        # The contract's drafting as of the last payment checked, with the terms it was for.
        self.drafting: tuple[tuple[int, date | None], Drafting | None] | None = None
        self.frozen: dict[int, tuple[OpenDeadline, Deadline]] = {}  # see `freeze`

    @classmethod
    def resumed(cls, checkpoint: Checkpoint, rules: Ruleset, today: date, check: NewEventCheck | None) -> _Replay:
        """A replay that goes on from `checkpoint` (its mutable parts copied: the checkpoint stays as it is)."""
        run = cls((), rules, today, checkpoint.departement, checkpoint.base_population, check)
        run.facts = _copy_facts(checkpoint.facts)
        run.model = LifecycleModel(run.facts, checkpoint.state)
        run.deadlines = [copy.copy(d) if d.is_open else d for d in checkpoint.deadlines]
        run.maybe_open = [d for d in run.deadlines if d.is_open]
        run.idents = set(checkpoint.idents)
        if len(run.idents) != len(run.deadlines):
            run.idents = {d.ident for d in run.deadlines}
        run.frozen = dict(checkpoint.frozen)
        run.history = list(checkpoint.history)
        run.due_system = list(checkpoint.due_system)
        run.rejected = list(checkpoint.rejected)
        run.accepted = list(checkpoint.accepted)
        run.terms_accepted = list(checkpoint.terms_accepted)
        drafting = checkpoint.drafting
        if drafting is not None and (drafting[1] is None or drafting[1].ruleset is rules):
            run.drafting = drafting  # shared: its lines never change once drafted
        run.recorded_payments = dict(checkpoint.recorded_payments)
        run.voided = dict(checkpoint.voided)
        run.journaled_system = dict(checkpoint.journaled_system)
        run.population = checkpoint.population
        run.termination_effective_on = checkpoint.termination_effective_on
        run.head_seq, run.last_user = checkpoint.head_seq, checkpoint.last_user
        return run

    # ------------------------------------------------------------------------------------------ driver
    def run(self, with_payments: bool, *, keep_checkpoint: bool) -> Projection:
        for entry in self.user_entries:
            self._fire_timers(before=entry.at)
            self._apply(entry)
        return self.finish(with_payments, keep_checkpoint=keep_checkpoint)

    def finish(self, with_payments: bool, *, keep_checkpoint: bool) -> Projection:
        """Keep the checkpoint at the last user event, then fire the timers due before today and freeze."""
        if keep_checkpoint:
            self.checkpoint = self._checkpoint()
        self._fire_timers(before=self.today)
        payments = self.schedule_payments(self.accepted) if with_payments else None
        return self.projection(tuple(self.freeze(i, d) for i, d in enumerate(self.deadlines)), payments)

    def freeze(self, index: int, deadline: OpenDeadline) -> Deadline:
        """`deadline` (the `index`-th) frozen as of today, reusing its last frozen form when nothing of it can
        have changed. The replay only appends deadlines, and changes one only while it is open (completes,
        cancels or closes it; a resume works on copies of the open ones): a closed deadline's frozen form is
        final, and an open one's changes only with its status as of the day."""
        known = self.frozen.get(index)
        if known is not None:
            before, frozen = known
            if before is deadline and not deadline.is_open:
                return frozen
            if (deadline.is_open and frozen.met_on is None and frozen.closed_on is None
                    and frozen.explanation is deadline.explanation and frozen.key == deadline.key
                    and frozen.note == deadline.note and frozen.status == deadline.status(self.today)):
                return frozen
        frozen = deadline.freeze(self.today)
        self.frozen[index] = (deadline, frozen)
        return frozen

    def projection(self, deadlines: tuple[Deadline, ...], payments: PaymentSchedule | None) -> Projection:
        """The replay's state as a Projection as of `today`, with its deadlines already frozen for that day."""
        return Projection(
            state=self.model.state,
            history=tuple(self.history),
            deadlines=deadlines,
            due_system_events=tuple(self.due_system),
            superseded=tuple(sorted(e.seq for e in self.journaled_system.values())),
            rejected=tuple(self.rejected),
            accepted=tuple(self.accepted),
            voided=dict(self.voided),
            population=self.population,
            contract_signed_on=self.facts.contract_signed_on,
            contract_missions=self.facts.contract_missions,
            termination_effective_on=self.termination_effective_on,
            payments=payments,
            today=self.today,
        )

    def _checkpoint(self) -> Checkpoint:
        return Checkpoint(
            head_seq=self.head_seq, last_user=self.last_user, departement=self.departement,
            base_population=self.base_population, ruleset_id=self.rules.id, state=self.model.state,
            facts=_copy_facts(self.facts), deadlines=tuple(copy.copy(d) if d.is_open else d for d in self.deadlines),
            history=tuple(self.history), due_system=tuple(self.due_system), rejected=tuple(self.rejected),
            accepted=tuple(self.accepted), recorded_payments=dict(self.recorded_payments),
            voided=dict(self.voided), journaled_system=dict(self.journaled_system), population=self.population,
            termination_effective_on=self.termination_effective_on, drafting=self.drafting,
            terms_accepted=tuple(self.terms_accepted), idents=frozenset(self.idents), frozen=self.frozen,
        )

    def _apply(self, entry: JournalEntry) -> None:
        data = dict(entry.data)
        prepare = handlers.BEFORE_FIRING.get(entry.type)
        if prepare is not None:
            prepare(self, entry.at, data)
        if self.check is not None and entry.seq == self.check.seq:
            self.facts.overlaps = self.check.overlaps
        try:
            source, dest = fire(self.model, entry.type, entry.at, data)
        except WindowClosed as exc:  # the refusal already says which window closed, and when
            self.rejected.append(Rejection(entry.seq, entry.at, entry.type, str(exc)))
            return
        except TransitionRejected as exc:
            self.rejected.append(Rejection(entry.seq, entry.at, entry.type, str(exc) + self._closed_hint(entry.type)))
            return
        finally:
            outstanding, self.facts.outstanding = self.facts.outstanding, None
            self.facts.overlaps = None
        reopened = self._reopened(entry.type, entry.at, data)
        if reopened:
            restore(self.model, source)
            self.rejected.append(Rejection(entry.seq, entry.at, entry.type,
                                           f"{entry.type} rejected in state {source}: {reopened}"))
            return
        self.accepted.append(entry)
        if entry.type in TERMS_EVENTS:
            self.terms_accepted.append(entry)
        if entry.type in RECORDED_PAYMENT_EVENTS:
            # A refund received without an amount settles the whole refund still owed.
            amount = recorded_amount(entry)
            if amount is None:
                amount = outstanding.owed if outstanding is not None else Decimal("0.00")
            key = recorded_payment_key(entry)
            self.recorded_payments[key] = self.recorded_payments.get(key, Decimal("0.00")) + amount
        self.history.append(HistoryItem(entry.at, entry.type, source, dest, entry.seq))
        self._after(entry.type, entry.at, data, entry.seq)

    def _reopened(self, event: str, at: date, data: dict[str, Any]) -> str | None:
        """Why an accepted event cannot take effect: a deadline it anchors was already counted from that day
        (one identity per deadline: its key and anchor date), e.g. a project resubmitted on the day of the
        earlier receipt. None when it can."""
        for rule in _anchored_on(self.rules).get(event, ()):
            if f"{rule.key}:{at.isoformat()}" in self.idents and self._applies(rule, data):
                return (f"a {rule.key} deadline was already counted from {at.isoformat()}; the same deadline "
                        "cannot be counted twice from one day: record this event on the day after, or void the "
                        "earlier one")
        return None

    def _closed_hint(self, event: str) -> str:
        """When an act comes after the window it belonged to has elapsed, say so (and when)."""
        for d in reversed(self.deadlines):
            if d.closed_as == ELAPSED and event in d.rule.completed_by:
                follow = f", then {d.rule.event} took effect" if d.rule.event else ""
                return f" (the {d.key} window closed on {d.due.isoformat()}{follow})"
        return ""

    def _fire_timers(self, before: date) -> None:
        """Close every window whose last day is before `before`, in date order, firing system events."""
        while True:
            # A window fires on its due date at the earliest (`_fire_day`): the others are skipped at once.
            ready = [d for d in self._open() if d.due < before and d.rule.at_expiry != "breach"
                     and self._fire_day(d) < before]
            if not ready:
                return
            deadline = min(ready, key=lambda d: (self._fire_day(d), d.due))
            deadline.closed_as, deadline.closed_on = ELAPSED, deadline.due
            self.facts.open_windows.pop(deadline.rule.key, None)
            self.facts.closed_windows[deadline.rule.key] = deadline.due
            if deadline.rule.event:
                self._system_event(deadline.rule.event, deadline.due, deadline)

    def _open(self) -> list[OpenDeadline]:
        """The open deadlines, in opening order (a snapshot: closing one while going through it is safe)."""
        # `is_open`, inlined: this runs several times per event.
        live = self.maybe_open = [d for d in self.maybe_open if d.completed_on is None and d.closed_as is None]
        return live

    def _fire_day(self, deadline: OpenDeadline) -> date:
        # A funders' termination cannot take effect while the CPTS may still refer it to the CPL: when the
        # referral window rolled past the effective date, the effect waits for the window (interpretation).
        if deadline.rule.key == "termination_effective":
            window = self.facts.open_windows.get("termination_cpl_window")
            if window is not None:
                return max(deadline.due, window)
        return deadline.due

    def _system_event(self, event_type: str, at: date, deadline: OpenDeadline) -> None:
        journaled = self.journaled_system.pop((event_type, at), None)
        try:
            source, dest = fire(self.model, event_type, at, {})
        except TransitionRejected as exc:
            self.rejected.append(Rejection(journaled.seq if journaled else None, at, event_type, str(exc)))
            return
        seq = journaled.seq if journaled else None
        if journaled is None:
            self.due_system.append(SystemEvent(event_type, at, deadline.ident))
        else:
            self.accepted.append(journaled)
            if journaled.type in TERMS_EVENTS:
                self.terms_accepted.append(journaled)
        self.history.append(HistoryItem(at, event_type, source, dest, seq))
        self._after(event_type, at, {}, seq)

    # ------------------------------------------------------------------------------------------ effects
    def _after(self, event: str, at: date, data: dict[str, Any], seq: int | None) -> None:
        """The effects of an accepted event, in the order lifecycle.handlers describes."""
        closing, anchoring = _deadline_events(self.rules)
        if event in closing:  # else no deadline of the case can be completed or cancelled by it: no scan
            self._complete(event, at, data, seq)
            self._cancel(event, at)
        update_facts = handlers.ON_ACCEPTED.get(event)
        if update_facts is not None:
            update_facts(self, at, data)
        if event in anchoring:
            self._open_anchored(event, at, data)
        open_more = handlers.OPENS.get(event)
        if open_more is not None:
            open_more(self, at, data)

    def _complete(self, event: str, at: date, data: dict[str, Any], seq: int | None) -> None:
        for d in self._open():
            if event in d.rule.completed_by and d.is_open and self._matches(d, at, data):
                d.completed_on, d.completed_by_seq = at, seq
                self.facts.open_windows.pop(d.rule.key, None)

    def _matches(self, d: OpenDeadline, at: date, data: dict[str, Any]) -> bool:
        """Whether an event of the rule's `completed_by` completes this instance of it."""
        if d.rule.mission is not None:
            return data.get("mission") == d.rule.mission
        matcher = handlers.COMPLETES.get(d.rule.key)
        return matcher is None or matcher(self, d, at, data)

    def _cancel(self, event: str, at: date) -> None:
        for d in self._open():
            # A breached deadline stays breached; a window still open (not yet fired, e.g. an effect waiting
            # for the CPL referral window) is cancelled even if its own date has passed.
            if event in d.rule.cancelled_by and d.is_open and (d.due >= at or d.rule.at_expiry != "breach"):
                d.closed_as, d.closed_on = CANCELLED, at
                d.note = f"cancelled by {event} on {at.isoformat()}"
                self.facts.open_windows.pop(d.rule.key, None)

    def _open_anchored(self, event: str, at: date, data: dict[str, Any]) -> None:
        """Open the deadlines the ruleset anchors on `event` (those of missions outside the contract aside)."""
        for rule in _anchored_on(self.rules.version_on(at)).get(event, ()):
            in_contract = rule.mission is None or (rule.mission in self.facts.contract_missions
                                                   and rule.mission not in self.facts.mission_from)
            if self._applies(rule, data) and in_contract:
                self.open_deadline(rule, event, self.compute_due(rule, at, event))

    def _applies(self, rule: DeadlineRule, data: dict[str, Any]) -> bool:
        return all(data.get(k) == v for k, v in rule.only_if.items())

    # ------------------------------------------------------------------------------------------ for handlers
    def compute_due(self, rule: DeadlineRule, anchor: date, anchor_label: str) -> DateExplanation:
        """The due date of `rule` counted from `anchor` on the seat's calendar, with its explanation."""
        return self.calendar.add(anchor, rule.period, kind=rule.kind, before=rule.before, franc=rule.franc,
                                 source=rule.source, anchor_label=anchor_label)

    def open_deadline(self, rule: DeadlineRule, anchor_event: str, explanation: DateExplanation,
                      *, year: int | None = None, note: str = "") -> OpenDeadline:
        """Open an instance of `rule` due on `explanation.due`; a window (not a breach) also opens for guards."""
        key = f"{rule.key}.{year}" if year else rule.key
        deadline = OpenDeadline(rule, key, anchor_event, explanation, year=year, note=note)
        if deadline.ident in self.idents:
            raise DuplicateDeadline(f"{anchor_event} on {explanation.anchor.isoformat()} would open the deadline "
                                    f"{deadline.ident} a second time; void the earlier event that opened it, or "
                                    "record this one on another day")
        self.idents.add(deadline.ident)
        self.deadlines.append(deadline)
        self.maybe_open.append(deadline)
        if rule.at_expiry != "breach":
            self.facts.open_windows[rule.key] = deadline.due
        return deadline

    def _drafting(self, termination: date | None) -> Drafting | None:
        """The drafting of the contract of the events accepted so far, ending at `termination` (None before the
        signature). Its lines change only with the terms and the termination: kept while those stay, so that
        the payment guard and the échéancier draft them once."""
        terms = (len(self.terms_accepted), termination)
        if self.drafting is None or self.drafting[0] != terms:
            # The accepted entries that change no term (payments, most of a contract's) change no line either.
            self.drafting = (terms, contract_drafting(self.terms_accepted, self.rules,
                                                      population=self.base_population,
                                                      termination_effective=termination, calendar=self.calendar))
        return self.drafting[1]

    def contract_lines(self, termination: date | None) -> ContractLines | None:
        """The lines of the contract of the events accepted so far, ending at `termination` (None before the
        signature)."""
        drafting = self._drafting(termination)
        return None if drafting is None else drafting.lines()

    def outstanding(self, key: tuple[str, int]) -> Outstanding:
        """What the échéancier of the events accepted so far still owes on the line(s) of (component, year):
        drafted alone (`Drafting.outstanding`)."""
        drafting = self._drafting(self.termination_effective_on)
        if drafting is None:
            return outstanding(None, key, self.recorded_payments)
        return drafting.outstanding(key, self.recorded_payments)

    def schedule_payments(self, entries: Sequence[JournalEntry],
                         termination: date | None = None) -> PaymentSchedule | None:
        """The échéancier of `entries` (None before the contract, unless the lettre d'intention's validation
        brought a payment: ACI avenant 2), ending at `termination` if given."""
        if self.facts.contract_signed_on is None and (self.model.state in _BEFORE_LOI
                                                      or self.contract_lines(None) is None):
            return None
        # The case's population; contract_signed's own population (if any) wins inside payment_schedule.
        # `entries` are always the accepted ones, whose recorded payments the replay keeps counted.
        end = termination or self.termination_effective_on
        if entries is self.accepted or entries == self.accepted:  # the lines the payment guard drafted
            lines = self.contract_lines(end)
            if lines is not None:
                return lines.schedule(self.recorded_payments, self.today)
        return payment_schedule(entries, self.rules, self.today, population=self.base_population,
                                termination_effective=end, calendar=self.calendar, recorded=self.recorded_payments)


# States in which no lettre d'intention was validated yet: no payment can be due.
_BEFORE_LOI = frozenset({"prospect", "accompanied", "loi_submitted"})

_ANCHORED: dict[int, tuple[Ruleset, dict[str, tuple[DeadlineRule, ...]]]] = {}


def _anchored_on(rules: Ruleset) -> dict[str, tuple[DeadlineRule, ...]]:
    """The ruleset's deadline rules by the event they are anchored on (computed once per ruleset)."""
    cached = _ANCHORED.get(id(rules))
    if cached is None or cached[0] is not rules:
        by_event: dict[str, list[DeadlineRule]] = {}
        for rule in rules.deadlines.values():
            for anchor in rule.anchors:
                by_event.setdefault(anchor, []).append(rule)
        cached = (rules, {event: tuple(found) for event, found in by_event.items()})
        _ANCHORED[id(rules)] = cached
    return cached[1]


_DEADLINE_EVENTS: dict[int, tuple[Ruleset, frozenset[str], frozenset[str]]] = {}


def _deadline_events(rules: Ruleset) -> tuple[frozenset[str], frozenset[str]]:
    """The events that complete or cancel a deadline, and those a deadline is anchored on, under any version of
    the ruleset (computed once per ruleset). Every deadline a replay opens has a rule of one of those versions,
    as is or with its source and marks changed (lifecycle.handlers): a payment, say, needs no scan of the open
    deadlines and opens none (most of a contract's events)."""
    cached = _DEADLINE_EVENTS.get(id(rules))
    if cached is None or cached[0] is not rules:
        versions = rules.versions or (rules,)
        every = [rule for version in versions for rule in version.deadlines.values()]
        cached = (rules, frozenset(e for rule in every for e in (*rule.completed_by, *rule.cancelled_by)),
                  frozenset(e for rule in every for e in rule.anchors))
        _DEADLINE_EVENTS[id(rules)] = cached
    return cached[1], cached[2]


def _copy_facts(facts: CaseFacts) -> CaseFacts:
    """A copy of the facts whose containers (and the referral in progress) can be changed independently."""
    return dataclasses.replace(
        facts, loi_approvals=set(facts.loi_approvals), started=dict(facts.started), deployed=dict(facts.deployed),
        referral=copy.copy(facts.referral), open_windows=dict(facts.open_windows),
        closed_windows=dict(facts.closed_windows),
        overlaps=list(facts.overlaps) if facts.overlaps is not None else None,
    )
