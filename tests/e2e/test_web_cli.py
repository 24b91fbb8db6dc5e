"""`cpts user set-password`, `cpts web` and `cpts demo --serve`: the way into the dashboard from a terminal."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from builders import LOOPBACK, free_port
from cli_runner import assert_one_line_error

from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.accounts import authenticate

CPTS = str(Path(sys.executable).with_name("cpts"))


def _add_agent(cpts) -> None:
    assert cpts("user", "add", "--name", "Élise Martin", "--email", "elise.martin@ars.example.fr", "--role", "ars",
                "--scope", "44").code == 0


def test_set_password_reads_stdin_and_the_user_can_then_sign_in(cpts, database, monkeypatch):
    _add_agent(cpts)
    monkeypatch.setattr(sys, "stdin", io.StringIO("une phrase de passe solide\n"))
    outcome = cpts("user", "set-password", "elise.martin@ars.example.fr", "--password-stdin")
    assert outcome.code == 0, outcome
    assert "password set for user" in outcome.out and "une phrase" not in outcome.out
    user = authenticate(SqlUnitOfWork(make_engine(database)), "elise.martin@ars.example.fr",
                        "une phrase de passe solide")
    assert user.name == "Élise Martin"


def test_a_short_password_or_an_unknown_user_is_a_one_line_error(cpts, monkeypatch):
    _add_agent(cpts)
    monkeypatch.setattr(sys, "stdin", io.StringIO("court\n"))
    assert_one_line_error(cpts("user", "set-password", "elise.martin@ars.example.fr", "--password-stdin"),
                          "12 to 256 characters")
    monkeypatch.setattr(sys, "stdin", io.StringIO("une phrase de passe solide\n"))
    assert_one_line_error(cpts("user", "set-password", "personne@ars.example.fr", "--password-stdin"),
                          "no user with e-mail")


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {process.stdout.read() if process.stdout else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.mark.integration
def test_cpts_web_serves_the_sign_in_page_on_the_configured_database(cpts, database):
    port = free_port()
    env = {**os.environ, "CPTS_DATABASE_URL": database}
    with subprocess.Popen([CPTS, "web", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as server:
        try:
            page = _wait_for(f"http://{LOOPBACK}:{port}/connexion", server)
            assert '<html lang="fr">' in page and "Connexion" in page
        finally:
            server.terminate()
            server.wait(10)


def test_cpts_web_with_a_short_session_secret_is_a_one_line_error(cpts, monkeypatch):
    monkeypatch.setenv("CPTS_WEB_SECRET", "too short")
    assert_one_line_error(cpts("web", "--port", str(free_port())), "CPTS_WEB_SECRET is too short")


def test_cpts_web_on_a_port_already_taken_is_a_one_line_error(cpts):
    import socket

    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_line_error(cpts("web", "--port", str(port)), f"cannot listen on 127.0.0.1:{port}")


@pytest.mark.integration
def test_demo_serve_prints_the_url_and_accounts_that_sign_in(tmp_path):
    port = free_port()
    database = tmp_path / "cpts-demo.db"
    with subprocess.Popen([CPTS, "demo", "--database", str(database), "--serve", "--port", str(port)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
                          env={k: v for k, v in os.environ.items() if k != "CPTS_DATABASE_URL"}) as server:
        try:
            _wait_for(f"http://{LOOPBACK}:{port}/connexion", server, seconds=120)
            server.terminate()
            out, _ = server.communicate(timeout=10)
        finally:
            if server.poll() is None:
                server.kill()
    assert f"dashboard: http://localhost:{port}/" in out
    password = re.search(r"demo accounts \(password (\S+)\):", out).group(1)
    accounts = re.findall(r"^  ([^:]+): (\S+@\S+)$", out, flags=re.MULTILINE)
    assert {role for role, _ in accounts} >= {"agent ARS (Grand Est)", "agent CPAM (Moselle)", "service juridique",
                                               "niveau national", "administrateur"}
    uow = SqlUnitOfWork(make_engine(f"sqlite:///{database}"))
    for _, email in accounts:
        assert authenticate(uow, email, password).email == email
