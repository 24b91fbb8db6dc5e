"""`cpts demo`: a realistic portfolio (~60 CPTS in several régions, at every stage) built through the engine.

Every case is a storyline of dated events recorded with `workflows.services.apply`, then one sweep fires the
timers (tacit validations, opinions deemed, terminations, expiries): the demo exercises the real code path.
Territories are real communes, carved without overlap from each département, plus one deliberate overlap.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from lifecycle import territory
from lifecycle.errors import DomainError
from lifecycle.events import DOCUMENTS
from lifecycle.ruleset import load_ruleset
from workflows.persistence.db import make_engine, migrate
from workflows.persistence.journal import UNKEYED, JournalKeys
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import list_cases, list_deadlines
from workflows.read.finance import case_payments
from workflows.read.people import list_users
from workflows.services import NewEvent, apply, create_case, sweep
from workflows.services.accounts import set_password
from workflows.services.outbox import enqueue_digests
from workflows.services.people import add_user, assign
from workflows.simulation.runner import virtual_now

# (département, number of CPTS): Grand Est with Moselle and Alsace, Hauts-de-France, Île-de-France,
# Auvergne-Rhône-Alpes, Bretagne, Occitanie, Provence, Nouvelle-Aquitaine, and two overseas départements.
PORTFOLIO = [("57", 8), ("67", 5), ("59", 7), ("92", 3), ("93", 4), ("69", 6), ("35", 5), ("31", 5),
             ("13", 5), ("33", 5), ("974", 4), ("971", 3)]

# Stages and how many days before "today" each storyline starts; the storyline stops where the stage does.
STAGES = [
    ("prospect", 6), ("prospect_late", 40), ("accompanied", 30), ("loi_submitted", 55),
    ("loi_validated", 150), ("health_project_submitted", 320), ("tacitly_validated", 400),
    ("opposed", 360), ("adhesion_requested", 400), ("contract_refused_cpl", 470),
    ("contracted_on_track", 600), ("contracted_missions_breached", 850), ("contracted_year3", 1250),
    ("termination_pending", 900), ("termination_suspended", 960), ("terminated", 1100),
    ("expired", 2400), ("abandoned", 200),
]


@dataclass
class Storyline:
    start: date
    events: list[tuple[date, str, dict[str, Any]]]

    def at(self, offset: int, event: str, data: dict[str, Any] | None = None) -> None:
        self.events.append((self.start + timedelta(days=offset), event, data or {}))


def _storyline(stage: str, start: date, rng: random.Random) -> Storyline:
    s = Storyline(start, [])
    s.at(0, "contact_recorded", {"source": rng.choice(["ars", "cpam", "porteur", "msa"])})
    if stage == "prospect":
        return s
    if stage == "prospect_late":  # first meeting never held: breached service deadline
        return s
    s.at(rng.randint(5, 14), "first_meeting_held")
    if stage == "accompanied":
        return s
    s.at(40, "loi_submitted", {"orientations": "accès aux soins, parcours"})
    if stage == "loi_submitted":
        return s
    s.at(52, "loi_decision", {"party": "ars", "decision": "approve"})
    s.at(54, "loi_decision", {"party": "am", "decision": "approve"})
    s.at(70, "fir_granted", {"amount": "30000.00"})
    if stage == "loi_validated":
        return s
    s.at(240, "fir_followup_meeting_held")
    if stage == "abandoned":
        s.events.pop()
        s.at(180, "project_abandoned", {"reason": "départ du porteur de projet"})
        return s
    s.at(300, "health_project_received")
    if stage == "health_project_submitted":
        return s
    if stage == "opposed":
        s.at(340, "health_project_opposed", {"grounds": "territory"})
        return s
    # the opposition window closes; the sweep fires the tacit validation
    if stage == "tacitly_validated":
        return s
    s.at(375, "adhesion_requested", {"documents": list(DOCUMENTS)})
    if stage == "adhesion_requested":
        return s
    if stage == "contract_refused_cpl":
        s.at(400, "contract_refusal_received")
        s.at(440, "cpl_referral_received", {"subject": "contract_refusal"})
        s.at(452, "cpl_meeting_scheduled", {"date": (start + timedelta(days=480)).isoformat()})
        return s
    signed = 420
    s.at(signed, "contract_signed", {"missions": rng.choice([[], ["quality"], ["quality", "support"]]),
                                     "snp_compensation": True, "snp_orientation": rng.random() < 0.3})
    s.at(signed + 60, "mission_started", {"mission": "access"})
    if stage != "contracted_missions_breached":
        s.at(signed + 200, "mission_started", {"mission": "parcours"})
        s.at(signed + 230, "mission_started", {"mission": "prevention"})
        # The crisis mission (ACI avenant 2), when the contract is under it from its signature.
        if "crisis" in load_ruleset().missions_at_signature(start + timedelta(days=signed)):
            s.at(signed + 150, "mission_started", {"mission": "crisis"})
    s.at(signed + 365 + 20, "annual_review_held", {"year": 1})
    s.at(signed + 365 + 25, "indicators_reported", {"year": 1, "missions": {
        "access": {"indicators": [
            {"name": "patients_with_medecin_traitant", "baseline": 80, "target": 90, "actual": 86, "weight": 1},
            {"name": "emergency_visits_without_hospitalisation", "baseline": 1000, "target": 900,
             "actual": 940, "weight": 1}]},
        "parcours": {"attainment": 0.5}}})
    s.at(signed + 365 + 10, "members_list_updated", {"year": 2})
    if stage in ("contracted_on_track", "contracted_missions_breached", "contracted_year3", "expired"):
        s.at(signed + 540, "mission_deployed", {"mission": "access"})
        s.at(signed + 2 * 365 + 30, "annual_review_held", {"year": 2})
        if stage == "expired":
            for year in (3, 4, 5):
                s.at(signed + year * 365 + 30, "annual_review_held", {"year": year})
        return s
    if stage == "termination_pending":  # the CPTS leaves
        s.at(signed + 440, "termination_notice_received", {"initiator": "cpts"})
        return s
    s.at(signed + 430, "termination_notice_received", {"initiator": "funders", "grounds": "non_compliance"})
    if stage == "termination_suspended":
        s.at(signed + 470, "cpl_referral_received", {"subject": "termination"})
        s.at(signed + 480, "cpl_meeting_scheduled", {"date": (start + timedelta(days=signed + 510)).isoformat()})
        return s
    # terminated: referral, meeting, opinion, decision maintained, effect, refund
    s.at(signed + 470, "cpl_referral_received", {"subject": "termination"})
    s.at(signed + 480, "cpl_meeting_scheduled", {"date": (start + timedelta(days=signed + 505)).isoformat()})
    s.at(signed + 505, "cpl_meeting_held")
    s.at(signed + 520, "cpl_opinion_notified", {"opinion": "unfavourable"})
    s.at(signed + 540, "funders_decision_notified", {"outcome": "maintained"})
    return s


def _territories(dept: str, count: int, rng: random.Random) -> Iterator[list[str]]:
    """Disjoint runs of neighbouring INSEE codes, each between ~25 000 and ~160 000 inhabitants."""
    communes = territory.communes_of(dept)
    cursor = 0
    for _ in range(count):
        target = rng.choice([25_000, 45_000, 70_000, 110_000, 160_000])
        codes: list[str] = []
        total = 0
        while cursor < len(communes) and total < target:
            codes.append(communes[cursor].code)
            total += communes[cursor].population
            cursor += 1
        yield codes


@dataclass(frozen=True)
class DemoSummary:
    """What `cpts demo` built.

    Attributes:
        database: the SQLite file; today: the date it was built for.
        by_state, by_departement, deadlines_by_status: counts over the portfolio.
        cases: how many CPTS; digests: referents' digests enqueued for today.
        notes: storyline events the engine refused (none expected).
    """

    database: Path
    today: date
    cases: int
    by_state: dict[str, int]
    by_departement: dict[str, int]
    deadlines_by_status: dict[str, int]
    digests: int
    notes: tuple[str, ...]


def build_demo(database: Path, *, today: date, seed: int = 2019, keys: JournalKeys = UNKEYED) -> DemoSummary:
    """(Re)build the demo database file as of `today` and summarise it (journals signed with `keys`)."""
    if database.exists():
        database.unlink()
    engine = make_engine(f"sqlite:///{database}")
    migrate(engine)
    uow = SqlUnitOfWork(engine, keys=keys)
    rng = random.Random(seed)
    _people(uow)
    stage_cycle = [stage for stage, _ in STAGES]
    rejected: list[str] = []
    created = 0
    for dept, count in PORTFOLIO:
        for codes in _territories(dept, count, rng):
            stage = stage_cycle[created % len(stage_cycle)]
            created += 1
            span = dict(STAGES)[stage]
            story = _storyline(stage, today - timedelta(days=span + rng.randint(0, 20)), rng)
            name = f"CPTS {territory.communes([codes[0]])[0].name}"
            rejected += _record(uow, name, dept, codes, story, today)
            rejected += _record_payments(uow, created, today, random.Random(seed * 1000 + created))
    _deliberate_overlap(uow, today)
    sweep(uow, today=today, now=virtual_now(today))
    return _summary(uow, database, today, rejected)


# Every demo account signs in to the web application with this password (a demo database only, never a real one).
DEMO_PASSWORD = "cpts-demo-2026"
# The accounts `cpts demo --serve` prints: a binôme of Moselle, a legal officer, national staff, an administrator,
# and a CPAM agent of another département (who sees none of Moselle's CPTS).
DEMO_ACCOUNTS = (
    ("agent ARS (Grand Est)", "referent.ars.44@ars.example.fr"),
    ("agent CPAM (Moselle)", "referent.cpam.57@cpam.example.fr"),
    ("agent CPAM (Gironde)", "referent.cpam.33@cpam.example.fr"),
    ("service juridique", "juridique@ars.example.fr"),
    ("niveau national", "national@cnam.example.fr"),
    ("administrateur", "admin@cpts.example.fr"),
)

AGENTS = ["Élise Martin", "Paul Durand", "Nadia Benali", "Jean Weber", "Claire Lefèvre", "Marc Hoarau",
          "Sophie Girard", "Karim Haddad", "Laura Ibanez", "Thomas Nguyen", "Anne Jacquet", "Hugo Lambert"]


def _people(uow: SqlUnitOfWork) -> None:
    """An ARS referent per région, a CPAM referent per département, one legal officer for every CPTS."""
    regions = sorted({territory.departement(dept).region for dept, _ in PORTFOLIO})
    for i, region in enumerate(regions):
        add_user(uow, AGENTS[i % len(AGENTS)], f"referent.ars.{region}@ars.example.fr", "ars", [region])
    for i, (dept, _) in enumerate(PORTFOLIO):
        add_user(uow, AGENTS[(i + 5) % len(AGENTS)], f"referent.cpam.{dept}@cpam.example.fr", "cpam", [dept])
    add_user(uow, "Service juridique", "juridique@ars.example.fr", "legal", [dept for dept, _ in PORTFOLIO])
    add_user(uow, "Direction nationale", "national@cnam.example.fr", "national")
    add_user(uow, "Administration", "admin@cpts.example.fr", "admin")
    for user in list_users(uow):
        set_password(uow, user.email, DEMO_PASSWORD)


def _record(uow: SqlUnitOfWork, name: str, dept: str, codes: list[str], story: Storyline,
            today: date) -> list[str]:
    case = create_case(uow, name=name, departement=dept, communes=codes, now=virtual_now(story.start))
    region = territory.departement(dept).region
    assign(uow, case.id, ars_email=f"referent.ars.{region}@ars.example.fr",
           cpam_email=f"referent.cpam.{dept}@cpam.example.fr", contact_name=f"Coordination {name}",
           contact_email=f"contact@cpts-{case.id}.example.fr")
    problems = []
    for at, event, data in sorted(story.events, key=lambda e: e[0]):
        if at > today:
            break
        actor = "demo-ars" if event.startswith(("loi", "health_project", "fir")) else "demo-cpam"
        try:
            # Recorded on the day it happened, as the binôme would have (the clock of the demo is virtual).
            apply(uow, case.id, NewEvent(event, at, data), actor, today=at, now=virtual_now(at))
        except DomainError as exc:
            problems.append(f"case {case.id} {event} {at}: {exc}")
    return problems


def _record_payments(uow: SqlUnitOfWork, case_id: int, today: date, rng: random.Random) -> list[str]:
    """The funders pay most lines a week or two after they fall due; a few stay overdue."""
    problems = []
    for line in case_payments(uow, case_id, today=today):
        if line.amount is None or line.status != "overdue" or rng.random() < 0.1:
            continue
        paid_on = min(line.due + timedelta(days=rng.randint(5, 15)), today)
        data = {"component": line.component, "year": line.year, "amount": str(line.amount)}
        try:
            apply(uow, case_id, NewEvent("payment_recorded", paid_on, data), "demo-cpam",
                  today=paid_on, now=virtual_now(paid_on))
        except DomainError as exc:
            problems.append(f"case {case_id} payment {line.component} {line.year}: {exc}")
    return problems


def _deliberate_overlap(uow: SqlUnitOfWork, today: date) -> None:
    """A project in Moselle that claims communes of a validated CPTS: the engine flags it (I §6.1)."""
    validated = [c for c in list_cases(uow, departement="57") if c.state == "health_project_validated"]
    if not validated:
        return
    claimed = list(validated[0].communes[:2])
    story = _storyline("health_project_submitted", today - timedelta(days=310), random.Random(1))
    _record(uow, "CPTS Val de Moselle (projet concurrent)", "57", claimed, story, today)


def _summary(uow: SqlUnitOfWork, database: Path, today: date, rejected: list[str]) -> DemoSummary:
    cases = list_cases(uow)
    statuses = Counter(d.status for d in list_deadlines(uow))
    digests = enqueue_digests(uow, today, virtual_now(today))
    return DemoSummary(
        database=database, today=today, cases=len(cases),
        by_state=dict(sorted(Counter(c.state for c in cases).items())),
        by_departement=dict(sorted(Counter(c.seat_departement for c in cases).items())),
        deadlines_by_status=dict(sorted(statuses.items())), digests=digests, notes=tuple(rejected),
    )
