"""The CPL deliberation's widget on the event form (issue 12): members present and represented per section, the
proxies, the vote and the second, secret vote, as numbers; the server builds the event's data, the engine checks
quorum, parity and proxies, and its refusals come back in French; the seats the deliberation is held under are
recorded with it (`CPTS_CPL_MEMBERS`, else the ruleset's 6 and 6).

The case: the Sarreguemines contract (Moselle), terminated by the funders (notice received Tue 10 June 2025),
referred to the CPL on Mon 16 June; on Wed 18 June the meeting is fixed for Fri 20 June 2025, the portfolio's day.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date

import pytest
from builders import noon, record
from fastapi.testclient import TestClient

from dashboard.app import create_app
from web.conftest import NOW, sign_in
from web.test_events import _error_of, _journal, _record, _visible
from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services import NewEvent, apply
from workflows.settings import load_settings

MEETING = "cpl_meeting_held"
# Four members of each section present or represented (one by proxy each); 5 for, 3 against.
VOTED = {"d_present_professional": "3", "d_present_social": "3", "d_represented_professional": "1",
         "d_represented_social": "1", "d_proxy_holder_1": "Dr Martin", "d_proxy_count_1": "1",
         "d_proxy_holder_2": "Mme Durand", "d_proxy_count_2": "1",
         "d_votes_for": "5", "d_votes_against": "3", "d_votes_blank": "", "d_votes_abstention": ""}


@pytest.fixture
def meeting_today(portfolio) -> int:
    engine = make_engine(f"sqlite:///{portfolio.path}")
    case_id = portfolio.contract
    apply(SqlUnitOfWork(engine), case_id, NewEvent("termination_notice_received", date(2025, 6, 10), {
        "initiator": "funders", "grounds": "non_compliance"}), "juridique@ars.example.fr",
        today=date(2025, 6, 10), now=noon(date(2025, 6, 10)))
    record(engine, case_id, "2025-06-16", "cpl_referral_received", {"subject": "termination"})
    record(engine, case_id, "2025-06-18", "cpl_meeting_scheduled", {"date": "2025-06-20"})
    engine.dispose()
    return case_id


def recorded(portfolio, case_id: int) -> dict:
    last = _journal(portfolio, case_id)[-1]
    assert last.type == MEETING
    return json.loads(last.data)


def test_the_form_asks_for_numbers_not_json(portfolio, client_as, meeting_today):
    page = client_as("legal").get(f"/cpts/{meeting_today}/evenement?type={MEETING}").text
    for name in ("d_present_professional", "d_represented_social", "d_proxy_holder_1", "d_proxy_count_1",
                 "d_votes_for", "d_votes_abstention", "d_second_vote_against", "d_seats_social"):
        assert re.search(rf'name="{name}"[^>]*type="(number|text)"', page), name
    assert "(JSON)" not in page
    assert "6 sièges dans la section professionnelle et 6 dans la section sociale" in _visible(page)


def test_a_vote_is_recorded_from_the_fields_and_the_opinion_deadline_follows(portfolio, client_as, meeting_today):
    client = client_as("legal")
    response = _record(client, meeting_today, MEETING, "2025-06-20", **VOTED)
    assert response.status_code == 303, _visible(response.text)
    assert recorded(portfolio, meeting_today) == {
        "present": {"professional": 3, "social": 3}, "represented": {"professional": 1, "social": 1},
        "proxies": [{"holder": "Dr Martin", "count": 1}, {"holder": "Mme Durand", "count": 1}],
        "votes": {"for": 5, "against": 3, "blank": 0, "abstention": 0},
        "seats": {"professional": 6, "social": 6}}
    # The opinion within 30 days of the meeting: Sun 20 July 2025 → Mon 21 July (procedural, CPC art. 642).
    docket = _visible(client.get("/contentieux").text)
    assert "Avis de la CPL" in docket and "lundi 21 juillet 2025" in docket


def test_a_tie_kept_at_the_second_vote_is_recorded(portfolio, client_as, meeting_today):
    tie = {**VOTED, "d_votes_for": "4", "d_votes_against": "4", "d_second_vote_for": "3",
           "d_second_vote_against": "3", "d_second_vote_blank": "2"}
    assert _record(client_as("legal"), meeting_today, MEETING, "2025-06-20", **tie).status_code == 303
    assert recorded(portfolio, meeting_today)["second_vote"] == {"for": 3, "against": 3, "blank": 2, "abstention": 0}


def test_a_meeting_without_its_deliberation_is_still_recorded(portfolio, client_as, meeting_today):
    assert _record(client_as("legal"), meeting_today, MEETING, "2025-06-20").status_code == 303
    assert recorded(portfolio, meeting_today) == {}


def test_no_parity_is_refused_in_french_and_nothing_is_written(portfolio, client_as, meeting_today):
    before = len(_journal(portfolio, meeting_today))
    response = _record(client_as("legal"), meeting_today, MEETING, "2025-06-20",
                       **{**VOTED, "d_present_social": "4"})
    assert response.status_code == 422
    seen = _visible(response.text)
    assert "la CPL ne peut pas valablement délibérer" in seen and "Refusé par le moteur" not in seen
    assert 'name="d_present_social" type="number" value="4"' in response.text  # the numbers typed are kept
    assert len(_journal(portfolio, meeting_today)) == before


def test_a_tie_without_its_second_vote_is_refused_in_french(portfolio, client_as, meeting_today):
    response = _record(client_as("legal"), meeting_today, MEETING, "2025-06-20",
                       **{**VOTED, "d_votes_for": "4", "d_votes_against": "4"})
    assert response.status_code == 422
    assert "Refusé par le moteur" not in _visible(response.text)
    assert "second vote" in _visible(response.text).lower()


def test_a_count_that_is_not_a_number_is_refused_next_to_its_group(portfolio, client_as, meeting_today):
    response = _record(client_as("legal"), meeting_today, MEETING, "2025-06-20",
                       **{**VOTED, "d_votes_against": "trois"})
    assert response.status_code == 422
    assert _error_of(response.text, "f-d_votes").startswith("Vote (contre)")


def test_the_deployments_seats_are_recorded_and_decide_the_quorum(portfolio, meeting_today):
    # CPTS_CPL_MEMBERS=57=10/10: quorum 5 per section; 4 present or represented is short of it.
    settings = replace(load_settings({"CPTS_CPL_MEMBERS": "57=10/10"}), database_url=f"sqlite:///{portfolio.path}")
    engine = make_engine(settings.database_url)
    try:
        with TestClient(create_app(settings, uow=SqlUnitOfWork(engine), now=lambda: NOW)) as client:
            sign_in(client, portfolio.email("legal"))
            page = _visible(client.get(f"/cpts/{meeting_today}/evenement?type={MEETING}").text)
            assert "10 sièges dans la section professionnelle et 10 dans la section sociale" in page
            refused = _record(client, meeting_today, MEETING, "2025-06-20", **VOTED)
            assert refused.status_code == 422
            assert "pas de quorum dans la section professionnelle" in _visible(refused.text)
            more = {**VOTED, "d_present_professional": "4", "d_present_social": "4"}  # 5 and 5 of 10
            assert _record(client, meeting_today, MEETING, "2025-06-20", **more).status_code == 303
    finally:
        engine.dispose()
    assert recorded(portfolio, meeting_today)["seats"] == {"professional": 10, "social": 10}
