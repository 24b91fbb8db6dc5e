"""Issue 12's "done when", in a real browser (Debian's Chromium) on the demo portfolio, axe-core on every page: a
legal officer signs in, opens from *Contentieux* a termination suspended by a CPL referral, records the CPL's
meeting with its vote through the deliberation's form (numbers per section, not JSON), and sees the opinion
deadline on the case and on the docket.

The demo's day is Friday 20 June 2025. The meeting is recorded as held yesterday, Thu 19 June 2025: the CPL's
opinion is due within 30 days (ACI art. 12.4.2), Sat 19 July 2025, a procedural deadline rolled over the weekend to
Mon 21 July 2025 (CPC art. 642).
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect
from test_dashboard_browser import journal_length, sign_in

from workflows.read.cases import list_cases

pytestmark = pytest.mark.filterwarnings(  # pytest-base-url's fixture (pulled in by pytest-playwright), not ours
    "ignore:Session-scoped fixtures defined as instance methods:DeprecationWarning")

LEGAL = "juridique@ars.example.fr"
HELD_ON = "2025-06-19"
OPINION_DUE = "lundi 21 juillet 2025"


def test_a_legal_officer_records_the_cpl_meeting_and_its_vote_and_sees_the_opinion_deadline(
        page: Page, served, audit) -> None:
    page.set_default_timeout(15_000)
    suspended = list_cases(served.uow(), state="termination_suspended")
    assert suspended, "the demo has no termination suspended by a CPL referral"
    case = suspended[0]
    written = journal_length(served, case.id)

    # Contentieux lists the case; the officer opens it from there.
    sign_in(page, served.url, LEGAL)
    page.get_by_role("link", name="Contentieux").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Contentieux")
    row = page.locator("#dossiers tbody tr").filter(has_text=case.name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Suspendue par la saisine de la CPL")
    audit(page, "Contentieux")
    row.get_by_role("link", name=case.name).click()
    expect(page).to_have_url(re.compile(rf"/cpts/{case.id}$"))

    # The meeting's form: counts per section, proxies, the vote — numbers, no JSON.
    page.get_by_role("button", name="Enregistrer un événement").click()
    page.get_by_label("Événement").select_option(label="Réunion de la CPL tenue")
    expect(page.locator("[name=d_present_professional]")).to_be_visible()
    audit(page, "Formulaire de la réunion de la CPL")
    page.get_by_label("Date de l'événement").fill(HELD_ON)
    # First without parity (3 professional, 4 social members): refused in French, nothing written.
    for name, value in (("d_present_professional", "3"), ("d_present_social", "4"), ("d_votes_for", "4"),
                        ("d_votes_against", "2"), ("d_votes_blank", "1")):
        page.locator(f"[name={name}]").fill(value)
    page.get_by_role("button", name="Enregistrer l'événement").click()
    expect(page.get_by_role("alert").first).to_contain_text("la CPL ne peut pas valablement délibérer")
    expect(page.get_by_role("alert").first).to_contain_text("parité")
    assert journal_length(served, case.id) == written, "a refused deliberation wrote to the journal"
    audit(page, "Délibération refusée (parité)")

    # Three members of each section present, one more by proxy on each side; 5 for, 2 against, 1 blank.
    page.locator("[name=d_present_social]").fill("3")
    page.locator("[name=d_represented_professional]").fill("1")
    page.locator("[name=d_represented_social]").fill("1")
    page.locator("[name=d_proxy_holder_1]").fill("Dr Claire Muller")
    page.locator("[name=d_proxy_count_1]").fill("1")
    page.locator("[name=d_proxy_holder_2]").fill("M. Karim Haddad")
    page.locator("[name=d_proxy_count_2]").fill("1")
    page.locator("[name=d_votes_for]").fill("5")
    page.get_by_role("button", name="Enregistrer l'événement").click()
    expect(page).to_have_url(re.compile(rf"/cpts/{case.id}$"))
    expect(page.get_by_text("Événement enregistré")).to_be_visible()
    assert journal_length(served, case.id) == written + 1
    uow = served.uow()
    with uow:
        last = uow.journal.rows(case.id)[-1]
    assert last.type == "cpl_meeting_held" and last.at.isoformat() == HELD_ON
    assert json.loads(last.data)["votes"] == {"for": 5, "against": 2, "blank": 1, "abstention": 0}
    assert json.loads(last.data)["seats"] == {"professional": 6, "social": 6}  # the ruleset's, recorded

    # The case page: the CPL's opinion is now due, on Monday 21 July 2025.
    opinion = page.locator("#echeances tr").filter(has_text=re.compile("avis de la CPL", re.IGNORECASE))
    expect(opinion.first).to_contain_text(OPINION_DUE)
    audit(page, "Fiche CPTS après la réunion de la CPL")

    # The docket too.
    page.get_by_role("link", name="Contentieux").click()
    row = page.locator("#dossiers tbody tr").filter(has_text=case.name)
    expect(row).to_contain_text(re.compile(rf"Avis de la CPL[^:]*: {OPINION_DUE}"))
    audit(page, "Contentieux après la réunion de la CPL")
    audit.assert_clean()
