"""The fast simulator: the `SimulationResult` of `run_scenario`, computed without a database (issue 9).

`run_scenario` drives the use cases day by day on an in-memory SQLite database; this module performs the
same steps on plain values and gives the same result (tests/integration/test_simulation_batch.py compares
them). It visits only the days on which something can happen: the days of the scenario's events, and the
days the case's `wake_on` (workflows.persistence.projection_writer) says the sweep has work. On those days:

- the sweep (workflows.services.sweep.sweep_case): due timers are journaled, dated their window's last day,
  the notices `notices_due` owes are enqueued once per outbox key, and the case row (population, size,
  `wake_on`, deadline statuses) is written under the same condition;
- each event (workflows.services.cases._apply): `validate_data`, the future-date check, `_check_void`, then
  `_check_replay` on the projections before and after, with the same messages. Each `apply` rewrites the
  case row whole, and only the sweep of a later day reads it: the row is written once, as the day's last
  accepted event leaves it — at once only when an event changes the population, which the next event's
  replay starts from — and not recomputed after a day of payments only, which leave it as it is
  (`_Simulation.row_stands`).

Instead of replaying the whole journal for every projection (2 to 4 per visited day), one replay is kept
open and moved forward: the journal is replayed in business-date order, a scenario's events come in date
order, and firing the timers due before day D and then before a later day E is the same as firing those due
before E at once. A timer the sweep fires is journaled at the moment it fires, so the replay goes on as if
it had read the row the sweep wrote. Whatever does not fit that forward motion (a voiding, a refused event,
timers fired by an event's own replay, a population changed by the case row) is replayed afresh from the
journal, as production would.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from lifecycle import territory
from lifecycle.deadlines import Deadline, OpenDeadline
from lifecycle.errors import DomainError, EventRejected
from lifecycle.events import JournalEntry, check_evidence_not_after, parse_date, validate_data, validate_evidence
from lifecycle.projection import NewEventCheck, Projection, SystemEvent, _Replay, project
from lifecycle.reminders import notices_due
from lifecycle.ruleset import DEFAULT_RULESET, Ruleset, load_ruleset
from workflows.persistence.journal import canonical_json
from workflows.persistence.projection_writer import wake_on
from workflows.read.cases import SimulatedNotification
from workflows.services.cases import SYSTEM_ACTOR, _check_replay, _check_void
from workflows.simulation.runner import SIMULATION_ACTOR, Rejected, SimulationResult, virtual_now
from workflows.simulation.scenario import Scenario, ScenarioEvent

TimerJournal = Callable[[str, date, str], JournalEntry]


class _SweepingReplay(_Replay):
    """A replay whose timers, while `journal_timer` is set, are written to the journal as they fire.

    That is what the sweep does (it writes every due timer, then replays once more): the replay goes on with
    the event as journaled — its sequence number in the history, the entry among the accepted ones.
    """

    journal_timer: TimerJournal | None = None
    on_journaled: Callable[[JournalEntry], None] | None = None

    def _system_event(self, event_type: str, at: date, deadline: OpenDeadline) -> None:
        if self.journal_timer is None or (event_type, at) in self.journaled_system:
            super()._system_event(event_type, at, deadline)
            return
        entry = self.journal_timer(event_type, at, deadline.ident)
        self.journaled_system[(event_type, at)] = entry
        refused = len(self.rejected)
        super()._system_event(event_type, at, deadline)
        if len(self.rejected) > refused and self.rejected[-1].seq == entry.seq:
            # The machine refused it: the sweep never saw it as due, wrote nothing, and its replay says so.
            self.rejected[-1] = replace(self.rejected[-1], seq=None)
        elif self.on_journaled is not None:
            self.on_journaled(entry)


class LiveReplay:
    """A case's replay kept open across the simulated days: `advance` to a day, `record` an event, and read
    the `projection` a full replay of the same journal as of that day would give (lifecycle.projection).
    """

    def __init__(self, journal: Sequence[JournalEntry], rules: Ruleset, today: date, *, departement: str,
                 population: int, check: NewEventCheck | None = None) -> None:
        self.run = _SweepingReplay(journal, rules, today, departement, population, check)
        # The deadlines as last frozen (parallel to the replay's) and which of them were still open then.
        self._frozen: list[Deadline] = []
        self._open: list[int] = []
        try:
            for entry in self.run.user_entries:
                self.run._fire_timers(before=entry.at)
                self.run._apply(entry)
            self.run._fire_timers(before=today)
        finally:
            self.run.check = None

    @property
    def due_system(self) -> list[SystemEvent]:
        """Timers fired by the replay but not journaled (the sweep writes them)."""
        return self.run.due_system

    def advance(self, today: date, *, journal_timer: TimerJournal | None = None,
                on_journaled: Callable[[JournalEntry], None] | None = None) -> None:
        """Move to `today` (the same day or a later one), firing the timers due before it; with `journal_timer`,
        each one fired is journaled as it fires (`journal_timer` gives the entry, `on_journaled` is told when
        the machine accepted it)."""
        run = self.run
        if today < run.today:
            raise ValueError(f"the replay is at {run.today.isoformat()}: it cannot go back to {today.isoformat()}")
        if today == run.today:
            return  # the timers due before today have fired (at construction, or by the last advance or record)
        run.today = today
        run.journal_timer, run.on_journaled = journal_timer, on_journaled
        try:
            run._fire_timers(before=today)
        finally:
            run.journal_timer, run.on_journaled = None, None

    def record(self, entry: JournalEntry, check: NewEventCheck | None = None) -> None:
        """Replay one more user event, dated on the current day (the timers due before it have fired), then the
        timers it makes due before today (a deadline it opens may already be past)."""
        run = self.run
        if entry.at != run.today:
            raise ValueError(f"record {entry.type} of {entry.at.isoformat()} on its day: the replay is at "
                             f"{run.today.isoformat()}")
        run.check = check
        try:
            run._apply(entry)
            run._fire_timers(before=run.today)
        finally:
            run.check = None

    def projection(self, *, with_payments: bool = False) -> Projection:
        """The projection as of the current day (what `lifecycle.projection.project` returns for it)."""
        run = self.run
        payments = run.schedule_payments(run.accepted) if with_payments else None
        return run.projection(self._deadlines(run.today), payments)

    def open_deadlines(self) -> list[Deadline]:
        """The deadlines of the last `projection` that were open then (pending or breached), in order."""
        frozen = self._frozen
        return [frozen[i] for i in self._open]

    def _deadlines(self, today: date) -> tuple[Deadline, ...]:
        # The replay only appends deadlines, and changes a deadline only while it is open (completes, cancels
        # or closes it): a closed deadline's frozen form is final. So only the new deadlines and those open at
        # the last freeze are looked at; an open one is frozen again when its status (pending or breached as
        # of `today`, or closed since) changed: nothing else of it can have changed.
        deadlines, frozen, still_open = self.run.deadlines, self._frozen, []
        for i in self._open:
            deadline = deadlines[i]
            if deadline.status(today) != frozen[i].status:
                frozen[i] = deadline.freeze(today)
            if deadline.is_open:
                still_open.append(i)
        for i in range(len(frozen), len(deadlines)):
            frozen.append(deadlines[i].freeze(today))
            if deadlines[i].is_open:
                still_open.append(i)
        self._open = still_open
        return tuple(frozen)


@dataclass
class _CaseRow:
    """What the simulation keeps of the `cases` row and of the case's deadline rows (`write_projection`)."""

    name: str
    departement: str
    population: int
    size: int
    wake_on: date | None = None
    statuses: dict[str, str] = field(default_factory=dict)
    written_on: date | None = None  # the day of the last write


# Events whose acceptance leaves the case row as it was: no deadline is anchored on, completed or cancelled by
# them, the machine stays in its state, the population does not move (tests/integration/test_simulation_batch.py
# checks this against the machine, the handlers and every ruleset).
ROW_NEUTRAL_EVENTS = frozenset({"payment_recorded"})


class _Simulation:
    """One scenario's world: the case row, its journal, its outbox, and the live replay."""

    def __init__(self, scenario: Scenario, start: date) -> None:
        self.rules = load_ruleset(ruleset_id=DEFAULT_RULESET)
        self.case = _new_case(scenario, self.rules)
        self.journal: list[JournalEntry] = []
        self.outbox: set[tuple[str, date, str, int]] = set()
        self.notifications: list[tuple[date, int, SimulatedNotification]] = []
        self.rejected: list[Rejected] = []
        self.unsettled: list[JournalEntry] = []  # accepted since the case row was last settled
        self.live = self._replay(start)

    def _replay(self, today: date) -> LiveReplay:
        return LiveReplay(self.journal, self.rules, today, departement=self.case.departement,
                          population=self.case.population)

    def _rebuild(self, today: date) -> None:
        """Replay the journal afresh as of `today` (what production does for every projection)."""
        self.live = self._replay(today)

    # ----------------------------------------------------------------------------------------- the sweep
    def sweep(self, today: date) -> None:
        """`sweep_case` for one day: journal the due timers, enqueue the notices owed, refresh the row."""
        now = virtual_now(today)
        fired: list[JournalEntry] = []

        def timer_entry(event_type: str, at: date, deadline: str) -> JournalEntry:
            return JournalEntry(seq=len(self.journal) + 1, type=event_type, at=at, data={}, actor=SYSTEM_ACTOR,
                                evidence=f"timer {deadline}", recorded_at=now)

        def journaled(entry: JournalEntry) -> None:
            self.journal.append(entry)
            fired.append(entry)

        if self.live.due_system:
            # Timers an event's replay fired are due, unwritten: the sweep writes them with those firing now,
            # in firing order, then replays the journal once more.
            self.live.advance(today)
            for due in self.live.due_system:
                journaled(timer_entry(due.type, due.at, due.deadline))
            self._rebuild(today)
        else:
            self.live.advance(today, journal_timer=timer_entry, on_journaled=journaled)
        projection = self.live.projection()
        self._enqueue(projection, today)
        # Today's notices are now in the outbox: the next wake-up is for tomorrow's at the earliest.
        next_day = today + timedelta(days=1)
        old = self.case.statuses
        changed = bool(fired) or any(old.get(d.ident) != d.status for d in projection.deadlines)
        wake = wake_on(projection, self.rules, notices_from=next_day, open_deadlines=self.live.open_deadlines())
        if changed or self.case.wake_on != wake:
            self._write(projection, wake, today)

    def _enqueue(self, projection: Projection, today: date) -> None:
        """`enqueue_notices`: a notice whose outbox key (deadline, due date, kind, offset) is new is written."""
        for due in notices_due(projection, self.rules, today):
            d = due.deadline
            key = (d.ident, d.due, due.kind, due.offset_days)
            if key in self.outbox:
                continue
            self.outbox.add(key)
            self.notifications.append(
                (due.send_on, len(self.notifications), SimulatedNotification(d.key, due.kind, due.send_on, due.roles))
            )

    def _write(self, projection: Projection, wake: date | None, today: date) -> None:
        """`write_projection`: the row's population, size and wake-up, and the deadline rows' statuses."""
        case = self.case
        population_changed = projection.population != case.population
        case.population, case.size = projection.population, self.rules.size_for(projection.population)
        case.wake_on, case.written_on = wake, today
        case.statuses = {d.ident: d.status for d in projection.deadlines}
        if population_changed:
            # Every later projection starts from the row's population: replay with it.
            self._rebuild(today)

    # ----------------------------------------------------------------------------------------- an event
    def apply(self, today: date, event: ScenarioEvent) -> bool:
        """`apply` of one scenario event on its day; a DomainError is a rejection, and nothing is written.
        Whether it was accepted: the day's last write (`settle`) then writes the case row, as the last `apply`
        of the day left it in production (each one rewrites it whole). Only a changed population is written at
        once: the next event's replay starts from it."""
        try:
            entry = self._try(today, event)
        except DomainError as exc:
            self.rejected.append(Rejected(event.at, event.type, str(exc)))
            return False
        self.journal.append(entry)
        self.unsettled.append(entry)
        if self.live.run.population != self.case.population:
            self.settle(today)
        return True

    def settle(self, today: date) -> None:
        """The case row as the day's last accepted event wrote it (`apply`'s `write_projection`): the replay
        is at the journal as it stands, whatever was refused after that event. Not computed when it would
        write what the row holds (`row_stands`)."""
        stands = self.row_stands(today)
        self.unsettled.clear()
        if not stands:
            self._write(*self.settled_row(today), today)

    def settled_row(self, today: date) -> tuple[Projection, date | None]:
        """The projection and the wake-up `settle` writes on `today`."""
        after = self.live.projection()
        return after, wake_on(after, self.rules, notices_from=today, open_deadlines=self.live.open_deadlines())

    def row_stands(self, today: date) -> bool:
        """Whether the row already holds what settling would write: the events accepted since the last settle
        are row-neutral (`ROW_NEUTRAL_EVENTS`) and dated on this day (so were those of any settle since the last
        write, which kept the row), and the row was written on an earlier day with a wake-up after this one.

        Then nothing the row is computed from has moved: no deadline opened, closed or changed status (one due
        before today would have woken the case on the day after its due date, at the latest), no timer fired
        (it would have woken the case on its day), no notice falls between the last write and today (the
        wake-up is the first of them), and events dated today change no breach notice's day (those count the
        recording of events dated up to a past due date, lifecycle.reminders)."""
        case = self.case
        return (case.written_on is not None and case.written_on < today
                and (case.wake_on is None or case.wake_on > today)
                and not self.live.due_system
                and all(entry.type in ROW_NEUTRAL_EVENTS and entry.at == today for entry in self.unsettled))

    def _try(self, today: date, event: ScenarioEvent) -> JournalEntry:
        data = validate_data(event.type, event.data, allow_system=False)
        at = parse_date(event.at, "event date")
        evidence = validate_evidence(event.evidence, event_type=event.type, at=at)
        if at > today:
            raise EventRejected(f"{event.type} dated {at.isoformat()} is in the future (today is "
                                f"{today.isoformat()} at the seat): record events on or after the day they happen")
        check_evidence_not_after(evidence, today)
        if event.type == "event_voided":
            _check_void(self.journal, data["seq"])
        seq, recorded_at = len(self.journal) + 1, virtual_now(today)
        # The entry as the journal gives it back to later replays (canonical JSON, keys sorted).
        stored = JournalEntry(seq=seq, type=event.type, at=at, data=_as_journaled(data),
                              actor=SIMULATION_ACTOR, evidence=evidence, recorded_at=recorded_at)

        def new_entry() -> JournalEntry:  # the entry as `apply` checks it (its data as given)
            return replace(stored, data=data)

        # The only case in the simulated database: no other CPTS can overlap its territory.
        check = NewEventCheck(seq, []) if event.type == "health_project_validated" else None
        if event.type == "event_voided" or at != today:
            # Not a step forward (a voiding rewrites the past): replay the journal with the entry, as production.
            self.live.advance(today)
            before = self.live.projection()
            candidate = LiveReplay([*self.journal, stored], self.rules, today, departement=self.case.departement,
                                   population=self.case.population, check=check)
            _check_replay(before, candidate.projection(), new_entry())
            self.live = candidate
            return stored
        try:
            self.live.advance(today)  # the journal as it stands, as of today: production's `before`
            refusals = len(self.live.run.rejected)
            self.live.record(stored, check)
            if len(self.live.run.rejected) > refusals:
                # Something was refused (the event, or a timer after it): production's comparison needs the
                # projection before the event, which the replay has gone past: replay the journal for it.
                before = project(self.journal, self.rules, today, departement=self.case.departement,
                                 population=self.case.population, with_payments=False)
                _check_replay(before, self.live.projection(), new_entry())
            # Otherwise the refusals are those of before the event, and _check_replay has nothing to find.
        except DomainError:
            self._rebuild(today)  # the replay went on with the refused event: back to the journal as it is
            raise
        return stored

    # ----------------------------------------------------------------------------------------- the end
    def result(self, until: date) -> SimulationResult:
        """`case_view` as of `until` and `case_notifications`, as `run_scenario` assembles them."""
        self.live.advance(until)
        view = self.live.projection(with_payments=True)
        notifications = [n for _, _, n in sorted(self.notifications, key=lambda item: (item[0], item[1]))]
        return SimulationResult(
            name=self.case.name, state=view.state, population=self.case.population, size=self.case.size,
            history=view.history, deadlines=view.deadlines,
            payments=view.payments.lines if view.payments is not None else (),
            notifications=tuple(notifications), rejected=tuple(self.rejected),
        )


def _as_journaled(data: dict[str, Any]) -> dict[str, Any]:
    """Event data as the journal gives it back: its canonical JSON read again. A flat mapping of texts,
    integers, booleans and nulls reads back as itself with its keys sorted; anything else goes through JSON."""
    for value in data.values():
        if type(value) not in _FLAT_JSON:
            return json.loads(canonical_json(data))
    return dict(sorted(data.items()))


_FLAT_JSON = frozenset({str, int, bool, type(None)})


def _new_case(scenario: Scenario, rules: Ruleset) -> _CaseRow:
    """The case row `create_case` registers for the scenario, or the DomainError it raises (same checks)."""
    name = scenario.name.strip()
    if not name:
        raise EventRejected("a case needs a name, e.g. --name \"CPTS du Pays Messin\"")
    departement = territory.departement(scenario.seat_departement).code
    territory.region_of(departement)
    codes = [c.code for c in territory.communes(scenario.communes)] if scenario.communes else []
    if not codes and scenario.population is None:
        raise EventRejected("a case needs a territory: --communes INSEE… or --population N")
    summary = territory.summarise(codes, declared_population=scenario.population, ruleset=rules)
    return _CaseRow(name, departement, summary.population, summary.size)


def simulate(scenario: Scenario) -> SimulationResult:
    """The scenario's outcome, equal to `run_scenario(scenario)`, computed without a database."""
    start = scenario.events[0].at if scenario.events else scenario.until
    by_day: dict[date, list[ScenarioEvent]] = {}
    for event in scenario.events:
        by_day.setdefault(event.at, []).append(event)
    event_days = sorted(by_day)
    world = _Simulation(scenario, start)
    day, next_event = start, 0
    while True:
        # The next day anything happens: an event, or the case's wake-up (the sweep skips it before).
        candidates = [event_days[next_event]] if next_event < len(event_days) else []
        if world.case.wake_on is not None:
            candidates.append(max(world.case.wake_on, day))
        if not candidates or min(candidates) > scenario.until:
            break
        day = min(candidates)
        if world.case.wake_on is not None and world.case.wake_on <= day:
            world.sweep(day)
        if next_event < len(event_days) and event_days[next_event] == day:
            accepted = [world.apply(day, event) for event in by_day[day]]
            if any(accepted):
                world.settle(day)
            next_event += 1
        day += timedelta(days=1)
    return world.result(scenario.until)
