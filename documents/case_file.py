"""The court-ready case file (*dossier*) as a PDF: a case's identity, its whole journal, every deadline with the
reason of its date and its outcome, the notifications sent about it, and the proof that the journal is intact
(each row's hash, the head, the result and time of the verification).

An adapter: it renders a `CaseFileData` — plain values the entrypoint gathered with the read models and put in
French (`dashboard.case_file_data`) — with the Jinja2 template `templates/documents/case_file.html` and its
stylesheet, then WeasyPrint (A4, the case's name and the day the file was drawn up at the top of each page,
"Page n sur N" at the bottom). It reads no database and imports only the domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from lifecycle.calendar import french_date
from lifecycle.events import Evidence, read_evidence

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "documents"
TEMPLATE = "case_file.html"
STYLESHEET = "case_file.css"
PARIS = ZoneInfo("Europe/Paris")


# ------------------------------------------------------------------------------------------------ the data
@dataclass(frozen=True)
class Referent:
    """A referent of the case (ARS or CPAM agent)."""

    name: str
    email: str


@dataclass(frozen=True)
class CaseIdentity:
    """Who the case is.

    Attributes:
        number, name: the case number and the CPTS's name.
        state: the lifecycle state, in French ("Contrat signé").
        seat, region, cpl: "Moselle (57)", "Grand Est (44)", "CPL de la Moselle".
        communes: its territory, (INSEE code, name) by code; empty for a declared population.
        population, size: as refreshed by the last event.
        ruleset: "Accord conventionnel … (ACI-2019)".
        ars, cpam: its referents (None: not assigned); contact_name, contact_email: its contact at the CPTS.
        contract_signed_on: the contract's date, None before.
    """

    number: int
    name: str
    state: str
    seat: str
    region: str
    cpl: str
    communes: tuple[tuple[str, str], ...]
    population: int
    size: int
    ruleset: str
    ars: Referent | None
    cpam: Referent | None
    contact_name: str | None
    contact_email: str | None
    contract_signed_on: date | None


@dataclass(frozen=True)
class JournalRecord:
    """A journal row as the file prints it.

    Attributes:
        seq, at: its number and the business date of the act (the legal anchor).
        type, label: the event type and its French name.
        details: its data in French, one phrase per key.
        actor, evidence, recorded_at: who recorded it, the evidence quoted, when (an aware or UTC instant).
        voided_by: the number of the entry that voided it. automatic: a system event (recorded by the engine).
        key_id, prev_hash, hash: the hash chain ('' key: an unkeyed SHA-256).
    """

    seq: int
    at: date
    type: str
    label: str
    details: tuple[str, ...]
    actor: str
    evidence: str | None
    recorded_at: datetime
    voided_by: int | None
    automatic: bool
    key_id: str
    prev_hash: str
    hash: str

    @property
    def proof(self) -> Evidence | None:
        """The evidence read back: a free reference, or the registered letter's number and dates (the hash
        covers `evidence` as stored)."""
        return read_evidence(self.evidence)


@dataclass(frozen=True)
class DeadlineRecord:
    """A deadline with the reason of its date and its outcome.

    Attributes:
        label, due: the obligation and its due date. kind: its kind in French ("Délai de procédure").
        status: its outcome in French as of the file's day ("Respectée", "Dépassée"); met_on: when it was met.
        actor: who must act, in French. explanation: (term, description) pairs, `dashboard.explain`.
    """

    label: str
    due: date
    kind: str
    status: str
    met_on: date | None
    actor: str
    explanation: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class NoticeRecord:
    """A notification about the case.

    Attributes:
        sent: accepted by the mail server (then `sent_at` is when); status: its state in French.
        kind: "Rappel", "Échéance dépassée". deadline, due: what it was about.
        send_on: the day it was due to go. recipients: "Name <address>" each.
        message_id: the Message-ID it was (or will be) sent with.
    """

    sent: bool
    status: str
    kind: str
    deadline: str | None
    due: date | None
    send_on: date
    sent_at: datetime | None
    recipients: tuple[str, ...]
    message_id: str


@dataclass(frozen=True)
class ChainProof:
    """The verification of the journal's hash chain (`cpts case verify`), as drawn up for this file.

    Attributes:
        intact: no finding. findings: one line per problem (the engine's words).
        keyed: the hashes are HMACs under a journal key; key_id: the key verifying new rows ('' unkeyed).
        genesis: the hash of the genesis entry the chain starts from (the first row's previous hash).
        head: the case's recorded head, the last row's hash.
        rows: how many journal rows were checked. verified_at: when (an aware or UTC instant).
    """

    intact: bool
    findings: tuple[str, ...]
    keyed: bool
    key_id: str
    genesis: str
    head: str
    rows: int
    verified_at: datetime


@dataclass(frozen=True)
class CaseFileData:
    """Everything the case file prints.

    Attributes:
        identity: who the case is. as_of: the local date at the seat the statuses are given for.
        journal: every row, by number (voided ones included, marked). deadlines: by due date.
        notices: the case's notifications, sent ones first by time sent, then those not sent.
        chain: the hash-chain proof. drawn_up_at: when the file was drawn up (the verification's time).
    """

    identity: CaseIdentity
    as_of: date
    journal: tuple[JournalRecord, ...]
    deadlines: tuple[DeadlineRecord, ...]
    notices: tuple[NoticeRecord, ...]
    chain: ChainProof
    drawn_up_at: datetime


# ------------------------------------------------------------------------------------------------ rendering
def render_case_file_html(data: CaseFileData) -> str:
    """The case file as HTML (what WeasyPrint lays out)."""
    return _environment().get_template(TEMPLATE).render(file=data)


def render_case_file(data: CaseFileData) -> bytes:
    """The case file as PDF bytes."""
    from weasyprint import CSS, HTML  # heavy (Pango, fonts): loaded by the only function that needs it

    stylesheet = CSS(string=(TEMPLATES / STYLESHEET).read_text(encoding="utf-8"))
    # No base URL and nothing to fetch: the document is self-contained (its values are escaped text).
    return HTML(string=render_case_file_html(data), url_fetcher=_no_fetch).write_pdf(stylesheets=[stylesheet])


def file_name(number: int) -> str:
    """The case file's file name: "dossier-cpts-12.pdf"."""
    return f"dossier-cpts-{number}.pdf"


def _no_fetch(url: str, *args: object, **kwargs: object) -> dict[str, object]:
    raise ValueError(f"the case file fetches nothing ({url!r})")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters.update({"long_date": long_date, "short_date": short_date, "moment": moment,
                        "short_moment": short_moment, "number": number})
    return env


# ------------------------------------------------------------------------------------------------ French
def long_date(day: date | None) -> str:
    """"lundi 12 mai 2025", "jeudi 1er mai 2025"; "" for None."""
    return french_date(day) if day is not None else ""


def short_date(day: date | None) -> str:
    """"12/05/2025"; "" for None."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}" if day is not None else ""


def _paris(instant: datetime) -> datetime:
    """An instant in Paris time (a naive instant, as SQLite returns them, is in UTC)."""
    return (instant if instant.tzinfo else instant.replace(tzinfo=UTC)).astimezone(PARIS)


def moment(instant: datetime | None) -> str:
    """"vendredi 20 juin 2025 à 14:00:00 (heure de Paris, UTC+02:00)"; "" for None."""
    if instant is None:
        return ""
    local = _paris(instant)
    offset = local.strftime("%z")
    return f"{french_date(local.date())} à {local:%H:%M:%S} (heure de Paris, UTC{offset[:3]}:{offset[3:]})"


def short_moment(instant: datetime | None) -> str:
    """"20/06/2025 14:00:00" in Paris time; "" for None."""
    if instant is None:
        return ""
    local = _paris(instant)
    return f"{short_date(local.date())} {local:%H:%M:%S}"


def number(value: int) -> str:
    """"24 310" (a narrow no-break space between groups of three digits, as French writes them)."""
    return f"{value:,}".replace(",", "\u202f")
