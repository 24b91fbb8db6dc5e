"""SMTP settings from a URL, and delivery to a real SMTP server (aiosmtpd on the loopback interface).

STARTTLS is only checked as far as the URL and the refusal by a server that does not offer it: the test
environment has neither `cryptography` nor `trustme` to make a certificate the client would trust.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from builders import LOOPBACK, free_port
from notices import ARS, CPAM, OPPOSITION_REMINDER

from lifecycle.errors import DomainError
from notifications.model import Recipient
from notifications.render import build_message, render_notice
from notifications.smtp import SMTP_URL_ENV, DeliveryError, SmtpSettings, SmtpUrlError, send_message

# aiosmtpd warns on every connection to the AUTH server, which runs without TLS on purpose (see fixture).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
USER, PASSWORD = "suivi-cpts", "s3cret:pass@word"


# ------------------------------------------------------------------------------------------- settings
def test_the_environment_variable_is_cpts_smtp_url():
    assert SMTP_URL_ENV == "CPTS_SMTP_URL"


def test_an_smtp_url_gives_host_port_credentials_starttls_and_sender():
    settings = SmtpSettings.from_url(
        "smtp://suivi-cpts:s3cret%3Apass%40word@mail.example.org:587?starttls=true&sender=suivi@ars.example.fr"
    )

    assert settings == SmtpSettings(
        host="mail.example.org",
        port=587,
        username="suivi-cpts",
        password="s3cret:pass@word",
        starttls=True,
        implicit_tls=False,
        sender="suivi@ars.example.fr",
    )


def test_an_smtps_url_means_implicit_tls_on_port_465_by_default():
    settings = SmtpSettings.from_url("smtps://mail.example.org")

    assert (settings.port, settings.implicit_tls, settings.starttls) == (465, True, False)


def test_a_bare_smtp_url_is_plain_smtp_on_port_25_without_login():
    settings = SmtpSettings.from_url("smtp://localhost")

    assert (settings.host, settings.port, settings.username) == ("localhost", 25, None)
    assert not settings.starttls and not settings.implicit_tls


def test_the_password_does_not_appear_in_the_settings_repr():
    assert "s3cret" not in repr(SmtpSettings.from_url("smtp://u:s3cret@mail.example.org"))


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://mail.example.org", "scheme 'http' is not supported"),
        ("mail.example.org:25", "is not supported"),
        ("smtp://", "names no host"),
        ("smtp://u:s3cret@mail.example.org:port", "cannot be parsed"),
        ("smtp://mail.example.org?starttls=maybe", "starttls='maybe' is not accepted"),
        ("smtp://mail.example.org?tls=true", "unknown parameter(s) tls: expected starttls or sender"),
        ("smtps://mail.example.org?starttls=true", "smtps already encrypts"),
        ("smtp://mail.example.org?sender=nobody", "not an e-mail address"),
        ("smtp://mail.example.org/inbox", "unexpected path"),
    ],
)
def test_a_malformed_url_is_a_domain_error_showing_a_right_url(url, problem):
    with pytest.raises(SmtpUrlError) as caught:
        SmtpSettings.from_url(url)

    assert isinstance(caught.value, DomainError) and isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert problem in message
    assert "CPTS_SMTP_URL" in message and "smtp://user:password@mail.example.org:587?starttls=true" in message
    assert "s3cret" not in message


# ------------------------------------------------------------------------------------------- server
@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: bytes | None


class Collector:
    """An aiosmtpd handler that keeps what it accepts; some mailboxes answer 550 or 451."""

    def __init__(self) -> None:
        self.received: list[Received] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("inconnu@"):
            return "550 5.1.1 Mailbox unavailable"
        if address.startswith("plein@"):
            return "452 4.2.2 Mailbox full, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        login = session.auth_data.login if isinstance(session.auth_data, LoginPassword) else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login))
        return "250 Message accepted for delivery"


def authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@pytest.fixture(scope="module")
def plain_server() -> Iterator[tuple[Controller, Collector]]:
    handler = Collector()
    controller = Controller(handler, hostname=LOOPBACK, port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture(scope="module")
def auth_server() -> Iterator[tuple[Controller, Collector]]:
    handler = Collector()
    controller = Controller(
        handler,
        hostname=LOOPBACK,
        port=free_port(),
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,  # loopback only, and no certificate tooling in the test environment
    )
    controller.start()
    yield controller, handler
    controller.stop()


# The same reminder, 7 days before its due date.
NOTICE = replace(OPPOSITION_REMINDER, offset_days=7, on=date(2025, 4, 11), status_url=None)
SENDER = "suivi-cpts@ars.example.fr"


def notice_message(*recipients: Recipient | str):
    return build_message(
        render_notice(NOTICE),
        sender=f"Suivi des CPTS <{SENDER}>",
        recipients=recipients or NOTICE.recipients,
        message_id=NOTICE.message_id("ars.example.fr"),
        sent_at=datetime(2025, 4, 11, 6, 0, tzinfo=UTC),
    )


def settings_for(controller: Controller, url_tail: str = "") -> SmtpSettings:
    return SmtpSettings.from_url(f"smtp://{url_tail}{controller.hostname}:{controller.port}")


# ------------------------------------------------------------------------------------------- delivery
@pytest.mark.integration
def test_a_notice_reaches_the_server_with_its_message_id_french_subject_and_french_due_date(plain_server):
    controller, handler = plain_server
    before = len(handler.received)

    refused = send_message(settings_for(controller), notice_message(), timeout=5)

    assert refused == {}
    received = handler.received[before:]
    assert len(received) == 1
    assert received[0].mail_from == SENDER
    assert received[0].rcpt_tos == [ARS.email, CPAM.email]
    parsed = message_from_bytes(received[0].content, policy=policy.default)
    assert parsed["Message-ID"] == NOTICE.message_id("ars.example.fr")
    assert parsed["Subject"] == (
        "[CPTS du Pays de Lunel] Rappel : délai d'opposition de l'ARS au projet de santé — "
        "échéance dans 7 jours (vendredi 18 avril 2025)"
    )
    assert "vendredi 18 avril 2025" in parsed.get_body(("plain",)).get_content()


@pytest.mark.integration
def test_a_resent_notice_carries_the_same_message_id(plain_server):
    controller, handler = plain_server
    before = len(handler.received)

    send_message(settings_for(controller), notice_message(), timeout=5)
    send_message(settings_for(controller), notice_message(), timeout=5)

    received = handler.received[before:]
    ids = [message_from_bytes(r.content, policy=policy.default)["Message-ID"] for r in received]
    assert len(ids) == 2
    assert set(ids) == {NOTICE.message_id("ars.example.fr")}


@pytest.mark.integration
def test_a_server_requiring_login_accepts_the_message_after_auth(auth_server):
    controller, handler = auth_server
    before = len(handler.received)

    send_message(settings_for(controller, "suivi-cpts:s3cret%3Apass%40word@"), notice_message(), timeout=5)

    assert [r.login for r in handler.received[before:]] == [USER.encode()]


@pytest.mark.integration
def test_a_wrong_password_is_a_temporary_failure_to_fix_in_the_settings(auth_server):
    controller, handler = auth_server
    before = len(handler.received)

    with pytest.raises(DeliveryError) as caught:
        send_message(settings_for(controller, "suivi-cpts:wrong@"), notice_message(), timeout=5)

    assert caught.value.permanent is False and caught.value.code == 535
    assert "(auth)" in str(caught.value)
    assert handler.received[before:] == []


@pytest.mark.integration
def test_a_login_required_by_the_server_but_missing_from_the_settings_is_a_temporary_failure(auth_server):
    controller, _ = auth_server

    with pytest.raises(DeliveryError) as caught:
        send_message(settings_for(controller), notice_message(), timeout=5)

    assert caught.value.code == 530 and caught.value.permanent is False


@pytest.mark.integration
def test_a_server_that_is_down_is_a_temporary_failure():
    settings = SmtpSettings.from_url(f"smtp://{LOOPBACK}:{free_port()}")

    with pytest.raises(DeliveryError) as caught:
        send_message(settings, notice_message(), timeout=2)

    assert caught.value.permanent is False
    assert "(connect)" in str(caught.value)


@pytest.mark.integration
def test_a_550_rejection_is_a_permanent_failure(plain_server):
    controller, handler = plain_server
    before = len(handler.received)

    with pytest.raises(DeliveryError) as caught:
        send_message(settings_for(controller), notice_message("inconnu@cpts.example.fr"), timeout=5)

    assert caught.value.permanent is True and caught.value.code == 550
    assert "Mailbox unavailable" in str(caught.value)
    assert handler.received[before:] == []


@pytest.mark.integration
def test_a_4xx_rejection_is_a_temporary_failure(plain_server):
    controller, _ = plain_server

    with pytest.raises(DeliveryError) as caught:
        send_message(settings_for(controller), notice_message("plein@cpts.example.fr"), timeout=5)

    assert caught.value.permanent is False and caught.value.code == 452


@pytest.mark.integration
def test_a_message_accepted_for_some_recipients_is_delivered_and_reports_the_refused_ones(plain_server):
    controller, handler = plain_server
    before = len(handler.received)

    message = notice_message(ARS, "inconnu@cpts.example.fr")

    refused = send_message(settings_for(controller), message, timeout=5)

    assert list(refused) == ["inconnu@cpts.example.fr"] and refused["inconnu@cpts.example.fr"][0] == 550
    assert [r.rcpt_tos for r in handler.received[before:]] == [[ARS.email]]


@pytest.mark.integration
def test_starttls_against_a_server_that_does_not_offer_it_is_a_temporary_failure(plain_server):
    controller, handler = plain_server
    before = len(handler.received)
    settings = SmtpSettings.from_url(f"smtp://{controller.hostname}:{controller.port}?starttls=true")

    with pytest.raises(DeliveryError) as caught:
        send_message(settings, notice_message(), timeout=5)

    assert caught.value.permanent is False
    assert "starttls" in str(caught.value)
    assert handler.received[before:] == []
