"""SMTP delivery: settings from one URL (`CPTS_SMTP_URL`), reusable sessions, classified failures.

    smtp://user:password@mail.example.org:587?starttls=true&sender=suivi-cpts@example.org
    smtps://user:password@mail.example.org:465?sender=suivi-cpts@example.org   (implicit TLS)

User and password are percent-encoded in the URL (`@` → `%40`, `:` → `%3A`).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from lifecycle.errors import DomainError

SMTP_URL_ENV = "CPTS_SMTP_URL"

_EXAMPLE = "smtp://user:password@mail.example.org:587?starttls=true&sender=suivi-cpts@example.org"
_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class SmtpUrlError(DomainError, ValueError):
    """An SMTP URL the sender cannot use; the message shows what a right one looks like."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"invalid {SMTP_URL_ENV}: {problem}; expected e.g. {_EXAMPLE} (or smtps://… for implicit TLS)"
        )


class DeliveryError(DomainError):
    """A message the SMTP server did not accept.

    `permanent` is true when retrying the same message cannot succeed: a 5xx reply refusing its recipients
    (e.g. 550 unknown mailbox) or its content. It is false for 4xx replies, connection, TLS, authentication
    and sender-address failures, which a retry (after the server or the settings are fixed) may cure.
    """

    def __init__(self, message: str, *, permanent: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    implicit_tls: bool = False
    sender: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Parse `smtp://[user[:password]@]host[:port][?starttls=true][&sender=addr]` or `smtps://…`."""
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as error:
            # The URL itself is not repeated: it may hold a password and end up in a log.
            raise SmtpUrlError(f"the URL cannot be parsed ({error})") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise SmtpUrlError(f"scheme {parts.scheme or '(none)'!r} is not supported: use smtp or smtps")
        if not parts.hostname:
            raise SmtpUrlError("the URL names no host")
        if parts.path not in ("", "/"):
            raise SmtpUrlError(f"unexpected path {parts.path!r} (an SMTP URL has none)")
        try:
            query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
        except ValueError:
            raise SmtpUrlError(f"malformed query {parts.query!r}") from None
        unknown = sorted(set(query) - {"starttls", "sender"})
        if unknown:
            raise SmtpUrlError(f"unknown parameter(s) {', '.join(unknown)}: expected starttls or sender")
        starttls = _flag(query, "starttls")
        if starttls and scheme == "smtps":
            raise SmtpUrlError("smtps already encrypts the connection: drop starttls=true or use smtp://")
        sender = _single(query, "sender")
        if sender is not None and "@" not in sender:
            raise SmtpUrlError(f"sender {sender!r} is not an e-mail address")
        return cls(
            host=parts.hostname,
            port=port or _DEFAULT_PORTS[scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            starttls=starttls,
            implicit_tls=scheme == "smtps",
            sender=sender,
        )


def _single(query: dict[str, list[str]], key: str) -> str | None:
    values = query.get(key)
    if not values:
        return None
    if len(values) > 1:
        raise SmtpUrlError(f"parameter {key} is given {len(values)} times")
    return values[0]


def _flag(query: dict[str, list[str]], key: str) -> bool:
    value = _single(query, key)
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SmtpUrlError(f"{key}={value!r} is not accepted: expected true or false")


def send_message(
    settings: SmtpSettings, message: EmailMessage, *, timeout: float = 10
) -> dict[str, tuple[int, bytes]]:
    """Hand `message` to the SMTP server on a connection of its own; raise DeliveryError if not accepted.

    Returns the recipients the server refused while accepting the others (empty when all were accepted):
    the message is then delivered and must not be resent.
    """
    with SmtpConnection(settings, timeout=timeout) as connection:
        return connection.send(message)


class SmtpConnection:
    """One SMTP session reused for several messages (the outbox drains batches through one connection).

    It connects on the first `send`; before reusing the session it checks it with NOOP and reconnects if the
    server dropped it, so a message is never retried after the server may have accepted it.
    """

    def __init__(self, settings: SmtpSettings, *, timeout: float = 10) -> None:
        self.settings, self.timeout = settings, timeout
        self.where = f"{settings.host}:{settings.port}"
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __call__(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        return self.send(message)

    def close(self) -> None:
        if self._client is not None:
            _close(self._client)
            self._client = None

    def _alive(self) -> bool:
        if self._client is None:
            return False
        try:
            return self._client.noop()[0] == 250
        except (smtplib.SMTPException, OSError):
            self._client.close()
            self._client = None
            return False

    def _connect(self, stage: list[str]) -> smtplib.SMTP:
        settings = self.settings
        # Loading the system CA store costs ~20 ms: only when the connection is encrypted.
        context = ssl.create_default_context() if settings.implicit_tls or settings.starttls else None
        if settings.implicit_tls:
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=self.timeout)
        try:
            client.ehlo()
            if settings.starttls:
                stage[0] = "starttls"
                client.starttls(context=context)
                client.ehlo()
            if settings.username:
                stage[0] = "auth"
                client.login(settings.username, settings.password or "")
        except BaseException:
            _close(client)
            raise
        return client

    def send(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """Send one message; refused recipients are returned when others were accepted (see send_message)."""
        stage = ["connect"]
        where = self.where
        try:
            if not self._alive():
                self._client = self._connect(stage)
            stage[0] = "send"
            return self._client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            permanent = bool(codes) and all(code >= 500 for code in codes)
            detail = "; ".join(f"{to}: {code} {_text(reply)}" for to, (code, reply) in error.recipients.items())
            self._reset()
            raise DeliveryError(
                f"{where} refused every recipient ({detail})", permanent=permanent, code=max(codes, default=None)
            ) from error
        except smtplib.SMTPResponseException as error:
            # Only a 5xx about this message (its recipients or content) is final. A 5xx at login or STARTTLS, or
            # refusing our sender address (e.g. 530 authentication required), is a settings problem that would
            # fail every message alike: retry once the operator has fixed it rather than drop the message.
            permanent = (
                stage[0] == "send" and error.smtp_code >= 500 and not isinstance(error, smtplib.SMTPSenderRefused)
            )
            self._reset()
            raise DeliveryError(
                f"{where} answered {error.smtp_code} {_text(error.smtp_error)} ({stage[0]})",
                permanent=permanent,
                code=error.smtp_code,
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            self.close()
            raise DeliveryError(f"{where} does not support {stage[0]}: {error}", permanent=False) from error
        except (smtplib.SMTPException, OSError) as error:
            # Connection refused or reset, timeout, DNS, TLS handshake: the server may be back later.
            self.close()
            raise DeliveryError(
                f"could not deliver through {where} ({stage[0]}): {str(error) or type(error).__name__}",
                permanent=False,
            ) from error

    def _reset(self) -> None:
        """After a refused transaction, RSET so the session can carry the next message (or drop it)."""
        if self._client is None:
            return
        try:
            self._client.rset()
        except (smtplib.SMTPException, OSError):
            self.close()


def _close(client: smtplib.SMTP) -> None:
    """QUIT politely; once the message is accepted, a failing QUIT must not turn into a delivery error."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
