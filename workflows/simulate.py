"""`cpts simulate`: replay a scenario on a virtual clock, day by day, with the production engine (SPEC §11).

The world is an in-memory SQLite database migrated like production; each virtual day the sweep runs first
(timers whose last day has passed fire, breaches are marked, notifications are enqueued), then the day's
events are recorded through `workflows.engine.apply`. Nothing here reads the wall clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from lifecycle.errors import DomainError, EventRejected
from lifecycle.events import parse_date
from workflows import engine as services
from workflows.db import make_engine, migrate

SCENARIO_KEYS = {"name", "seat_departement", "communes", "population", "events", "until"}
EVENT_KEYS = {"at", "type", "data", "evidence"}
SIMULATION_ACTOR = "scenario"


@dataclass(frozen=True)
class ScenarioEvent:
    at: date
    type: str
    data: dict[str, Any]
    evidence: str | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    seat_departement: str
    communes: tuple[str, ...]
    population: int | None
    events: tuple[ScenarioEvent, ...]
    until: date


def load_scenario(path: Path | str) -> Scenario:
    """Read and check a scenario file; any problem is one DomainError naming the key."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EventRejected(f"cannot read scenario {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise EventRejected(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})") from None
    return parse_scenario(raw, source=str(path))


def parse_scenario(raw: object, *, source: str = "scenario") -> Scenario:
    if not isinstance(raw, dict):
        raise EventRejected(f"{source}: a scenario is a JSON object with name, seat_departement, communes or "
                            "population, events, until")
    unknown = sorted(set(raw) - SCENARIO_KEYS)
    if unknown:
        accepted = ", ".join(sorted(SCENARIO_KEYS))
        raise EventRejected(f"{source}: unknown key(s) {', '.join(unknown)}: accepted: {accepted}")
    for key in ("name", "seat_departement", "events", "until"):
        if key not in raw:
            raise EventRejected(f"{source}: missing key {key!r}")
    if "communes" not in raw and "population" not in raw:
        raise EventRejected(f"{source}: give the territory as \"communes\": [INSEE codes] or \"population\": N")
    communes = raw.get("communes", [])
    if not isinstance(communes, list) or not all(isinstance(c, str) for c in communes):
        raise EventRejected(f"{source}: communes must be a list of INSEE codes as strings, e.g. [\"57463\"]")
    population = raw.get("population")
    if population is not None and (isinstance(population, bool) or not isinstance(population, int) or population < 0):
        raise EventRejected(f"{source}: population must be a whole number ≥ 0, got {population!r}")
    if not isinstance(raw["events"], list):
        raise EventRejected(f"{source}: events must be a list of {{\"at\", \"type\", \"data\"}} objects")
    events = []
    for i, item in enumerate(raw["events"]):
        where = f"{source}: events[{i}]"
        if not isinstance(item, dict) or "at" not in item or "type" not in item:
            raise EventRejected(f"{where} must be an object with \"at\" and \"type\" (and optional \"data\")")
        extra = sorted(set(item) - EVENT_KEYS)
        if extra:
            raise EventRejected(f"{where}: unknown key(s) {', '.join(extra)}: accepted: at, type, data, evidence")
        try:
            at = parse_date(item["at"], "at")
        except EventRejected as exc:
            raise EventRejected(f"{where}: {exc}") from None
        data = item.get("data") or {}
        if not isinstance(data, dict):
            raise EventRejected(f"{where}: data must be a JSON object")
        events.append(ScenarioEvent(at, str(item["type"]), data, item.get("evidence")))
    until = parse_date(raw["until"], "until")
    late = [e for e in events if e.at > until]
    if late:
        raise EventRejected(f"{source}: event {late[0].type} dated {late[0].at} is after until {until}; "
                            "move until later or drop the event")
    return Scenario(str(raw["name"]), str(raw["seat_departement"]), tuple(communes), population,
                    tuple(sorted(events, key=lambda e: e.at)), until)


def virtual_now(day: date) -> datetime:
    """The instant the virtual clock records for a day's acts (midday UTC: the same day everywhere we serve)."""
    return datetime.combine(day, time(12, 0), tzinfo=UTC)


def run_scenario(
    scenario: Scenario,
    *,
    engine: Engine | None = None,
    on_day: Callable[[Engine, int, date], None] | None = None,
) -> dict[str, Any]:
    """Run the scenario and return the SPEC §11 result object."""
    engine = engine or make_engine("sqlite://")
    migrate(engine)
    start = scenario.events[0].at if scenario.events else scenario.until
    case = services.create_case(engine, name=scenario.name, departement=scenario.seat_departement,
                                communes=scenario.communes, population=scenario.population,
                                now=virtual_now(start))
    rejected: list[dict[str, str]] = []
    by_day: dict[date, list[ScenarioEvent]] = {}
    for event in scenario.events:
        by_day.setdefault(event.at, []).append(event)
    day = start
    while day <= scenario.until:
        services.sweep(engine, today=day, now=virtual_now(day), case_ids=[case.id])
        if on_day is not None:
            on_day(engine, case.id, day)
        for event in by_day.get(day, []):
            try:
                services.apply(engine, case.id, services.NewEvent(event.type, event.at, event.data, event.evidence),
                               SIMULATION_ACTOR, today=day, now=virtual_now(day))
            except DomainError as exc:
                rejected.append({"at": event.at.isoformat(), "type": event.type, "error": str(exc)})
        day += timedelta(days=1)
    return _result(engine, case.id, scenario.until, rejected)


def _result(engine: Engine, case_id: int, until: date, rejected: list[dict[str, str]]) -> dict[str, Any]:
    from workflows.queries import case_view, simulated_notifications

    view = case_view(engine, case_id, today=until)
    return {
        "name": view["name"],
        "state": view["state"],
        "population": view["population"],
        "size": view["size"],
        "history": [{"at": h["at"], "event": h["event"], "from": h["from"], "to": h["to"]} for h in view["history"]],
        "deadlines": [{"key": d["key"], "due": d["due"], "status": d["status"], "met_on": d["met_on"]}
                      for d in view["deadlines"]],
        "payments": [{k: p[k] for k in ("component", "year", "due", "amount", "status")}
                     for p in view.get("payments", [])],
        "notifications": simulated_notifications(engine, case_id),
        "rejected": rejected,
    }


def render_result_text(result: dict[str, Any]) -> str:
    lines = [f"{result['name']}: {result['state']} (population {result['population']}, size {result['size']})",
             "history:"]
    lines += [f"  {h['at']}  {h['event']:<34} {h['from']} → {h['to']}" for h in result["history"]]
    lines.append("deadlines:")
    lines += [f"  {d['due']}  {d['status']:<9} {d['key']}" + (f" (done {d['met_on']})" if d["met_on"] else "")
              for d in result["deadlines"]]
    if result["payments"]:
        lines.append("payments:")
        lines += [f"  {p['due']}  {p['component']:<26} year {p['year']}  {p['amount'] or '—':>10}  {p['status']}"
                  for p in result["payments"]]
    if result["notifications"]:
        lines.append(f"notifications: {len(result['notifications'])}")
    for r in result["rejected"]:
        lines.append(f"rejected: {r['at']} {r['type']}: {r['error']}")
    return "\n".join(lines)
