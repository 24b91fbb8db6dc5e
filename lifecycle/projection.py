"""The projection: a pure function (journal, ruleset, today) → state, deadlines, due system events, payments.

The journal is replayed in business-date order; timers fire on the virtual calendar between events, so a
backdated or voided event simply changes what the replay sees (ARCHITECTURE: a case is its journal).
System events already written by the sweep are matched to the timers that produce them; one that no timer
produces any more (e.g. a tacit validation after a backdated opposition) is reported as superseded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from lifecycle.calendar import DateExplanation, LegalCalendar, add_months
from lifecycle.deadlines import CANCELLED, ELAPSED, Deadline, OpenDeadline
from lifecycle.errors import TransitionRejected
from lifecycle.events import DOCUMENTS, JournalEntry
from lifecycle.machine import CaseFacts, LifecycleModel, Referral, attached, fire
from lifecycle.payments import PaymentSchedule, payment_schedule
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
    return _Replay(journal, rules, today, departement, population, check).run(with_payments)


class _Replay:
    def __init__(self, journal: Sequence[JournalEntry], rules: Ruleset, today: date, departement: str,
                 population: int, check: NewEventCheck | None) -> None:
        self.rules, self.today, self.check = rules, today, check
        self.calendar = LegalCalendar(departement)
        self.base_population = population  # the case's territory (declared or communes' sum)
        self.population = population  # as amended by the contract and its avenants
        self.facts = CaseFacts(required_documents=DOCUMENTS, optional_missions=rules.optional_missions)
        self.model = LifecycleModel(self.facts)
        self.deadlines: list[OpenDeadline] = []
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

    # ------------------------------------------------------------------------------------------ driver
    def run(self, with_payments: bool = True) -> Projection:
        with attached(self.model):
            for entry in self.user_entries:
                self._fire_timers(before=entry.at)
                self._apply(entry)
            self._fire_timers(before=self.today)
            state = self.model.state
        superseded = tuple(sorted(e.seq for e in self.journaled_system.values()))
        payments = self._payments(self.accepted) if with_payments else None
        deadlines = tuple(d.freeze(self.today) for d in self.deadlines)
        return Projection(
            state=state,
            history=tuple(self.history),
            deadlines=deadlines,
            due_system_events=tuple(self.due_system),
            superseded=superseded,
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

    def _apply(self, entry: JournalEntry) -> None:
        data = dict(entry.data)
        if entry.type == "contract_signed":
            self.facts.accord_in_force = self.rules.accord_in_force(entry.at)
        if self.check is not None and entry.seq == self.check.seq:
            self.facts.overlaps = self.check.overlaps
        try:
            source, dest = fire(self.model, entry.type, entry.at, data)
        except TransitionRejected as exc:
            message = str(exc)
            if "closed on" not in message:
                message += self._closed_hint(entry.type)
            self.rejected.append(Rejection(entry.seq, entry.at, entry.type, message))
            return
        finally:
            self.facts.overlaps = None
        self.accepted.append(entry)
        self.history.append(HistoryItem(entry.at, entry.type, source, dest, entry.seq))
        self._after(entry.type, entry.at, data, entry.seq)

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
            ready = [d for d in self.deadlines if d.is_open and d.rule.at_expiry != "breach"
                     and self._fire_day(d) < before]
            if not ready:
                return
            deadline = min(ready, key=lambda d: (self._fire_day(d), d.due))
            deadline.closed_as, deadline.closed_on = ELAPSED, deadline.due
            self.facts.open_windows.pop(deadline.rule.key, None)
            self.facts.closed_windows[deadline.rule.key] = deadline.due
            if deadline.rule.event:
                self._system_event(deadline.rule.event, deadline.due, deadline)

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
        self.history.append(HistoryItem(at, event_type, source, dest, seq))
        self._after(event_type, at, {}, seq)

    # ------------------------------------------------------------------------------------------ effects
    def _after(self, event: str, at: date, data: dict[str, Any], seq: int | None) -> None:
        self._complete(event, at, data, seq)
        self._cancel(event, at)
        self._update_facts(event, at, data)
        self._open_deadlines(event, at, data)

    def _complete(self, event: str, at: date, data: dict[str, Any], seq: int | None) -> None:
        for d in self.deadlines:
            if d.is_open and event in d.rule.completed_by and self._matches(d, event, at, data):
                d.completed_on, d.completed_by_seq = at, seq
                self.facts.open_windows.pop(d.rule.key, None)

    def _matches(self, d: OpenDeadline, event: str, at: date, data: dict[str, Any]) -> bool:
        if d.rule.mission is not None:
            return data.get("mission") == d.rule.mission
        if d.rule.key == "annual_review":
            return data.get("year") == d.year
        if d.rule.key == "members_update":
            if "year" in data:
                return data["year"] == d.year
            begins = self.facts.anniversaries[d.year - 1] if d.year else None
            return begins is not None and begins <= at <= d.due
        return True

    def _cancel(self, event: str, at: date) -> None:
        for d in self.deadlines:
            # A breached deadline stays breached; a window still open (not yet fired, e.g. an effect waiting
            # for the CPL referral window) is cancelled even if its own date has passed.
            still_relevant = d.due >= at or d.rule.at_expiry != "breach"
            if d.is_open and event in d.rule.cancelled_by and still_relevant:
                d.closed_as, d.closed_on = CANCELLED, at
                d.note = f"cancelled by {event} on {at.isoformat()}"
                self.facts.open_windows.pop(d.rule.key, None)

    def _update_facts(self, event: str, at: date, data: dict[str, Any]) -> None:
        f = self.facts
        if event == "loi_submitted":
            f.loi_approvals = set()
        elif event == "loi_decision":
            if data["decision"] == "approve":
                f.loi_approvals.add(data["party"])
            else:
                f.loi_approvals = set()
        elif event == "fir_granted":
            f.fir_granted = True
        elif event == "adhesion_requested":
            f.documents = tuple(data["documents"])
        elif event == "contract_refusal_received":
            f.referral = None
        elif event == "contract_signed":
            f.contract_signed_on = at
            f.anniversaries = tuple(add_months(at, 12 * k) for k in range(self.rules.contract_years + 1))
            f.contract_missions = (*self.rules.socle_missions, *data.get("missions", []))
            if data.get("population") is not None:
                self.population = data["population"]
        elif event == "mission_started":
            f.started[data["mission"]] = at
        elif event == "mission_deployed":
            f.deployed[data["mission"]] = at
        elif event == "avenant_signed":
            kept = [m for m in f.contract_missions if m not in data.get("drop_missions", [])]
            f.contract_missions = (*kept, *data.get("add_missions", []))
            if data.get("population") is not None:
                self.population = data["population"]
        elif event == "termination_notice_received":
            f.termination_initiator = data["initiator"]
        elif event == "cpl_referral_received":
            f.referral = Referral(subject=data["subject"], received=at)
        elif event == "cpl_meeting_scheduled" and f.referral:
            f.referral.meeting_date = date.fromisoformat(data["date"])
        elif event == "cpl_meeting_held" and f.referral:
            f.referral.held_on = at
        elif event == "cpl_opinion_notified" and f.referral:
            f.referral.opinion = data["opinion"]
        elif event == "cpl_opinion_deemed" and f.referral:
            f.referral.opinion = "deemed"
        elif event == "funders_decision_notified" and f.referral:
            f.referral.decided = True
        elif event == "termination_effective":
            self.termination_effective_on = at

    def _open_deadlines(self, event: str, at: date, data: dict[str, Any]) -> None:
        for rule in self.rules.deadlines.values():
            in_contract = rule.mission is None or rule.mission in self.facts.contract_missions
            if event in rule.anchors and self._applies(rule, data) and in_contract:
                self._open(rule, event, self._compute(rule, at, event))
        if event == "contract_signed":
            for rule in self.rules.deadlines.values():
                if rule.per_contract_year:
                    for year in range(1, self.rules.contract_years + 1):
                        anniversary = self.facts.anniversaries[year]
                        label = f"anniversary {year} of the contract signed {at.isoformat()}"
                        self._open(rule, "anniversary", self._compute(rule, anniversary, label), year=year)
        elif event == "cpl_meeting_scheduled":
            meeting = date.fromisoformat(data["date"])
            for rule in self.rules.deadlines.values():
                if "cpl_meeting_date" in rule.anchors:
                    self._open(rule, "cpl_meeting_scheduled", self._compute(rule, meeting, "the CPL meeting"))
        elif event == "funders_decision_notified" and data["outcome"] == "maintained" \
                and self.model.state == "termination_pending":
            self._reopen_termination(at)
        elif event == "termination_effective":
            self._open_refund(at)

    def _applies(self, rule: DeadlineRule, data: dict[str, Any]) -> bool:
        return all(data.get(k) == v for k, v in rule.only_if.items())

    def _compute(self, rule: DeadlineRule, anchor: date, anchor_label: str) -> DateExplanation:
        return self.calendar.add(anchor, rule.period, kind=rule.kind, before=rule.before, franc=rule.franc,
                                 source=rule.source, anchor_label=anchor_label)

    def _open(self, rule: DeadlineRule, anchor_event: str, explanation: DateExplanation,
              *, year: int | None = None, note: str = "") -> OpenDeadline:
        key = f"{rule.key}.{year}" if year else rule.key
        deadline = OpenDeadline(rule, key, anchor_event, explanation, year=year, note=note)
        self.deadlines.append(deadline)
        if rule.at_expiry != "breach":
            self.facts.open_windows[rule.key] = deadline.due
        return deadline

    def _reopen_termination(self, decided_on: date) -> None:
        """SPEC §5 (interpretation): a maintained termination takes effect on the later of the original
        effective date and the notification of the funders' decision."""
        rule = self.rules.deadline("termination_effective")
        original = [d for d in self.deadlines if d.rule.key == "termination_effective"][-1]
        effective = max(original.due, decided_on)
        which = "the original effective date" if effective == original.due else "the decision's notification"
        explanation = self.calendar.fixed(effective, kind=rule.kind, source=f"{rule.source}, SPEC §5",
                                          anchor_label=f"{which} (later of {original.due.isoformat()} "
                                                       f"and {decided_on.isoformat()})")
        self._open(rule, "funders_decision_notified", explanation,
                   note="termination maintained after the CPL referral (interpretation)")

    def _open_refund(self, effective: date) -> None:
        schedule = self._payments([*self.accepted], termination=effective)
        if schedule is not None and schedule.refund_owed > 0:
            rule = self.rules.deadline("refund")
            self._open(rule, "termination_effective", self._compute(rule, effective, "the termination's effect"),
                       note=f"refund owed: {schedule.refund_owed} €")

    def _payments(self, entries: Sequence[JournalEntry], termination: date | None = None) -> PaymentSchedule | None:
        if self.facts.contract_signed_on is None:
            return None
        # The case's population; contract_signed's own population (if any) wins inside payment_schedule.
        return payment_schedule(entries, self.rules, self.today, population=self.base_population,
                                termination_effective=termination or self.termination_effective_on,
                                calendar=self.calendar)
