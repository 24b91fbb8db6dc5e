"""`cpts demo`: the README's main job builds a realistic portfolio through the real engine."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from workflows.cli.render import demo_text
from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import case_view, list_cases, list_deadlines
from workflows.simulation.demo import build_demo


def cases_as_dicts(engine):
    return [c.as_dict() for c in list_cases(SqlUnitOfWork(engine))]


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory):
    database = tmp_path_factory.mktemp("demo") / "cpts-demo.db"
    summary = demo_text(build_demo(database, today=date(2026, 11, 25), seed=2019))
    engine = make_engine(f"sqlite:///{database}")
    yield summary, engine
    engine.dispose()


def test_the_demo_has_about_sixty_cpts_in_several_regions_with_moselle_and_overseas(portfolio):
    summary, engine = portfolio
    cases = cases_as_dicts(engine)

    assert 55 <= len(cases) <= 70
    assert len({c["region"] for c in cases}) >= 6
    assert {"57", "974"} <= {c["seat_departement"] for c in cases}
    assert "note:" not in summary  # every storyline event was accepted by the engine


def test_the_demo_covers_every_stage_of_the_lifecycle(portfolio):
    _, engine = portfolio
    states = Counter(c["state"] for c in cases_as_dicts(engine))

    for state in ("prospect", "health_project_submitted", "health_project_validated", "contracted",
                  "termination_suspended", "terminated", "expired", "abandoned", "contract_refused"):
        assert states[state] >= 1, state


def test_the_demo_has_tacit_validations_and_met_and_breached_mission_deadlines(portfolio):
    _, engine = portfolio
    mission = Counter(d.status for d in list_deadlines(SqlUnitOfWork(engine)) if d.key.startswith("mission_"))
    assert mission["met"] >= 1 and mission["breached"] >= 1

    tacit = [c for c in cases_as_dicts(engine)
             if any(h["event"] == "health_project_tacitly_validated"
                    for h in case_view(SqlUnitOfWork(engine), c["id"], today=date(2026, 11, 25)).as_dict()["history"])]
    assert tacit


def test_a_termination_in_the_demo_is_suspended_by_a_cpl_referral(portfolio):
    _, engine = portfolio
    [suspended, *_] = [c for c in cases_as_dicts(engine) if c["state"] == "termination_suspended"]
    view = case_view(SqlUnitOfWork(engine), suspended["id"], today=date(2026, 11, 25)).as_dict()

    assert [d["status"] for d in view["deadlines"] if d["key"] == "termination_effective"] == ["cancelled"]
    assert any(h["event"] == "cpl_referral_received" for h in view["history"])
