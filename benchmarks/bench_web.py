"""The web dashboard's performance goal of issue 11: server-side time of its pages on 10 000 cases, against an anchor.

    .venv/bin/python benchmarks/bench_web.py [--cases 10000] [--requests 200] [--only sqlite postgres]
                                             [--postgres URL] [--seed 1] [--jobs 2]

Run on demand (never in the test suite). Prints the machine and the date, then one markdown table: each page,
what is timed, its p50 and p95, the anchor's p95, their ratio, the goal (p95 ≤ 100 ms) and PASS / FAIL.

- **Data**: the portfolio of `benchmarks/portfolio.py` (10 000 realistic cases at every stage with their
  journals, deadlines and payment lines, cached under $TMPDIR/cpts-bench-cache and checked against the current
  code), copied to a scratch file for SQLite and into a fresh schema of the local PostgreSQL (dropped at the
  end). Two accounts are added to the copy: the ARS referent of région 44 (Grand Est, which holds the heavily
  weighted Moselle and Bas-Rhin) gets a password, and a national viewer is created.
- **Pages**, with FastAPI's TestClient (in process), signed in through the sign-in form: *À traiter*,
  *Portefeuille* (one page of 50, filtered by state), *Fiche CPTS* of a five-year contract (~95 events, its
  échéancier, its journal) in région 44, *Financements* (the forecast of the portfolio's year) — each as the
  ARS agent and as national staff.
- **Server-side time**: an ASGI wrapper around the application times each request from its arrival to the last
  byte of its response (the test client's own overhead is left out). ≥ 200 requests per page after 5 untimed
  ones; every response must be a 200.
- **Anchor**: `GET /static/app.css` through the same client and middleware (session, CSRF dependency, security
  headers, a static file), interleaved request by request with the page (A B, B A, …): what the framework costs
  on this machine in this run. The ratio is the page's p95 over the anchor's.
- **Queries**: the SQL statements each page runs are counted and timed (SQLAlchemy's `before_cursor_execute` /
  `after_cursor_execute`: the execute call only — psycopg fetches every row in it, SQLite only the first, so on
  SQLite "SQL" undercounts), the slowest named in the notes, and those reading the `journal` table too: pages read
  the projection tables and never replay a journal (the case page shows the journal itself).
- PostgreSQL gets `VACUUM (ANALYZE)` after the copy, as autovacuum would after a bulk load: without the
  visibility map it plans no index-only scan.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import portfolio as pf  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, create_engine, event, text  # noqa: E402

from dashboard.app import create_app  # noqa: E402
from workflows.persistence.db import make_engine, migrate  # noqa: E402
from workflows.persistence.unit_of_work import SqlUnitOfWork  # noqa: E402
from workflows.services.accounts import set_password  # noqa: E402
from workflows.services.people import add_user  # noqa: E402
from workflows.settings import load_settings  # noqa: E402

T0 = pf.T0
NOW = datetime.combine(T0, clock_time(12), tzinfo=UTC)  # the application's clock: noon UTC on the portfolio's day
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REGION = "44"  # Grand Est: Moselle and Bas-Rhin are weighted up in the portfolio
ARS_EMAIL = f"referent.ars.{REGION}@ars.example.fr"  # created by portfolio.add_people, without a password
NATIONAL_EMAIL = "bench.national@cnam.example.fr"
PASSWORD = "bench-web-password"
GOAL = 0.100
WARM_UP = 5
ANCHOR = "/static/app.css"
# Tables copied to PostgreSQL, parents first.
TABLES = ("users", "cases", "case_communes", "journal", "deadlines", "payments", "outbox")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 0.01:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e3:.2f} ms"


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[94]


@dataclass
class Row:
    name: str
    what: str
    p50: float | None
    p95: float | None
    anchor: float | None  # the anchor's p95
    verdict: str

    @property
    def ratio(self) -> str:
        return f"{self.p95 / self.anchor:.1f}×" if self.p95 is not None and self.anchor else "n/a"


# ----------------------------------------------------------------------------------------------- the databases
def add_accounts(engine: Engine) -> None:
    """The two accounts the benchmark signs in with (the portfolio's users have no password)."""
    uow = SqlUnitOfWork(engine)
    set_password(uow, ARS_EMAIL, PASSWORD)
    add_user(uow, "Direction nationale (banc d'essai)", NATIONAL_EMAIL, "national")
    set_password(uow, NATIONAL_EMAIL, PASSWORD)


def sqlite_copy(p: pf.Portfolio, workdir: Path) -> str:
    """A scratch copy of the portfolio file with the benchmark's accounts: the cached file stays as built."""
    path = workdir / "web.db"
    say(f"copying {p.path} ({Path(p.path).stat().st_size / 2**20:.0f} MB) …")
    source = sqlite3.connect(p.path)
    target = sqlite3.connect(path)
    source.backup(target)
    source.close()
    for name in [r[0] for r in target.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                               "AND name LIKE 'bench_%'")]:
        target.execute(f'DROP TABLE "{name}"')  # the portfolio's snapshot of its mutable cases
    target.commit()
    target.close()
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    add_accounts(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return url


class PostgresCopy:
    """The same rows in a fresh schema of the PostgreSQL server at `url` (COPY); `drop()` removes it."""

    def __init__(self, url: str) -> None:
        self.admin = create_engine(url)
        with self.admin.connect() as connection:
            self.server = f"PostgreSQL {connection.execute(text('show server_version')).scalar()}"
        self.schema = f"cpts_bench_web_{uuid.uuid4().hex[:10]}"
        with self.admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        self.url = url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{self.schema}"

    def fill(self, sqlite_path: str) -> None:
        engine = make_engine(self.url)
        migrate(engine)
        started = time.perf_counter()
        source = sqlite3.connect(sqlite_path)
        copied = {}
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for table in TABLES:
                pg_columns = {r[0] for r in cursor.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                    (self.schema, table))}
                columns = [r[1] for r in source.execute(f'PRAGMA table_info("{table}")') if r[1] in pg_columns]
                listed = ", ".join(f'"{c}"' for c in columns)
                count = 0
                with cursor.copy(f'COPY "{table}" ({listed}) FROM STDIN') as copy:
                    for row in source.execute(f'SELECT {listed} FROM "{table}"'):
                        copy.write_row(row)
                        count += 1
                copied[table] = count
                if "id" in columns:  # ids were copied: move the sequence past them
                    cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                   f"coalesce((SELECT max(id) FROM \"{table}\"), 1))")
            raw.commit()
        finally:
            raw.close()
            source.close()
            engine.dispose()
        # As autovacuum would leave a table some time after a bulk load: statistics for the planner, and the
        # visibility map, without which PostgreSQL plans no index-only scan.
        vacuum = create_engine(self.url, isolation_level="AUTOCOMMIT")
        with vacuum.connect() as connection:
            connection.execute(text("VACUUM (ANALYZE)"))
        vacuum.dispose()
        say(f"copied to {self.server}, schema {self.schema}, in {time.perf_counter() - started:.0f} s: "
            + ", ".join(f"{t} {n}" for t, n in copied.items()))

    def drop(self) -> None:
        with self.admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()


# ----------------------------------------------------------------------------------------------- the server
class ServerTimed:
    """ASGI wrapper: the time of the last request, from its arrival to the last byte of its response."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last: float | None = None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        started = time.perf_counter()

        async def timed_send(message: dict) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - started

        await self.app(scope, receive, timed_send)


class Statements:
    """The SQL statements an engine runs between `reset`s: how many, how long, which read the journal."""

    def __init__(self, engine: Engine) -> None:
        self.reset()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        took = time.perf_counter() - self._started
        self.total += 1
        self.seconds += took
        shape = " ".join(statement.split())
        self.by_statement[shape] = self.by_statement.get(shape, 0.0) + took
        if re.search(r"\bjournal\b", statement, re.IGNORECASE):
            self.journal.add(shape)
            self.journal_count += 1

    def reset(self) -> None:
        self.total = self.journal_count = 0
        self.seconds = 0.0
        self.journal: set[str] = set()
        self.by_statement: dict[str, float] = {}
        self._started = 0.0

    def slowest(self) -> tuple[str, float]:
        shape, took = max(self.by_statement.items(), key=lambda item: item[1])
        return shape, took


def signed_in(app: Any, email: str) -> TestClient:
    client = TestClient(app)
    page = client.get("/connexion")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "the sign-in page has no CSRF token"
    response = client.post("/connexion", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
                           follow_redirects=False)
    assert response.status_code == 303, f"sign-in of {email} failed: {response.status_code}"
    return client


@dataclass(frozen=True)
class Page:
    key: str
    title: str
    url: str
    note: str


def pages(engine: Engine, five_year: list[int]) -> list[Page]:
    """What is timed: the four pages; the case page of the portfolio's longest five-year contract in REGION."""
    with engine.connect() as connection:
        case_id, name, events = connection.execute(text(
            "SELECT c.id, c.name, (SELECT count(*) FROM journal j WHERE j.case_id = c.id) AS n FROM cases c "
            f"WHERE c.region = :region AND c.id IN ({', '.join(map(str, five_year))}) ORDER BY n DESC, c.id LIMIT 1"),
            {"region": REGION}).one()
        lines = connection.execute(text("SELECT count(*) FROM payments WHERE case_id = :id"), {"id": case_id}).scalar()
    return [
        Page("todo", "À traiter", "/a-traiter", "default filters"),
        Page("portfolio", "Portefeuille", "/portefeuille?etat=contracted&page=2",
             "state « contracted », page 2 of 50"),
        Page("case", "Fiche CPTS", f"/cpts/{case_id}",
             f"case {case_id} « {name} », a five-year contract, {events} journal events, {lines} payment lines"),
        Page("finance", "Financements", "/financements", f"forecast of the default year (today {T0})"),
    ]


def table_rows(html: str) -> int:
    return len(re.findall(r"<tr[\s>]", html))


@dataclass
class Measured:
    """The timings of a page and of its anchor, the last page's HTML, and the SQL the page requests ran."""

    page: list[float]
    anchor: list[float]
    html: str
    statements: int
    sql_seconds: float
    journal: int
    journal_shapes: list[str]
    slowest: tuple[str, float]


def measure(client: TestClient, timed: ServerTimed, statements: Statements, url: str, requests: int) -> Measured:
    """`requests` timings of `url` and as many of the anchor, interleaved (A B, B A, …), after WARM_UP of each."""
    def get(path: str) -> tuple[float, str]:
        response = client.get(path, follow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        assert timed.last is not None
        return timed.last, response.text

    for _ in range(WARM_UP):
        get(url)
        get(ANCHOR)
    page_times: list[float] = []
    anchor_times: list[float] = []
    statements.reset()
    html = ""
    for i in range(requests):
        order = ((url, page_times), (ANCHOR, anchor_times)) if i % 2 == 0 else ((ANCHOR, anchor_times),
                                                                                (url, page_times))
        for path, samples in order:
            took, body = get(path)
            samples.append(took)
            if path == url:
                html = body
    return Measured(page_times, anchor_times, html, statements.total, statements.seconds, statements.journal_count,
                    sorted(statements.journal), statements.slowest())


def bench_database(label: str, url: str, five_year: list[int], requests: int, rows: list[Row],
                   notes: list[str]) -> None:
    engine = make_engine(url)
    statements = Statements(engine)
    settings = replace(load_settings({}), database_url=url)
    timed = ServerTimed(create_app(settings, uow=SqlUnitOfWork(engine), now=lambda: NOW))
    with engine.connect() as connection:
        in_region = connection.execute(text("SELECT count(*) FROM cases WHERE region = :r"), {"r": REGION}).scalar()
        total = connection.execute(text("SELECT count(*) FROM cases")).scalar()
    who = {"ars": (ARS_EMAIL, f"ARS agent of région {REGION} ({in_region} cases in scope)"),
           "national": (NATIONAL_EMAIL, f"national staff ({total} cases)")}
    targets = pages(engine, five_year)
    try:
        for role, (email, described) in who.items():
            client = signed_in(timed, email)
            try:
                for page in targets:
                    name = f"{label}.{role}.{page.key}"
                    say(f"  {name}: GET {page.url} ×{requests} …")
                    try:
                        m = measure(client, timed, statements, page.url, requests)
                    except Exception as exc:  # noqa: BLE001 - a page missing or failing is a row, not a crash
                        rows.append(Row(name, f"{page.title}: GET {page.url} as {described}", None, None, None,
                                        f"n/a ({type(exc).__name__}: {str(exc)[:120]})"))
                        continue
                    journal = (f", {m.journal / requests:g} of them on the journal (read, see notes)" if m.journal
                               else ", none on the journal")
                    what = (f"{page.title}: GET {page.url} as {described}; {page.note}; "
                            f"{len(m.html) / 1024:.0f} KB, {table_rows(m.html)} table rows; "
                            f"{m.statements / requests:g} SQL statements per request{journal}; "
                            f"SQL {fmt(m.sql_seconds / requests)} per request on average")
                    p95_page, p95_anchor = p95(m.page), p95(m.anchor)
                    rows.append(Row(name, what, statistics.median(m.page), p95_page, p95_anchor,
                                    "PASS" if p95_page <= GOAL else "FAIL"))
                    shape, took = m.slowest
                    notes.append(f"{name}: slowest statement {fmt(took / requests)} per request on average: "
                                 f"{shape[:400]}{' …' if len(shape) > 400 else ''}")
                    notes += [f"{name}: reads the journal: {shape[:300]}" for shape in m.journal_shapes]
                    say(f"    p50 {fmt(statistics.median(m.page))}, p95 {fmt(p95_page)} (anchor p95 "
                        f"{fmt(p95_anchor)}); SQL {fmt(m.sql_seconds / requests)} per request")
            finally:
                client.close()
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------------------------- report
def header(args: argparse.Namespace) -> list[str]:
    return [
        *pf.run_header("web pages"),
        f"portfolio of {args.cases} cases (seed {args.seed}), day T0 = {T0}, application clock {NOW:%Y-%m-%d %H:%M} "
        f"UTC; {args.requests} timed requests per page (after {WARM_UP} untimed), server-side time (ASGI)",
    ]


def table(rows: list[Row]) -> list[str]:
    lines = ["| measurement | what is timed | p50 | p95 | anchor | ratio | goal | verdict |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        anchor = f"GET {ANCHOR} p95 {fmt(r.anchor)}" if r.anchor else "n/a"
        lines.append(f"| {r.name} | {r.what} | {fmt(r.p50)} | {fmt(r.p95)} | {anchor} | {r.ratio} | p95 ≤ 100 ms "
                     f"| {r.verdict} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page (≥ 200 for the goal)")
    parser.add_argument("--only", nargs="+", choices=("sqlite", "postgres"), default=("sqlite", "postgres"))
    parser.add_argument("--postgres", default=os.environ.get("CPTS_TEST_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="worker processes building a portfolio")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    lines = header(args)
    for line in lines:
        say(line)
    rows: list[Row] = []
    notes: list[str] = []
    p = pf.portfolio(args.cases, args.seed, jobs=args.jobs, log=say)
    notes.append(f"anchor = GET {ANCHOR} through the same client, session, CSRF dependency and security headers "
                 f"(a static file, no database), {args.requests} requests interleaved with each page's; "
                 "ratio = page p95 / anchor p95")
    workdir = Path(tempfile.mkdtemp(prefix="cpts-bench-web-", dir=pf.cache_dir()))
    try:
        sqlite_url = sqlite_copy(p, workdir)
        if "sqlite" in args.only:
            say("SQLite …")
            bench_database("sqlite", sqlite_url, p.five_year, args.requests, rows, notes)
        if "postgres" in args.only:
            try:
                copy = PostgresCopy(args.postgres)
            except Exception as exc:  # noqa: BLE001 - no server: say so in the table
                rows.append(Row("postgres.*", f"the pages on PostgreSQL at {args.postgres}", None, None, None,
                                f"n/a ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})"))
            else:
                try:
                    copy.fill(sqlite_url.removeprefix("sqlite:///"))
                    say(f"{copy.server} …")
                    bench_database("postgres", copy.url, p.five_year, args.requests, rows, notes)
                finally:
                    copy.drop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = [*lines, *(f"note: {n}" for n in notes), "", *table(rows), "",
           f"total run time {fmt(time.perf_counter() - started)}"]
    print("\n".join(out))
    return 0 if all(r.verdict == "PASS" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
