"""`cpts simulate`: replay a scenario on a virtual clock, day by day, with the production engine (SPEC §11).

The world is an in-memory SQLite database migrated like production; each virtual day the sweep runs first
(timers whose last day has passed fire, breaches are marked, notifications are enqueued), then the day's
events are recorded through `workflows.services.apply`. Nothing here reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from lifecycle.deadlines import Deadline
from lifecycle.errors import DomainError
from lifecycle.payments import PaymentLine
from lifecycle.projection import HistoryItem
from workflows.persistence.db import make_engine, migrate
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import SimulatedNotification, case_notifications, case_view
from workflows.services import NewEvent, apply, create_case, sweep
from workflows.simulation.scenario import Scenario

SIMULATION_ACTOR = "scenario"
IN_MEMORY_DATABASE = "sqlite://"


@dataclass(frozen=True)
class Rejected:
    """A scenario event the engine refused, and why."""

    at: date
    type: str
    error: str


@dataclass(frozen=True)
class SimulationResult:
    """The outcome of a scenario as of its `until` day (SPEC §11's result object, as typed data).

    Attributes:
        name, state, population, size: the case at the end.
        history, deadlines, payments: as the projection has them on `until`.
        notifications: every notification the sweeps enqueued, in order.
        rejected: scenario events the engine refused, with the reason.
    """

    name: str
    state: str
    population: int
    size: int
    history: tuple[HistoryItem, ...]
    deadlines: tuple[Deadline, ...]
    payments: tuple[PaymentLine, ...]
    notifications: tuple[SimulatedNotification, ...]
    rejected: tuple[Rejected, ...]

    def as_dict(self) -> dict[str, Any]:
        """The SPEC §11 JSON object."""
        return {
            "name": self.name,
            "state": self.state,
            "population": self.population,
            "size": self.size,
            "history": [{"at": h.at.isoformat(), "event": h.event, "from": h.source, "to": h.dest}
                        for h in self.history],
            # A date or an amount computed from a ruleset row not checked against the signed text (ACI avenant 2)
            # carries "to_confirm": its source; the others keep the SPEC §11 keys only.
            "deadlines": [{"key": d.key, "due": d.due.isoformat(), "status": d.status,
                           "met_on": d.met_on.isoformat() if d.met_on else None,
                           **({} if d.verified else {"to_confirm": d.source})} for d in self.deadlines],
            "payments": [{"component": p.component, "year": p.year, "due": p.due.isoformat(),
                          "amount": None if p.amount is None else str(p.amount), "status": p.status,
                          **({} if p.origin is None or p.verified else {"to_confirm": p.origin.source})}
                         for p in self.payments],
            "notifications": [n.as_dict() for n in self.notifications],
            "rejected": [{"at": r.at.isoformat(), "type": r.type, "error": r.error} for r in self.rejected],
        }


@lru_cache(maxsize=1024)  # asked for every event of a simulated day
def virtual_now(day: date) -> datetime:
    """The instant the virtual clock records for a day's acts (midday UTC: the same day everywhere we serve)."""
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def run_scenario(
    scenario: Scenario,
    *,
    uow: SqlUnitOfWork | None = None,
    on_day: Callable[[SqlUnitOfWork, int, date], None] | None = None,
) -> SimulationResult:
    """Run the scenario on a fresh in-memory database (or `uow`'s) and return its outcome."""
    if uow is None:
        uow = SqlUnitOfWork(make_engine(IN_MEMORY_DATABASE))
    migrate(uow.engine)
    start = scenario.events[0].at if scenario.events else scenario.until
    case = create_case(uow, name=scenario.name, departement=scenario.seat_departement,
                       communes=scenario.communes, population=scenario.population, now=virtual_now(start))
    rejected: list[Rejected] = []
    by_day: dict[date, list[Any]] = {}
    for event in scenario.events:
        by_day.setdefault(event.at, []).append(event)
    day = start
    while day <= scenario.until:
        sweep(uow, today=day, now=virtual_now(day), case_ids=[case.id])
        if on_day is not None:
            on_day(uow, case.id, day)
        for event in by_day.get(day, []):
            try:
                apply(uow, case.id, NewEvent(event.type, event.at, event.data, event.evidence), SIMULATION_ACTOR,
                      today=day, now=virtual_now(day))
            except DomainError as exc:
                rejected.append(Rejected(event.at, event.type, str(exc)))
        day += timedelta(days=1)
    view = case_view(uow, case.id, today=scenario.until)
    return SimulationResult(
        name=view.summary.name, state=view.state, population=view.summary.population, size=view.summary.size,
        history=view.history, deadlines=view.deadlines, payments=view.payments or (),
        notifications=tuple(case_notifications(uow, case.id)), rejected=tuple(rejected),
    )
