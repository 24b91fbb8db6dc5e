"""Signing in and out, sessions, CSRF, lock-out and the headers every response carries."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from dashboard.app import create_app
from web.conftest import NOW, PASSWORD, USERS, csrf_of
from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.accounts import MAX_FAILURES, PasswordRefused, authenticate, set_password
from workflows.services.people import add_user
from workflows.settings import load_settings

ARS = USERS["ars"][1]


def _post_sign_in(client: TestClient, email: str, password: str, **extra: str):
    token = csrf_of(client.get("/connexion").text)
    return client.post("/connexion", data={"email": email, "password": password, "csrf_token": token, **extra},
                       follow_redirects=False)


def test_a_signed_out_visitor_is_sent_to_the_sign_in_page_and_brought_back_after(make_app):
    client = TestClient(make_app())
    response = client.get("/a-traiter?etat=contracted", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/connexion?suite=%2Fa-traiter%3Fetat%3Dcontracted"
    page = client.get(response.headers["location"])
    assert "Connexion" in page.text and 'name="password"' in page.text
    signed_in = client.post("/connexion", data={"email": ARS, "password": PASSWORD, "csrf_token": csrf_of(page.text),
                                                "suite": "/a-traiter?etat=contracted"}, follow_redirects=False)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/a-traiter?etat=contracted"


def test_an_htmx_request_without_a_session_is_redirected_by_header(make_app):
    response = TestClient(make_app()).get("/portefeuille", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.headers["HX-Redirect"].startswith("/connexion?suite=")


def test_a_wrong_password_is_refused_without_saying_whether_the_address_exists(make_app):
    client = TestClient(make_app())
    wrong = _post_sign_in(client, ARS, "not the password at all")
    unknown = _post_sign_in(client, "nobody@ars.example.fr", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in wrong.text
    assert "Adresse e-mail ou mot de passe incorrect." in unknown.text
    assert client.get("/a-traiter", follow_redirects=False).status_code == 303  # still signed out


def test_after_five_failures_the_account_is_locked_for_a_quarter_of_an_hour(portfolio, make_app):
    client = TestClient(make_app(now=NOW))
    for _ in range(MAX_FAILURES):
        assert _post_sign_in(client, ARS, "guessing again and again").status_code == 401
    locked = _post_sign_in(client, ARS, PASSWORD)
    assert locked.status_code == 401 and "verrouillé" in locked.text
    later = TestClient(make_app(now=NOW + timedelta(minutes=16)))
    assert _post_sign_in(later, ARS, PASSWORD).status_code == 303


def test_a_user_without_a_password_cannot_sign_in(portfolio, make_app):
    add_user(SqlUnitOfWork(make_engine(f"sqlite:///{portfolio.path}")), "Sans Mot", "sans.mot@ars.example.fr",
             "ars", ["44"])
    assert _post_sign_in(TestClient(make_app()), "sans.mot@ars.example.fr", "").status_code == 401


def test_signing_in_without_the_forms_token_is_refused(make_app):
    client = TestClient(make_app())
    client.get("/connexion")
    response = client.post("/connexion", data={"email": ARS, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert "jeton de sécurité" in response.text
    assert client.get("/a-traiter", follow_redirects=False).status_code == 303


def test_the_session_cookie_is_httponly_samesite_lax_and_secure_only_over_https(portfolio):
    for https, secure in ((False, False), (True, True)):
        settings = replace(load_settings({}), database_url=f"sqlite:///{portfolio.path}", web_https=https)
        client = TestClient(create_app(settings, now=lambda: NOW), base_url="https://testserver")
        response = _post_sign_in(client, ARS, PASSWORD)
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert ("secure" in cookie.split(";")[-1] or "; secure" in cookie) is secure


def test_signing_out_needs_the_token_and_ends_the_session(client_as):
    client = client_as("ars")
    assert client.post("/deconnexion", follow_redirects=False).status_code == 403
    assert client.get("/a-traiter", follow_redirects=False).status_code != 303  # still signed in
    token = csrf_of(client.get("/a-traiter").text)
    out = client.post("/deconnexion", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/connexion"
    assert client.get("/a-traiter", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_sends_the_user_to_another_site(make_app, target):
    client = TestClient(make_app())
    response = _post_sign_in(client, ARS, PASSWORD, suite=target)
    assert response.headers["location"] == "/"


def test_every_page_forbids_inline_scripts_and_framing(client_as):
    for page in ("/connexion", "/a-traiter", "/page-qui-n-existe-pas"):
        headers = client_as("ars").get(page).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert headers["x-content-type-options"] == "nosniff"


def test_an_unexpected_error_shows_an_apology_and_nothing_else(make_app):
    app = make_app()

    def broken() -> PlainTextResponse:
        raise RuntimeError("secret detail: postgresql://admin:hunter2@db/cpts")

    app.add_api_route("/boom", broken)
    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert "Erreur interne" in response.text
    assert "hunter2" not in response.text and "Traceback" not in response.text and "RuntimeError" not in response.text
    assert "unsafe-inline" not in response.headers["content-security-policy"]


def test_a_missing_page_is_a_404_in_french(client_as):
    client = client_as("ars")
    assert client.get("/nulle-part").status_code == 404
    assert "Page introuvable" in client.get("/nulle-part").text


def test_passwords_are_stored_hashed_and_must_be_long_enough(portfolio):
    uow = SqlUnitOfWork(make_engine(f"sqlite:///{portfolio.path}"))
    with pytest.raises(PasswordRefused, match="12 to 256 characters"):
        set_password(uow, ARS, "short")
    user = set_password(uow, ARS, "a much longer passphrase")
    assert user.password_hash.startswith("$argon2id$") and "passphrase" not in user.password_hash
    assert authenticate(uow, ARS.upper(), "a much longer passphrase").email == ARS


def test_a_signed_in_user_who_is_removed_is_signed_out(client_as, portfolio):
    client = client_as("cpam")
    engine = make_engine(f"sqlite:///{portfolio.path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE users SET password_hash = NULL WHERE email = ?", (USERS["cpam"][1],))
    assert client.get("/a-traiter", follow_redirects=False).status_code == 303


def test_the_sign_in_page_of_a_signed_in_user_goes_home(client_as):
    response = client_as("national").get("/connexion", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_every_role_signs_in_and_starts_on_a_traiter(client_as):
    for role in USERS:
        assert client_as(role).get("/", follow_redirects=False).headers["location"] == "/a-traiter"
