"""*Notifications*: the outbox for administrators (counts, filter, pages, "Renvoyer"), and each case's notices.

Each test's outbox is filled through the services, as the scheduler would on 20 Jun 2025 at noon UTC (2 p.m. in
Paris): the sweep finds the first meetings of Thionville and Bordeaux (first contact on 2 Jun 2025) overdue and
writes a breach notice for each to its binôme; the morning digests go to the four referents; then the drain
hands everything to a mail server that refuses Nadia Benali's mailbox (Bordeaux's ARS referent) for good. So:
4 sent (Thionville's notice, three digests) and 2 dead (Bordeaux's notice, Nadia's digest), all at 14:00 Paris.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from html import unescape

import pytest
from builders import new_case, outbox, record

from notifications.smtp import DeliveryError
from web.conftest import NOW, USERS, csrf_of
from workflows.persistence.db import make_engine
from workflows.persistence.tables import OutboxRow
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.outbox_page import case_notices, outbox_page
from workflows.services.outbox import drain, enqueue_digests
from workflows.services.sweep import sweep

NADIA = USERS["ars_other"][1]
SENT_AT = "20 juin 2025, 14:00"  # noon UTC is 2 p.m. in Paris in June (CEST)
NOT_ADMIN = ("ars", "cpam", "ars_other", "cpam_other", "legal", "national")


@pytest.fixture
def engine(portfolio):
    engine = make_engine(f"sqlite:///{portfolio.path}")
    yield engine
    engine.dispose()


@pytest.fixture
def filled(portfolio, engine) -> dict[str, OutboxRow]:
    """The outbox after the sweep, the digests and one drain of 20 Jun 2025 (see the module's docstring)."""
    uow = SqlUnitOfWork(engine)
    sweep(uow, now=NOW)
    enqueue_digests(uow, date(2025, 6, 20), NOW)

    def mail_server(message) -> None:  # noqa: ANN001
        if NADIA in str(message["To"]):
            raise DeliveryError("550 5.1.1 <nadia.benali@ars.example.fr>: mailbox unknown", permanent=True, code=550)

    drain(uow, mail_server, now=NOW, from_address="cpts@example.fr")
    rows = outbox(engine)
    notices = {row.case_id: row for row in rows if row.kind == "breach"}
    return {"thionville": notices[portfolio.thionville], "bordeaux": notices[portfolio.bordeaux],
            "nadia_digest": next(r for r in rows if r.kind == "digest" and NADIA in r.recipients)}


def _text(response) -> str:  # noqa: ANN001
    return unescape(response.text)


def _row(html: str, entry_id: int) -> str:
    start = html.index(f'<tr id="notification-{entry_id}">')
    return html[start:html.index("</tr>", start)]


def _status(engine, entry_id: int) -> str:  # noqa: ANN001
    with SqlUnitOfWork(engine) as uow:
        return uow.outbox.get(entry_id).status


def _retry(client, entry_id: int, **form: str):  # noqa: ANN001, ANN202
    token = csrf_of(client.get("/notifications").text)
    return client.post(f"/notifications/{entry_id}/renvoyer", data={"csrf_token": token, **form},
                       follow_redirects=False)


# ------------------------------------------------------------------------------------------- the outbox page
def test_the_outbox_counts_each_status_and_lists_every_notification(client_as, filled):
    page = _text(client_as("admin").get("/notifications"))
    counts = page[page.index('aria-label="Notifications par état"'):page.index("</ul>", page.index("par état"))]
    assert "Envoyée</a>\n      <strong>4</strong>" in counts
    assert "Échec définitif</a>\n      <strong>2</strong>" in counts
    assert "En attente</a>\n      <strong>0</strong>" in counts
    sent, dead = _row(page, filled["thionville"].id), _row(page, filled["bordeaux"].id)
    assert "CPTS du Nord Mosellan" in sent and "Envoyée" in sent and SENT_AT in sent
    assert filled["thionville"].message_id.strip("<>") in sent and "Renvoyer" not in sent
    assert "CPTS Bordeaux Rive Droite" in dead and "Échec définitif" in dead and "mailbox unknown" in dead
    assert "Nadia Benali" in dead and "Renvoyer" in dead
    assert f'href="/cpts/{filled["bordeaux"].case_id}"' in dead


def test_the_status_filter_keeps_the_dead_notifications(client_as, filled):
    page = _text(client_as("admin").get("/notifications?statut=dead"))
    assert f'id="notification-{filled["bordeaux"].id}"' in page
    assert f'id="notification-{filled["nadia_digest"].id}"' in page
    assert f'id="notification-{filled["thionville"].id}"' not in page
    assert '<option value="dead" selected>' in page


def test_an_empty_status_says_there_is_nothing(client_as, filled):
    page = _text(client_as("admin").get("/notifications?statut=unaddressed"))
    assert "Aucune notification dans l'état « Sans destinataire »." in page


def test_an_unknown_status_is_a_bad_request(client_as):
    assert client_as("admin").get("/notifications?statut=perdue").status_code == 400


def test_the_filter_is_a_plain_get_form_that_htmx_refreshes_in_place(client_as, filled):
    client = client_as("admin")
    page = client.get("/notifications").text
    assert '<form method="get" action="/notifications"' in page
    assert 'hx-get="/notifications"' in page and 'hx-target="#notifications"' in page and 'hx-push-url="true"' in page
    fragment = client.get("/notifications?statut=sent", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith('<section id="notifications"') and "<html" not in fragment


def test_the_outbox_is_paged_fifty_at_a_time(client_as, engine, filled):
    uow = SqlUnitOfWork(engine)
    with uow:  # 54 more notices waiting, as a busy sweep would leave them
        for n in range(54):
            uow.outbox.add(OutboxRow(
                unique_key=f"test:{n}", kind="reminder", case_id=None, send_on=date(2025, 7, 1), subject="Rappel",
                text_body="", html_body="", message_id=f"<test-{n}@cpts.example.fr>",
                recipients=json.dumps([{"name": "Paul Durand", "email": USERS["cpam"][1], "role": "cpam"}]),
                next_attempt_at=NOW + timedelta(days=11), created_at=NOW))
        uow.commit()
    client = client_as("admin")
    first = _text(client.get("/notifications"))
    assert "Page 1 sur 2 (60 résultats)" in first and first.count('<tr id="notification-') == 50
    assert 'href="/notifications?page=2"' in first
    second = _text(client.get("/notifications?page=2"))
    assert second.count('<tr id="notification-') == 10 and f'id="notification-{filled["thionville"].id}"' in second
    assert "Page 2 sur 2" in _text(client.get("/notifications?page=9"))  # past the end: the last page
    pending = _text(client.get("/notifications?statut=pending&page=2"))
    assert "Page 2 sur 2 (54 résultats)" in pending and 'href="/notifications?statut=pending&page=1"' in pending


# ------------------------------------------------------------------------------------------- who may see it
@pytest.mark.parametrize("role", NOT_ADMIN)
def test_the_outbox_does_not_exist_for_anyone_but_administrators(client_as, engine, filled, role):
    client = client_as(role)
    assert client.get("/notifications").status_code == 404
    assert client.get("/notifications?statut=dead", headers={"HX-Request": "true"}).status_code == 404
    token = csrf_of(client.get("/financements").text)
    refused = client.post(f"/notifications/{filled['bordeaux'].id}/renvoyer", data={"csrf_token": token},
                          follow_redirects=False)
    assert refused.status_code == 404
    assert _status(engine, filled["bordeaux"].id) == "dead"
    assert 'href="/notifications"' not in client.get("/financements").text  # nor in the navigation


@pytest.mark.parametrize("url", ["/notifications", "/notifications?statut=dead"])
def test_signed_out_visitors_are_sent_to_sign_in(client_as, url):
    response = client_as(None).get(url, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion?suite=")


def test_a_signed_out_retry_is_sent_to_sign_in_and_changes_nothing(client_as, engine, filled):
    client = client_as(None)
    token = csrf_of(client.get("/connexion").text)
    response = client.post(f"/notifications/{filled['bordeaux'].id}/renvoyer", data={"csrf_token": token},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion?suite=")
    assert _status(engine, filled["bordeaux"].id) == "dead"


# ------------------------------------------------------------------------------------------- Renvoyer
def test_renvoyer_puts_a_dead_notification_back_in_the_queue(client_as, engine, filled):
    client = client_as("admin")
    entry = filled["bordeaux"].id
    response = _retry(client, entry, statut="dead")
    assert response.status_code == 303 and response.headers["location"] == "/notifications?statut=dead"
    assert _status(engine, entry) == "pending"
    page = _text(client.get("/notifications"))
    assert f"La notification n° {entry} est remise en file d'attente" in page
    assert "En attente" in _row(page, entry) and "mailbox unknown" not in _row(page, entry)
    assert "est remise en file" not in _text(client.get("/notifications"))  # said once


def test_renvoyer_through_htmx_answers_the_list_with_the_confirmation(client_as, engine, filled):
    client = client_as("admin")
    entry = filled["nadia_digest"].id
    token = csrf_of(client.get("/notifications").text)
    response = client.post(f"/notifications/{entry}/renvoyer", headers={"HX-Request": "true"},
                           data={"csrf_token": token})
    assert response.status_code == 200 and "<html" not in response.text
    assert f"La notification n° {entry} est remise en file d'attente" in _text(response)
    assert _status(engine, entry) == "pending"


def test_renvoyer_without_the_forms_token_is_refused_and_changes_nothing(client_as, engine, filled):
    client = client_as("admin")
    client.get("/notifications")
    response = client.post(f"/notifications/{filled['bordeaux'].id}/renvoyer", data={}, follow_redirects=False)
    assert response.status_code == 403
    forged = client.post(f"/notifications/{filled['bordeaux'].id}/renvoyer", data={"csrf_token": "forged"},
                         follow_redirects=False)
    assert forged.status_code == 403
    assert _status(engine, filled["bordeaux"].id) == "dead"


def test_a_sent_notification_cannot_be_sent_again(client_as, engine, filled):
    client = client_as("admin")
    entry = filled["thionville"].id
    assert _retry(client, entry).status_code == 303
    assert f"La notification n° {entry} a déjà été envoyée" in _text(client.get("/notifications"))
    assert _status(engine, entry) == "sent"


def test_renvoyer_an_unknown_notification_is_not_found(client_as, filled):
    assert _retry(client_as("admin"), 999_999).status_code == 404


# ------------------------------------------------------------------------------------------- a case's notices
def test_a_case_lists_its_notices_with_message_id_and_time(client_as, portfolio, filled):
    page = _text(client_as("cpam").get(f"/cpts/{portfolio.thionville}/notifications"))
    assert "<h1>Notifications — CPTS du Nord Mosellan</h1>" in page
    sent = page[page.index('id="envoyees"'):]
    assert filled["thionville"].message_id.strip("<>") in sent and SENT_AT in sent
    assert "Échéance dépassée" in sent and "Élise Martin" in sent
    assert filled["bordeaux"].message_id.strip("<>") not in page


def test_a_case_shows_its_notices_not_sent_yet_apart(client_as, portfolio, filled):
    page = _text(client_as("ars_other").get(f"/cpts/{portfolio.bordeaux}/notifications"))
    assert "Aucune notification n'a encore été envoyée pour ce dossier." in page
    waiting = page[page.index('id="en-attente"'):]
    assert "Échec définitif" in waiting


@pytest.mark.parametrize(("role", "case", "status"), [
    ("ars", "thionville", 200), ("cpam", "thionville", 200), ("legal", "thionville", 200),
    ("national", "thionville", 200), ("admin", "bordeaux", 200), ("ars_other", "bordeaux", 200),
    ("ars_other", "thionville", 404), ("cpam_other", "thionville", 404), ("cpam", "bordeaux", 404),
    ("legal", "bordeaux", 404),
])
def test_a_cases_notices_follow_the_cases_scope(client_as, portfolio, filled, role, case, status):
    assert client_as(role).get(f"/cpts/{getattr(portfolio, case)}/notifications").status_code == status


@pytest.mark.parametrize("case", ["999999", "0", "abc", "99999999999999999999"])
def test_the_notices_of_a_case_that_does_not_exist_are_not_found(client_as, case):
    assert client_as("admin").get(f"/cpts/{case}/notifications").status_code == 404


def test_a_signed_out_visitor_asking_for_a_cases_notices_is_sent_to_sign_in(client_as, portfolio):
    response = client_as(None).get(f"/cpts/{portfolio.thionville}/notifications", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/connexion?suite=")


def test_the_outbox_reads_alike_on_sqlite_and_postgresql(db):
    case_id = new_case(db, "CPTS du Nord Mosellan")
    record(db, case_id, "2025-06-02", "contact_recorded", {"source": "ars"})
    sweep(SqlUnitOfWork(db), now=NOW)  # the first meeting is overdue; the case has no referent to tell
    listing = outbox_page(SqlUnitOfWork(db), status="unaddressed")
    assert listing.counts["unaddressed"] == listing.total == 1 and listing.counts["sent"] == 0
    (line,) = listing.lines
    assert (line.case_id, line.case_name, line.kind, line.recipients) == (case_id, "CPTS du Nord Mosellan", "breach",
                                                                          ())
    assert outbox_page(SqlUnitOfWork(db), status="sent").lines == ()
    assert [n.id for n in case_notices(SqlUnitOfWork(db), case_id)] == [line.id]
