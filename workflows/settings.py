"""Every environment setting the application reads, in one place, with its default (listed in the README).

Entrypoints (CLI, scheduler, later the web) call `load_settings()` once and hand plain values to the services;
nothing below the application layer reads the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lifecycle.errors import DomainError

if TYPE_CHECKING:
    from workflows.persistence.journal import JournalKeys

DATABASE_URL_ENV = "CPTS_DATABASE_URL"
SMTP_URL_ENV = "CPTS_SMTP_URL"
MAIL_DOMAIN_ENV = "CPTS_MAIL_DOMAIN"
MAX_ATTEMPTS_ENV = "CPTS_OUTBOX_MAX_ATTEMPTS"
ACTOR_ENV = "CPTS_ACTOR"
JOURNAL_KEY_ENV = "CPTS_JOURNAL_KEY"
RETIRED_KEYS_ENV = "CPTS_JOURNAL_RETIRED_KEYS"
WEB_SECRET_ENV = "CPTS_WEB_SECRET"
WEB_HTTPS_ENV = "CPTS_WEB_HTTPS"
CPL_MEMBERS_ENV = "CPTS_CPL_MEMBERS"
RULESETS_DIR_ENV = "CPTS_RULESETS_DIR"

DEFAULT_DATABASE_URL = "sqlite:///cpts.db"
DEFAULT_MAIL_DOMAIN = "cpts-lifecycle.local"
# Backoff 1, 2, 4 … min, capped at 6 h: the 12th failure comes about 20 h after the first, so an SMTP outage
# of most of a day delays the notices without making them dead.
DEFAULT_MAX_ATTEMPTS = 12
DEFAULT_ACTOR = "cli"


@dataclass(frozen=True)
class Settings:
    """The deployment's settings.

    Attributes:
        database_url: SQLAlchemy URL of the database (`CPTS_DATABASE_URL`; default the SQLite file cpts.db here).
        smtp_url: where the outbox is delivered (`CPTS_SMTP_URL`; no default: delivery refuses to start).
        mail_domain: domain of Message-IDs and of the default sender (`CPTS_MAIL_DOMAIN`).
        outbox_max_attempts: failures before a notification is `dead` (`CPTS_OUTBOX_MAX_ATTEMPTS`, ≥ 1).
        actor: who records events from the CLI when `--actor` is not given (`CPTS_ACTOR`).
        journal_key: the secret that signs the journal's hash chain (`CPTS_JOURNAL_KEY`, ≥ 32 characters; no
            default: unset, hashes are unkeyed and `cpts case verify` says so).
        retired_journal_keys: earlier secrets whose rows still verify (`CPTS_JOURNAL_RETIRED_KEYS`,
            comma-separated), until `cpts db rekey` has signed every journal with the current key.
        web_secret: the secret that signs the web application's session cookies (`CPTS_WEB_SECRET`, ≥ 32
            characters; unset: a random one per process, so sessions end when the server restarts).
        web_https: the web application is reached over HTTPS (`CPTS_WEB_HTTPS=1`, e.g. behind a TLS proxy):
            its cookies are then marked Secure (they always are when uvicorn itself serves TLS).
        cpl_members: the seats of each section (professional, social) of the deployment's commissions paritaires
            locales, by seat département, "*" for every other one (`CPTS_CPL_MEMBERS`, e.g. `57=8/8,*=7/7`;
            unset: the ruleset's defaults). Recorded into each CPL deliberation when it is recorded, so that a
            later change never changes a past deliberation's outcome.
        rulesets_dir: a directory of the deployment's ruleset files (`CPTS_RULESETS_DIR`, `*.toml`), added to
            the packaged ones; a file with a packaged id replaces it (e.g. ACI-2019+A2 checked against the signed
            text and marked verified). Unset: the packaged rulesets only. Entrypoints hand it to
            `lifecycle.ruleset.set_rulesets_dir` (`use_rulesets`).
    """

    database_url: str = DEFAULT_DATABASE_URL
    smtp_url: str | None = None
    mail_domain: str = DEFAULT_MAIL_DOMAIN
    outbox_max_attempts: int = DEFAULT_MAX_ATTEMPTS
    actor: str = DEFAULT_ACTOR
    journal_key: str | None = field(default=None, repr=False)
    retired_journal_keys: tuple[str, ...] = field(default=(), repr=False)
    web_secret: str | None = field(default=None, repr=False)
    web_https: bool = False
    cpl_members: Mapping[str, tuple[int, int]] = field(default_factory=dict, hash=False)
    rulesets_dir: Path | None = None

    def cpl_seats(self, departement: str) -> dict[str, int] | None:
        """The seats per section of the CPL of `departement` as this deployment sets them, None when unset."""
        return cpl_seats(self.cpl_members, departement)

    def journal_keys(self) -> JournalKeys:
        """The keys of the journal's hash chain (a JournalKeyError if one is too short to be a secret)."""
        from workflows.persistence.journal import JournalKeys

        return JournalKeys.from_secrets(self.journal_key, self.retired_journal_keys)


def _attempts(raw: str | None) -> int:
    try:
        return max(1, int(raw)) if raw is not None else DEFAULT_MAX_ATTEMPTS
    except ValueError:
        return DEFAULT_MAX_ATTEMPTS


def cpl_seats(members: Mapping[str, tuple[int, int]], departement: str) -> dict[str, int] | None:
    """The seats per section of `departement`'s CPL in `members` (`Settings.cpl_members`), None when unset."""
    seats = members.get(departement.upper()) or members.get("*")
    return {"professional": seats[0], "social": seats[1]} if seats else None


class SettingsError(DomainError):
    """An environment setting that cannot be read (names the variable, what it holds and what is expected)."""


MAX_CPL_SEATS = 1000  # as lifecycle.events.MAX_CPL_MEMBERS: far above any section's seats
_CPL_ENTRY = re.compile(r"(?P<dept>\*|[0-9]{2,3}|2[AB])=(?P<professional>[0-9]{1,4})/(?P<social>[0-9]{1,4})")


def parse_cpl_members(raw: str | None) -> dict[str, tuple[int, int]]:
    """`CPTS_CPL_MEMBERS`: comma-separated `DEPT=PROFESSIONAL/SOCIAL` (e.g. `57=8/8,67=6/6,*=7/7`; `*` is every
    other département); SettingsError on the first entry that is not one, or that names a département twice."""
    members: dict[str, tuple[int, int]] = {}
    for entry in (raw or "").replace(";", ",").split(","):
        text = "".join(entry.split()).upper()
        if not text:
            continue
        found = _CPL_ENTRY.fullmatch(text)
        shown = entry.strip()[:40]
        if found is None:
            raise SettingsError(f"{CPL_MEMBERS_ENV}: {shown!r} is not DEPT=PROFESSIONAL/SOCIAL: expected e.g. "
                                "57=8/8,67=6/6,*=7/7 (seats of each section of the département's CPL)")
        dept = found["dept"]
        if dept != "*":
            from lifecycle import territory

            try:
                territory.departement(dept)
            except DomainError:
                raise SettingsError(f"{CPL_MEMBERS_ENV}: {shown!r}: unknown département {dept} (e.g. 57, 2A, "
                                    "971; * for every other)") from None
        seats = (int(found["professional"]), int(found["social"]))
        if not all(1 <= n <= MAX_CPL_SEATS for n in seats):
            raise SettingsError(f"{CPL_MEMBERS_ENV}: {shown!r}: each section has from 1 to {MAX_CPL_SEATS} seats")
        if dept in members:
            raise SettingsError(f"{CPL_MEMBERS_ENV}: département {dept} is given twice: give each once")
        members[dept] = seats
    return members


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings from the environment (or `environ`), each falling back to its default."""
    env = os.environ if environ is None else environ
    return Settings(
        database_url=env.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL,
        smtp_url=env.get(SMTP_URL_ENV) or None,
        mail_domain=env.get(MAIL_DOMAIN_ENV) or DEFAULT_MAIL_DOMAIN,
        outbox_max_attempts=_attempts(env.get(MAX_ATTEMPTS_ENV)),
        actor=env.get(ACTOR_ENV) or DEFAULT_ACTOR,
        journal_key=env.get(JOURNAL_KEY_ENV) or None,
        retired_journal_keys=tuple(k.strip() for k in (env.get(RETIRED_KEYS_ENV) or "").split(",") if k.strip()),
        web_secret=env.get(WEB_SECRET_ENV) or None,
        web_https=(env.get(WEB_HTTPS_ENV) or "").strip().lower() in ("1", "true", "yes", "on"),
        cpl_members=parse_cpl_members(env.get(CPL_MEMBERS_ENV)),
        rulesets_dir=parse_rulesets_dir(env.get(RULESETS_DIR_ENV)),
    )


def parse_rulesets_dir(raw: str | None) -> Path | None:
    """`CPTS_RULESETS_DIR`: an existing directory (None when unset or empty); SettingsError otherwise."""
    if not raw or not raw.strip():
        return None
    directory = Path(raw.strip()).expanduser()
    if not directory.is_dir():
        raise SettingsError(f"{RULESETS_DIR_ENV}: {raw.strip()[:200]!r} is not a directory: expected the directory "
                            "of the deployment's ruleset files (*.toml)")
    return directory


def use_rulesets(settings: Settings) -> None:
    """Load the deployment's ruleset files (`settings.rulesets_dir`) beside the packaged ones, once per change;
    RulesetError (`file: key: problem`) when one of them is refused."""
    from lifecycle.ruleset import rulesets_dir, set_rulesets_dir

    if rulesets_dir() != settings.rulesets_dir:
        set_rulesets_dir(settings.rulesets_dir)
