"""The web application's fixtures: a small portfolio in two régions, its users with passwords, signed-in clients.

The portfolio (built once per session, copied for each test so that writes never leak between tests):

- case `metz` — "CPTS du Pays Messin", Moselle (57, région Grand Est 44): the LOI path of autumn 2024 and a
  health project received on 18 Feb 2025 (the ARS's opposition window ends on Tue 22 Apr 2025); binôme
  `ars` + `cpam`.
- case `thionville` — "CPTS du Nord Mosellan", Moselle: first contact on 2 Jun 2025, no meeting yet (the first
  meeting is due 15 days after the contact: Tue 17 Jun 2025, past by NOW); same binôme.
- case `contract` — "CPTS de Sarreguemines", Moselle: a contract signed on 2 Jun 2025 (échéancier, missions);
  same binôme.
- case `bordeaux` — "CPTS Bordeaux Rive Droite", Gironde (33, région Nouvelle-Aquitaine 75): first contact on
  2 Jun 2025; binôme `ars_other` + `cpam_other`.

Users (all with password PASSWORD): `ars` (ARS, région 44), `cpam` (CPAM, 57), `ars_other` (ARS, région 75),
`cpam_other` (CPAM, 33), `legal` (legal, 57), `national`, `admin`. The application's clock is NOW (20 Jun 2025
at noon UTC), unless a test passes another.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from builders import LOI_VALIDATED_2024, METZ, THIONVILLE, new_case, record, record_all, signed_on_2_june_2025
from fastapi.testclient import TestClient

from dashboard.app import create_app
from workflows.persistence.db import make_engine, migrate
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.services.accounts import set_password
from workflows.services.people import add_user, assign
from workflows.settings import load_settings

PASSWORD = "correct horse battery"
NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)

USERS = {
    "ars": ("Élise Martin", "elise.martin@ars.example.fr", "ars", ["44"]),
    "cpam": ("Paul Durand", "paul.durand@cpam.example.fr", "cpam", ["57"]),
    "ars_other": ("Nadia Benali", "nadia.benali@ars.example.fr", "ars", ["75"]),
    "cpam_other": ("Jean Weber", "jean.weber@cpam.example.fr", "cpam", ["33"]),
    "legal": ("Service juridique", "juridique@ars.example.fr", "legal", ["57"]),
    "national": ("Direction nationale", "national@cnam.example.fr", "national", []),
    "admin": ("Administration", "admin@cpts.example.fr", "admin", []),
}
ROLES = tuple(USERS)


@dataclass(frozen=True)
class Portfolio:
    """The built database file and the ids of its cases."""

    path: Path
    metz: int
    thionville: int
    contract: int
    bordeaux: int

    def email(self, role: str) -> str:
        return USERS[role][1]


def add_users(uow: SqlUnitOfWork, roles: Iterable[str]) -> None:
    """The users of `roles` (keys of USERS), each signing in with PASSWORD."""
    for role in roles:
        name, email, kind, scope = USERS[role]
        add_user(uow, name, email, kind, scope)
        set_password(uow, email, PASSWORD)


def app_on(uow: SqlUnitOfWork, now: datetime = NOW):  # noqa: ANN201 - the FastAPI application
    """The application on `uow`'s database (the PostgreSQL tests'), its clock at `now`."""
    return create_app(replace(load_settings({}), database_url="postgresql://unused"), uow=uow, now=lambda: now)


def _build(path: Path) -> Portfolio:
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    uow = SqlUnitOfWork(engine)
    add_users(uow, USERS)
    metz = new_case(engine, "CPTS du Pays Messin", communes=(METZ,))
    record_all(engine, metz, [*LOI_VALIDATED_2024, ("2025-02-18", "health_project_received", {})])
    thionville = new_case(engine, "CPTS du Nord Mosellan", communes=(THIONVILLE,))
    record(engine, thionville, "2025-06-02", "contact_recorded", {"source": "ars"})
    contract = new_case(engine, "CPTS de Sarreguemines", population=65_000)
    record_all(engine, contract, signed_on_2_june_2025("quality"))
    bordeaux = new_case(engine, "CPTS Bordeaux Rive Droite", departement="33", population=80_000)
    record(engine, bordeaux, "2025-06-02", "contact_recorded", {"source": "cpam"})
    for case_id in (metz, thionville, contract):
        assign(uow, case_id, ars_email=USERS["ars"][1], cpam_email=USERS["cpam"][1],
               contact_name="Dr Anne Weber", contact_email="contact@cpts-metz.example.fr")
    assign(uow, bordeaux, ars_email=USERS["ars_other"][1], cpam_email=USERS["cpam_other"][1])
    engine.dispose()
    return Portfolio(path, metz, thionville, contract, bordeaux)


@pytest.fixture(scope="session")
def _built_portfolio(tmp_path_factory) -> Portfolio:
    return _build(tmp_path_factory.mktemp("web") / "portfolio.db")


@pytest.fixture
def portfolio(_built_portfolio, tmp_path) -> Portfolio:
    """A fresh copy of the portfolio for this test."""
    path = tmp_path / "portfolio.db"
    shutil.copyfile(_built_portfolio.path, path)
    return replace(_built_portfolio, path=path)


@pytest.fixture
def make_app(portfolio) -> Callable[..., object]:
    """`make_app(now=NOW)`: the application on the test's portfolio."""
    engines = []

    def build(now: datetime = NOW, url: str | None = None):  # noqa: ANN202
        settings = replace(load_settings({}), database_url=url or f"sqlite:///{portfolio.path}")
        engine = make_engine(settings.database_url)
        engines.append(engine)
        return create_app(settings, uow=SqlUnitOfWork(engine), now=lambda: now)

    yield build
    for engine in engines:
        engine.dispose()


def csrf_of(html: str) -> str:
    """The CSRF token a page carries (its forms' hidden field)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    page = client.get("/connexion")
    response = client.post("/connexion", data={"email": email, "password": password,
                                               "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303, f"sign-in of {email} failed: {response.status_code}"
    return client


@pytest.fixture
def client_as(make_app, portfolio) -> Iterator[Callable[..., TestClient]]:
    """`client_as("ars")`: a test client signed in as that user of the portfolio (`None`: signed out)."""
    clients: list[TestClient] = []

    def build(role: str | None, *, now: datetime = NOW) -> TestClient:
        client = TestClient(make_app(now=now))
        clients.append(client)
        return sign_in(client, portfolio.email(role)) if role else client

    yield build
    for client in clients:
        client.close()


def post_form(client: TestClient, url: str, data: dict, *, page: str | None = None) -> object:
    """POST a form with the CSRF token of `page` (default: the signed-in home page)."""
    token = csrf_of(client.get(page or "/a-traiter").text)
    return client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)
