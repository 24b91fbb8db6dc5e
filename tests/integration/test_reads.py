"""The dashboard's reads against real databases (SQLite and PostgreSQL): overlaps through the commune index, a
filtered page of the portfolio, the budget forecast summed by the database to the cent, and the deadlines due
within N days.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from alembic import command
from builders import METZ, THIONVILLE, health_project_received_18_feb_2025, new_case
from sqlalchemy import Engine, event, text

from lifecycle.errors import DomainError
from lifecycle.ruleset import DEFAULT_RULESET
from workflows.persistence.db import alembic_config
from workflows.persistence.tables import DeadlineRow, PaymentRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import case_page, case_view, list_cases
from workflows.read.deadlines import deadlines_due
from workflows.read.finance import forecast, total
from workflows.services.people import add_user, assign

D = date.fromisoformat
YUTZ, FLORANGE, LILLE = "57757", "57221", "59350"


def case_communes(db: Engine) -> set[tuple[int, str]]:
    with db.connect() as connection:
        return {(r.case_id, r.commune) for r in connection.execute(text("SELECT case_id, commune FROM case_communes"))}


def claims(db: Engine, name: str, communes: tuple[str, ...]) -> int:
    """A case whose health project was received (a state that claims its territory, I §6.1)."""
    return health_project_received_18_feb_2025(db, name=name, communes=communes)


# ------------------------------------------------------------------------------------------- overlaps
def test_creating_a_case_indexes_each_of_its_communes_once(db):
    case_id = new_case(db, communes=(METZ, THIONVILLE, METZ))

    assert case_communes(db) == {(case_id, METZ), (case_id, THIONVILLE)}


def test_a_case_with_a_declared_population_only_has_no_commune_to_index(db):
    new_case(db, population=40_000)

    assert case_communes(db) == set()


def test_the_case_page_names_the_other_claiming_cases_sharing_a_commune_by_case_number(db):
    mine = claims(db, "CPTS du Pays Messin", (METZ, THIONVILLE))
    later = claims(db, "CPTS du Val de Fensch", (FLORANGE, THIONVILLE))
    elsewhere = claims(db, "CPTS Lilloise", (LILLE,))
    sharing_but_not_claiming = new_case(db, "CPTS en projet", communes=(METZ,))
    first = claims(db, "CPTS de Metz-Nord", (METZ, YUTZ))

    overlaps = case_view(SqlUnitOfWork(db), mine, today=D("2025-02-20")).overlaps

    assert [o.split(" case ")[1].split(" ")[0] for o in overlaps] == [str(later), str(first)]
    assert overlaps[0].startswith(f"communes {THIONVILLE} are also claimed by case {later} 'CPTS du Val de Fensch'")
    assert overlaps[1].startswith(f"communes {METZ} are also claimed by case {first}")
    assert f"case {elsewhere} " not in " ".join(overlaps)
    assert f"case {sharing_but_not_claiming} " not in " ".join(overlaps)


def test_a_case_sharing_several_communes_with_another_is_named_once(db):
    mine = claims(db, "CPTS du Pays Messin", (METZ, THIONVILLE, YUTZ))
    other = claims(db, "CPTS voisine", (METZ, THIONVILLE))

    overlaps = case_view(SqlUnitOfWork(db), mine, today=D("2025-02-20")).overlaps

    assert overlaps == (f"communes {METZ}, {THIONVILLE} are also claimed by case {other} 'CPTS voisine' "
                        "(health_project_submitted)",)


def test_the_overlap_check_reads_the_commune_index_not_every_case(sqlite_db):
    mine = claims(sqlite_db, "CPTS du Pays Messin", (METZ, THIONVILLE))
    claims(sqlite_db, "CPTS voisine", (THIONVILLE,))
    statements: list[tuple[str, object]] = []

    def keep(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "case_communes" in statement:
            statements.append((statement, parameters))

    event.listen(sqlite_db, "before_cursor_execute", keep)
    try:
        uow = SqlUnitOfWork(sqlite_db)
        with uow:
            found = uow.cases.sharing_communes([METZ, THIONVILLE], ["health_project_submitted"], besides=mine)
    finally:
        event.remove(sqlite_db, "before_cursor_execute", keep)

    assert [c.name for c in found] == ["CPTS voisine"]
    [(statement, parameters)] = statements
    with sqlite_db.connect() as connection:
        plan = " | ".join(row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "ix_case_communes_commune" in plan
    assert "SCAN cases" not in plan


# ------------------------------------------------------------------------------------------- migration 0004
def test_upgrading_to_0004_indexes_the_communes_of_the_cases_created_before(db):
    created_at_head = claims(db, "CPTS du Pays Messin", (METZ, THIONVILLE))
    command.downgrade(alembic_config(db), "0003")
    with db.begin() as connection:  # a case written by the application as it was at revision 0003
        connection.execute(text(
            "INSERT INTO cases (name, seat_departement, region, communes, population, size, ruleset_id, state, "
            "version, journal_head, created_at, updated_at) VALUES ('CPTS ancienne', '57', '44', :communes, 50000, "
            "2, :ruleset, 'health_project_validated', 3, :head, :now, :now)"),
            {"communes": json.dumps([THIONVILLE, YUTZ]), "ruleset": DEFAULT_RULESET, "head": "0" * 64,
             "now": datetime(2025, 1, 6, 9, tzinfo=UTC)})
        old = connection.execute(text("SELECT id FROM cases WHERE name = 'CPTS ancienne'")).scalar_one()

    command.upgrade(alembic_config(db), "head")

    assert case_communes(db) == {(created_at_head, METZ), (created_at_head, THIONVILLE), (old, THIONVILLE),
                                 (old, YUTZ)}
    overlaps = case_view(SqlUnitOfWork(db), created_at_head, today=D("2025-02-20")).overlaps
    assert overlaps == (f"communes {THIONVILLE} are also claimed by case {old} 'CPTS ancienne' "
                        "(health_project_validated)",)


# ------------------------------------------------------------------------------------------- the case list
@pytest.fixture
def portfolio(db) -> dict[str, int]:
    """Five cases: three in Moselle (two of size 2), one in Bas-Rhin, one in the Nord; one further along."""
    ids = {
        "messin": new_case(db, "CPTS du Pays Messin", population=60_000),
        "fensch": new_case(db, "CPTS du Val de Fensch", population=60_000),
        "lille": new_case(db, "CPTS Lille 100% Santé", departement="59", population=150_000),
        "strasbourg": new_case(db, "CPTS Strasbourg_Nord", departement="67", population=60_000),
        "sarre": new_case(db, "CPTS de la Sarre", population=20_000),
    }
    ids["thionville"] = claims(db, "CPTS Thionville", (THIONVILLE,))
    return ids


def names(cases) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.name for c in cases]


def test_the_case_list_filters_by_states_departements_region_size_and_name(db, portfolio):
    uow = SqlUnitOfWork(db)

    assert names(list_cases(uow, state="health_project_submitted")) == ["CPTS Thionville"]
    assert names(list_cases(uow, state="new", departement="57", size=2)) == [
        "CPTS du Pays Messin", "CPTS du Val de Fensch"]
    assert names(list_cases(uow, state=["new", "health_project_submitted"], size=[1, 3])) == [
        "CPTS Lille 100% Santé", "CPTS de la Sarre"]
    assert names(list_cases(uow, departement=["67", "59"])) == ["CPTS Lille 100% Santé", "CPTS Strasbourg_Nord"]
    assert names(list_cases(uow, region="44")) == [
        "CPTS du Pays Messin", "CPTS du Val de Fensch", "CPTS Strasbourg_Nord", "CPTS de la Sarre", "CPTS Thionville"]
    assert names(list_cases(uow, name="fensch")) == ["CPTS du Val de Fensch"]
    assert names(list_cases(uow, name="DU ")) == ["CPTS du Pays Messin", "CPTS du Val de Fensch"]


def test_percent_and_underscore_in_a_name_search_are_plain_characters(db, portfolio):
    uow = SqlUnitOfWork(db)

    assert names(list_cases(uow, name="100%")) == ["CPTS Lille 100% Santé"]
    assert names(list_cases(uow, name="g_N")) == ["CPTS Strasbourg_Nord"]
    assert names(list_cases(uow, name="%")) == ["CPTS Lille 100% Santé"]


def test_a_page_of_the_case_list_says_how_many_cases_match_in_all(db, portfolio):
    uow = SqlUnitOfWork(db)

    first = case_page(uow, region="44", limit=2)
    last = case_page(uow, region="44", limit=2, offset=4)
    beyond = case_page(uow, region="44", limit=2, offset=10)
    rest = case_page(uow, region="44", limit=None, offset=2)
    none = case_page(uow, region="44", limit=0)

    assert (names(first.cases), first.total) == (["CPTS du Pays Messin", "CPTS du Val de Fensch"], 5)
    assert (names(last.cases), last.total) == (["CPTS Thionville"], 5)
    assert (names(beyond.cases), beyond.total) == ([], 5)
    assert (len(rest.cases), rest.total, len(none.cases), none.total) == (3, 5, 0, 5)
    assert first.as_dict()["total"] == 5 and len(first.as_dict()["cases"]) == 2


def test_the_case_list_refuses_an_unknown_state_size_or_departement(db, portfolio):
    uow = SqlUnitOfWork(db)

    for filters in ({"state": "signed"}, {"size": 5}, {"departement": "20"}, {"region": "99"}, {"offset": -1}):
        with pytest.raises(DomainError):
            case_page(uow, **filters)


# ------------------------------------------------------------------------------------------- the forecast
def payments(db: Engine, case_id: int, lines: list[tuple[str, str, str | None, str | None, str]]) -> None:
    """Payment lines as the projection writer stores them: (component, due, amount, ceiling, status); a line
    `paid` was paid its whole amount."""
    with db.begin() as connection:
        connection.execute(PaymentRow.__table__.insert(), [
            {"case_id": case_id, "component": component, "mission": None, "year": 1, "due": D(due),
             "amount": None if amount is None else Decimal(amount),
             "ceiling": None if ceiling is None else Decimal(ceiling), "status": status, "explanation": "{}",
             "paid": Decimal(amount) if status == "paid" and amount is not None else Decimal(0)}
            for component, due, amount, ceiling, status in lines
        ])


def test_the_forecast_sums_amounts_to_the_cent_where_a_float_sum_would_not(db):
    case_id = new_case(db)
    huge = "999999999999.99"  # the largest amount of a Numeric(14, 2) column
    payments(db, case_id, [("fonctionnement.advance", "2026-03-15", huge, None, "scheduled")] * 22)
    exact = 22 * Decimal(huge)
    assert round(Decimal(sum(22 * [float(huge)])), 2) != exact  # what summing floats (SQLite's SUM) would give

    [group] = forecast(SqlUnitOfWork(db), 2026, by="component")

    assert group.committed == exact == Decimal("21999999999999.78")
    assert str(group.committed) == "21999999999999.78"


def test_the_forecast_counts_refunds_negative_paid_lines_apart_and_cancelled_lines_not_at_all(db):
    messin = new_case(db, "CPTS du Pays Messin")
    lille = new_case(db, "CPTS Lilloise", departement="59")
    payments(db, messin, [
        ("fonctionnement.advance", "2026-03-15", "17275.68", None, "paid"),
        ("access.variable", "2026-04-30", None, "13664.38", "awaiting_assessment"),
        ("refund", "2026-06-01", "0.29", None, "paid"),
        ("fonctionnement.advance", "2026-09-15", "100.10", None, "cancelled"),
        ("fonctionnement.advance", "2027-01-15", "1000.00", None, "scheduled"),
    ])
    payments(db, lille, [
        ("fonctionnement.advance", "2026-12-31", "0.10", None, "scheduled"),
        ("access.variable", "2026-01-01", None, None, "awaiting_assessment"),
    ])

    by_region = {g.key: g for g in forecast(SqlUnitOfWork(db), 2026, by="region")}
    by_component = forecast(SqlUnitOfWork(db), 2026, by="component")

    grand_est = by_region["44"]
    assert (grand_est.committed, grand_est.awaiting_ceiling, grand_est.paid) == (
        Decimal("17275.39"), Decimal("13664.38"), Decimal("17275.39"))
    assert (grand_est.maximum, grand_est.lines, grand_est.cases) == (Decimal("30939.77"), 3, 1)
    assert grand_est.as_dict()["committed"] == "17275.39" and by_region["32"].as_dict()["already_paid"] == "0.00"
    assert [(g.key, str(g.committed), g.lines, g.cases) for g in by_component] == [
        ("access.variable", "0.00", 2, 2), ("fonctionnement.advance", "17275.78", 2, 2), ("refund", "-0.29", 1, 1)]
    overall = total(by_component, 2026)
    assert (overall.key, overall.label, str(overall.committed), overall.lines, overall.cases) == (
        "total", "all groups, 2026", "17275.49", 5, 2)


def test_a_year_without_payment_forecasts_nothing(db):
    new_case(db)

    groups = forecast(SqlUnitOfWork(db), 2030, by="region")

    assert list(groups) == []
    assert total(groups, 2030).as_dict() == {
        "group": "total", "label": "all groups, 2030", "committed": "0.00", "awaiting_assessment_max": "0.00",
        "maximum": "0.00", "already_paid": "0.00", "lines": 0, "cases": 0}


# ------------------------------------------------------------------------------------------- deadlines due
def deadlines(db: Engine, case_id: int, rows: list[tuple[str, str, str, list[str]]]) -> None:
    """Deadline rows as the last refresh stored them: (key, due, status, recipients besides the binôme)."""
    with db.begin() as connection:
        connection.execute(DeadlineRow.__table__.insert(), [
            {"case_id": case_id, "ident": f"{key}:{due}", "key": key, "label": key.replace("_", " "), "due": D(due),
             "status": status, "kind": "procedural", "met_on": None, "at_expiry": "notify",
             "recipients": json.dumps(recipients), "explanation": json.dumps({"text": "—"})}
            for key, due, status, recipients in rows
        ])


def test_deadlines_due_within_30_days_are_the_pending_ones_from_today_to_the_30th_day(db):
    messin = new_case(db, "CPTS du Pays Messin")
    lille = new_case(db, "CPTS Lilloise", departement="59")
    deadlines(db, messin, [
        ("first_meeting", "2026-08-31", "pending", []),  # yesterday: a breach the sweep has not written yet
        ("loi_decision", "2026-09-01", "pending", []),
        ("health_project_opposition", "2026-10-01", "pending", ["legal"]),
        ("contract_signature", "2026-10-02", "pending", []),
    ])
    deadlines(db, lille, [
        ("loi_decision", "2026-09-01", "met", []),
        ("first_meeting", "2026-09-15", "pending", ["cpts"]),
    ])

    due = deadlines_due(SqlUnitOfWork(db), today=D("2026-09-01"), within_days=30)

    assert [(d.case, d.key, d.due.isoformat(), d.days_left) for d in due] == [
        (messin, "loi_decision", "2026-09-01", 0),
        (lille, "first_meeting", "2026-09-15", 14),
        (messin, "health_project_opposition", "2026-10-01", 30),
    ]
    assert due[1].as_dict() == {
        "case": lille, "case_name": "CPTS Lilloise", "departement": "59", "ident": "first_meeting:2026-09-15",
        "key": "first_meeting", "label": "first meeting", "due": "2026-09-15", "days_left": 14, "kind": "procedural",
        "recipients": ["cpts"]}
    assert len(deadlines_due(SqlUnitOfWork(db), today=D("2026-09-01"), within_days=30, limit=2)) == 2


def test_deadlines_due_of_a_portfolio_are_those_of_its_cases_or_of_the_cases_a_referent_follows(db):
    messin = new_case(db, "CPTS du Pays Messin")
    fensch = new_case(db, "CPTS du Val de Fensch")
    lille = new_case(db, "CPTS Lilloise", departement="59")
    for case_id in (messin, fensch, lille):
        deadlines(db, case_id, [("loi_decision", "2026-09-10", "pending", []),
                                ("health_project_opposition", "2026-09-20", "pending", ["legal"])])
    add_user(SqlUnitOfWork(db), "Anne Martin", "anne.martin@ars.example.fr", "ars", ["44"])
    add_user(SqlUnitOfWork(db), "Luc Petit", "luc.petit@ars.example.fr", "legal", ["59"])
    assign(SqlUnitOfWork(db), fensch, ars_email="anne.martin@ars.example.fr")

    def due(**scope: object) -> list[tuple[int, str]]:
        return [(d.case, d.key) for d in deadlines_due(SqlUnitOfWork(db), today=D("2026-09-01"), within_days=30,
                                                       **scope)]

    assert due(case_ids=[lille, messin]) == [(messin, "loi_decision"), (lille, "loi_decision"),
                                             (messin, "health_project_opposition"),
                                             (lille, "health_project_opposition")]
    assert due(referent="Anne.Martin@ars.example.fr") == [(fensch, "loi_decision"),
                                                         (fensch, "health_project_opposition")]
    assert due(referent="luc.petit@ars.example.fr") == [(lille, "health_project_opposition")]


def test_deadlines_due_refuses_a_negative_number_of_days_and_an_unknown_referent(db):
    with pytest.raises(DomainError):
        deadlines_due(SqlUnitOfWork(db), today=D("2026-09-01"), within_days=-1)
    with pytest.raises(DomainError):
        deadlines_due(SqlUnitOfWork(db), today=D("2026-09-01"), within_days=7, referent="nobody@example.fr")
