"""Synthetic portfolios for the benchmarks: N realistic cases, bulk-built exactly as the engine builds them.

The engine path (`engine_build`) records every case the way `cpts demo` does: `create_case`, `assign`, each
storyline event through `services.apply` (today = the portfolio's day T0, now = midday UTC of the event's
date), the overdue payment lines paid through `apply`, then one `sweep` at T0 (the due cohort excepted).

The bulk path (`build_case` + `insert_cases`) computes the same rows without a database: the journal rows
hashed by the engine's `persistence.journal.row_hash` (each case's first row also built by `chained_row` and
compared), the projections with `lifecycle.projection.project` and `persistence.projection_writer.deadline_rows
/ payment_rows / wake_on`, the case row (state, version, wake_on, journal head, updated_at) as the last write
leaves it, `case_communes` when the schema has it; then executemany in transactions of 2 000 cases, the cases
computed by worker processes. `verify_sample` builds a sample both ways and compares every row of every table
keyed by case (the outbox aside: the bulk path does not enqueue the notices of the initial sweep, see
`OUTBOX_NOTE`); a table keyed by case that the bulk path does not know makes it fail loudly.

Portfolio layout (`plan_portfolio`): N cases seated across all départements (57, 67, 974 and 971 weighted
up), at every stage of `workflows.simulation.demo.STAGES` plus five-year contracts with their payments;
`due` of them form the *due cohort*: a health project received ~65 days before T0, whose opposition window
closed in the last days, left unswept (the tacit validation is due at T0). After them come the *fixtures*
used by the apply benchmarks, recorded in order (each event on its date, the timer's system event written by
the sweep of the next day): five-year contracts of ~95 events, contracts of 10 events, contracts of ~1 000
events (payments recorded then voided, members lists), and one case the raw-SQL anchors write to.

Portfolios are cached under $TMPDIR/cpts-bench-cache keyed by size, seed, generator version and schema;
each reuse rebuilds a sample of the cached cases with the current code and compares every row
(`spot_check`), rebuilding the file when they differ. The benchmarks mutate only the cohort and the fixtures,
and put them back from a snapshot kept in the file (`restore`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, Table, inspect
from sqlmodel import SQLModel

from lifecycle import territory
from lifecycle.calendar import contract_anniversary
from lifecycle.errors import DomainError
from lifecycle.events import MISSIONS, SYSTEM_EVENTS, validate_data
from lifecycle.projection import Projection, project
from lifecycle.ruleset import DEFAULT_RULESET, load_ruleset
from workflows.persistence.journal import (
    LEGACY_GENESIS_HASH,
    UNKEYED,
    canonical_json,
    chained_row,
    genesis_hash,
    row_hash,
    to_entry,
)
from workflows.persistence.projection_writer import deadline_rows, payment_rows, wake_on
from workflows.persistence.tables import Case, JournalRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.simulation.demo import STAGES, _storyline
from workflows.simulation.runner import virtual_now

ROOT = Path(__file__).resolve().parent.parent
T0 = date(2026, 9, 1)  # the portfolio's "today" (a Tuesday); fixed so that reruns and caches agree
GENERATOR_VERSION = 3
SYSTEM_ACTOR = "system"
OUTBOX_NOTE = "the bulk path leaves the outbox empty (the engine's initial sweep would have enqueued notices)"
FIXTURE_REPEATS = 15  # cases of each fixture kind (one per timed repetition) + 1 for the warm-up

# Every département that can seat a CPTS; 57, 67 (Alsace-Moselle calendar), 974 and 971 (overseas) weighted up.
ALL_DEPARTEMENTS = ([f"{i:02d}" for i in range(1, 96) if i != 20] + ["2A", "2B", "971", "972", "973", "974", "976"])
HEAVY = {"57": 12, "67": 10, "974": 6, "971": 4}
FIVE_YEAR = "contracted_year5"
COHORT = "due_tacit_validation"
STAGE_WEIGHTS = [(stage, 1) for stage, _ in STAGES] + [(FIVE_YEAR, 4)]
SPANS = {**dict(STAGES), FIVE_YEAR: 420 + 4 * 365 + 200}
FIXTURE_KINDS = ("fixture_five_year", "fixture_10", "fixture_1000")


# ----------------------------------------------------------------------------------------------- plans
@dataclass(frozen=True)
class CasePlan:
    """What to build for one case; everything else derives from it (deterministically)."""

    case_id: int
    kind: str  # a stage of STAGES, FIVE_YEAR, COHORT, a fixture kind, or "fixture_raw"
    name: str
    departement: str
    communes: tuple[str, ...]
    start: date
    seed: str
    referents: bool = True  # ARS/CPAM referents and a CPTS contact assigned (as `cpts demo` does)


@dataclass
class BuiltCase:
    """The rows of one case, as the engine would have left them."""

    case: dict[str, Any]
    journal: list[dict[str, Any]]
    deadlines: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)


def run_header(title: str) -> list[str]:
    """The first lines of a benchmark's report: what ran, when, where, on which commit."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"# cpts-lifecycle {title} — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {platform.node()}, {os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), "
        f"{platform.machine()}, {platform.system()} {platform.release()}; load average at start {load}",
        f"python {platform.python_version()} ({sys.executable}); SQLite {sqlite3.sqlite_version}; commit {commit} "
        "(working tree as found)",
    ]


def seats() -> list[str]:
    valid = []
    for code in ALL_DEPARTEMENTS:
        try:
            territory.departement(code)
        except DomainError:
            continue
        if territory.communes_of(code):
            valid.append(code)
    return valid


class _Territories:
    """Runs of neighbouring communes per département (~20 000 to ~120 000 inhabitants), wrapping around when
    a département is used up (a portfolio of 100 000 CPTS cannot have disjoint territories)."""

    def __init__(self) -> None:
        self.cursor: dict[str, int] = {}
        self.cache: dict[str, list[Any]] = {}

    def take(self, dept: str, rng: random.Random) -> tuple[str, ...]:
        if dept not in self.cache:
            self.cache[dept] = territory.communes_of(dept)
        communes = self.cache[dept]
        cursor = self.cursor.get(dept, 0)
        target = rng.choice([20_000, 35_000, 50_000, 80_000, 120_000])
        codes: list[str] = []
        total = 0
        while total < target and len(codes) < min(40, len(communes)):
            commune = communes[cursor % len(communes)]
            codes.append(commune.code)
            total += commune.population
            cursor += 1
        self.cursor[dept] = cursor % len(communes)
        return tuple(sorted(set(codes)))


def plan_portfolio(n: int, seed: int, *, due: int, fixtures: int = FIXTURE_REPEATS + 1,
                   t0: date = T0) -> list[CasePlan]:
    """N portfolio cases (ids 1..N, `due` of them in the due cohort, spread evenly), then the fixtures."""
    rng = random.Random(f"portfolio:{seed}")
    depts = seats()
    weights = [HEAVY.get(d, 1) for d in depts]
    stages = [s for s, _ in STAGE_WEIGHTS]
    stage_weights = [w for _, w in STAGE_WEIGHTS]
    cohort = set(range(0, n, max(1, n // due))[:due]) if due else set()
    lands = _Territories()
    plans = []
    for i in range(n):
        dept = rng.choices(depts, weights)[0]
        codes = lands.take(dept, rng)
        if i in cohort:
            # health project received 65-69 days before T0: the two-month opposition window closed a few
            # days ago, so the tacit validation is due and the sweep of T0 writes it.
            kind, start = COHORT, t0 - timedelta(days=300 + 65 + rng.randint(0, 4))
        else:
            kind = rng.choices(stages, stage_weights)[0]
            start = t0 - timedelta(days=SPANS[kind] + rng.randint(0, 20))
        name = f"CPTS {territory.communes([codes[0]])[0].name}"
        plans.append(CasePlan(i + 1, kind, name, dept, codes, start, f"{seed}:{i}"))
    plans += plan_fixtures(n + 1, seed, count=fixtures, t0=t0)
    return plans


def plan_fixtures(first_id: int, seed: int, *, count: int, t0: date = T0,
                  kinds: Sequence[str] = FIXTURE_KINDS) -> list[CasePlan]:
    """`count` cases of each fixture kind (seated in Moselle, population-less communes run), then one raw case."""
    plans = []
    case_id = first_id
    metz = ("57463",)
    for kind in kinds:
        for j in range(count):
            start = t0 - timedelta(days=420 + 4 * 365 + 200) if kind != "fixture_10" else t0 - timedelta(days=600)
            plans.append(CasePlan(case_id, kind, f"CPTS banc d'essai {kind} {j}", "57", metz, start,
                                  f"{seed}:{kind}:{j}", referents=False))
            case_id += 1
    plans.append(CasePlan(case_id, "fixture_raw", "CPTS banc d'essai (SQL brut)", "57", metz, t0 - timedelta(days=30),
                          f"{seed}:raw", referents=False))
    return plans


def actor_for(event_type: str) -> str:
    if event_type in SYSTEM_EVENTS:
        return SYSTEM_ACTOR
    return "demo-ars" if event_type.startswith(("loi", "health_project", "fir")) else "demo-cpam"


# ----------------------------------------------------------------------------------------------- storylines
Event = tuple[date, str, dict[str, Any]]


def storyline(plan: CasePlan, t0: date = T0) -> list[Event]:
    """The user events of a demo-style case, in recording order (by date), those after T0 left out."""
    rng = random.Random(plan.seed + ":story")
    if plan.kind == FIVE_YEAR:
        events = _five_year_events(plan.start, rng)
    elif plan.kind == COHORT:
        events = _storyline("health_project_submitted", plan.start, rng).events
    else:
        events = _storyline(plan.kind, plan.start, rng).events
    ordered = sorted(events, key=lambda e: e[0])
    kept = []
    for event in ordered:
        if event[0] > t0:
            break  # as `cpts demo` does: the storyline stops at today
        kept.append(event)
    return kept


def _five_year_events(start: date, rng: random.Random) -> list[Event]:
    """A five-year contract: the demo's road to the contract, then every mission started and deployed, and
    each contract year's members list, annual review and indicators (payments are added from the schedule)."""
    s = _storyline("contracted_on_track", start, rng)
    s.events = s.events[: [e[1] for e in s.events].index("contract_signed")]
    signed = 420
    s.at(signed, "contract_signed", {"missions": ["quality", "support"], "snp_compensation": True,
                                     "snp_orientation": rng.random() < 0.3})
    signed_on = start + timedelta(days=signed)
    anniversaries = tuple(contract_anniversary(signed_on, k) for k in range(6))
    # A mission the contract comes under at an anniversary (the crisis mission of ACI avenant 2) starts after it.
    coming = {mission: (anniversaries[year - 1] - start).days - signed
              for mission, (year, _) in load_ruleset().missions_coming(signed_on, anniversaries).items()}
    for k, mission in enumerate(MISSIONS):
        offset = max(60 + 30 * k, coming.get(mission, 0) + 30)
        s.at(signed + offset, "mission_started", {"mission": mission})
        s.at(signed + offset + 340, "mission_deployed", {"mission": mission})
    for year in range(1, 6):
        s.at(signed + (year - 1) * 365 + 300, "members_list_updated", {"year": year})
        s.at(signed + year * 365 + 20, "annual_review_held", {"year": year})
        s.at(signed + year * 365 + 25, "indicators_reported", {"year": year, "missions": {
            m: {"attainment": round(rng.uniform(0.4, 1.0), 2)} for m in MISSIONS}})
    return s.events


def payment_events(plan: CasePlan, projection: Projection, t0: date = T0) -> list[Event]:
    """The funders pay most overdue lines 5 to 15 days after they fell due (as `cpts demo` does)."""
    if projection.payments is None:
        return []
    rng = random.Random(plan.seed + ":pay")
    events = []
    for line in projection.payments.lines:
        if line.amount is None or line.status != "overdue" or rng.random() < 0.1:
            continue
        paid_on = min(line.due + timedelta(days=rng.randint(5, 15)), t0)
        events.append((paid_on, "payment_recorded",
                       {"component": line.component, "year": line.year, "amount": str(line.amount)}))
    return events


# ----------------------------------------------------------------------------------------------- bulk path
class _Journal:
    """A case's journal under construction: hash-chained rows and the domain entries replayed from them."""

    def __init__(self, case_id: int, genesis: str = LEGACY_GENESIS_HASH) -> None:
        self.case_id = case_id
        self.genesis = genesis  # the prev_hash of the first row: the case's identity, signed (as `create_case`)
        self.rows: list[Any] = []  # JournalRow-like namespaces
        self.entries: list[Any] = []  # to_entry of each row, kept (every replay reads them all)

    def append(self, event_type: str, at: date, data: dict[str, Any], *, recorded_on: date,
               evidence: str | None = None, actor: str | None = None) -> Any:
        actor = actor or actor_for(event_type)
        clean = validate_data(event_type, data, allow_system=actor == SYSTEM_ACTOR)
        previous = self.rows[-1] if self.rows else None
        fields = {"case_id": self.case_id, "seq": previous.seq + 1 if previous else 1, "type": event_type, "at": at,
                  "recorded_at": virtual_now(recorded_on), "actor": actor, "data": canonical_json(clean),
                  "evidence": evidence, "prev_hash": previous.hash if previous else self.genesis, "hash": "",
                  "key_id": "", "idempotency_key": None}
        # A plain namespace hashed by the engine's `row_hash`: building a JournalRow (an ORM instance) costs a
        # quarter of the bulk path. The first row of every case is also built by `chained_row` and compared.
        row = SimpleNamespace(**fields)
        row.hash = row_hash(row)
        if previous is None:
            reference = chained_row(self.case_id, (0, self.genesis), type=event_type, at=at,
                                    recorded_at=fields["recorded_at"], actor=actor, data=clean, evidence=evidence,
                                    keys=UNKEYED)
            if {k: getattr(reference, k) for k in fields} != vars(row):
                raise RuntimeError(f"bulk journal row differs from chained_row: {vars(row)} vs {reference}")
        self.rows.append(row)
        self.entries.append(to_entry(row))
        return row

    def project(self, case: Case, today: date) -> Projection:
        rules = load_ruleset(ruleset_id=case.ruleset_id)
        return project(self.entries, rules, today, departement=case.seat_departement, population=case.population)


def _new_case(plan: CasePlan, referents: dict[str, int]) -> Case:
    """The row `create_case` (then `assign`) writes."""
    rules = load_ruleset(ruleset_id=DEFAULT_RULESET)
    summary = territory.summarise(plan.communes, ruleset=rules)
    dept = territory.departement(plan.departement).code
    now = virtual_now(plan.start)
    case = Case(id=plan.case_id, name=plan.name, seat_departement=dept, region=territory.region_of(dept).code,
                communes=json.dumps([c.code for c in territory.communes(plan.communes)]), declared_population=None,
                population=summary.population, size=summary.size, ruleset_id=rules.id, state="new", version=0,
                created_at=now, updated_at=now)
    if plan.referents:
        region = territory.departement(dept).region
        case.ars_referent_id = referents[f"referent.ars.{region}@ars.example.fr"]
        case.cpam_referent_id = referents[f"referent.cpam.{dept}@cpam.example.fr"]
        case.cpts_contact_name = f"Coordination {plan.name}"
        case.cpts_contact_email = f"contact@cpts-{plan.case_id}.example.fr"
    return case


def _write(case: Case, projection: Projection, head: str, *, now_day: date, notices_from: date) -> None:
    """What `write_projection` does to the case row."""
    rules = load_ruleset(ruleset_id=case.ruleset_id)
    case.state = projection.state
    case.version += 1
    case.population = projection.population
    case.size = rules.size_for(projection.population)
    case.updated_at = virtual_now(now_day)
    case.journal_head = head
    case.wake_on = wake_on(projection, rules, notices_from=notices_from)


def _final_sweep(case: Case, journal: _Journal, stored: Projection, t0: date, *, fresh: bool = False) -> Projection:
    """What `sweep_case` at T0 does to a case whose stored projection is `stored` (`fresh`: it is already the
    projection of the whole journal as of T0, so not computed again); the projection kept."""
    rules = load_ruleset(ruleset_id=case.ruleset_id)
    if case.wake_on is None or case.wake_on > t0:
        return stored  # not a candidate
    projection = stored if fresh else journal.project(case, t0)
    fired = list(projection.due_system_events)
    for due in fired:
        journal.append(due.type, due.at, {}, recorded_on=t0, evidence=f"timer {due.deadline}", actor=SYSTEM_ACTOR)
    if fired:
        projection = journal.project(case, t0)
    old = {d.ident: d.status for d in stored.deadlines}
    next_day = t0 + timedelta(days=1)
    changed = fired or any(old.get(d.ident) != d.status for d in projection.deadlines)
    if changed or case.wake_on != wake_on(projection, rules, notices_from=next_day):
        _write(case, projection, journal.rows[-1].hash, now_day=t0, notices_from=next_day)
        return projection
    return stored


def build_case(plan: CasePlan, referents: dict[str, int], t0: date = T0) -> BuiltCase:
    """The rows the engine path would leave for this plan (see the module docstring)."""
    case = _new_case(plan, referents)
    journal = _Journal(plan.case_id, genesis_hash(case, UNKEYED))
    info: dict[str, Any] = {"kind": plan.kind}
    if plan.kind.startswith("fixture"):
        stored = _build_fixture(plan, case, journal, info, t0)
    else:
        # A demo-style case is imported on T0: its past events are recorded then (as `engine_build` applies them).
        events = storyline(plan, t0)
        for at, event_type, data in events:
            journal.append(event_type, at, data, recorded_on=t0)
        stored = journal.project(case, t0)
        payments = payment_events(plan, stored, t0)
        for at, event_type, data in payments:
            journal.append(event_type, at, data, recorded_on=t0)
        if payments:
            stored = journal.project(case, t0)
        if stored.rejected:
            raise RuntimeError(f"plan {plan}: the engine would refuse {stored.rejected}")
        # One write per apply; the last apply's projection (today = T0, notices from T0) is what is stored.
        case.version = len(journal.rows) - 1
        _write(case, stored, journal.rows[-1].hash, now_day=t0 if (payments or events) else plan.start,
               notices_from=t0)
        if plan.kind == COHORT:
            info["due"] = [(e.type, e.at.isoformat(), e.deadline) for e in stored.due_system_events]
            if len(info["due"]) != 1 or case.wake_on is None or case.wake_on > t0:
                raise RuntimeError(f"cohort case {plan.case_id}: expected one due system event, got {info['due']}")
        else:
            stored = _final_sweep(case, journal, stored, t0, fresh=True)
    info["events"] = len(journal.rows)
    return BuiltCase(
        case={c.name: getattr(case, c.name) for c in Case.__table__.columns},
        journal=[{c.name: getattr(r, c.name) for c in JournalRow.__table__.columns if c.name != "id"}
                 for r in journal.rows],
        deadlines=deadline_rows(plan.case_id, stored),
        payments=payment_rows(plan.case_id, stored),
        info=info,
    )


# ----------------------------------------------------------------------------------------------- fixtures
def fixture_timeline(plan: CasePlan, t0: date = T0) -> list[Event]:
    """The user events of a fixture, by date; event_voided data carry {"void_index": i} (resolved to a seq)."""
    rng = random.Random(plan.seed + ":fixture")
    start = plan.start
    if plan.kind == "fixture_raw":
        return [(start, "contact_recorded", {"source": "ars"})]
    if plan.kind == "fixture_10":
        day = start
        events: list[Event] = []

        def at(offset: int, event_type: str, data: dict[str, Any] | None = None) -> None:
            events.append((day + timedelta(days=offset), event_type, data or {}))

        at(0, "contact_recorded", {"source": "cpam"})
        at(10, "first_meeting_held")
        at(40, "loi_submitted")
        at(52, "loi_decision", {"party": "ars", "decision": "approve"})
        at(54, "loi_decision", {"party": "am", "decision": "approve"})
        at(300, "health_project_received")  # the tacit validation follows ~2 months later (system event)
        at(420, "adhesion_requested", {"documents": ["health_project", "statutes", "territory", "members"]})
        at(450, "contract_signed", {"missions": ["quality"]})
        at(500, "mission_started", {"mission": "access"})
        return events
    events = sorted((e for e in _five_year_events(start, rng) if e[0] < t0), key=lambda e: e[0])
    if plan.kind == "fixture_1000":
        signed = next(e[0] for e in events if e[1] == "contract_signed")
        fillers: list[Event] = []
        span = (t0 - timedelta(days=2) - signed).days
        n = 894 // 3
        for k in range(n):
            day = signed + timedelta(days=1 + k * span // n)
            year = min(5, 1 + (day - signed).days // 365)
            fillers.append((day, "members_list_updated", {}))
            fillers.append((day, "payment_recorded", {"component": "fonctionnement.advance", "year": year,
                                                      "amount": "1.00"}))
            fillers.append((day, "event_voided", {"void_index": len(fillers) - 1, "reason": "saisie en double"}))
        return _merge(events, fillers)
    return events


def _merge(events: list[Event], fillers: list[Event]) -> list[Event]:
    """Merge by date (stable: on a tie the storyline first); `void_index` is re-pointed at the merged list."""
    tagged = [(e[0], 0, i, e) for i, e in enumerate(events)] + [(e[0], 1, i, e) for i, e in enumerate(fillers)]
    tagged.sort(key=lambda t: (t[0], t[1], t[2]))
    position = {(src, i): pos for pos, (_, src, i, _) in enumerate(tagged)}
    merged = []
    for _, src, _, (at, event_type, data) in tagged:
        if "void_index" in data:
            data = {**data, "void_index": position[(src, data["void_index"])]}
        merged.append((at, event_type, data))
    return merged


def _build_fixture(plan: CasePlan, case: Case, journal: _Journal, info: dict[str, Any], t0: date) -> Projection:
    """Recorded in order: each user event applied on its date (today = its date), a due timer's system event
    written by the sweep of the day after its window closed, then the sweep of T0 (see `engine_fixture`).

    Replaying after every event would cost O(n²) for the 1 000-event fixtures: the timers are found by one
    replay of the user events as of T0 (a timer only depends on earlier events), the refusals by the final one.
    """
    timeline = fixture_timeline(plan, t0)
    if plan.kind in ("fixture_five_year", "fixture_1000"):
        # The payments of the schedule as of T0, each recorded on its paid_on date, in order.
        probe = _Journal(plan.case_id)
        for at, event_type, data in timeline:
            if event_type not in ("event_voided", "payment_recorded"):
                probe.append(event_type, at, data, recorded_on=at)
        timeline = _merge(timeline, payment_events(plan, probe.project(case, t0), t0))
    # The timers of the user events alone, as of T0.
    users = _Journal(plan.case_id)
    for at, event_type, data in timeline:
        if "void_index" in data:
            data = {"seq": data["void_index"] + 1, "reason": data["reason"]}
        users.append(event_type, at, data, recorded_on=at)
    timers = sorted(users.project(case, t0).due_system_events, key=lambda e: e.at)
    seq_of: dict[int, int] = {}
    writes = 0
    last_write: tuple[date, date] | None = None  # (projection day = write day, notices_from)

    def sweep_before(day: date) -> None:
        nonlocal writes, last_write
        while timers and timers[0].at < day:
            sweep_day = timers[0].at + timedelta(days=1)
            while timers and timers[0].at < sweep_day:
                due = timers.pop(0)
                journal.append(due.type, due.at, {}, recorded_on=sweep_day, evidence=f"timer {due.deadline}",
                               actor=SYSTEM_ACTOR)
            writes += 1
            last_write = (sweep_day, sweep_day + timedelta(days=1))

    for index, (at, event_type, data) in enumerate(timeline):
        sweep_before(at)
        if "void_index" in data:
            data = {"seq": seq_of[data["void_index"]], "reason": data["reason"]}
        seq_of[index] = journal.append(event_type, at, data, recorded_on=at).seq
        writes += 1
        last_write = (at, at)
    sweep_before(t0)
    assert last_write is not None
    day, notices_from = last_write
    stored = journal.project(case, day)
    case.version = writes - 1
    _write(case, stored, journal.rows[-1].hash, now_day=day, notices_from=notices_from)
    stored = _final_sweep(case, journal, stored, t0)
    final = journal.project(case, t0)
    if final.rejected or final.due_system_events or final.superseded:
        raise RuntimeError(f"fixture #{plan.case_id}: rejected {final.rejected} due {final.due_system_events} "
                           f"superseded {final.superseded}")
    info["append"] = _append_event(plan, final, t0)
    return stored


def _append_event(plan: CasePlan, projection: Projection, t0: date) -> dict[str, Any]:
    """The in-order event the apply benchmark appends to this fixture: a cent paid on T0 on the first line of
    the échéancier that still owes something."""
    if plan.kind == "fixture_raw" or projection.payments is None or projection.contract_signed_on is None:
        return {}
    # A line the funders still owe on (the fixture's schedule is paid as it falls due): early payments are taken.
    line = next(line for line in projection.payments.lines if line.remaining)
    return {"type": "payment_recorded", "at": t0.isoformat(),
            # An instalment of a cent: appended again and again, it never exceeds what the line still owes.
            "data": {"component": line.component, "year": line.year, "amount": "0.01"}}


# ----------------------------------------------------------------------------------------------- engine path
def engine_build(uow: SqlUnitOfWork, plans: Sequence[CasePlan], t0: date = T0) -> list[str]:
    """Build `plans` through the use cases (`create_case`, `assign`, `apply`, `sweep`); the refusals met."""
    from workflows.read.finance import case_payments
    from workflows.services import NewEvent, apply, create_case, sweep
    from workflows.services.people import assign

    problems: list[str] = []
    swept = []
    for plan in plans:
        case = create_case(uow, name=plan.name, departement=plan.departement, communes=plan.communes,
                           now=virtual_now(plan.start))
        if case.id != plan.case_id:
            raise RuntimeError(f"engine path: case id {case.id}, plan expects {plan.case_id}")
        if plan.referents:
            region = territory.departement(plan.departement).region
            assign(uow, case.id, ars_email=f"referent.ars.{region}@ars.example.fr",
                   cpam_email=f"referent.cpam.{territory.departement(plan.departement).code}@cpam.example.fr",
                   contact_name=f"Coordination {plan.name}", contact_email=f"contact@cpts-{case.id}.example.fr",
                   now=virtual_now(plan.start))
        if plan.kind.startswith("fixture"):
            problems += engine_fixture(uow, plan, t0)
        else:
            for at, event_type, data in storyline(plan, t0):
                try:  # imported on T0 (the clock guard refuses a write dated before its "today")
                    apply(uow, case.id, NewEvent(event_type, at, data), actor_for(event_type), today=t0,
                          now=virtual_now(t0))
                except DomainError as exc:
                    problems.append(f"case {case.id} {event_type} {at}: {exc}")
            lines = case_payments(uow, case.id, today=t0)
            fake = _LinesOnly(lines)
            for at, event_type, data in payment_events(plan, fake, t0):  # type: ignore[arg-type]
                try:
                    apply(uow, case.id, NewEvent(event_type, at, data), actor_for(event_type), today=t0,
                          now=virtual_now(t0))
                except DomainError as exc:
                    problems.append(f"case {case.id} payment {at}: {exc}")
        if plan.kind != COHORT:
            swept.append(case.id)
    sweep(uow, today=t0, now=virtual_now(t0), case_ids=swept)
    return problems


@dataclass
class _LinesOnly:
    """`payment_events` reads `projection.payments.lines` only."""

    lines: Sequence[Any]

    @property
    def payments(self) -> _LinesOnly | None:
        return self if self.lines else None


def engine_fixture(uow: SqlUnitOfWork, plan: CasePlan, t0: date) -> list[str]:
    """A fixture through the use cases: each event applied on its date, a sweep the day after a window closes."""
    from workflows.read.cases import case_view
    from workflows.services import NewEvent, apply, sweep

    problems = []
    timeline = fixture_timeline(plan, t0)
    if plan.kind in ("fixture_five_year", "fixture_1000"):
        # The same payments as the bulk path: the schedule of the fixture's events minus voids and payments.
        case = _new_case(plan, {})
        probe = _Journal(plan.case_id)
        for at, event_type, data in timeline:
            if event_type not in ("event_voided", "payment_recorded"):
                probe.append(event_type, at, data, recorded_on=at)
        timeline = _merge(timeline, payment_events(plan, probe.project(case, t0), t0))
    seq_of: dict[int, int] = {}
    def sweep_until(day: date) -> None:
        while due := case_view(uow, plan.case_id, today=day).due_system_events:
            sweep_day = due[0].at + timedelta(days=1)
            sweep(uow, today=sweep_day, now=virtual_now(sweep_day), case_ids=[plan.case_id])

    for index, (at, event_type, data) in enumerate(timeline):
        sweep_until(at)
        if "void_index" in data:
            data = {"seq": seq_of[data["void_index"]], "reason": data["reason"]}
        try:
            result = apply(uow, plan.case_id, NewEvent(event_type, at, data), actor_for(event_type), today=at,
                           now=virtual_now(at))
            seq_of[index] = result.seq
        except DomainError as exc:
            problems.append(f"fixture {plan.case_id} {event_type} {at}: {exc}")
    sweep_until(t0)
    return problems


# ----------------------------------------------------------------------------------------------- people
def add_people(uow: SqlUnitOfWork) -> dict[str, int]:
    """An ARS referent per région, a CPAM referent per département, one legal officer (as `cpts demo`)."""
    from workflows.services.people import add_user

    now = virtual_now(date(2019, 1, 1))
    depts = seats()
    ids: dict[str, int] = {}
    for region in sorted({territory.departement(d).region for d in depts}):
        email = f"referent.ars.{region}@ars.example.fr"
        ids[email] = add_user(uow, "Référent ARS", email, "ars", [region], now=now).id
    for dept in depts:
        code = territory.departement(dept).code
        email = f"referent.cpam.{code}@cpam.example.fr"
        ids[email] = add_user(uow, "Référent CPAM", email, "cpam", [code], now=now).id
    add_user(uow, "Service juridique", "juridique@ars.example.fr", "legal", sorted(set(depts)), now=now)
    return ids


# ----------------------------------------------------------------------------------------------- insertion
def case_tables(engine: Engine) -> list[Table]:
    """Tables whose rows belong to one case (a `case_id` column), as the migrated schema has them."""
    present = set(inspect(engine).get_table_names())
    return [t for name, t in SQLModel.metadata.tables.items()
            if name in present and "case_id" in t.c and name != "outbox"]


def communes_rows(table: Table, case: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a `case_communes`-like table (case_id + one commune column), if the schema has one."""
    others = [c.name for c in table.columns if c.name not in ("id", "case_id")]
    if len(others) != 1:
        raise RuntimeError(f"{table.name}: unknown shape {[c.name for c in table.columns]}: teach "
                           "benchmarks/portfolio.py how to fill it")
    return [{"case_id": case["id"], others[0]: code} for code in json.loads(case["communes"])]


def insert_cases(engine: Engine, built: Iterable[BuiltCase], *, batch: int = 2000) -> int:
    """executemany in large transactions; returns how many cases were inserted."""
    tables = {t.name: t for t in case_tables(engine)}
    known = {"journal", "deadlines", "payments"}
    communes_table = tables.get("case_communes")
    unknown = set(tables) - known - {"case_communes"}
    if unknown:
        raise RuntimeError(f"tables keyed by case the bulk path does not fill: {sorted(unknown)}")
    count = 0
    chunk: list[BuiltCase] = []

    def flush() -> None:
        if not chunk:
            return
        with engine.begin() as connection:
            connection.execute(Case.__table__.insert(), [b.case for b in chunk])
            for name, rows in (("journal", [r for b in chunk for r in b.journal]),
                               ("deadlines", [r for b in chunk for r in b.deadlines]),
                               ("payments", [r for b in chunk for r in b.payments])):
                if rows:
                    connection.execute(tables[name].insert(), rows)
            if communes_table is not None:
                rows = [r for b in chunk for r in communes_rows(communes_table, b.case)]
                if rows:
                    connection.execute(communes_table.insert(), rows)
        chunk.clear()

    for b in built:
        chunk.append(b)
        count += 1
        if len(chunk) >= batch:
            flush()
    flush()
    return count


_REFERENTS: dict[str, int] = {}


def _init_worker(referents: dict[str, int]) -> None:
    _REFERENTS.update(referents)


def _build_chunk(plans: list[CasePlan]) -> list[BuiltCase]:
    return [build_case(p, _REFERENTS) for p in plans]


def build_all(plans: Sequence[CasePlan], referents: dict[str, int], *, jobs: int,
              chunk: int = 250) -> Iterator[BuiltCase]:
    """The built cases in plan order, computed by `jobs` worker processes."""
    chunks = [list(plans[i:i + chunk]) for i in range(0, len(plans), chunk)]
    if jobs <= 1:
        for c in chunks:
            yield from (build_case(p, referents) for p in c)
        return
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(referents,)) as pool:
        for result in pool.map(_build_chunk, chunks):
            yield from result


# ----------------------------------------------------------------------------------------------- portfolio
@dataclass
class Portfolio:
    """A built portfolio file and what the benchmarks need to know about it (stored next to it as JSON)."""

    path: str
    cases: int
    seed: int
    t0: str
    cohort: list[int]
    cohort_due: dict[str, list[Any]]  # case id → [type, at, deadline] of its due system event
    five_year: list[int]
    fixtures: dict[str, list[int]]
    fixture_append: dict[str, dict[str, Any]]
    events: int
    by_kind: dict[str, int]
    by_departement: dict[str, int]
    build_seconds: float
    dirty: bool = False

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    @property
    def meta_path(self) -> Path:
        return Path(self.path).with_suffix(".json")

    def save(self) -> None:
        self.meta_path.write_text(json.dumps(asdict(self), indent=1))

    @property
    def mutable_ids(self) -> list[int]:
        return sorted({*self.cohort, *(i for ids in self.fixtures.values() for i in ids)})


def _digest(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def fingerprint() -> str:
    """Changes whenever the code that decides the rows may have changed (schema, domain, writer, generator)."""
    return _digest([*ROOT.glob("lifecycle/**/*.py"), *ROOT.glob("lifecycle/rulesets/*.toml"),
                    *ROOT.glob("workflows/persistence/**/*.py"), *ROOT.glob("workflows/simulation/demo.py"),
                    Path(__file__)])


def schema_fingerprint() -> str:
    """Changes with the tables and migrations: a portfolio file of another schema cannot be reused."""
    return _digest([ROOT / "workflows/persistence/tables.py",
                    *ROOT.glob("workflows/persistence/migrations/versions/*.py")])


def cache_dir() -> Path:
    import tempfile
    path = Path(tempfile.gettempdir()) / "cpts-bench-cache"
    path.mkdir(exist_ok=True)
    return path


def portfolio(n: int, seed: int, *, due: int | None = None, jobs: int = 2, log: Any = print) -> Portfolio:
    """The cached portfolio of `n` cases, built if absent or if it no longer matches what the code builds
    (`spot_check`); left as built (mutable cases restored).

    The cache is keyed by size, seed, generator version and schema only: other engineers' edits to the
    domain rarely change the rows, and a rebuild of 100 000 cases takes minutes. Whether they did is checked
    on every reuse by rebuilding a sample of the cached cases and comparing every row.
    """
    due = min(1000, max(1, n // 10)) if due is None else due
    path = cache_dir() / f"portfolio-n{n}-seed{seed}-due{due}-v{GENERATOR_VERSION}-{schema_fingerprint()}.db"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        built = Portfolio(**json.loads(meta.read_text()))
        if built.dirty:
            restore(built)
        differences = spot_check(built)
        if not differences:
            return built
        log(f"the cached portfolio of {n} cases no longer matches what the code builds ({differences[0][:300]}): "
            "rebuilding")
    for stale in cache_dir().glob(f"portfolio-n{n}-seed{seed}-due{due}-*"):
        stale.unlink()
    log(f"building portfolio of {n} cases (seed {seed}, {due} due) in {path} …")
    started = time.perf_counter()
    from workflows.persistence.db import make_engine, migrate

    tmp = path.with_suffix(".building")
    if tmp.exists():
        tmp.unlink()
    engine = make_engine(f"sqlite:///{tmp}")
    migrate(engine)
    referents = add_people(SqlUnitOfWork(engine))
    plans = plan_portfolio(n, seed, due=due)
    info: dict[int, dict[str, Any]] = {}
    by_kind: dict[str, int] = {}
    by_dept: dict[str, int] = {}
    events = 0

    def tracked() -> Iterator[BuiltCase]:
        nonlocal events
        for plan, b in zip(plans, build_all(plans, referents, jobs=jobs), strict=True):
            info[plan.case_id] = b.info
            by_kind[plan.kind] = by_kind.get(plan.kind, 0) + 1
            by_dept[b.case["seat_departement"]] = by_dept.get(b.case["seat_departement"], 0) + 1
            events += len(b.journal)
            if plan.case_id % 10_000 == 0:
                log(f"  {plan.case_id} cases, {time.perf_counter() - started:.0f} s")
            yield b

    insert_cases(engine, tracked())
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    fixtures: dict[str, list[int]] = {}
    for plan in plans:
        if plan.kind.startswith("fixture"):
            fixtures.setdefault(plan.kind, []).append(plan.case_id)
    built = Portfolio(
        path=str(path), cases=n, seed=seed, t0=T0.isoformat(),
        cohort=[p.case_id for p in plans if p.kind == COHORT],
        cohort_due={str(p.case_id): info[p.case_id]["due"][0] for p in plans if p.kind == COHORT},
        five_year=[p.case_id for p in plans if p.kind == FIVE_YEAR],
        fixtures=fixtures,
        fixture_append={str(i): info[i]["append"] for ids in fixtures.values() for i in ids if "append" in info[i]},
        events=events, by_kind=dict(sorted(by_kind.items())), by_departement=dict(sorted(by_dept.items())),
        build_seconds=round(time.perf_counter() - started, 1),
    )
    tmp.rename(path)
    built.path = str(path)
    snapshot(built)
    built.save()
    log(f"  built in {built.build_seconds:.0f} s ({events} journal rows)")
    return built


def spot_check(p: Portfolio, *, sample: int = 24) -> list[str]:
    """Rebuild `sample` cases of a cached portfolio (spread over it, a due one and every fixture kind among
    them) with the current code and compare their rows with the file's; the differences found."""
    from sqlalchemy import select

    from workflows.persistence.db import make_engine, migrate
    from workflows.persistence.tables import User

    plans = plan_portfolio(p.cases, p.seed, due=len(p.cohort))
    step = max(1, p.cases // sample)
    wanted = {*range(1, p.cases + 1, step), p.cohort[0], *(ids[0] for ids in p.fixtures.values())}
    chosen = [plan for plan in plans if plan.case_id in wanted]
    cached = make_engine(f"sqlite:///{p.path}")
    scratch_path = Path(p.path).with_suffix(".spot.db")
    if scratch_path.exists():
        scratch_path.unlink()
    scratch = make_engine(f"sqlite:///{scratch_path}")
    try:
        migrate(scratch)
        with cached.connect() as connection:
            users = [dict(r._mapping) for r in connection.execute(select(User.__table__))]
        with scratch.begin() as connection:
            connection.execute(User.__table__.insert(), users)
        referents = {u["email"]: u["id"] for u in users}
        insert_cases(scratch, (build_case(plan, referents) for plan in chosen))
        ids = [plan.case_id for plan in chosen]
        differences = []
        for table in [Case.__table__, *case_tables(scratch)]:
            a, b = _dump(cached, table, ids), _dump(scratch, table, ids)
            if a != b:
                only = [r for r in a if r not in b][:1] + [r for r in b if r not in a][:1]
                differences.append(f"{table.name}: cached {len(a)} rows, rebuilt {len(b)}, e.g. {only}")
        return differences
    finally:
        cached.dispose()
        scratch.dispose()
        scratch_path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------- reset
def _case_table_names(con: sqlite3.Connection) -> list[str]:
    names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    return [n for n in names if not n.startswith(("bench_", "sqlite_", "alembic"))
            and "case_id" in {r[1] for r in con.execute(f'PRAGMA table_info("{n}")')}]


def snapshot(p: Portfolio) -> None:
    """Keep a copy of the mutable cases' rows (cohort, fixtures) inside the file, to restore them later."""
    con = sqlite3.connect(p.path, isolation_level=None)
    ids = ",".join(map(str, p.mutable_ids))
    con.execute("BEGIN")
    con.execute("DROP TABLE IF EXISTS bench_snap_cases")
    con.execute(f"CREATE TABLE bench_snap_cases AS SELECT * FROM cases WHERE id IN ({ids})")
    for name in _case_table_names(con):
        con.execute(f'DROP TABLE IF EXISTS "bench_snap_{name}"')
        con.execute(f'CREATE TABLE "bench_snap_{name}" AS SELECT * FROM "{name}" WHERE case_id IN ({ids})')
    con.execute("COMMIT")
    con.close()


def restore(p: Portfolio) -> None:
    """Put the mutable cases back as built (benchmarks append events to them and sweep them)."""
    con = sqlite3.connect(p.path, isolation_level=None, timeout=60)
    ids = ",".join(map(str, p.mutable_ids))
    con.execute("BEGIN IMMEDIATE")
    for name in _case_table_names(con):
        con.execute(f'DELETE FROM "{name}" WHERE case_id IN ({ids})')
        if name != "outbox":
            con.execute(f'INSERT INTO "{name}" SELECT * FROM "bench_snap_{name}"')
    con.execute(f"DELETE FROM cases WHERE id IN ({ids})")
    con.execute("INSERT INTO cases SELECT * FROM bench_snap_cases")
    con.execute("COMMIT")
    con.close()
    if p.dirty:
        p.dirty = False
        p.save()


def mark_dirty(p: Portfolio) -> None:
    p.dirty = True
    p.save()


# ----------------------------------------------------------------------------------------------- verification
def sample_plans(seed: int, t0: date = T0) -> list[CasePlan]:
    """One case of every stage (plus a due one and fixtures of 10 and ~105 events), ids 1..k."""
    rng = random.Random(f"sample:{seed}")
    lands = _Territories()
    plans = []
    kinds = [s for s, _ in STAGE_WEIGHTS] + [COHORT]
    for i, kind in enumerate(kinds):
        dept = ["57", "67", "974", "971", "59", "13"][i % 6]
        codes = lands.take(dept, rng)
        if kind == COHORT:
            start = t0 - timedelta(days=300 + 65 + rng.randint(0, 4))
        else:
            start = t0 - timedelta(days=SPANS[kind] + rng.randint(0, 20))
        name = f"CPTS {territory.communes([codes[0]])[0].name}"
        plans.append(CasePlan(i + 1, kind, name, dept, codes, start, f"sample:{seed}:{i}"))
    plans += plan_fixtures(len(plans) + 1, seed, count=1, kinds=("fixture_10", "fixture_five_year"))[:-1]
    return plans


@dataclass(frozen=True)
class SampleCheck:
    cases: int
    tables: dict[str, int]  # rows compared per table
    differences: list[str]
    engine_seconds: float
    bulk_seconds: float

    @property
    def ok(self) -> bool:
        return not self.differences

    def describe(self) -> str:
        rows = ", ".join(f"{n} {t}" for t, n in self.tables.items())
        verdict = "identical" if self.ok else f"{len(self.differences)} DIFFERENCES: " + "; ".join(self.differences[:5])
        return (f"bulk vs engine on {self.cases} sample cases (every stage, a due one, fixtures): {verdict} "
                f"[{rows}; journal hashes included; {OUTBOX_NOTE}] — engine {self.engine_seconds:.1f} s, "
                f"bulk {self.bulk_seconds:.2f} s")


def _dump(engine: Engine, table: Table, case_ids: Sequence[int] | None = None) -> list[tuple[Any, ...]]:
    columns = [c for c in table.columns if not (c.name == "id" and table.name != "cases")]
    query = table.select().with_only_columns(*columns)
    if case_ids is not None:
        query = query.where((table.c.id if table.name == "cases" else table.c.case_id).in_(list(case_ids)))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return sorted((tuple(r) for r in rows), key=repr)


def verify_sample(workdir: Path, seed: int) -> SampleCheck:
    """Build the sample both ways into two SQLite files and compare every row keyed by case."""
    from workflows.persistence.db import make_engine, migrate

    plans = sample_plans(seed)
    engines = {}
    for name in ("engine", "bulk"):
        path = workdir / f"sample-{name}.db"
        if path.exists():
            path.unlink()
        engines[name] = make_engine(f"sqlite:///{path}")
        migrate(engines[name])
    started = time.perf_counter()
    uow = SqlUnitOfWork(engines["engine"])
    add_people(uow)
    problems = engine_build(uow, plans)
    engine_seconds = time.perf_counter() - started
    started = time.perf_counter()
    referents = add_people(SqlUnitOfWork(engines["bulk"]))
    insert_cases(engines["bulk"], (build_case(p, referents) for p in plans))
    bulk_seconds = time.perf_counter() - started
    differences = [f"engine refused: {p}" for p in problems]
    counts = {}
    for table in [Case.__table__, *case_tables(engines["engine"])]:
        a, b = _dump(engines["engine"], table), _dump(engines["bulk"], table)
        counts[table.name] = len(a)
        if a != b:
            only_a = [r for r in a if r not in b][:2]
            only_b = [r for r in b if r not in a][:2]
            differences.append(f"{table.name}: engine {len(a)} rows, bulk {len(b)}; engine only {only_a}; "
                               f"bulk only {only_b}")
    for e in engines.values():
        e.dispose()
    return SampleCheck(len(plans), counts, differences, engine_seconds, bulk_seconds)
