"""Scenario files (SPEC §11): a CPTS's seat and territory, its dated events, and the day to simulate until."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lifecycle.errors import EventRejected
from lifecycle.events import parse_date

SCENARIO_KEYS = {"name", "seat_departement", "communes", "population", "events", "until"}
EVENT_KEYS = {"at", "type", "data", "evidence"}
# A five-year contract is about a hundred events; the bound keeps one file's replay within seconds.
MAX_SCENARIO_EVENTS = 20_000


@dataclass(frozen=True)
class ScenarioEvent:
    at: date
    type: str
    data: dict[str, Any]
    evidence: str | dict[str, Any] | None = None


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
    if len(raw["events"]) > MAX_SCENARIO_EVENTS:
        raise EventRejected(f"{source}: {len(raw['events'])} events: a scenario holds at most "
                            f"{MAX_SCENARIO_EVENTS} (one CPTS's lifecycle has about a hundred); split it into "
                            "several files")
    events = []
    for i, item in enumerate(raw["events"]):
        if not isinstance(item, dict) or "at" not in item or "type" not in item:
            raise EventRejected(f"{source}: events[{i}] must be an object with \"at\" and \"type\" (and optional "
                                "\"data\")")
        if not item.keys() <= EVENT_KEYS:
            raise EventRejected(f"{source}: events[{i}]: unknown key(s) {', '.join(sorted(item.keys() - EVENT_KEYS))}: "
                                "accepted: at, type, data, evidence")
        try:
            at = parse_date(item["at"], "at")
        except EventRejected as exc:
            raise EventRejected(f"{source}: events[{i}]: {exc}") from None
        data = item.get("data") or {}
        if not isinstance(data, dict):
            raise EventRejected(f"{source}: events[{i}]: data must be a JSON object")
        events.append(ScenarioEvent(at, str(item["type"]), data, item.get("evidence")))
    until = parse_date(raw["until"], "until")
    late = [e for e in events if e.at > until]
    if late:
        raise EventRejected(f"{source}: event {late[0].type} dated {late[0].at} is after until {until}; "
                            "move until later or drop the event")
    return Scenario(str(raw["name"]), str(raw["seat_departement"]), tuple(communes), population,
                    tuple(sorted(events, key=lambda e: e.at)), until)
