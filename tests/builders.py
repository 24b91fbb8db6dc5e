"""Shared builders for the database and CLI tests: cases, recorded events, a free loopback port.

Each goes through the application's use cases, as a user would; tests say what they build, not how.
"""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, time

from spec_example import ALL_DOCUMENTS
from sqlalchemy import Engine
from sqlmodel import Session, select

from workflows.persistence.tables import OutboxRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import ApplyResult, NewEvent, apply, create_case

LOOPBACK = "127.0.0.1"
METZ, THIONVILLE = "57463", "57672"
Day = date | str

# A lettre d'intention approved by the ARS and the AM in autumn 2024 (I §2-3), in Moselle.
LOI_VALIDATED_2024: list[tuple[str, str, dict]] = [
    ("2024-09-02", "contact_recorded", {"source": "ars"}),
    ("2024-09-09", "first_meeting_held", {}),
    ("2024-10-07", "loi_submitted", {}),
    ("2024-11-04", "loi_decision", {"party": "ars", "decision": "approve"}),
    ("2024-11-12", "loi_decision", {"party": "am", "decision": "approve"}),
]


def signed_on_2_june_2025(*missions: str) -> list[tuple[str, str, dict]]:
    """LOI_VALIDATED_2024, then the health project received and validated, the adhesion requested, and the contract
    signed on Monday 2 June 2025 with the optional `missions` chosen."""
    return [
        *LOI_VALIDATED_2024,
        ("2025-01-15", "health_project_received", {}),
        ("2025-02-20", "health_project_validated", {}),
        ("2025-04-01", "adhesion_requested", ALL_DOCUMENTS),
        ("2025-06-02", "contract_signed", {"missions": list(missions)}),
    ]


def _day(value: Day) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def new_case(engine: Engine, name: str = "CPTS du Pays Messin", *, departement: str = "57",
             communes: tuple[str, ...] = (), population: int | None = None) -> int:
    """A case seated in `departement` (Moselle by default) with its territory: communes, or a population."""
    if not communes and population is None:
        population = 60_000
    return create_case(SqlUnitOfWork(engine), name=name, departement=departement, communes=communes,
                       population=population).id


def record(engine: Engine, case_id: int, at: Day, kind: str, data: dict | None = None, *, today: Day | None = None,
           actor: str = "ars.agent") -> ApplyResult:
    """Record an event as an ARS agent would, on the day it happened unless told otherwise (recorded at noon
    UTC that day: `case show --today` of a day shows what had been recorded by then)."""
    day = _day(today or at)
    return apply(SqlUnitOfWork(engine), case_id, NewEvent(kind, _day(at), data or {}), actor,
                 today=day, now=noon(day))


def noon(day: date) -> datetime:
    """The instant a test records a day's acts: midday UTC, the same date at every seat."""
    return datetime.combine(day, time(12), tzinfo=UTC)


def record_all(engine: Engine, case_id: int, facts: list[tuple[Day, str, dict]]) -> None:
    for at, kind, data in facts:
        record(engine, case_id, at, kind, data)


def health_project_received_18_feb_2025(engine: Engine, **case: object) -> int:
    """The LOI path of autumn 2024, then a health project received on 18 Feb 2025: in Moselle the ARS's
    opposition window closes on Tue 22 Apr 2025 (Good Friday and Easter Monday are holidays there)."""
    case_id = new_case(engine, **case)  # type: ignore[arg-type]
    record_all(engine, case_id, [*LOI_VALIDATED_2024, ("2025-02-18", "health_project_received", {})])
    return case_id


def free_port() -> int:
    """A TCP port nobody listens on, on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def outbox(engine: Engine) -> list[OutboxRow]:
    """The outbox's rows, by id, usable after the session is closed."""
    with Session(engine) as session:
        rows = list(session.exec(select(OutboxRow).order_by(OutboxRow.id)))
        for row in rows:
            session.expunge(row)
        return rows
