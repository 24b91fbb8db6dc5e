"""Text rendering of the read models for the terminal (the web renders the same models as HTML)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lifecycle.rates import rate_4dp

if TYPE_CHECKING:  # the application is imported by the commands that run, not by `cpts --help`
    from workflows.persistence.tables import Case
    from workflows.read.cases import CaseView
    from workflows.services import ApplyResult, NewEvent
    from workflows.simulation.demo import DemoSummary
    from workflows.simulation.runner import SimulationResult


def case_summary_json(case: Case) -> dict[str, Any]:
    from workflows.read.cases import CaseSummary

    return CaseSummary.of(case).as_dict()


def applied_text(result: ApplyResult, event: NewEvent) -> str:
    """`case 1 #3 loi_submitted: accompanied → loi_submitted`, and the state as of today if timers fired since."""
    line = f"case {result.case_id} #{result.seq} {event.type}: {result.event_from} → {result.event_to}"
    if result.state_after != result.event_to:
        since = [h for h in result.projection.history if h.at >= event.at and h.seq != result.seq]
        line += f"; as of today: {result.state_after}"
        if since:
            line += " (after " + ", ".join(f"{h.event} {h.at.isoformat()}" for h in since[-3:]) + ")"
    return line


def case_text(view: CaseView) -> str:
    """`cpts case show`: the case, its flags, indicators, deadlines with explanations, history, voidings."""
    case = view.summary
    lines = [
        f"case {case.id} — {case.name} ({case.seat_departement}, {view.cpl})",
        f"state: {view.state}   population {case.population} (size {case.size})   as of {view.today.isoformat()}",
    ]
    if view.contract_signed_on:
        lines.append(f"contract signed {view.contract_signed_on.isoformat()}: missions "
                     f"{', '.join(view.contract_missions)}")
    for flag in view.legal_flags:
        lines.append(f"LEGAL: {flag}")
    for overlap in view.overlaps:
        lines.append(f"OVERLAP: {overlap}")
    for year in view.indicators:
        rates = ", ".join(f"{m} {rate_4dp(r)}" for m, r in year.attainment.items()) or "not reported"
        missing = len(year.national_indicators_missing)
        lines.append(f"indicators year {year.year}: {rates}; national access indicators missing: {missing}/5")
    lines.append("deadlines:")
    for d in view.deadlines:
        met = f" (done {d.met_on.isoformat()})" if d.met_on else ""
        lines.append(f"  {d.due.isoformat()}  {d.status:<9} {d.key}{met} — {d.label}")
        lines.append(f"      {d.explain()}")
    lines.append("history:")
    for h in view.history:
        pending = "" if h.seq is not None else "  (due, not yet swept)"
        lines.append(f"  {h.at.isoformat()}  {h.event:<34} {h.source} → {h.dest}{pending}")
    for j in view.journal:
        if j.voided_by:
            lines.append(f"  voided: #{j.seq} {j.type} of {j.at.isoformat()} (by #{j.voided_by})")
    return "\n".join(lines)


def simulation_text(result: SimulationResult, *, source: str | None = None) -> str:
    """`cpts simulate`: the end state, history, deadlines, payments, how many notifications, rejections; headed
    by `file: <source>` when given (several scenarios at once)."""
    lines = [f"file: {source}"] if source is not None else []
    lines += [f"{result.name}: {result.state} (population {result.population}, size {result.size})", "history:"]
    lines += [f"  {h.at.isoformat()}  {h.event:<34} {h.source} → {h.dest}" for h in result.history]
    lines.append("deadlines:")
    lines += [f"  {d.due.isoformat()}  {d.status:<9} {d.key}" + (f" (done {d.met_on.isoformat()})" if d.met_on else "")
              for d in result.deadlines]
    if result.payments:
        lines.append("payments:")
        lines += [f"  {p.due.isoformat()}  {p.component:<26} year {p.year}  "
                  f"{str(p.amount) if p.amount is not None else '—':>10}  {p.status}" for p in result.payments]
    if result.notifications:
        lines.append(f"notifications: {len(result.notifications)}")
    for r in result.rejected:
        lines.append(f"rejected: {r.at.isoformat()} {r.type}: {r.error}")
    return "\n".join(lines)


def demo_text(summary: DemoSummary) -> str:
    """`cpts demo`: what was built, and how to explore it."""
    lines = [
        f"demo portfolio built in {summary.database} as of {summary.today.isoformat()}: {summary.cases} CPTS",
        "by state: " + ", ".join(f"{state} {n}" for state, n in summary.by_state.items()),
        "by département: " + ", ".join(f"{d} {n}" for d, n in summary.by_departement.items()),
        "deadlines: " + ", ".join(f"{s} {n}" for s, n in summary.deadlines_by_status.items()),
        f"outbox: {summary.digests} referents' digests for today, ready for `cpts outbox drain` (CPTS_SMTP_URL)",
        f"explore it: CPTS_DATABASE_URL=sqlite:///{summary.database} cpts case list",
    ]
    lines += [f"note: {problem}" for problem in summary.notes]
    return "\n".join(lines)
