"""The dashboard in a real browser (Debian's Chromium), on the demo portfolio, with axe-core on every page shown.

The demo is built as of Friday 20 June 2025 (the application's clock says the same). Its Grand Est binôme follows a
Moselle prospect whose first meeting with the founders never took place: the deadline (first contact + 15 days)
passed in May. The ARS agent finds it in *À traiter*, reads why it falls on its date, records the meeting (a date
in the future first, refused), and the deadline is met; a CPAM agent of Gironde cannot even see that the case exists.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from dashboard.formatting import long_date
from workflows.simulation.demo import DEMO_PASSWORD

pytestmark = pytest.mark.filterwarnings(  # pytest-base-url's fixture (pulled in by pytest-playwright), not ours
    "ignore:Session-scoped fixtures defined as instance methods:DeprecationWarning")

ARS_GRAND_EST = "referent.ars.44@ars.example.fr"
CPAM_GIRONDE = "referent.cpam.33@cpam.example.fr"
ADMIN = "admin@cpts.example.fr"
TOMORROW, YESTERDAY = "2025-06-21", "2025-06-19"


def sign_in(page: Page, base_url: str, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the form, as a person would."""
    page.goto(f"{base_url}/connexion")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def journal_length(served, case_id: int) -> int:
    uow = served.uow()
    with uow:
        return len(uow.journal.rows(case_id))


def test_a_binome_records_a_late_first_meeting_and_another_departement_cannot_see_the_case(
        page: Page, served, demo, audit) -> None:
    page.set_default_timeout(15_000)
    case_url = f"{served.url}/cpts/{demo.late_case}"

    # Signed in, the ARS agent lands on À traiter, where the late first meeting is listed as overdue.
    sign_in(page, served.url, ARS_GRAND_EST)
    expect(page).to_have_url(re.compile(r"/a-traiter"))
    expect(page.get_by_role("heading", name="À traiter", level=1)).to_be_visible()
    row = page.locator("#echeances tr").filter(has_text=demo.late_case_name).filter(
        has_text=re.compile("premier rendez-vous", re.IGNORECASE))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(re.compile(r"Dépassée|En retard"))
    audit(page, "À traiter")

    # Its explanation says from which day the deadline runs.
    row.get_by_text("Pourquoi cette date ?").click()
    expect(row.locator("details dl")).to_be_visible()
    expect(row.locator("details dl")).to_contain_text(long_date(demo.late_contact))
    audit(page, "À traiter, explication ouverte")

    # The case page: the first meeting's deadline, overdue, with its explanation.
    row.get_by_role("link", name=demo.late_case_name).click()
    expect(page).to_have_url(case_url)
    expect(page.get_by_role("heading", name=demo.late_case_name, level=1)).to_be_visible()
    deadline = page.locator("#echeances tr").filter(has_text=re.compile("premier rendez-vous", re.IGNORECASE))
    expect(deadline).to_have_count(1)
    expect(deadline).to_contain_text(re.compile(r"Dépassée|En retard"))
    deadline.get_by_text("Explication").click()
    expect(deadline.locator("details dl")).to_be_visible()
    expect(deadline.locator("details dl")).to_contain_text(long_date(demo.late_contact))
    audit(page, "Fiche CPTS, explication ouverte")

    # Recording the meeting: a date in the future is refused next to the date field, and nothing is written.
    written = journal_length(served, demo.late_case)
    page.get_by_role("button", name="Enregistrer un événement").click()  # a link styled as a button
    expect(page.get_by_role("heading", name=re.compile("Enregistrer un événement"), level=1)).to_be_visible()
    audit(page, "Enregistrer un événement")
    page.get_by_label("Événement").select_option(label="Premier rendez-vous tenu")
    date_field = page.get_by_label("Date de l'événement")
    expect(date_field).to_be_visible()
    audit(page, "Formulaire du premier rendez-vous")
    date_field.fill(TOMORROW)
    page.get_by_role("button", name="Enregistrer l'événement").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    date_field = page.get_by_label("Date de l'événement")
    expect(date_field).to_have_attribute("aria-invalid", "true")
    described = (date_field.get_attribute("aria-describedby") or "").split()
    errors = [name for name in described if "erreur" in name]
    assert errors, f"the date field is not described by an error message ({described})"
    message = page.locator(f"#{errors[0]}")
    expect(message).to_be_visible()
    expect(message).not_to_be_empty()
    assert journal_length(served, demo.late_case) == written, "a refused event wrote to the journal"
    audit(page, "Événement refusé (date future)")

    # With yesterday's date it is recorded: the deadline is met, on that day.
    date_field.fill(YESTERDAY)
    page.get_by_role("button", name="Enregistrer l'événement").click()
    expect(page).to_have_url(case_url)
    expect(page.get_by_text("Événement enregistré")).to_be_visible()
    deadline = page.locator("#echeances tr").filter(has_text=re.compile("premier rendez-vous", re.IGNORECASE))
    expect(deadline).to_contain_text("Respectée")
    expect(deadline).to_contain_text(long_date(date.fromisoformat(YESTERDAY)))
    assert journal_length(served, demo.late_case) == written + 1
    audit(page, "Fiche CPTS après l'enregistrement")

    # Signed out, then a CPAM agent of Gironde: the case is a 404, like a case that does not exist.
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion"))
    sign_in(page, served.url, CPAM_GIRONDE)
    expect(page).to_have_url(re.compile(r"/a-traiter"))
    response = page.goto(case_url)
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page introuvable")).to_be_visible()
    expect(page.get_by_text(demo.late_case_name)).to_have_count(0)
    audit(page, "404 pour la CPAM de Gironde")
    audit.assert_clean()


def test_a_wrong_password_is_refused_on_an_accessible_sign_in_page(page: Page, served, audit) -> None:
    page.goto(served.url + "/")
    expect(page).to_have_url(re.compile(r"/connexion"))
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    audit(page, "Connexion")
    sign_in(page, served.url, ARS_GRAND_EST, "not the password")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    expect(page.get_by_role("alert")).to_be_visible()
    audit(page, "Connexion refusée")
    audit.assert_clean()


def test_the_other_pages_pass_axe_as_the_administrator_uses_them(page: Page, served, demo, audit) -> None:
    page.set_default_timeout(15_000)
    sign_in(page, served.url, ADMIN)
    expect(page.get_by_role("heading", name="À traiter", level=1)).to_be_visible()
    audit(page, "À traiter (administrateur)")

    # Portefeuille, then a filter applied in place (htmx): the table shows the contracted CPTS only.
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Portefeuille").click()
    expect(page.get_by_role("heading", name="Portefeuille", level=1)).to_be_visible()
    audit(page, "Portefeuille")
    page.get_by_label("État", exact=True).select_option(label="Sous contrat")
    expect(page).to_have_url(re.compile(r"etat=contracted"))
    expect(page.locator("#cpts tbody tr").first).to_contain_text("Sous contrat")
    expect(page.locator("#cpts tbody tr").filter(has_not_text="Sous contrat")).to_have_count(0)
    audit(page, "Portefeuille filtré")

    # Financements, then grouped by département.
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Financements").click()
    expect(page.get_by_role("heading", name="Financements", level=1)).to_be_visible()
    audit(page, "Financements")
    page.get_by_label("Regrouper par").select_option(value="departement")
    expect(page).to_have_url(re.compile(r"par=departement"))
    audit(page, "Financements par département")

    # Notifications (the outbox), an administrator's page.
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Notifications").click()
    expect(page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    audit(page, "Notifications")

    # A CPTS under contract: échéancier, indicators, the journal checked in place; its notices; its referents.
    page.goto(f"{served.url}/cpts/{demo.contract_case}")
    expect(page.get_by_role("heading", name="Échéancier")).to_be_visible()
    page.get_by_role("button", name="Vérifier la chaîne").click()
    expect(page.locator("#verification")).not_to_contain_text("Vérifier la chaîne")
    audit(page, "Fiche CPTS sous contrat, chaîne vérifiée")
    page.goto(f"{served.url}/cpts/{demo.contract_case}/notifications")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Notifications")
    audit(page, "Notifications de la CPTS")
    page.goto(f"{served.url}/cpts/{demo.contract_case}/referents")
    expect(page.get_by_label("Référent ARS")).to_be_visible()
    audit(page, "Référents et contact")
    audit.assert_clean()


def test_a_legal_officer_opens_the_docket_and_downloads_a_letter_and_the_case_file(
        page: Page, served, audit) -> None:
    page.set_default_timeout(15_000)
    sign_in(page, served.url, "juridique@ars.example.fr")
    page.get_by_role("link", name="Contentieux").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Contentieux")
    rows = page.locator("table tbody tr")
    expect(rows.first).to_be_visible()  # the demo has terminations and CPL referrals in progress
    audit(page, "Contentieux")

    # The first case of the docket: its letters, then the case file, as files a lawyer can keep.
    rows.first.locator("a[href^='/cpts/']").first.click()
    expect(page).to_have_url(re.compile(r"/cpts/\d+$"))
    audit(page, "Fiche CPTS (juridique)")
    page.get_by_role("button", name="Lettres").click()
    audit(page, "Lettres")
    letter = page.locator("a[href$='.docx']").first
    with page.expect_download() as letter_download:
        letter.click()
    assert letter_download.value.suggested_filename.endswith(".docx")
    page.go_back()
    with page.expect_download() as file_download:
        page.get_by_role("button", name="Dossier (PDF)").click()
    assert file_download.value.suggested_filename.endswith(".pdf")
    with open(file_download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
    audit.assert_clean()
