"""*Calculateur de délais* (`/calendrier`): the web form of `cpts calendar add`, for legal staff and every signed-in
user — the due date as a long French date with its explanation, errors in French next to their field, a plain GET
form that htmx refreshes in place.

Every expected date below is counted by hand from the calendar and the rules of the code de procédure civile
(art. 640-642: the anchor day does not count; months keep their day number; a procedural deadline falling on a
Saturday, Sunday or public holiday at the seat rolls over to the next working day, or the previous one when the
period is counted backward). Weekdays: 10 Mar 2025 is a Monday, 16 Jun 2025 a Monday, 11 Dec 2025 a Thursday.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode

import pytest

from web.conftest import ROLES


def _query(**fields: str) -> str:
    return "/calendrier?" + urlencode(fields)


def _asked(**fields: str) -> dict[str, str]:
    """A full form as the "Calculer l'échéance" button submits it."""
    values = {"date": "", "duree": "", "unite": "jours", "sens": "apres", "departement": "", "nature": "procedural",
              **fields}
    return {**values, "calculer": "1"}


def _visible(html: str) -> str:
    """The page's text as a reader sees it: tags dropped, entities decoded, blanks collapsed (not str.split: the
    narrow no-break space of French numbers is kept)."""
    return re.sub(r"[ \t\r\n]+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _result(html: str) -> str:
    start = html.index('id="resultat"')
    return _visible(html[start:html.index("</section>", start)])


def _field(html: str, name: str) -> str:
    """The visible text of one field's block (label, control, help, error)."""
    start = html.index(f'id="f-{name}"') if f'id="f-{name}"' in html else html.index(f'name="{name}"')
    begin = html.rindex('<div class="field', 0, start)
    return html[begin:html.index("</div>", start)]


# ----------------------------------------------------------------------------------------------- dates
def test_two_months_after_10_march_2025_in_moselle_is_monday_12_may(client_as):
    # 10 Mar 2025 + 2 months = Sat 10 May 2025 (same day number); Sat 10 and Sun 11 are not working days:
    # the procedural deadline rolls over to Mon 12 May 2025 (8 May, a holiday, is before it and changes nothing).
    page = client_as("legal").get(_query(**_asked(date="2025-03-10", duree="2", unite="mois", departement="57")))

    assert page.status_code == 200
    result = _result(page.text)
    assert "Échéance : lundi 12 mai 2025" in result
    assert "soit le samedi 10 mai 2025" in result
    assert "samedi 10 mai 2025, dimanche 11 mai 2025, non ouvrés au siège de la CPTS (département 57)" in result
    assert "premier jour ouvré suivant" in result
    assert "Lundi 10 mars 2025" in result  # the anchor typed


def test_15_days_before_16_june_2025_in_paris_is_friday_30_may(client_as):
    # 16 Jun 2025 − 15 days = Sun 1 Jun 2025; counted backward, the roll-over goes to the previous working day:
    # Sun 1 Jun, Sat 31 May, then Fri 30 May 2025 (Ascension, Thu 29 May, is not reached).
    page = client_as("legal").get(_query(**_asked(date="2025-06-16", duree="15", sens="avant", departement="75")))

    result = _result(page.text)
    assert "Échéance : vendredi 30 mai 2025" in result
    assert "Au moins 15 jours avant cette date, soit le dimanche 1er juin 2025" in result
    assert "dimanche 1er juin 2025, samedi 31 mai 2025" in result
    assert "premier jour ouvré précédent" in result
    assert "Paris (75)" in result


def test_the_seats_holidays_count_26_december_rolls_over_in_moselle_not_in_paris(client_as):
    # 11 Dec 2025 + 15 days = Fri 26 Dec 2025: Saint-Étienne is a public holiday in Moselle (local law), then the
    # weekend of 27-28 Dec: Mon 29 Dec 2025. In Paris 26 Dec is a working day: the deadline stays on it.
    client = client_as("legal")
    moselle = _result(client.get(_query(**_asked(date="2025-12-11", duree="15", departement="57"))).text)
    paris = _result(client.get(_query(**_asked(date="2025-12-11", duree="15", departement="75"))).text)

    assert "Échéance : lundi 29 décembre 2025" in moselle
    assert "vendredi 26 décembre 2025 (Saint-Étienne)" in moselle
    assert "Échéance : vendredi 26 décembre 2025" in paris
    assert "Aucun : c'est un jour ouvré au siège de la CPTS" in paris


def test_a_date_of_effect_does_not_roll_over(client_as):
    # The same 2 months after 10 Mar 2025, as a date of effect: Sat 10 May 2025 stays.
    page = client_as("legal").get(_query(**_asked(date="2025-03-10", duree="2", unite="mois", departement="57",
                                                  nature="effect")))

    result = _result(page.text)
    assert "Échéance : samedi 10 mai 2025" in result
    assert "une date d'effet ne se reporte pas" in result


def test_a_delai_franc_does_not_count_its_last_day_either(client_as):
    # 2 Jun 2025 + 15 days = Tue 17 Jun 2025; délai franc: the last day does not count, the act may still be done
    # on Wed 18 Jun 2025 (a working day in Paris).
    page = client_as("legal").get(_query(**_asked(date="2025-06-02", duree="15", departement="75", franc="oui")))

    result = _result(page.text)
    assert "Échéance : mercredi 18 juin 2025" in result
    assert "délai franc" in result


def test_a_date_typed_the_french_way_is_read(client_as):
    page = client_as("legal").get(_query(**_asked(date="10/03/2025", duree="2", unite="mois", departement="57")))

    assert "Échéance : lundi 12 mai 2025" in _result(page.text)
    assert 'value="2025-03-10"' in _field(page.text, "date")  # shown again as the date picker writes it


# ----------------------------------------------------------------------------------------------- errors
def test_wrong_values_are_refused_in_french_next_to_their_field(client_as):
    page = client_as("legal").get(_query(**_asked(date="30/02/2025", duree="-3", departement="99")))

    assert page.status_code == 422
    assert "Le calcul n'a pas pu être fait" in _visible(page.text)
    assert "Date illisible : écrivez-la sous la forme JJ/MM/AAAA" in _visible(_field(page.text, "date"))
    assert "La durée ne peut pas être négative" in _visible(_field(page.text, "duree"))
    assert "Choisissez le département du siège de la CPTS dans la liste." in _visible(
        _field(page.text, "departement"))
    assert 'aria-invalid="true"' in _field(page.text, "duree")
    assert "Échéance :" not in _result(page.text)
    assert 'value="30/02/2025"' in _field(page.text, "date")  # the values typed are kept


def test_a_submitted_form_says_which_fields_are_missing(client_as):
    page = client_as("legal").get(_query(**_asked(departement="")))

    assert page.status_code == 422
    assert "Indiquez la date de départ." in _visible(_field(page.text, "date"))
    assert "Indiquez le nombre de jours ou de mois." in _visible(_field(page.text, "duree"))
    assert "Choisissez le département du siège de la CPTS." in _visible(_field(page.text, "departement"))


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"duree": "1201", "unite": "mois"}, "duree", "Au plus 1\u202f200 mois"),
    ({"duree": "quinze"}, "duree", "Indiquez un nombre entier de jours ou de mois"),
    ({"nature": "urgent"}, "nature", "Choisissez la nature du délai dans la liste."),
    ({"sens": "avant", "franc": "oui"}, "franc", "Un délai franc se compte après la date de départ"),
    ({"date": "1899-12-31"}, "date", "Le calendrier légal va du lundi 1er janvier 1900 au"),
    ({"date": "2199-12-01", "duree": "1", "unite": "mois"}, "duree", "La date obtenue sort du calendrier légal"),
])
def test_each_wrong_value_gets_its_own_french_message(client_as, fields, field, message):
    form = _asked(date="2025-03-10", duree="15", departement="57")
    form.update(fields)
    page = client_as("legal").get(_query(**form))

    assert page.status_code == 422
    assert message in _visible(_field(page.text, field))


# ----------------------------------------------------------------------------------------------- the form
def test_a_first_visit_shows_the_form_set_for_the_users_departement(client_as):
    page = client_as("cpam").get("/calendrier")  # Paul Durand, CPAM of Moselle

    assert page.status_code == 200
    assert "<h1>Calculateur de délais</h1>" in page.text
    assert '<option value="57" selected>Moselle (57)</option>' in page.text
    assert "field-error" not in page.text and "Échéance :" not in page.text
    # A plain GET form: it works without JavaScript.
    assert re.search(r'<form method="get" action="/calendrier"', page.text)
    assert '<button type="submit" name="calculer" value="1">' in page.text


def test_htmx_refreshes_the_calculator_in_place(client_as):
    fields = _asked(date="2025-03-10", duree="2", unite="mois", departement="57")
    del fields["calculer"]  # a field changed: htmx sends the form without the button
    fragment = client_as("legal").get(_query(**fields), headers={"HX-Request": "true"})

    assert fragment.status_code == 200
    assert "<html" not in fragment.text and fragment.text.lstrip().startswith('<div id="calculateur">')
    assert "Échéance : lundi 12 mai 2025" in _result(fragment.text)


def test_an_htmx_refresh_while_filling_in_leaves_the_empty_fields_alone(client_as):
    fragment = client_as("legal").get(_query(date="2025-03-10", unite="mois", sens="apres", nature="procedural"),
                                      headers={"HX-Request": "true"})

    assert fragment.status_code == 200
    assert "field-error" not in fragment.text and "Échéance :" not in fragment.text


def test_an_htmx_refresh_shows_a_wrong_value_with_a_200_so_that_it_is_swapped_in(client_as):
    fragment = client_as("legal").get(_query(date="2025-13-45", duree="2", unite="mois", sens="apres",
                                             departement="57", nature="procedural"), headers={"HX-Request": "true"})

    assert fragment.status_code == 200
    assert "Date illisible" in _visible(_field(fragment.text, "date"))


# ----------------------------------------------------------------------------------------------- who
@pytest.mark.parametrize("role", ROLES)
def test_every_signed_in_user_may_use_the_calculator(client_as, role):
    page = client_as(role).get(_query(**_asked(date="2025-03-10", duree="2", unite="mois", departement="57")))
    assert page.status_code == 200 and "Échéance : lundi 12 mai 2025" in page.text


def test_a_signed_out_visitor_is_sent_to_sign_in(client_as):
    response = client_as(None).get("/calendrier?date=2025-03-10", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/connexion")
