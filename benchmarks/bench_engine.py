"""Micro-benchmarks run on demand (`python benchmarks/bench_engine.py`); figures go in the README, never in tests.

1. The state machine: one shared `transitions.Machine` with a short-lived model per replay, against a
   Machine built per case (with and without auto transitions).
2. The projection of one five-year journal of 29 events (no payments recorded).
3. `create_case` + a first `apply`, and a `sweep` that breaches one deadline per case, on an SQLite file.
4. The production simulator (`run_scenario`, in-memory SQLite, day by day) on SPEC §7's example.

Each line says what one timed call does. The issue's goals, with anchors and portfolios of 10 000 and
100 000 cases, are in `benchmarks/bench_performance.py`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transitions import Machine  # noqa: E402

from lifecycle.events import JournalEntry  # noqa: E402
from lifecycle.machine import INITIAL, STATES, TRANSITIONS, CaseFacts, LifecycleModel, fire  # noqa: E402
from lifecycle.projection import project  # noqa: E402
from lifecycle.ruleset import load_ruleset  # noqa: E402
from workflows import services  # noqa: E402
from workflows.persistence.db import make_engine, migrate  # noqa: E402
from workflows.persistence.unit_of_work import SqlUnitOfWork  # noqa: E402
from workflows.simulation.runner import run_scenario  # noqa: E402
from workflows.simulation.scenario import load_scenario  # noqa: E402


def timed(label: str, fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    median = statistics.median(samples)
    print(f"{label:<96} {median * 1e3:9.3f} ms (median of {repeat})")
    return median


def shared_machine() -> None:
    fire(LifecycleModel(CaseFacts()), "contact_recorded", date(2025, 1, 2), {"source": "ars"})


def machine_per_case(auto: bool) -> Callable[[], None]:
    def build() -> None:
        model = LifecycleModel(CaseFacts())
        Machine(model=model, states=list(STATES), transitions=TRANSITIONS, initial=INITIAL, send_event=True,
                auto_transitions=auto)
        fire_local = model.contact_recorded
        fire_local(at=date(2025, 1, 2), data={"source": "ars"})
    return build


def five_year_journal() -> list[JournalEntry]:
    facts = [
        ("2019-09-02", "contact_recorded", {"source": "ars"}), ("2019-09-10", "first_meeting_held", {}),
        ("2019-10-01", "loi_submitted", {}), ("2019-10-15", "loi_decision", {"party": "ars", "decision": "approve"}),
        ("2019-10-16", "loi_decision", {"party": "am", "decision": "approve"}),
        ("2019-11-04", "fir_granted", {"amount": "30000.00"}), ("2020-02-18", "health_project_received", {}),
        ("2020-05-05", "adhesion_requested", {"documents": ["health_project", "statutes", "territory", "members"]}),
        ("2020-06-02", "contract_signed", {"missions": ["quality", "support"]}),
    ]
    facts += [("2020-09-01", "mission_started", {"mission": m}) for m in ("access", "parcours", "prevention",
                                                                          "quality", "support")]
    signed = date(2020, 6, 2)
    for year in range(1, 6):
        anniversary = signed.replace(year=signed.year + year)
        facts.append(((anniversary + timedelta(days=20)).isoformat(), "annual_review_held", {"year": year}))
        facts.append(((anniversary + timedelta(days=25)).isoformat(), "indicators_reported",
                      {"year": year, "missions": {"access": {"attainment": 0.8}}}))
        facts.append(((anniversary - timedelta(days=30)).isoformat(), "members_list_updated", {"year": year}))
    return [JournalEntry(i + 1, t, date.fromisoformat(a), d) for i, (a, t, d) in
            enumerate(sorted(facts, key=lambda f: f[0]))]


def main() -> None:
    print("state machine (one contact_recorded fired from state new)")
    timed("shared Machine: a LifecycleModel made in state new, fire one event", shared_machine, 2000)
    timed("a transitions.Machine built for one model (auto_transitions=True), fire one event",
          machine_per_case(True), 300)
    timed("a transitions.Machine built for one model (auto_transitions=False), fire one event",
          machine_per_case(False), 300)

    rules = load_ruleset()
    journal = five_year_journal()
    today = date(2026, 1, 1)
    result = project(journal, rules, today, departement="57", population=60_000)
    print(f"projection of one five-year journal: {len(journal)} events, Moselle, 60 000 inhabitants, as of {today} "
          f"({result.state}, {len(result.deadlines)} deadlines, {len(result.payments.lines)} payment lines)")
    timed(f"project() of the {len(journal)}-event journal, échéancier included", lambda: project(
        journal, rules, today, departement="57", population=60_000), 50)

    print("use cases on an SQLite file (a fresh database in a temporary directory)")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate(engine)
        db = SqlUnitOfWork(engine)
        n = 200
        start = time.perf_counter()
        for i in range(n):
            case = services.create_case(db, name=f"CPTS {i}", departement="57", population=50_000)
            services.apply(db, case.id, services.NewEvent("contact_recorded", date(2025, 1, 6), {"source": "ars"}),
                           "bench", today=date(2025, 1, 6))
        elapsed = time.perf_counter() - start
        label = "create_case (57, 50 000 inhabitants) + apply(contact_recorded), per case: 2 transactions"
        print(f"{label:<96} {elapsed / n * 1e3:9.3f} ms (mean of {n} cases)")
        start = time.perf_counter()
        report = services.sweep(db, today=date(2025, 1, 22))
        elapsed = time.perf_counter() - start
        breached = sorted({ident.split(":")[0] for _, ident in report.breached})
        label = (f"sweep(today=2025-01-22) 16 days after contact, per case: {', '.join(breached)} breached, "
                 f"{report.notifications / report.cases:g} notice enqueued")
        print(f"{label:<96} {elapsed / report.cases * 1e3:9.3f} ms (mean of {report.cases} cases)")
    scenario = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "spec-worked-example.json")
    timed(f"run_scenario(spec-worked-example): {len(scenario.events)} events, {scenario.events[0].at}→{scenario.until} "
          "day by day, :memory:", lambda: run_scenario(scenario), 3)


if __name__ == "__main__":
    main()
