"""`cpts db refresh`: after an upgrade (migration 0010 added each line's ruleset row; ACI-2019+A2 adds the
crisis mission and the payment at the lettre d'intention), every case's stored deadlines and échéancier are
written afresh from its journal, which stays as it was."""

from __future__ import annotations

import sqlalchemy as sa
from builders import LOI_VALIDATED_2024, new_case, record_all
from spec_example import ALL_DOCUMENTS

from workflows.persistence.db import make_engine

CONTRACTED_2025 = [
    *LOI_VALIDATED_2024,
    ("2025-02-18", "health_project_received", {}),
    ("2025-03-03", "health_project_validated", {}),
    ("2025-04-07", "adhesion_requested", ALL_DOCUMENTS),
    ("2025-06-02", "contract_signed", {"missions": []}),
]


def _as_before_the_upgrade(engine: sa.Engine) -> None:
    """The rows a case had before this version: no ruleset rows, no crisis mission, no payment at the LOI."""
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM deadlines WHERE key LIKE '%.crisis'"))
        connection.execute(sa.text("DELETE FROM payments WHERE component = 'loi_support'"))
        connection.execute(sa.text("UPDATE deadlines SET origin = NULL, to_confirm = NULL"))
        connection.execute(sa.text("UPDATE payments SET origin = NULL, to_confirm = NULL"))


def _rows(engine: sa.Engine, query: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(query))]


def test_a_contract_signed_in_june_2025_gets_its_crisis_mission_and_lines_back_and_its_journal_is_unchanged(
        cpts, database):
    engine = make_engine(database)
    case_id = new_case(engine)
    record_all(engine, case_id, CONTRACTED_2025)
    expected_deadlines = _rows(engine, "SELECT ident, due, status, origin, to_confirm FROM deadlines ORDER BY ident")
    expected_payments = _rows(engine, "SELECT component, year, due, amount, origin, to_confirm FROM payments "
                                      "ORDER BY due, component, year")
    journal = _rows(engine, "SELECT seq, type, hash FROM journal ORDER BY seq")
    _as_before_the_upgrade(engine)

    result = cpts("db", "refresh", "--today", "2025-06-02")  # the day of the rows above

    assert result.code == 0, result.err
    assert result.out.strip().endswith("refreshed 1 case(s): 0 system event(s), 0 new breach(es)")
    deadlines = _rows(engine, "SELECT ident, due, status, origin, to_confirm FROM deadlines ORDER BY ident")
    assert deadlines == expected_deadlines
    crisis = [d for d in deadlines if d[0].startswith("mission_start.crisis")]
    assert [(str(d[1]), d[3]) for d in crisis] == [("2025-12-02", "ACI-2019+A2 deadlines.mission_start.crisis")]
    assert _rows(engine, "SELECT component, year, due, amount, origin, to_confirm FROM payments "
                         "ORDER BY due, component, year") == expected_payments
    loi = _rows(engine, "SELECT amount, origin, to_confirm IS NOT NULL FROM payments WHERE component = 'loi_support'")
    assert [(int(a), o, bool(c)) for a, o, c in loi] == [(17500, "ACI-2019+A2 amounts.loi_support", True)]
    assert _rows(engine, "SELECT seq, type, hash FROM journal ORDER BY seq") == journal
    engine.dispose()
