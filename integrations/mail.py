"""Sending email: MIME building (with the iMIP calendar part) and three backends behind the ``Mailer`` port.

The core hands over a finished ``model.EmailMessage``; this module only turns it into MIME and sends it:

- ``SmtpMailer``: smtplib over STARTTLS, implicit TLS or plain, with optional AUTH; one connection per batch.
- ``FileMailer``: one ``.eml`` file per message (the demo and development default).
- ``ConsoleMailer``: prints a readable rendering of each message.

Backends raise ``scheduler.errors.DeliveryError`` and nothing else; ``transient`` tells the outbox whether a
later retry can help. A login the mail server refuses is its subclass ``ServiceRefused``: the fault of the whole
mail service, not of one message, on which the outbox pauses email delivery instead of failing every message.
The ``Date`` header is set when a backend sends, from its clock: the core has no hidden clock.
"""

from __future__ import annotations

import email.policy
import hashlib
import os
import re
import smtplib
import ssl
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage as MimeMessage
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

from integrations.invites import render_invite as default_render_invite
from scheduler.clock import SystemClock
from scheduler.errors import DeliveryError, ServiceRefused
from scheduler.model import EmailMessage, Invite
from scheduler.ports import Clock

# CRLF line ends as on the wire. cte_type="7bit" makes non-ASCII bodies quoted-printable or base64 rather than
# raw 8-bit, which a server without 8BITMIME may mangle (smtplib does not declare BODY=8BITMIME by itself).
POLICY = email.policy.SMTP.clone(cte_type="7bit")
INVITE_FILENAME = "invite.ics"
SECURITY_MODES = ("starttls", "ssl", "none")
# Replies that refuse Coffee Chat's credentials rather than a message: 530 authentication required (also "must
# issue STARTTLS first"), 534 mechanism too weak or the provider wants another kind of login (an app password),
# 535 credentials invalid. Every message would get the same answer until an admin changes a setting.
LOGIN_REFUSED_CODES = frozenset({530, 534, 535})

# Headers that build_mime sets itself: an extra header must not replace or duplicate them, and address headers
# (Cc, Bcc) would send the message to people the core never chose.
_RESERVED_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "sender",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
    }
)
_HEADER_NAME = re.compile(r"[!-9;-~]+")  # printable ASCII without ":" (RFC 5322 field name)
_METHOD_LINE = re.compile(r"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)


def _check_header(name: str, value: str) -> None:
    # A CR or LF in a value would let a name or subject start a new header (or the body): header injection.
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} contains a line break")
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a valid header name")


def build_mime(
    message: EmailMessage,
    *,
    render_invite: Callable[[Invite], str] = default_render_invite,
    date: datetime | None = None,
) -> MimeMessage:
    """The MIME form of ``message``, ready for ``smtplib`` or a file.

    Without invite: ``multipart/alternative`` (text/plain, text/html). With invite, the iMIP shape of RFC 6047
    that common clients accept: ``multipart/mixed`` › [``multipart/alternative`` › text/plain, text/html,
    ``text/calendar; method=<METHOD>; charset=utf-8``] plus the same calendar as an ``invite.ics`` attachment
    (``application/ics``). The ``method`` parameter is read from the rendered calendar's METHOD, so the two
    always agree. ``date`` (timezone-aware) becomes the Date header; without it there is no Date header.

    Raises ``ValueError`` for a line break in any header value (header injection), a bad header name, an extra
    header that ``build_mime`` sets itself, no recipient, or an address that does not parse.
    """
    headers = [
        ("From", message.sender),
        ("To", ", ".join(message.to)),
        ("Subject", message.subject),
        ("Message-ID", message.message_id),
        *message.headers,
    ]
    for name, value in headers:
        _check_header(name, value)
    for name, _ in message.headers:
        if name.lower() in _RESERVED_HEADERS:
            raise ValueError(f"header {name} is set by build_mime and cannot be given as an extra header")
    if not message.to:
        raise ValueError("a message needs at least one recipient")
    if not message.message_id:
        raise ValueError("a message needs a Message-ID")

    mime = MimeMessage(policy=POLICY)
    for name, value in headers:
        mime[name] = value
    if date is not None:
        if date.tzinfo is None or date.utcoffset() is None:
            raise ValueError("the Date must be timezone-aware")
        mime["Date"] = format_datetime(date)
    _envelope(mime)  # parse the addresses now, so a bad one fails here and not halfway through a send

    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    if message.invite is not None:
        calendar = render_invite(message.invite)
        found = _METHOD_LINE.search(calendar)
        if found is None:
            raise ValueError("the rendered invite has no METHOD line")
        mime.add_alternative(calendar, subtype="calendar", params={"method": found.group(1).upper()})
        mime.make_mixed()
        mime.add_attachment(
            calendar.encode("utf-8"),
            maintype="application",
            subtype="ics",
            filename=INVITE_FILENAME,
            params={"name": INVITE_FILENAME},
        )
    return mime


def _envelope(mime: MimeMessage) -> tuple[str, list[str]]:
    """The SMTP envelope (sender, recipients) from From and To; ``ValueError`` if they do not parse."""
    try:
        senders: tuple[Address, ...] = mime["From"].addresses
        recipients: tuple[Address, ...] = mime["To"].addresses
    except (AttributeError, IndexError, TypeError) as exc:
        raise ValueError(f"addresses do not parse: {exc}") from exc
    if len(senders) != 1 or "@" not in senders[0].addr_spec:
        raise ValueError(f"From {mime['From']!s} is not one address")
    if not recipients or not all("@" in a.addr_spec for a in recipients):
        raise ValueError(f"To {mime['To']!s} holds something that is not an address")
    return senders[0].addr_spec, [a.addr_spec for a in recipients]


def _mime_or_error(message: EmailMessage, date: datetime) -> MimeMessage:
    try:
        return build_mime(message, date=date)
    except ValueError as exc:
        # A malformed message fails the same way on every try: not transient.
        raise DeliveryError(f"message {message.message_id!r} cannot be sent: {exc}", transient=False) from exc


def file_name_for(message_id: str) -> str:
    """A file name (``.eml``) that is safe on any file system and the same for the same Message-ID."""
    core = message_id.strip().strip("<>")
    safe = re.sub(r"[^A-Za-z0-9._@+-]", "_", core).strip(".")[:150]
    if safe != core or not safe:
        # Replacing characters could make two ids collide: a digest of the full id keeps them apart.
        safe = f"{safe}-{hashlib.sha256(message_id.encode('utf-8')).hexdigest()[:16]}"
    return f"{safe}.eml"


class FileMailer:
    """Writes each message as ``<directory>/<safe Message-ID>.eml``.

    Writing goes to a temporary file that is then renamed over the final name, so a reader never sees half a
    message and sending the same message again replaces its file instead of adding a second one.
    """

    def __init__(self, directory: Path, *, clock: Clock | None = None) -> None:
        self.directory = Path(directory)
        self._clock = clock or SystemClock()

    def path_for(self, message: EmailMessage) -> Path:
        """Where ``message`` is (or will be) written."""
        return self.directory / file_name_for(message.message_id)

    def send(self, message: EmailMessage) -> None:
        """Write the message; ``DeliveryError`` (transient) when the directory cannot be written."""
        data = _mime_or_error(message, self._clock.now()).as_bytes()
        target = self.path_for(message)
        temporary: str | None = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "wb", dir=self.directory, prefix=".", suffix=".eml.tmp", delete=False
            ) as handle:
                temporary = handle.name
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
            temporary = None
        except OSError as exc:
            raise DeliveryError(f"cannot write {target}: {exc.strerror or exc}", transient=True) from exc
        finally:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)

    def close(self) -> None:
        """Nothing to release."""


class ConsoleMailer:
    """Prints each message in readable form: its headers, then every part decoded.

    ``stream`` defaults to ``sys.stdout`` as it is when sending (so redirected or captured output works).
    """

    def __init__(self, stream: TextIO | None = None, *, clock: Clock | None = None) -> None:
        self._stream = stream
        self._clock = clock or SystemClock()

    def send(self, message: EmailMessage) -> None:
        """Print the message; ``DeliveryError`` (permanent) when it is malformed."""
        stream = self._stream or sys.stdout
        stream.write(render_for_console(_mime_or_error(message, self._clock.now())))
        stream.flush()

    def close(self) -> None:
        """Nothing to release."""


def render_for_console(mime: MimeMessage) -> str:
    """Headers and decoded parts of a message built by ``build_mime``, for a person to read."""
    rule = "=" * 78
    lines = [rule]
    lines.extend(f"{name}: {value}" for name, value in mime.items() if name.lower() != "content-type")
    for part in mime.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            lines.append(f"--- attachment {filename} ({part.get_content_type()}, {size} bytes) ---")
            continue
        params = "".join(f"; {k}={v}" for k, v in (part.get_params() or [])[1:] if k != "charset")
        lines.append(f"--- {part.get_content_type()}{params} ---")
        lines.append(str(part.get_content()).replace("\r\n", "\n").rstrip("\n"))
    lines.append(rule)
    return "\n".join(lines) + "\n"


def _is_transient(code: int) -> bool:
    # SMTP reply classes: 4xx "try again later", 5xx "do not try again".
    return 400 <= code < 500


class SmtpMailer:
    """Sends through an SMTP server with smtplib.

    One connection is opened on the first ``send`` and kept for the following ones (a batch); ``close`` ends
    it with QUIT. If the server dropped a kept connection (idle timeout, restart), the message is sent once
    more on a fresh connection; a fresh connection that fails is not retried here: the outbox retries later.

    ``security``: ``starttls`` (upgrade, and refuse to go on in clear when the server does not offer it),
    ``ssl`` (implicit TLS, usually port 465) or ``none``. ``username``/``password`` enable AUTH;
    ``password_name`` says where the admin keeps the password (the environment variable, e.g.
    ``COFFEECHAT_SMTP_PASSWORD``) so that a refused login can say what to check. Failures become
    ``DeliveryError``: recipient refused and other 5xx replies are permanent, 4xx replies, refused or dropped
    connections and timeouts are transient. A login refused with 530, 534 or 535 (or a 530 "authentication
    required" to MAIL FROM) is ``ServiceRefused`` with ``service="email"``: no message can go until the
    setting is fixed. The password never appears in an error or a repr.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str = "starttls",
        username: str | None = None,
        password: str | None = None,
        password_name: str | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Clock | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"security must be one of {', '.join(SECURITY_MODES)}, got {security!r}")
        if (username is None) != (password is None):
            raise ValueError("SMTP authentication needs both a username and a password")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.password_name = password_name
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._ssl_context = ssl_context
        self._clock = clock or SystemClock()
        self._connection: smtplib.SMTP | None = None

    def __repr__(self) -> str:
        auth = f", username={self.username!r}" if self.username else ""
        return f"SmtpMailer({self.host!r}, {self.port}, security={self.security!r}{auth})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def send(self, message: EmailMessage) -> None:
        """Send one message on the kept connection (opening it if needed); ``DeliveryError`` on failure."""
        mime = _mime_or_error(message, self._clock.now())
        sender, recipients = _envelope(mime)
        for attempt in (1, 2):
            reused = self._connection is not None
            connection = self._connection or self._connect()
            self._connection = connection
            try:
                refused = connection.send_message(mime, sender, recipients)
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                raise self._error(
                    f"recipients refused: {_describe_refused(exc.recipients)}",
                    transient=bool(codes) and all(_is_transient(code) for code in codes),
                ) from exc
            except smtplib.SMTPResponseException as exc:
                if isinstance(exc, smtplib.SMTPSenderRefused) and exc.smtp_code in LOGIN_REFUSED_CODES:
                    # MAIL FROM answered "authentication required": the server wants a login (or TLS first)
                    # that this configuration does not do, for every message alike.
                    raise self._refused("the mail server requires a login", exc) from exc
                if exc.smtp_code == 421:
                    # 421: the server is closing the connection (smtplib has closed its end already).
                    self._discard()
                    if reused and attempt == 1:
                        continue
                raise self._error(
                    f"{_reply(exc.smtp_code, exc.smtp_error)}", transient=_is_transient(exc.smtp_code)
                ) from exc
            except smtplib.SMTPServerDisconnected as exc:
                self._discard()
                if reused and attempt == 1:
                    # The kept connection died between messages: one fresh try. The Message-ID is stable, so
                    # the rare case where the server had accepted the message is recognisable as a duplicate.
                    continue
                raise self._error(f"connection lost: {exc}", transient=True) from exc
            except smtplib.SMTPException as exc:
                # Everything else smtplib raises here (e.g. SMTPUTF8 needed but not offered) repeats on retry.
                # Caught before OSError, of which SMTPException is a subclass.
                raise self._error(str(exc), transient=False) from exc
            except OSError as exc:
                self._discard()
                raise self._error(f"connection lost: {exc}", transient=True) from exc
            if refused:
                # Some recipients have the message already: retrying would send it to them twice.
                raise self._error(
                    f"delivered, except to refused recipients: {_describe_refused(refused)}", transient=False
                )
            return

    def close(self) -> None:
        """End the kept connection politely (QUIT), if there is one."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()  # the server went away first; just release the socket

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _connect(self) -> smtplib.SMTP:
        """Open, secure and authenticate a connection; ``DeliveryError`` on failure."""
        context = self._ssl_context or ssl.create_default_context()
        try:
            if self.security == "ssl":
                connection: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, self.local_hostname, timeout=self.timeout, context=context
                )
            else:
                connection = smtplib.SMTP(self.host, self.port, self.local_hostname, timeout=self.timeout)
        except smtplib.SMTPConnectError as exc:
            raise self._error(
                f"refused at greeting: {_reply(exc.smtp_code, exc.smtp_error)}",
                transient=_is_transient(exc.smtp_code),
            ) from exc
        except OSError as exc:  # refused, unreachable, timed out, TLS failed, or closed before the greeting
            raise self._error(f"cannot connect: {exc}", transient=True) from exc
        try:
            if self.security == "starttls":
                connection.starttls(context=context)
            if self.username is not None and self._password is not None:
                connection.login(self.username, self._password)
        except smtplib.SMTPNotSupportedError as exc:
            connection.close()
            # Going on without TLS or AUTH would put the message (or the password) in clear: refuse for good.
            raise self._error(f"the server does not support this: {exc}", transient=False) from exc
        except smtplib.SMTPResponseException as exc:
            connection.close()
            if exc.smtp_code in LOGIN_REFUSED_CODES:
                raise self._refused("the mail server refused Coffee Chat's login", exc) from exc
            raise self._error(
                f"{_reply(exc.smtp_code, exc.smtp_error)}", transient=_is_transient(exc.smtp_code)
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            connection.close()
            raise self._error(f"connection lost while setting up: {exc}", transient=True) from exc
        except smtplib.SMTPException as exc:  # e.g. no AUTH mechanism in common: the same on every try
            connection.close()
            raise self._error(str(exc), transient=False) from exc
        except OSError as exc:  # TLS handshake failed, connection reset
            connection.close()
            raise self._error(f"connection lost while setting up: {exc}", transient=True) from exc
        return connection

    def _error(self, what: str, *, transient: bool) -> DeliveryError:
        return DeliveryError(self._scrub(f"SMTP {self.host}:{self.port}: {what}"), transient=transient)

    def _refused(self, what: str, exc: smtplib.SMTPResponseException) -> ServiceRefused:
        """The ``ServiceRefused`` for a reply that refuses Coffee Chat's credentials: the reply, and what to
        check (the username and the name of the password's variable, never the password)."""
        if self.username is None:
            # No login configured: the server wants one, or TLS first (its reply says which).
            check = "the SMTP settings (security, username and password)"
        else:
            check = f"the username {self.username!r} and the password"
        if self.password_name:
            check += f" in {self.password_name}"
        text = f"SMTP {self.host}:{self.port}: {what} ({_reply(exc.smtp_code, exc.smtp_error)}): check {check}"
        return ServiceRefused(self._scrub(text), service="email", setting=self.password_name)

    def _scrub(self, text: str) -> str:
        if self._password:
            text = text.replace(self._password, "***")  # in case a server echoes what it was sent
        return text


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


def _describe_refused(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{address} ({_reply(code, text)})" for address, (code, text) in sorted(refused.items()))
