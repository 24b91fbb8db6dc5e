"""Every environment setting the application reads, in one place, with its default (listed in the README).

Entrypoints (CLI, scheduler, later the web) call `load_settings()` once and hand plain values to the services;
nothing below the application layer reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

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

    def journal_keys(self) -> JournalKeys:
        """The keys of the journal's hash chain (a JournalKeyError if one is too short to be a secret)."""
        from workflows.persistence.journal import JournalKeys

        return JournalKeys.from_secrets(self.journal_key, self.retired_journal_keys)


def _attempts(raw: str | None) -> int:
    try:
        return max(1, int(raw)) if raw is not None else DEFAULT_MAX_ATTEMPTS
    except ValueError:
        return DEFAULT_MAX_ATTEMPTS


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
    )
