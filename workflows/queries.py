"""Read side: views of cases, deadlines and the journal for the CLI (and, later, the dashboard)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from lifecycle import territory
from lifecycle.calendar import add_months
from lifecycle.indicators import attainment, missing_national_indicators
from lifecycle.machine import TERRITORY_CLAIMING
from lifecycle.projection import Projection
from workflows.engine import (
    GENESIS_HASH,
    find_overlaps,
    get_case,
    journal_rows,
    local_today,
    project_case,
    row_hash,
    utc_now,
)
from workflows.tables import Case, DeadlineRow, OutboxRow


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "id": case.id, "name": case.name, "seat_departement": case.seat_departement, "region": case.region,
        "population": case.population, "size": case.size, "state": case.state, "ruleset": case.ruleset_id,
        "communes": json.loads(case.communes), "version": case.version,
    }


def case_view(engine: Engine, case_id: int | str, *, today: date | None = None) -> dict[str, Any]:
    """Everything `cpts case show` prints: state, deadlines with explanations, history, journal."""
    with Session(engine) as session:
        case = get_case(session, case_id)
        today = today or local_today(case, utc_now())
        rows = journal_rows(session, case.id)
        projection = project_case(session, case, today, rows=rows)
        view = case_summary(case)
        view.update({
            "today": today.isoformat(),
            "state": projection.state,
            "cpl": territory.cpl_name(case.seat_departement),
            "contract_signed_on": projection.contract_signed_on.isoformat() if projection.contract_signed_on else None,
            "contract_missions": list(projection.contract_missions),
            "deadlines": [d.as_dict() for d in projection.deadlines],
            "history": [h.as_dict() for h in projection.history],
            "due_system_events": [{"type": e.type, "at": e.at.isoformat(), "deadline": e.deadline}
                                  for e in projection.due_system_events],
            "legal_flags": list(projection.legal_flags),
            "overlaps": find_overlaps(session, case) if projection.state in TERRITORY_CLAIMING else [],
            "journal": [
                {"seq": r.seq, "type": r.type, "at": r.at.isoformat(), "actor": r.actor,
                 "recorded_at": r.recorded_at.isoformat(), "data": json.loads(r.data), "evidence": r.evidence,
                 "voided_by": projection.voided.get(r.seq),
                 "superseded": r.seq in projection.superseded}
                for r in rows
            ],
        })
        if projection.payments is not None:
            view["payments"] = [line.as_dict() for line in projection.payments.lines]
        view["indicators"] = indicator_tracking(projection)
        return view


def _rate(value: Fraction) -> str:
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.0001")))


def indicator_tracking(projection: Projection) -> list[dict[str, Any]]:
    """Per completed contract year: attainment reported per mission, and which of the five national access
    indicators (SPEC §9) are still missing."""
    signed = projection.contract_signed_on
    if signed is None:
        return []
    reports: dict[int, dict[str, Any]] = {}
    for entry in projection.accepted:
        if entry.type == "indicators_reported":
            reports.setdefault(entry.data["year"], {}).update(entry.data["missions"])
    years = []
    for year in range(1, 6):
        if add_months(signed, 12 * year) > projection.today and year not in reports:
            break
        missions = reports.get(year, {})
        years.append({
            "year": year,
            "attainment": {m: _rate(attainment(r)) for m, r in missions.items()},
            "national_indicators_missing": missing_national_indicators(missions.get("access")),
        })
    return years


def render_case_text(view: dict[str, Any]) -> str:
    lines = [
        f"case {view['id']} — {view['name']} ({view['seat_departement']}, {view['cpl']})",
        f"state: {view['state']}   population {view['population']} (size {view['size']})   as of {view['today']}",
    ]
    if view["contract_signed_on"]:
        lines.append(f"contract signed {view['contract_signed_on']}: missions {', '.join(view['contract_missions'])}")
    for flag in view["legal_flags"]:
        lines.append(f"LEGAL: {flag}")
    for overlap in view["overlaps"]:
        lines.append(f"OVERLAP: {overlap}")
    for year in view["indicators"]:
        rates = ", ".join(f"{m} {r}" for m, r in year["attainment"].items()) or "not reported"
        missing = len(year["national_indicators_missing"])
        lines.append(f"indicators year {year['year']}: {rates}; national access indicators missing: {missing}/5")
    lines.append("deadlines:")
    for d in view["deadlines"]:
        met = f" (done {d['met_on']})" if d["met_on"] else ""
        lines.append(f"  {d['due']}  {d['status']:<9} {d['key']}{met} — {d['label']}")
        lines.append(f"      {d['explanation']}")
    lines.append("history:")
    for h in view["history"]:
        pending = "" if h["seq"] is not None else "  (due, not yet swept)"
        lines.append(f"  {h['at']}  {h['event']:<34} {h['from']} → {h['to']}{pending}")
    voided = [j for j in view["journal"] if j["voided_by"]]
    for j in voided:
        lines.append(f"  voided: #{j['seq']} {j['type']} of {j['at']} (by #{j['voided_by']})")
    return "\n".join(lines)


def list_cases(engine: Engine, *, state: str | None = None, departement: str | None = None) -> list[dict[str, Any]]:
    with Session(engine) as session:
        query = select(Case).order_by(Case.id)
        if state:
            query = query.where(Case.state == state)
        if departement:
            query = query.where(Case.seat_departement == territory.departement(departement).code)
        return [case_summary(c) for c in session.exec(query)]


def list_deadlines(
    engine: Engine, *, due_before: date | None = None, status: str | None = None
) -> list[dict[str, Any]]:
    from lifecycle.deadlines import STATUSES
    from lifecycle.errors import EventRejected

    if status is not None and status not in STATUSES:
        raise EventRejected(f"unknown status {status!r}: expected one of {', '.join(STATUSES)}")
    with Session(engine) as session:
        query = select(DeadlineRow, Case).join(Case, col(Case.id) == DeadlineRow.case_id)
        if due_before:
            query = query.where(DeadlineRow.due < due_before)
        if status:
            query = query.where(DeadlineRow.status == status)
        query = query.order_by(DeadlineRow.due, DeadlineRow.case_id, DeadlineRow.key)
        return [
            {"case": case.id, "case_name": case.name, "departement": case.seat_departement, "key": d.key,
             "label": d.label, "due": d.due.isoformat(), "status": d.status, "kind": d.kind,
             "met_on": d.met_on.isoformat() if d.met_on else None,
             "explanation": json.loads(d.explanation)["text"]}
            for d, case in session.exec(query)
        ]


def verify_journal(engine: Engine, case_id: int | str) -> list[str]:
    """Recompute the hash chain; return one line per broken row (empty when intact)."""
    problems: list[str] = []
    with Session(engine) as session:
        case = get_case(session, case_id)
        previous = GENESIS_HASH
        for expected_seq, row in enumerate(journal_rows(session, case.id), start=1):
            if row.seq != expected_seq:
                problems.append(f"row #{row.seq}: expected sequence number {expected_seq} (a row is missing)")
            if row.prev_hash != previous:
                problems.append(f"row #{row.seq}: prev_hash does not match the hash of the row before it")
            if row_hash(row) != row.hash:
                problems.append(f"row #{row.seq} {row.type}: content does not match its hash (edited after the fact)")
            previous = row.hash
        if case.journal_head != previous:
            problems.append("the journal ends at a row whose hash is not the case's recorded head "
                            "(rows removed at the end, or the head edited)")
    return problems


def simulated_notifications(engine: Engine, case_id: int) -> list[dict[str, Any]]:
    """Notifications enqueued for a case, in the SPEC §11 shape: {deadline, kind, on, roles}."""
    with Session(engine) as session:
        rows = session.exec(select(OutboxRow).where(OutboxRow.case_id == case_id)
                            .order_by(OutboxRow.send_on, OutboxRow.id))
        return [{"deadline": r.deadline_key, "kind": r.kind, "on": r.send_on.isoformat(),
                 "roles": json.loads(r.roles)} for r in rows]
