"""Browser tests: the real application, served by uvicorn on the demo portfolio, driven by Debian's Chromium.

- The browser is the `chromium` found on the PATH (Debian's package, which `.ci/run` installs with apt-get when
  it is missing), never one downloaded by `playwright install`. Without it the tests are skipped, except in CI
  (CI=true), where a missing browser is a failure: these tests must run there (the same policy as PostgreSQL in
  tests/conftest.py).
- The demo portfolio (`cpts demo`: ~60 CPTS, its accounts and password) is built once per session as of DEMO_DAY;
  each test serves its own copy, so what one test records never leaks into another. The application's clock is
  noon UTC on that day, so that "today" on the pages is the demo's today.
- `audit(page)` runs axe-core on the page shown and keeps the serious and critical violations; a test calls
  `audit.assert_clean()` at its end, which fails with every violation found, page by page, readably. The page's
  Content-Security-Policy stays enforced, and what it blocks (an inline style or script) is reported too.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import uvicorn
from axe_playwright_python.sync_playwright import Axe
from builders import LOOPBACK, free_port
from playwright.sync_api import ConsoleMessage, Page
from sqlalchemy import Engine

from dashboard.app import create_app
from workflows.persistence.db import make_engine
from workflows.persistence.unit_of_work import SqlUnitOfWork
from workflows.read.cases import list_cases, list_deadlines
from workflows.settings import load_settings
from workflows.simulation.demo import DEMO_ACCOUNTS, build_demo

DEMO_DAY = date(2025, 6, 20)  # a Friday
NOW = datetime(2025, 6, 20, 12, 0, tzinfo=UTC)
SERIOUS = ("serious", "critical")

ARS_GRAND_EST = "referent.ars.44@ars.example.fr"
CPAM_GIRONDE = "referent.cpam.33@cpam.example.fr"
assert {ARS_GRAND_EST, CPAM_GIRONDE} <= {email for _, email in DEMO_ACCOUNTS}, "the demo accounts changed"


# ------------------------------------------------------------------------------------------------ the browser
@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Debian's chromium on the PATH; skipped where it is missing, a failure in CI."""
    found = shutil.which("chromium")
    if found:
        return found
    reason = ("Debian's `chromium` is not on the PATH (install it: apt-get install chromium; .ci/run does); "
              "the browser tests never use a browser downloaded by `playwright install`")
    if os.environ.get("CI"):
        pytest.fail(f"browser tests must run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict, chromium_executable: str) -> dict:
    """pytest-playwright's launch options, on Debian's Chromium, headless (unless --headed)."""
    return {"headless": True, **browser_type_launch_args, "executable_path": chromium_executable,
            "args": ["--no-sandbox"] if os.geteuid() == 0 else []}


# ------------------------------------------------------------------------------------------------ the demo
@dataclass(frozen=True)
class Demo:
    """The demo database built for the session, and the case the binôme's story is about.

    Attributes:
        path: the SQLite file (copied for each test).
        late_case, late_case_name: a Moselle prospect whose first meeting is overdue (a `prospect_late`
            storyline of the demo: first contact ~6-8 weeks before the demo's day, no meeting since).
        late_contact: the day of its first contact.
        contract_case: a Grand Est CPTS under contract (its page has an échéancier and indicators).
    """

    path: Path
    late_case: int
    late_case_name: str
    late_contact: date
    contract_case: int


@pytest.fixture(scope="session")
def demo(chromium_executable, tmp_path_factory) -> Demo:
    path = tmp_path_factory.mktemp("demo") / "cpts-demo.db"
    summary = build_demo(path, today=DEMO_DAY)
    assert not summary.notes, summary.notes
    engine = make_engine(f"sqlite:///{path}")
    try:
        uow = SqlUnitOfWork(engine)
        prospects = {c.id: c for c in list_cases(uow, state="prospect", departement="57")}
        late = [d for d in list_deadlines(uow) if d.case in prospects and d.key == "first_meeting"
                and d.due < DEMO_DAY and d.status in ("pending", "breached")]
        assert late, "the demo has no Moselle prospect whose first meeting is overdue"
        case = prospects[late[0].case]
        contracted = list_cases(uow, state="contracted", region="44")
        assert contracted, "the demo has no Grand Est CPTS under contract"
        with uow:
            contact = min(row.at for row in uow.journal.rows(case.id) if row.type == "contact_recorded")
    finally:
        engine.dispose()
    return Demo(path, case.id, case.name, contact, contracted[0].id)


# ------------------------------------------------------------------------------------------------ the server
class LiveServer:
    """uvicorn serving `app` on a free loopback port, in a thread of this process."""

    def __init__(self, app: object) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        config = uvicorn.Config(app, host=LOOPBACK, port=self.port, log_level="warning", access_log=False,
                                lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@dataclass
class Served:
    """The application served for one test: its URL and its database (a copy of the demo)."""

    url: str
    database: Path
    engine: Engine = field(repr=False)

    def uow(self) -> SqlUnitOfWork:
        """A unit of work on the served database, to check what a test's clicks wrote (or did not)."""
        return SqlUnitOfWork(self.engine)


@pytest.fixture
def served(demo: Demo, tmp_path) -> Iterator[Served]:
    """The application on a fresh copy of the demo database, its clock at noon UTC on the demo's day."""
    database = tmp_path / "cpts-demo.db"
    shutil.copyfile(demo.path, database)
    settings = replace(load_settings({}), database_url=f"sqlite:///{database}")
    engine = make_engine(settings.database_url)
    app = create_app(settings, uow=SqlUnitOfWork(engine), now=lambda: NOW)
    try:
        with LiveServer(app) as server:
            yield Served(server.url, database, engine)
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------ accessibility
def describe(violation: dict) -> str:
    """One axe-core violation, readably: rule, impact, help, and each element with its selector and HTML."""
    lines = [f"  [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})"]
    for node in violation["nodes"]:
        target = " ".join(str(t) for t in node["target"])
        html = " ".join(node.get("html", "").split())
        lines.append(f"    - {target}\n      {html[:300]}")
        summary = " ".join(node.get("failureSummary", "").split())
        if summary:
            lines.append(f"      {summary[:400]}")
    return "\n".join(lines)


class Audit:
    """axe-core on every page a test shows; the serious and critical violations, and what the CSP blocked."""

    def __init__(self) -> None:
        self.axe = Axe()
        self.findings: list[str] = []
        self.pages: list[str] = []
        self.blocked: list[str] = []
        self.lesser: dict[str, set[str]] = {}  # moderate and minor violations: rule → pages (printed, not failed)
        self.asserted = False

    def watch(self, page: Page) -> None:
        """Record the Content-Security-Policy refusals the page reports on its console."""

        def on_console(message: ConsoleMessage) -> None:
            text = message.text
            if "Content Security Policy" in text:
                self.blocked.append(f"{page.url}: {text}")

        page.on("console", on_console)

    def __call__(self, page: Page, label: str | None = None) -> None:
        where = label or page.url
        results = self.axe.run(page)
        self.pages.append(where)
        bad = [v for v in results.response["violations"] if v.get("impact") in SERIOUS]
        for violation in results.response["violations"]:
            if violation.get("impact") not in SERIOUS:
                self.lesser.setdefault(f"[{violation.get('impact')}] {violation['id']}", set()).add(where)
        if bad:
            self.findings.append(f"{where} ({page.url}):\n" + "\n".join(describe(v) for v in bad))

    def report(self) -> str:
        parts = []
        if self.findings:
            parts.append("axe-core: serious or critical violations\n" + "\n".join(self.findings))
        if self.blocked:
            parts.append("Content-Security-Policy refusals (inline style or script on the page):\n  "
                         + "\n  ".join(dict.fromkeys(self.blocked)))
        return "\n\n".join(parts)

    def assert_clean(self) -> None:
        self.asserted = True
        assert self.pages, "no page was audited"
        report = self.report()
        if report:
            pytest.fail(f"{report}\n(pages audited: {', '.join(self.pages)})", pytrace=False)


@pytest.fixture
def audit(page) -> Iterator[Audit]:
    """`audit(page, "label")` after each page shown; `audit.assert_clean()` at the end of the test."""
    checker = Audit()
    checker.watch(page)
    yield checker
    report = checker.report()
    if report and not checker.asserted:  # shown with the test's output when something else failed first
        print(report)
    if checker.lesser:  # not failures; shown with -s or -rP
        print("axe-core, moderate and minor violations (not failing):")
        for rule, where in sorted(checker.lesser.items()):
            print(f"  {rule}: {', '.join(sorted(where))}")
