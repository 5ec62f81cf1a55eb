"""Accounts of the web site: sign-up with double opt-in, sign-in by emailed link, revocable sessions.

Pure of Flask: the web views parse a form or a cookie, call one function here and render the answer.

- **Links.** A confirmation or sign-in link carries a token signed with the site's secret key (itsdangerous,
  HMAC-SHA256, a salt per purpose so a token made for one purpose is refused for another). Inside: the address,
  a random nonce, the time it was made and, for sign-in, where to go afterwards. It expires after the purpose's
  lifetime (measured on the injected clock) and works once: using it stores the SHA-256 of its nonce in
  ``used_links``, an insert the database lets only one request win.
- **Sessions.** Using a link opens a server-side session: a random token goes to the browser's cookie, its
  SHA-256 to the ``sessions`` table. Signing out or an admin disabling the account revokes the row, so a copied
  cookie stops working at once. A copy of the table signs nobody in.
- **Mail.** Every accepted sign-up or sign-in request sends exactly one email (confirmation, sign-in link, "no
  account", or "account disabled"), so neither the page nor its timing tells whether an address has an
  account. These emails are sent at once through the mailer, not through the outbox: the link in them is a
  bearer credential that would otherwise sit in plain text in ``outbox_effects`` (and on the admin's delivery
  pages) while sessions and links are stored hashed, and a link that a retry ladder delivers an hour late has
  expired anyway. When sending fails, the ``DeliveryError`` reaches the caller, who says "try again".
- **Rate limits.** The site counts sign-ups, sign-in requests and link uses per client address in the database
  (``count_request``), so the allowance holds however many processes serve the site; ``tick`` forgets buckets
  that are full again, with expired sessions and used links (``purge_expired``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from itsdangerous import BadSignature, URLSafeSerializer

from scheduler.accounts import emails as account_emails
from scheduler.errors import InputError, NotFoundError
from scheduler.model import EmailMessage, Person, SessionRecord, normalize_email, require_utc
from scheduler.ports import SiteUrls, UowFactory

if TYPE_CHECKING:
    from scheduler.config import Config
    from scheduler.ports import Clock, Mailer, UnitOfWork

log = logging.getLogger(__name__)

CONFIRM = "confirm"
SIGN_IN = "sign-in"
PURPOSES = (CONFIRM, SIGN_IN)
# A session seen again after this long has its last_seen_at written; more often would cost a write per page.
TOUCH_INTERVAL = timedelta(minutes=5)
# Tokens made a little in the future (clock skew between two servers) are still accepted; more is forgery.
CLOCK_SKEW = timedelta(minutes=2)

# A deliberately plain address: dot-atom local part and a domain of letters, digits and hyphens. Quoted local
# parts, comments and IP literals are valid mail syntax but no employer hands them out, and refusing them keeps
# every address safe in a header and a URL.
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                      r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+")
MAX_ADDRESS_LENGTH = 254
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class AccountSettings:
    """What the account services need from the configuration, and ``site``: the addresses of the web site's
    pages that account emails link to (``web.urls.WebUrls``)."""

    site: SiteUrls
    sender: str
    organisation: str
    organizer_email: str
    allowed_domains: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    session_lifetime: timedelta = timedelta(days=14)
    sign_in_link_lifetime: timedelta = timedelta(minutes=15)
    confirm_link_lifetime: timedelta = timedelta(hours=48)

    @classmethod
    def from_config(cls, config: Config, site: SiteUrls) -> AccountSettings:
        """The settings of ``config``'s ``[organisation]``, ``[mail]`` and ``[web]`` sections, linking to ``site``."""
        web = config.web
        return cls(site=site, sender=config.mail.sender,
                   organisation=config.organisation.name, organizer_email=config.organisation.organizer_email,
                   allowed_domains=web.allowed_domains, admins=web.admins,
                   session_lifetime=timedelta(days=web.session_days),
                   sign_in_link_lifetime=timedelta(minutes=web.sign_in_link_minutes),
                   confirm_link_lifetime=timedelta(hours=web.confirm_link_hours))

    def lifetime(self, purpose: str) -> timedelta:
        """How long a link made for ``purpose`` works."""
        return self.confirm_link_lifetime if purpose == CONFIRM else self.sign_in_link_lifetime


@dataclass(frozen=True)
class SignUpRequest:
    """What the sign-up form collects. ``wishlist`` holds emails and ``team:NAME`` / ``department:NAME``."""

    email: str
    name: str
    team: str
    department: str = ""
    office: str = ""
    timezone: str = "UTC"
    kinds: frozenset[str] = frozenset({"coffee"})
    mode: str = "either"
    cadence: str = "weekly"
    interests: frozenset[str] = frozenset()
    wishlist: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LinkClaim:
    """What a valid link says: its purpose, the address, its nonce, when it was made, and where to go next."""

    purpose: str
    email: str
    nonce: str
    issued_at: datetime
    next_path: str = ""


@dataclass(frozen=True)
class LinkPreview:
    """What the confirmation page shows before the button is pressed."""

    purpose: str
    email: str
    name: str


@dataclass(frozen=True)
class NewSession:
    """A session just opened: ``token`` goes into the cookie (and nowhere else)."""

    token: str
    email: str
    expires_at: datetime
    next_path: str = ""
    confirmed: bool = False


@dataclass(frozen=True)
class Viewer:
    """The person a request comes from, once their session checked out."""

    email: str
    name: str
    timezone: str
    is_admin: bool
    session_expires_at: datetime


class LinkError(InputError):
    """An emailed link that cannot be used: ``reason`` is ``invalid``, ``expired``, ``used`` or ``unavailable``
    (the account is gone or disabled). The message is fit to show to the person who clicked it."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "invalid": "This link is not valid. Copy the whole link from the email, or ask for a new one.",
        "expired": "This link has expired. Ask for a new one.",
        "used": "This link has already been used. Each link works once: ask for a new one.",
        "unavailable": "This link cannot be used: the account no longer exists or has been disabled.",
    }

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.MESSAGES[reason], where="link")


def token_hash(token: str) -> str:
    """The SHA-256 (hex) under which a session token or a link nonce is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_work_email(text: str, allowed_domains: tuple[str, ...] = ()) -> str:
    """The normalised address in ``text``; ``InputError`` (where ``email``) in plain words when it is not a plain
    address, or not in one of ``allowed_domains`` (when any are given)."""
    candidate = text.strip()
    if len(candidate) > MAX_ADDRESS_LENGTH or not _ADDRESS.fullmatch(candidate):
        raise InputError("Enter an email address like name@example.com.", where="email")
    address = normalize_email(candidate)
    domain = address.rpartition("@")[2]
    if allowed_domains and domain not in allowed_domains:
        listed = ", ".join(f"@{name}" for name in allowed_domains)
        raise InputError(f"Use your work address ({listed}).", where="email")
    return address


def has_control_characters(text: str) -> bool:
    """True when ``text`` holds a character no one-line field may: a control character (NUL, which PostgreSQL
    cannot store; line breaks, which could start a mail header; escapes), an unpaired surrogate, or a Unicode
    line or paragraph separator."""
    return any(unicodedata.category(c) in _FORBIDDEN_CATEGORIES for c in text)


def _check_sign_up_text(request: SignUpRequest) -> None:
    """``InputError`` naming the first field of ``request`` with control characters."""
    fields: list[tuple[str, str]] = [
        ("name", request.name), ("team", request.team), ("department", request.department),
        ("office", request.office), ("timezone", request.timezone), ("mode", request.mode),
        ("cadence", request.cadence),
        *(("interests", entry) for entry in sorted(request.interests)),
        *(("wishlist", entry) for entry in sorted(request.wishlist)),
        *(("kinds", entry) for entry in sorted(request.kinds)),
    ]
    for where, text in fields:
        if has_control_characters(text):
            raise InputError("contains control characters (such as NUL or a line break)", where=where)


def is_local_path(target: str) -> bool:
    """True when ``target`` is a path on this site (``/account``), and nothing a browser could read as another
    site (``//evil``, ``/\\evil``, ``https:evil``, ``javascript:``) or with control characters."""
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    return not any(ord(c) < 0x21 or c in "\\\x7f" for c in target) and len(target) <= 512


class LinkSigner:
    """Makes and reads the signed tokens of emailed links.

    One serializer per purpose, each with its own salt, so a sign-in token is refused as a confirmation token
    and the other way round. Expiry is measured on the clock the caller passes, not the system's.
    """

    def __init__(self, secret_key: str | bytes) -> None:
        if not secret_key:
            raise ValueError("a link signer needs a secret key")
        self._serializers = {
            purpose: URLSafeSerializer(secret_key, salt=f"coffeechat.link.{purpose}",
                                       signer_kwargs={"digest_method": hashlib.sha256})
            for purpose in PURPOSES
        }

    def sign(self, purpose: str, email: str, now: datetime, *, next_path: str = "",
             nonce: str | None = None) -> str:
        """A token for ``purpose`` naming ``email``, made at ``now``, with a new random nonce."""
        payload: dict[str, Any] = {"e": email, "n": nonce or secrets.token_urlsafe(16),
                                   "t": int(require_utc(now).timestamp())}
        if next_path:
            payload["x"] = next_path
        token: str = self._serializers[purpose].dumps(payload)
        return token

    def load(self, purpose: str, token: str, now: datetime, lifetime: timedelta) -> LinkClaim:
        """The claim inside ``token``; ``LinkError`` ``invalid`` (tampered, wrong purpose, malformed) or
        ``expired`` (older than ``lifetime`` at ``now``)."""
        if purpose not in self._serializers or len(token) > 2048:
            raise LinkError("invalid")
        try:
            payload = self._serializers[purpose].loads(token)
        except BadSignature:
            raise LinkError("invalid") from None
        if not isinstance(payload, dict):
            raise LinkError("invalid")
        email, nonce, stamp, next_path = payload.get("e"), payload.get("n"), payload.get("t"), payload.get("x", "")
        if not (isinstance(email, str) and isinstance(nonce, str) and isinstance(stamp, int)
                and isinstance(next_path, str)):
            raise LinkError("invalid")
        try:
            issued_at = datetime.fromtimestamp(stamp, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise LinkError("invalid") from None
        if issued_at > now + CLOCK_SKEW:
            raise LinkError("invalid")
        if now - issued_at > lifetime:
            raise LinkError("expired")
        return LinkClaim(purpose, email, nonce, issued_at, next_path if is_local_path(next_path) else "")


MailerFactory = Callable[[], "Mailer"]


def _send(mailer_factory: MailerFactory, message: EmailMessage) -> None:
    """Send ``message`` now; ``DeliveryError`` goes to the caller. The link in it is never logged."""
    mailer = mailer_factory()
    try:
        mailer.send(message)
    finally:
        mailer.close()
    log.info("sent account email %s", message.message_id)


def _link(settings: AccountSettings, purpose: str, token: str) -> str:
    """The address of the page that uses ``token`` for ``purpose``."""
    return settings.site.confirm_sign_up(token) if purpose == CONFIRM else settings.site.sign_in(token)


def sign_up(uow_factory: UowFactory, mailer_factory: MailerFactory, clock: Clock, signer: LinkSigner,
            settings: AccountSettings, request: SignUpRequest) -> str:
    """Take a sign-up and send the one email it calls for; return which (``confirm``, ``sign-in``, ``disabled``).

    A new address, or one whose earlier sign-up was never confirmed, is stored unconfirmed (``verified_at``
    empty, so no cycle pairs it or reads its calendar) with what was entered, and gets a confirmation link.
    An address that already has a confirmed profile keeps it unchanged and gets a sign-in link instead (or the
    "disabled" notice). Raises ``InputError`` for an address outside the allowed domains or a profile the model
    refuses (naming the field), and ``DeliveryError`` when the email cannot be sent.
    """
    email = check_work_email(request.email, settings.allowed_domains)
    now = clock.now()
    with uow_factory() as uow:
        person = uow.people.get(email)
        if person is not None and person.verified_at is not None:
            account = uow.accounts.get(email)
            answer = "disabled" if account is not None and account.disabled else SIGN_IN
        else:
            answer = CONFIRM
            _check_sign_up_text(request)
            try:
                person = Person(email=email, name=request.name, team=request.team, department=request.department,
                                office=request.office, timezone=request.timezone, kinds=request.kinds,
                                mode=request.mode, cadence=request.cadence, interests=request.interests,
                                wishlist=request.wishlist)
            except ValueError as exc:
                raise InputError(str(exc), where="sign-up") from None
            uow.people.save(person)
            uow.commit()
    # Sent after the transaction: a slow mail server must not hold a database connection.
    if answer == "disabled":
        _send(mailer_factory, _disabled_notice(settings, person))
    else:
        _send_link(mailer_factory, signer, settings, answer, person, now)
    return answer


def request_sign_in(uow_factory: UowFactory, mailer_factory: MailerFactory, clock: Clock, signer: LinkSigner,
                    settings: AccountSettings, address: str, *, next_path: str = "") -> str:
    """Email a sign-in link to ``address`` and return what was sent (``sign-in``, ``confirm``, ``unknown``,
    ``disabled``).

    A confirmed, enabled person gets a sign-in link that leads to ``next_path`` (only a local path is kept); an
    unconfirmed one a new confirmation link; an address without a profile a pointer to the sign-up page; a
    disabled account whom to ask. Raises ``InputError`` for an address outside the allowed domains and
    ``DeliveryError`` when the email cannot be sent.
    """
    email = check_work_email(address, settings.allowed_domains)
    now = clock.now()
    with uow_factory() as uow:
        person = uow.people.get(email)
        account = uow.accounts.get(email) if person is not None else None
    if person is None:
        key = f"account:unknown:{secrets.token_hex(16)}"
        _send(mailer_factory, account_emails.no_account_notice(
            email, settings.site.sign_up(), organisation=settings.organisation, sender=settings.sender,
            key=key))
        return "unknown"
    if account is not None and account.disabled:
        _send(mailer_factory, _disabled_notice(settings, person))
        return "disabled"
    if person.verified_at is None:
        _send_link(mailer_factory, signer, settings, CONFIRM, person, now)
        return CONFIRM
    _send_link(mailer_factory, signer, settings, SIGN_IN, person, now,
               next_path=next_path if is_local_path(next_path) else "")
    return SIGN_IN


def _send_link(mailer_factory: MailerFactory, signer: LinkSigner, settings: AccountSettings, purpose: str,
               person: Person, now: datetime, *, next_path: str = "") -> None:
    nonce = secrets.token_urlsafe(16)
    link = _link(settings, purpose, signer.sign(purpose, person.email, now, next_path=next_path, nonce=nonce))
    build = account_emails.sign_up_confirmation if purpose == CONFIRM else account_emails.sign_in_link
    # The Message-ID comes from a digest of the nonce, never the nonce itself: headers are logged by mail servers.
    message = build(person, link, organisation=settings.organisation, valid_for=settings.lifetime(purpose),
                    sender=settings.sender, key=f"account:{purpose}:{token_hash(nonce)}")
    _send(mailer_factory, message)


def _disabled_notice(settings: AccountSettings, person: Person) -> EmailMessage:
    return account_emails.disabled_notice(person, organisation=settings.organisation,
                                          organizer_email=settings.organizer_email, sender=settings.sender,
                                          key=f"account:disabled:{secrets.token_hex(16)}")


def preview_link(uow_factory: UowFactory, clock: Clock, signer: LinkSigner, settings: AccountSettings,
                 purpose: str, token: str) -> LinkPreview:
    """Check ``token`` without using it (for the page a GET shows); ``LinkError`` as ``use_link`` would raise
    it, so a used or expired link says so before the button is pressed. Changes nothing."""
    claim = signer.load(purpose, token, clock.now(), settings.lifetime(purpose))
    with uow_factory() as uow:
        person = uow.people.get(claim.email)
        account = uow.accounts.get(claim.email) if person is not None else None
        used = uow.accounts.link_used(token_hash(claim.nonce))
    if person is None or (account is not None and account.disabled):
        raise LinkError("unavailable")
    if used:
        raise LinkError("used")
    return LinkPreview(purpose, person.email, person.name)


def use_link(uow_factory: UowFactory, clock: Clock, signer: LinkSigner, settings: AccountSettings, purpose: str,
             token: str, *, previous_session: str | None = None) -> NewSession:
    """Use a confirmation or sign-in link once: confirm the address if it was not yet, and open a session.

    The session the browser had before (``previous_session``), if any, is revoked: a new sign-in never keeps
    an old token alive. Raises ``LinkError`` (``invalid``, ``expired``, ``used``, ``unavailable``).
    """
    now = clock.now()
    claim = signer.load(purpose, token, now, settings.lifetime(purpose))
    with uow_factory() as uow:
        person = uow.people.get(claim.email)
        account = uow.accounts.get(claim.email) if person is not None else None
        if person is None or (account is not None and account.disabled):
            raise LinkError("unavailable")
        if not uow.accounts.use_link(token_hash(claim.nonce), purpose, now,
                                     claim.issued_at + settings.lifetime(purpose)):
            raise LinkError("used")
        confirmed = person.verified_at is None
        if confirmed:
            # Using any link proves the address: a sign-up is confirmed, and only now can cycles include it.
            uow.people.save(replace(person, verified_at=now))
        uow.accounts.ensure(person.email, now)
        uow.accounts.record_sign_in(person.email, now)
        if previous_session:
            uow.accounts.revoke_session(token_hash(previous_session), now)
        session = _open_session(uow, person.email, now, settings.session_lifetime)
        uow.commit()
    log.info("signed in %s by %s link", _masked(person.email), purpose)
    return replace(session, next_path=claim.next_path, confirmed=confirmed)


def _open_session(uow: UnitOfWork, email: str, now: datetime, lifetime: timedelta) -> NewSession:
    token = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    uow.accounts.add_session(SessionRecord(token_hash=token_hash(token), email=email, created_at=now,
                                           last_seen_at=now, expires_at=expires_at))
    return NewSession(token=token, email=email, expires_at=expires_at)


def current_viewer(uow_factory: UowFactory, clock: Clock, settings: AccountSettings, token: str) -> Viewer | None:
    """Who holds the session ``token``, or ``None`` when it is unknown, revoked, expired, its person gone or
    their account disabled. Notes the visit (at most every few minutes, to spare the database a write per page)."""
    if not token or len(token) > 256:
        return None
    now = clock.now()
    digest = token_hash(token)
    with uow_factory() as uow:
        record = uow.accounts.find_session(digest)
        if record is None or record.revoked_at is not None or record.expires_at <= now:
            return None
        person = uow.people.get(record.email)
        account = uow.accounts.get(record.email)
        if person is None or (account is not None and account.disabled):
            return None
        if now - record.last_seen_at >= TOUCH_INTERVAL:
            uow.accounts.touch_session(digest, now)
            uow.commit()
    return Viewer(email=person.email, name=person.name, timezone=person.timezone,
                  is_admin=person.email in settings.admins, session_expires_at=record.expires_at)


def sign_out(uow_factory: UowFactory, clock: Clock, token: str) -> bool:
    """Revoke the session ``token``; True when there was a live one. The cookie is useless afterwards."""
    if not token or len(token) > 256:
        return False
    with uow_factory() as uow:
        revoked = uow.accounts.revoke_session(token_hash(token), clock.now())
        uow.commit()
    return revoked


def set_disabled(uow_factory: UowFactory, clock: Clock, email: str, disabled: bool) -> None:
    """Disable (or enable again) the account of ``email``: an admin's action.

    Disabling revokes every session of the person at once, refuses their links and sign-ins, and opts them
    out of cycles; enabling lets them sign in again but leaves them opted out until they opt back in
    themselves. Raises ``NotFoundError`` when nobody has that address.
    """
    now = clock.now()
    with uow_factory() as uow:
        person = uow.people.get(email)
        if person is None:
            raise NotFoundError(f"nobody has the address {email}")
        uow.accounts.ensure(person.email, now)
        uow.accounts.set_disabled(person.email, now if disabled else None)
        if disabled:
            uow.accounts.revoke_sessions(person.email, now)
            if not person.opted_out:
                uow.people.save(replace(person, opted_out=True))
        uow.commit()


def count_request(uow_factory: UowFactory, clock: Clock, area: str, client: str, per_hour: int) -> float | None:
    """Count one request of ``client`` against the hourly allowance ``per_hour`` of ``area``; ``None`` when it is
    allowed, else the seconds until the next one would be. Kept in the database, so every web worker (and every
    server on the same database) shares the one allowance."""
    with uow_factory() as uow:
        wait = uow.accounts.count_request(area, client, per_hour, clock.now())
        uow.commit()
    return wait


def purge_expired(uow_factory: UowFactory, clock: Clock) -> int:
    """Delete sessions and used-link records that have expired (they can never be used again) and rate-limit
    buckets that are full again; return how many."""
    with uow_factory() as uow:
        removed = uow.accounts.purge(clock.now())
        uow.commit()
    return removed


def _masked(email: str) -> str:
    """``a***@example.com``: enough for a log line to be followed, not enough to collect addresses from logs."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
