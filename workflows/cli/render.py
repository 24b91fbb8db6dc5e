"""Text rendering of the read models for the terminal (the web renders the same models as HTML)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from lifecycle.rates import rate_4dp

if TYPE_CHECKING:  # the application is imported by the commands that run, not by `cpts --help`
    from workflows.persistence.tables import Case
    from workflows.read.cases import CaseView, JournalLine
    from workflows.read.rulesets import Governing
    from workflows.services import ApplyResult, NewEvent
    from workflows.simulation.demo import DemoSummary
    from workflows.simulation.runner import SimulationResult

# What must not reach a terminal raw: C0/C1 controls (line breaks, tabs, escape sequences), line and paragraph
# separators, bidirectional overrides (they reorder what follows on screen), and lone surrogates.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
                          r"\ud800-\udfff]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: object) -> str:
    """`text` as one line that shows what it contains: a control character is written as its escape (`\\n`,
    `\\x1b`, `\\u202e`), so a name or an error message cannot forge output lines or recolour the terminal."""
    return _UNPRINTABLE.sub(_escape, str(text))


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _SHORT_ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


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


def governing_of(view: CaseView) -> Governing:
    """The version of the accord governing the case as of the view's day ("ACI-2019+A2 depuis le …")."""
    from workflows.read.rulesets import governing

    return governing(view.summary.ruleset, view.contract_signed_on, view.today)


def case_json(view: CaseView) -> dict[str, Any]:
    """`cpts case show --json`: the view, the governing version (`governing`), each deadline's ruleset row."""
    shown = view.as_dict()
    shown["governing"] = governing_of(view).as_dict()
    for row, d in zip(shown["deadlines"], view.deadlines, strict=True):
        row.setdefault("ruleset", d.ruleset)
        row.setdefault("verified", d.verified)
        row["row"] = f"deadlines.{d.rule_key}"
    return shown


def case_text(view: CaseView) -> str:
    """`cpts case show`: the case, its flags, indicators, deadlines by due date with explanations, history, and
    the journal with each entry's data and evidence (who terminated, on which letter)."""
    case = view.summary
    lines = [f"WARNING: the journal fails its integrity check: {printable(problem)} (see `cpts case verify "
             f"{case.id}`)" for problem in view.integrity]
    lines += [
        f"case {case.id} — {printable(case.name)} ({case.seat_departement}, {view.cpl})",
        f"state: {view.state}   population {case.population} (size {case.size})   as of {view.today.isoformat()}",
    ]
    lines.append(f"ruleset: {governing_of(view).text()}")
    if view.recorded_later:
        lines.append(f"as known on {view.today.isoformat()}: {view.recorded_later} journal entr"
                     f"{'y' if view.recorded_later == 1 else 'ies'} recorded later left out")
    if view.contract_signed_on:
        lines.append(f"contract signed {view.contract_signed_on.isoformat()}: missions "
                     f"{', '.join(view.contract_missions)}")
    for flag in view.legal_flags:
        lines.append(f"LEGAL: {printable(flag)}")
    for overlap in view.overlaps:
        lines.append(f"OVERLAP: {printable(overlap)}")
    for year in view.indicators:
        rates = ", ".join(f"{m} {rate_4dp(r)}" for m, r in year.attainment.items()) or "not reported"
        missing = len(year.national_indicators_missing)
        lines.append(f"indicators year {year.year}: {rates}; national access indicators missing: {missing}/5")
    lines.append("deadlines:")
    for d in sorted(view.deadlines, key=lambda d: (d.due, d.key)):
        met = f" (done {d.met_on.isoformat()})" if d.met_on else ""
        lines.append(f"  {d.due.isoformat()}  {d.status:<9} {d.key}{met} — {d.label}")
        lines.append(f"      {d.explain()}")
        if not d.verified:
            lines.append(f"      à confirmer: {d.ruleset} deadlines.{d.rule_key} ({printable(d.source)})")
    lines.append("history:")
    for h in view.history:
        pending = "" if h.seq is not None else "  (due, not yet swept)"
        lines.append(f"  {h.at.isoformat()}  {h.event:<34} {h.source} → {h.dest}{pending}")
    lines.append("journal:")
    lines += [printable(journal_line(j)) for j in view.journal]
    return "\n".join(lines)


def evidence_text(stored: str) -> str:
    """Evidence as one phrase: the free reference as given, or `LRAR 1A 123…, first presented 2025-01-10,
    received 2025-01-13 (ref …)` for structured evidence."""
    from lifecycle.events import read_evidence

    proof = read_evidence(stored)
    if proof is None or not proof.structured:
        return stored
    parts = [f"LRAR {proof.lrar}"] if proof.lrar else []
    if proof.presented_on:
        parts.append(f"first presented {proof.presented_on.isoformat()}")
    if proof.received_on:
        parts.append(f"received {proof.received_on.isoformat()}")
    return ", ".join(parts) + (f" (ref {proof.reference})" if proof.reference else "")


def journal_line(j: JournalLine) -> str:
    """`  #3  2025-01-30  loi_submitted  by cli  {"…": …}  evidence LRAR …  (voided by #5)` (a `JournalLine`)."""
    line = f"  #{j.seq:<3} {j.at.isoformat()}  {j.type:<34} by {j.actor}"
    if j.data:
        line += "  " + json.dumps(j.data, ensure_ascii=False, separators=(", ", ": "))
    if j.evidence:
        line += f"  evidence {evidence_text(j.evidence)}"
    if j.voided_by:
        line += f"  (voided by #{j.voided_by})"
    elif j.superseded:
        line += "  (superseded)"
    return line


def simulation_text(result: SimulationResult, *, source: str | None = None) -> str:
    """`cpts simulate`: the end state, history, deadlines, payments, how many notifications, rejections; headed
    by `file: <source>` when given (several scenarios at once)."""
    lines = [f"file: {printable(source)}"] if source is not None else []
    lines += [f"{printable(result.name)}: {result.state} (population {result.population}, size {result.size})",
              "history:"]
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
        lines.append(f"rejected: {r.at.isoformat()} {printable(r.type)}: {printable(r.error)}")
    return "\n".join(lines)


def demo_text(summary: DemoSummary) -> str:
    """`cpts demo`: what was built, and how to explore it."""
    lines = [
        f"demo portfolio built in {printable(summary.database)} as of {summary.today.isoformat()}: "
        f"{summary.cases} CPTS",
        "by state: " + ", ".join(f"{state} {n}" for state, n in summary.by_state.items()),
        "by département: " + ", ".join(f"{d} {n}" for d, n in summary.by_departement.items()),
        "deadlines: " + ", ".join(f"{s} {n}" for s, n in summary.deadlines_by_status.items()),
        f"outbox: {summary.digests} referents' digests for today, ready for `cpts outbox drain` (CPTS_SMTP_URL)",
        f"explore it: CPTS_DATABASE_URL=sqlite:///{printable(summary.database)} cpts case list",
    ]
    lines += [f"note: {problem}" for problem in summary.notes]
    return "\n".join(lines)
