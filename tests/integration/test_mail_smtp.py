"""SmtpMailer against a real SMTP server (aiosmtpd) on loopback: batches, refusals, drops, TLS, AUTH."""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
import ssl
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from integrations.mail import SmtpMailer
from scheduler.errors import DeliveryError, ServiceRefused
from scheduler.model import Attendee, EmailMessage, Invite

HOST = "127.0.0.1"
USERNAME = "coffee"
PASSWORD = "correct horse battery staple"
START = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


def make_message(number: int = 1, to: str = "ana@example.com", *, invite: bool = False) -> EmailMessage:
    return EmailMessage(
        to=(f"Ana López <{to}>",),
        subject=f"Coffee chat {number}",
        text=f"Message {number}\n",
        html=f"<p>Message {number}</p>\n",
        sender="Coffee Chat <coffee@example.com>",
        message_id=f"<coffeechat.{number:032x}@example.com>",
        invite=Invite(
            uid="coffeechat-meeting-1",
            sequence=0,
            method="REQUEST",
            organizer=Attendee("coffee@example.com", "Coffee Chat"),
            attendees=(Attendee(to, "Ana López"),),
            start=START,
            end=START + timedelta(minutes=30),
            summary="Coffee chat",
            stamp=START - timedelta(days=7),
        )
        if invite
        else None,
    )


def free_port() -> int:
    # aiosmtpd's Controller needs a concrete port (it connects to it to check that the server is up).
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class RecordingHandler:
    """Accepts everything and remembers the envelopes and the sessions (one per connection)."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.sessions: list[Session] = []

    def seen(self, session: Session) -> None:
        if not any(known is session for known in self.sessions):
            self.sessions.append(session)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.seen(session)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK: queued"


class RefusingHandler(RecordingHandler):
    """Refuses some recipients with a given reply."""

    def __init__(self, refusals: dict[str, str]) -> None:
        super().__init__()
        self.refusals = refusals

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refusals:
            return self.refusals[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"


class BusyHandler(RecordingHandler):
    """Answers DATA with a temporary failure."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return "451 4.3.0 Try again later"


class DroppingAfterEachMessageHandler(RecordingHandler):
    """Accepts a message, then closes the connection: a server with a very short idle timeout."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert server.transport is not None
        # Close after the reply is written (asyncio flushes pending writes before closing).
        asyncio.get_running_loop().call_soon(server.transport.close)
        return await super().handle_DATA(server, session, envelope)


class ClosingOnMailHandler(RecordingHandler):
    """Says 421 (closing) to every MAIL FROM: a server shutting down."""

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        self.seen(session)
        assert server.transport is not None
        asyncio.get_running_loop().call_soon(server.transport.close)
        return "421 4.3.2 Service shutting down"


class IdleTimeoutHandler(RecordingHandler):
    """Takes one message per connection, then answers the next MAIL with 421 and closes: an idle timeout."""

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if any(known is session for known in self.sessions):
            assert server.transport is not None
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.4.2 Idle timeout, closing connection"
        return await super().handle_MAIL(server, session, envelope, address, options)


def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    """Accept USERNAME/PASSWORD only."""
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


StartServer = Callable[..., Controller]
MakeMailer = Callable[..., SmtpMailer]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start aiosmtpd controllers on free loopback ports; stop them all at the end."""
    controllers: list[Controller] = []

    def start(handler: object, **kwargs: object) -> Controller:
        controller = Controller(handler, hostname=HOST, port=free_port(), **kwargs)
        controller.start()
        controllers.append(controller)
        return controller

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def mailers() -> Iterator[MakeMailer]:
    """Build SmtpMailers (plain, short timeout, no DNS lookup for the local name); close them all after."""
    made: list[SmtpMailer] = []

    def make(port: int, **kwargs: Any) -> SmtpMailer:
        options: dict[str, Any] = {"security": "none", "timeout": 5.0, "local_hostname": "localhost"}
        options.update(kwargs)
        mailer = SmtpMailer(HOST, port, **options)
        made.append(mailer)
        return mailer

    yield make
    for mailer in made:
        mailer.close()


def parsed(envelope: Envelope) -> Any:
    assert isinstance(envelope.content, bytes)
    return message_from_bytes(envelope.content, policy=default_policy)


def test_a_batch_goes_over_one_connection(start_server: StartServer, mailers: MakeMailer) -> None:
    handler = RecordingHandler()
    mailer = mailers(start_server(handler).port)

    for number in (1, 2, 3):
        mailer.send(make_message(number, to=f"person{number}@example.com", invite=number == 2))
    mailer.close()

    assert len(handler.sessions) == 1
    assert [e.mail_from for e in handler.envelopes] == ["coffee@example.com"] * 3
    assert [e.rcpt_tos for e in handler.envelopes] == [[f"person{n}@example.com"] for n in (1, 2, 3)]
    messages = [parsed(e) for e in handler.envelopes]
    assert [m["Message-ID"] for m in messages] == [make_message(n).message_id for n in (1, 2, 3)]
    assert messages[1].get_content_type() == "multipart/mixed"
    assert messages[0]["Date"] is not None


def test_close_then_send_opens_a_new_connection(start_server: StartServer, mailers: MakeMailer) -> None:
    handler = RecordingHandler()
    mailer = mailers(start_server(handler).port)

    mailer.send(make_message(1))
    mailer.close()
    mailer.close()  # closing twice is harmless
    mailer.send(make_message(2))

    assert len(handler.envelopes) == 2
    assert len(handler.sessions) == 2


def test_a_refused_recipient_is_permanent_and_the_connection_goes_on(
    start_server: StartServer, mailers: MakeMailer
) -> None:
    handler = RefusingHandler({"gone@example.com": "550 5.1.1 No such user"})
    mailer = mailers(start_server(handler).port)

    with pytest.raises(DeliveryError, match=r"gone@example\.com") as caught:
        mailer.send(make_message(1, to="gone@example.com"))
    mailer.send(make_message(2, to="ana@example.com"))

    assert caught.value.transient is False
    assert not isinstance(caught.value, ServiceRefused)  # one message's problem: the relay goes on
    assert "550" in str(caught.value)
    assert [e.rcpt_tos for e in handler.envelopes] == [["ana@example.com"]]
    assert len(handler.sessions) == 1


def test_a_mailbox_temporarily_unavailable_is_transient(
    start_server: StartServer, mailers: MakeMailer
) -> None:
    handler = RefusingHandler({"full@example.com": "452 4.2.2 Mailbox full"})
    mailer = mailers(start_server(handler).port)

    with pytest.raises(DeliveryError, match="452") as caught:
        mailer.send(make_message(to="full@example.com"))

    assert caught.value.transient is True


def test_a_4xx_reply_to_data_is_transient(start_server: StartServer, mailers: MakeMailer) -> None:
    mailer = mailers(start_server(BusyHandler()).port)

    with pytest.raises(DeliveryError, match="451") as caught:
        mailer.send(make_message())

    assert caught.value.transient is True


def test_a_kept_connection_the_server_dropped_is_reopened_once(
    start_server: StartServer, mailers: MakeMailer
) -> None:
    handler = DroppingAfterEachMessageHandler()
    mailer = mailers(start_server(handler).port)

    for number in (1, 2, 3):
        mailer.send(make_message(number))

    assert [parsed(e)["Subject"] for e in handler.envelopes] == [
        "Coffee chat 1",
        "Coffee chat 2",
        "Coffee chat 3",
    ]
    assert len(handler.sessions) == 3


def test_a_fresh_connection_that_is_closed_on_us_is_transient_and_not_retried(
    start_server: StartServer, mailers: MakeMailer
) -> None:
    handler = ClosingOnMailHandler()
    mailer = mailers(start_server(handler).port)

    with pytest.raises(DeliveryError, match="421") as caught:
        mailer.send(make_message())

    assert caught.value.transient is True
    assert len(handler.sessions) == 1  # the outbox retries later; the mailer does not hammer the server


def test_a_kept_connection_closed_with_421_is_reopened_once(
    start_server: StartServer, mailers: MakeMailer
) -> None:
    handler = IdleTimeoutHandler()
    mailer = mailers(start_server(handler).port)

    mailer.send(make_message(1))
    mailer.send(make_message(2))  # the kept connection answers 421; the mailer sends on a new one

    assert [parsed(e)["Subject"] for e in handler.envelopes] == ["Coffee chat 1", "Coffee chat 2"]
    assert len(handler.sessions) == 2


def test_a_server_that_is_down_is_transient(mailers: MakeMailer) -> None:
    # A bound socket that never listens: connecting to it is refused, and nobody else can take the port.
    with socket.socket() as closed:
        closed.bind((HOST, 0))
        mailer = mailers(closed.getsockname()[1])

        with pytest.raises(DeliveryError, match="cannot connect") as caught:
            mailer.send(make_message())

    assert caught.value.transient is True


def test_a_server_that_never_answers_times_out_as_transient(mailers: MakeMailer) -> None:
    # Listening but never accepting: the TCP handshake succeeds and the greeting never comes.
    with socket.socket() as silent:
        silent.bind((HOST, 0))
        silent.listen(1)
        mailer = mailers(silent.getsockname()[1], timeout=0.3)

        with pytest.raises(DeliveryError) as caught:
            mailer.send(make_message())

    assert caught.value.transient is True


def test_starttls_that_the_server_does_not_offer_is_refused_for_good(
    start_server: StartServer, mailers: MakeMailer
) -> None:
    handler = RecordingHandler()
    mailer = mailers(start_server(handler).port, security="starttls")

    with pytest.raises(DeliveryError, match="STARTTLS") as caught:
        mailer.send(make_message())

    assert caught.value.transient is False
    assert handler.envelopes == []


def test_a_malformed_message_is_refused_before_connecting(mailers: MakeMailer) -> None:
    mailer = mailers(1)  # nothing is listening on port 1: a connection attempt would fail differently

    with pytest.raises(DeliveryError, match="line break") as caught:
        mailer.send(dataclasses.replace(make_message(), subject="a\r\nBcc: x@example.com"))

    assert caught.value.transient is False


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="security must be one of"):
        SmtpMailer(HOST, 25, security="tls")
    with pytest.raises(ValueError, match="both a username and a password"):
        SmtpMailer(HOST, 25, username="coffee")


def test_the_password_is_not_in_the_repr() -> None:
    mailer = SmtpMailer(HOST, 25, username=USERNAME, password=PASSWORD)

    assert PASSWORD not in repr(mailer)
    assert USERNAME in repr(mailer)


# --- TLS and AUTH -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    """A throwaway CA and a server certificate for 127.0.0.1 signed by it."""

    ca: Path
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """Generate the certificates once per module (cryptography comes with msal; skip if it is missing)."""
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = tmp_path_factory.mktemp("tls")
    now = datetime.now(UTC)

    def build(subject: str, public_key: Any, issuer: str, issuer_key: Any, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        )
        if ca:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False
            ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("Coffee Chat test CA", ca_key.public_key(), "Coffee Chat test CA", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = build(HOST, server_key.public_key(), "Coffee Chat test CA", ca_key, ca=False)

    paths = Certificates(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def start_auth_server(
    start_server: StartServer,
    certificates: Certificates,
    handler: object,
    authenticator: Callable[..., AuthResult] = authenticate,
) -> Controller:
    return start_server(
        handler,
        tls_context=certificates.server_context(),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )


def test_auth_over_starttls(
    start_server: StartServer, mailers: MakeMailer, certificates: Certificates
) -> None:
    handler = RecordingHandler()
    controller = start_auth_server(start_server, certificates, handler)
    mailer = mailers(
        controller.port,
        security="starttls",
        username=USERNAME,
        password=PASSWORD,
        ssl_context=certificates.client_context(),
    )

    mailer.send(make_message(1, invite=True))
    mailer.send(make_message(2))

    assert len(handler.envelopes) == 2
    assert len(handler.sessions) == 1
    session = handler.sessions[0]
    assert session.authenticated
    assert session.ssl is not None  # the message went over TLS


def test_issue_13_a_refused_login_is_a_refusal_of_the_whole_mail_service(
    start_server: StartServer, mailers: MakeMailer, certificates: Certificates
) -> None:
    wrong = "hunter2-wrong-password"
    handler = RecordingHandler()
    controller = start_auth_server(start_server, certificates, handler)
    mailer = mailers(
        controller.port,
        security="starttls",
        username=USERNAME,
        password=wrong,
        password_name="COFFEECHAT_SMTP_PASSWORD",
        ssl_context=certificates.client_context(),
    )

    with pytest.raises(ServiceRefused) as caught:
        mailer.send(make_message())

    refusal = caught.value
    assert str(refusal) == (
        f"SMTP {HOST}:{controller.port}: the mail server refused Coffee Chat's login "
        "(535 5.7.8 Authentication credentials invalid): "
        "check the username 'coffee' and the password in COFFEECHAT_SMTP_PASSWORD"
    )
    assert (refusal.service, refusal.setting) == ("email", "COFFEECHAT_SMTP_PASSWORD")
    # Retrying is right once the password is fixed: code that knows nothing of pauses retries, never buries it.
    assert refusal.transient is True
    assert wrong not in "".join(traceback.format_exception(refusal))
    assert handler.envelopes == []


def test_issue_13_a_534_to_the_login_is_a_refusal_of_the_service_too(
    start_server: StartServer, mailers: MakeMailer, certificates: Certificates
) -> None:
    def wants_an_app_password(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                              data: Any) -> AuthResult:
        return AuthResult(success=False, handled=False,
                          message="534 5.7.9 Application-specific password required")

    controller = start_auth_server(start_server, certificates, RecordingHandler(), wants_an_app_password)
    mailer = mailers(
        controller.port,
        security="starttls",
        username=USERNAME,
        password=PASSWORD,
        ssl_context=certificates.client_context(),
    )

    refused = r"refused Coffee Chat's login \(534 5\.7\.9 Application-specific password required\)"
    with pytest.raises(ServiceRefused, match=refused) as caught:
        mailer.send(make_message())

    assert str(caught.value).endswith("check the username 'coffee' and the password")  # no variable was named
    assert caught.value.setting is None


def test_issue_13_a_server_that_wants_a_login_not_configured_refuses_the_service(
    start_server: StartServer, mailers: MakeMailer, certificates: Certificates
) -> None:
    handler = RecordingHandler()
    controller = start_auth_server(start_server, certificates, handler)
    # TLS but no username: the server answers MAIL FROM with 530, as it would to every message.
    mailer = mailers(controller.port, security="starttls", ssl_context=certificates.client_context())

    with pytest.raises(ServiceRefused) as caught:
        mailer.send(make_message())

    assert str(caught.value) == (
        f"SMTP {HOST}:{controller.port}: the mail server requires a login (530 5.7.0 Authentication required): "
        "check the SMTP settings (security, username and password)"
    )
    assert caught.value.service == "email"
    assert handler.envelopes == []


def test_an_untrusted_certificate_fails_the_connection(
    start_server: StartServer, mailers: MakeMailer, certificates: Certificates
) -> None:
    controller = start_auth_server(start_server, certificates, RecordingHandler())
    # The default context trusts the system CAs only, not our test CA.
    mailer = mailers(controller.port, security="starttls", username=USERNAME, password=PASSWORD)

    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED") as caught:
        mailer.send(make_message())

    # A TLS failure is an OSError like any connection failure: the outbox retries with backoff, then parks it.
    assert caught.value.transient is True
    assert PASSWORD not in "".join(traceback.format_exception(caught.value))


def test_implicit_tls(start_server: StartServer, mailers: MakeMailer, certificates: Certificates) -> None:
    handler = RecordingHandler()
    controller = start_server(handler, ssl_context=certificates.server_context())
    mailer = mailers(controller.port, security="ssl", ssl_context=certificates.client_context())

    mailer.send(make_message())

    assert len(handler.envelopes) == 1


def test_implicit_tls_with_an_untrusted_certificate(
    start_server: StartServer, mailers: MakeMailer, certificates: Certificates
) -> None:
    controller = start_server(RecordingHandler(), ssl_context=certificates.server_context())
    mailer = mailers(controller.port, security="ssl")

    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        mailer.send(make_message())
