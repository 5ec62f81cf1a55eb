"""Configuration: a TOML file read into frozen dataclasses.

Defaults live in the dataclasses below (and are documented key by key in ``config.example.toml``); the file
overrides them. Unknown keys and wrong types are errors that name the key and the file. Secrets never sit in
the file: it names environment variables (``*_env`` keys) and ``secret()`` reads them.
"""

from __future__ import annotations

import os
import tomllib
import types
import typing
import urllib.parse
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, time
from pathlib import Path
from typing import Any, get_type_hints

from scheduler.availability.addresses import AddressPolicy
from scheduler.availability.slots import check_holiday_region
from scheduler.errors import ConfigError
from scheduler.model import OfficeRules, Program, Weights, check_video_link, normalize_email

CONFIG_ENV = "COFFEECHAT_CONFIG"
DEFAULT_CONFIG_NAME = "coffeechat.toml"
DEFAULT_DATABASE_NAME = "coffeechat.db"

# Keys that older releases knew, and where their setting lives now: named in the unknown-key error.
MOVED_KEYS = {
    "calendar.tentative_busy": "moved to [[programs]] tentative_busy (each program decides whether tentative "
    "events count as busy)",
}


@dataclass(frozen=True)
class OrganisationConfig:
    """Who runs this Coffee Chat and where its site lives."""

    name: str = "Coffee Chat"
    organizer_email: str = "coffee@example.com"
    organizer_name: str = "Coffee Chat"
    base_url: str = "http://127.0.0.1:5000"


@dataclass(frozen=True)
class DatabaseConfig:
    """Where data lives. Empty ``url`` means a SQLite file named coffeechat.db next to the config file."""

    url: str = ""


@dataclass(frozen=True)
class SmtpConfig:
    """An SMTP relay. The password comes from the environment variable named by ``password_env``."""

    host: str = "localhost"
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password_env: str = "COFFEECHAT_SMTP_PASSWORD"  # noqa: S105 - a variable's name, not a secret
    timeout_seconds: float = 30.0

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "ssl", "none"):
            raise ValueError("must be one of starttls, ssl, none")


@dataclass(frozen=True)
class MailConfig:
    """How email leaves: ``file`` (.eml files in ``outbox_dir``), ``console`` or ``smtp``."""

    backend: str = "file"
    sender: str = "Coffee Chat <coffee@example.com>"
    outbox_dir: str = "outbox"
    smtp: SmtpConfig = field(default_factory=SmtpConfig)

    def __post_init__(self) -> None:
        if self.backend not in ("file", "console", "smtp"):
            raise ValueError("must be one of file, console, smtp")


@dataclass(frozen=True)
class GoogleConfig:
    """Google Workspace calendars (org-wide, through a service account with domain-wide delegation).

    People whose email is in one of ``domains`` (and who have no calendar of their own in their profile) are read
    through Google. ``organizer`` is the mailbox the service account impersonates to create events; the key file's
    JSON comes from the variable named by ``service_account_key_env``. ``endpoint`` and ``token_uri`` only change
    for a proxy or a test server.
    """

    enabled: bool = False
    domains: tuple[str, ...] = ()
    organizer: str = ""
    service_account_key_env: str = "COFFEECHAT_GOOGLE_KEY"
    meet_links: bool = False
    concurrency: int = 4
    timeout_seconds: float = 30.0
    endpoint: str = "https://www.googleapis.com/calendar/v3/"
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")


@dataclass(frozen=True)
class MicrosoftConfig:
    """Microsoft 365 calendars (org-wide, through an app registration with client credentials).

    People whose email is in one of ``domains`` are read through Graph's getSchedule, asked from the
    ``organizer`` mailbox, which is also where events are created. The client secret comes from the variable
    named by ``client_secret_env``; a certificate (``certificate_env`` holding the PEM private key, with its
    ``certificate_thumbprint``) can replace it. ``authority_host`` and ``graph_endpoint`` only change for a
    national cloud or a test server.
    """

    enabled: bool = False
    domains: tuple[str, ...] = ()
    organizer: str = ""
    tenant_id: str = ""
    client_id: str = ""
    client_secret_env: str = "COFFEECHAT_MS_CLIENT_SECRET"  # noqa: S105 - a variable's name, not a secret
    certificate_env: str = ""
    certificate_thumbprint: str = ""
    teams_links: bool = False
    concurrency: int = 4
    timeout_seconds: float = 30.0
    authority_host: str = "https://login.microsoftonline.com"
    graph_endpoint: str = "https://graph.microsoft.com/v1.0"

    def __post_init__(self) -> None:
        if not 1 <= self.concurrency <= 4:
            raise ValueError("concurrency must be 1 to 4 (Graph allows 4 concurrent requests per mailbox)")


@dataclass(frozen=True)
class CalDavConfig:
    """CalDAV calendars named in people's profiles (``caldav:https://…/calendars/alice/work/``).

    Credentials, when the server needs them, come from the variables named by ``username_env`` and
    ``password_env``; an unset variable means no authentication. ``servers`` (``https://dav.example.com``,
    with a port if not the default) lists the servers collections may be on; empty means any public server.
    A login needs the list (building the provider refuses a login without it: the login would go to whatever
    server a profile names), and listing a server allows its host although its address is internal.
    """

    username_env: str = "COFFEECHAT_CALDAV_USERNAME"
    password_env: str = "COFFEECHAT_CALDAV_PASSWORD"  # noqa: S105 - a variable's name, not a secret
    concurrency: int = 4
    timeout_seconds: float = 30.0
    servers: tuple[str, ...] = ()


@dataclass(frozen=True)
class CalendarConfig:
    """Where free/busy comes from. Relative ICS paths resolve against ``ics_dir`` (relative to the config).

    Calendar URLs from profiles (ICS feeds, CalDAV collections) may only reach public addresses
    (``scheduler.availability.addresses``); ``allowed_hosts`` names the internal servers they may reach anyway
    (host names or IP addresses, for ICS and CalDAV alike), and ``ics_allow_internal`` lets ICS URLs reach every
    address.
    """

    ics_dir: str = "."
    timeout_seconds: float = 10.0
    # Let ICS URLs reach every address, this machine's included: only for a calendar server on the same host (the
    # demo, tests), since any participant's URL may then make the server fetch its own pages.
    ics_allow_internal: bool = False
    allowed_hosts: tuple[str, ...] = ()
    google: GoogleConfig = field(default_factory=GoogleConfig)
    microsoft: MicrosoftConfig = field(default_factory=MicrosoftConfig)
    caldav: CalDavConfig = field(default_factory=CalDavConfig)

    def __post_init__(self) -> None:
        try:
            AddressPolicy.allowing(self.allowed_hosts)
        except ValueError as exc:
            raise ValueError(f"allowed_hosts: {exc}") from None

    def address_policy(self, kind: str) -> AddressPolicy:
        """The addresses a ``kind`` calendar URL (``ics`` or ``caldav``) may reach besides public ones:
        ``allowed_hosts``, and for CalDAV the hosts of ``caldav.servers``; for ICS every address when
        ``ics_allow_internal``. The connectors apply the same when they connect; the profile pages when a URL is
        saved."""
        if kind == "caldav":
            hosts = [urllib.parse.urlsplit(server.strip()).hostname or "" for server in self.caldav.servers]
            return AddressPolicy.allowing([*self.allowed_hosts, *(host for host in hosts if host)])
        return AddressPolicy.allowing(self.allowed_hosts, allow_internal=kind == "ics" and self.ics_allow_internal)


@dataclass(frozen=True)
class WebConfig:
    """The sign-up site. The key that signs links and cookies comes from the variable named by ``secret_key_env``.

    ``allowed_domains`` limits sign-up to work addresses (empty: any address); ``admins`` are the addresses of the
    people who may use the admin pages. ``trusted_proxies`` counts the reverse proxies in front of the site whose
    X-Forwarded-For and X-Forwarded-Proto are believed (0: none, so a client cannot claim another address). The
    ``*_per_hour`` limits count requests per client address.
    """

    host: str = "127.0.0.1"
    port: int = 5000
    secret_key_env: str = "COFFEECHAT_SECRET_KEY"  # noqa: S105 - a variable's name, not a secret
    allowed_domains: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    trusted_proxies: int = 0
    session_days: int = 14
    sign_in_link_minutes: int = 15
    confirm_link_hours: int = 48
    sign_up_per_hour: int = 60
    sign_in_per_hour: int = 60
    links_per_hour: int = 120

    def __post_init__(self) -> None:
        domains = tuple(domain.strip().lower().lstrip("@") for domain in self.allowed_domains)
        for domain in domains:
            if "." not in domain or any(c.isspace() or c in "@<>,;\"" for c in domain):
                raise ValueError(f"allowed_domains: {domain!r} is not a mail domain such as example.com")
        object.__setattr__(self, "allowed_domains", domains)
        admins = []
        for address in self.admins:
            try:
                admins.append(normalize_email(address))
            except ValueError as exc:
                raise ValueError(f"admins: {exc}") from None
        object.__setattr__(self, "admins", tuple(admins))
        if self.trusted_proxies < 0:
            raise ValueError("trusted_proxies must be 0 or more")
        for name in ("session_days", "sign_in_link_minutes", "confirm_link_hours", "sign_up_per_hour",
                     "sign_in_per_hour", "links_per_hour"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")


@dataclass(frozen=True)
class DeliveryConfig:
    """How the outbox relay retries: waits double from ``retry_base_seconds`` up to ``retry_max_seconds``."""

    max_attempts: int = 8
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 21600.0
    batch_size: int = 200
    lease_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


@dataclass(frozen=True)
class ParticipationConfig:
    """Who keeps being paired: someone placed in ``nonresponder_cycles`` cycles in a row (of any program) without
    a sign of life (no answer to a meeting or to "did you meet?", no sign-in, no link used) is asked "still in?"
    and left out; with no answer by a later cycle, paused until they come back (``scheduler.planning.silence``)."""

    nonresponder_cycles: int = 3

    def __post_init__(self) -> None:
        if self.nonresponder_cycles < 1:
            raise ValueError("nonresponder_cycles must be at least 1")


@dataclass(frozen=True)
class OfficeConfig:
    """An office's lunch and dinner hours ("HH:MM-HH:MM", local), its own holidays ("YYYY-MM-DD", local dates),
    and the ``country`` (ISO 3166-1, such as "GB") and optional ``subdivision`` (ISO 3166-2 without the country,
    such as "ENG") whose public holidays it keeps: nobody there is booked on either."""

    name: str
    lunch: str = "11:30-14:00"
    holidays: tuple[str, ...] = ()
    country: str = ""
    subdivision: str = ""
    dinner: str = "18:00-21:00"

    def __post_init__(self) -> None:
        # Codes are upper case in the holiday tables; "gb" or " GB" in a file means the same.
        object.__setattr__(self, "country", self.country.strip().upper())
        object.__setattr__(self, "subdivision", self.subdivision.strip().upper())
        self.rules()  # fail at load time, naming the office, rather than in the middle of a cycle

    def rules(self) -> OfficeRules:
        """The office's rules as the slot finder uses them."""
        start, end = self._hours("lunch", self.lunch, "11:30-14:00")
        dinner = self._hours("dinner", self.dinner, "18:00-21:00")
        holidays = set()
        for text in self.holidays:
            try:
                holidays.add(date.fromisoformat(text))
            except ValueError:
                raise ValueError(f"office {self.name}: holiday {text!r} is not a date like 2026-12-25") from None
        if self.subdivision and not self.country:
            raise ValueError(f"office {self.name}: subdivision {self.subdivision!r} needs the country it is in "
                             "(country = \"GB\" with subdivision = \"ENG\")")
        if self.country:
            try:
                check_holiday_region(self.country, self.subdivision)
            except ValueError as exc:
                raise ValueError(f"office {self.name}: {exc}") from None
        return OfficeRules(lunch=(start, end), holidays=frozenset(holidays), country=self.country,
                           subdivision=self.subdivision, dinner=dinner)

    def _hours(self, key: str, text: str, example: str) -> tuple[time, time]:
        """``text`` ("HH:MM-HH:MM", local, ending after it starts on the same day) as two times; ``ValueError``
        naming the office and ``key``."""
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError:
            raise ValueError(f"office {self.name}: {key} {text!r} is not like {example!r}") from None
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"office {self.name}: {key} {text!r} is in local time: give it without a time zone")
        if end <= start:
            raise ValueError(f"office {self.name}: {key} {text!r} must end after it starts, on the same day")
        return start, end


@dataclass(frozen=True)
class Config:
    """The whole configuration. ``path`` is the file it came from (relative paths resolve against its folder)."""

    path: Path
    organisation: OrganisationConfig = field(default_factory=OrganisationConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    mail: MailConfig = field(default_factory=MailConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    web: WebConfig = field(default_factory=WebConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    participation: ParticipationConfig = field(default_factory=ParticipationConfig)
    offices: tuple[OfficeConfig, ...] = ()
    programs: tuple[Program, ...] = (Program(name="coffee"),)

    @property
    def base_dir(self) -> Path:
        """The folder of the config file: relative paths in it are relative to here."""
        return self.path.parent

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL; the embedded default is a SQLite file next to the config."""
        return self.database.url or f"sqlite:///{self.resolve(DEFAULT_DATABASE_NAME)}"

    def resolve(self, relative: str) -> Path:
        """A path from the config made absolute against the config's folder."""
        path = Path(relative).expanduser()
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def office_rules(self) -> dict[str, OfficeRules]:
        """Lunch and dinner hours and holidays by office name."""
        return {office.name: office.rules() for office in self.offices}


def secret(variable: str) -> str | None:
    """The value of the environment variable ``variable``, or None when unset or empty.

    Secrets are read only here, when an adapter is built, so they never pass through the config file or logs.
    """
    value = os.environ.get(variable, "")
    return value or None


def find_config_path(explicit: str | Path | None) -> Path:
    """The config file to use: ``explicit``, else $COFFEECHAT_CONFIG, else ./coffeechat.toml."""
    chosen = explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_NAME
    path = Path(chosen).expanduser()
    if not path.is_file():
        hint = "" if explicit or os.environ.get(CONFIG_ENV) else f" (pass --config PATH or set {CONFIG_ENV})"
        raise ConfigError(f"no config file here{hint}", path=str(path))
    return path.resolve()


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file; raise ConfigError naming the file and key on any problem."""
    path = Path(path).expanduser().resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", path=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", path=str(path)) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(path)) from exc
    return parse_config(data, path)


def parse_config(data: dict[str, Any], path: Path) -> Config:
    """Build a Config from already-parsed TOML ``data`` that came from ``path``."""
    raw_programs = data.pop("programs", None)
    config = _build(Config, {**data, "path": path}, prefix="", file=str(path))
    if raw_programs is not None:
        if not isinstance(raw_programs, list) or not raw_programs:
            raise ConfigError("must be a non-empty array of tables ([[programs]])", path=str(path), key="programs")
        programs = tuple(_build_program(entry, index, str(path)) for index, entry in enumerate(raw_programs))
        names = [p.name for p in programs]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"program names must be unique: {', '.join(duplicates)}", path=str(path),
                              key="programs")
        config = Config(**{**{f.name: getattr(config, f.name) for f in fields(Config)}, "programs": programs})
        enabled = {"google": config.calendar.google.enabled, "microsoft": config.calendar.microsoft.enabled}
        for index, program in enumerate(programs):
            if program.invites in enabled and not enabled[program.invites]:
                raise ConfigError(f"program {program.name!r} sends its invites through {program.invites}, but "
                                  f"[calendar.{program.invites}] is not enabled", path=str(path),
                                  key=f"programs[{index}].invites")
            if program.video_link and program.invites != "email":
                raise ConfigError(f"program {program.name!r} sends its invites through {program.invites}, which "
                                  "gives its own online meeting: video_link is for invites sent by email",
                                  path=str(path), key=f"programs[{index}].video_link")
    return config


def _build_program(entry: Any, index: int, file: str) -> Program:
    """One ``[[programs]]`` table as a ``Program``. Its ``video_link`` is checked first, so that an unknown
    placeholder or an address that is not https is named by its own key rather than the program's."""
    link = entry.get("video_link") if isinstance(entry, dict) else None
    if isinstance(link, str):
        try:
            check_video_link(link)
        except ValueError as exc:
            raise ConfigError(str(exc), path=file, key=f"programs[{index}].video_link") from exc
    program: Program = _build(Program, entry, prefix=f"programs[{index}].", file=file)
    return program


def _build(cls: type[Any], data: Any, *, prefix: str, file: str) -> Any:
    """Make dataclass ``cls`` from a TOML table, checking every key and type against its fields."""
    if not isinstance(data, dict):
        raise ConfigError("must be a table", path=file, key=prefix.rstrip(".") or None)
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(data) - known)
    for name in unknown:
        if f"{name}_env" in known:
            raise ConfigError(f"secrets never go in the config file: put it in an environment variable and name "
                              f"that variable with {name}_env", path=file, key=prefix + name)
        if prefix + name in MOVED_KEYS:
            raise ConfigError(f"unknown key: {MOVED_KEYS[prefix + name]}", path=file, key=prefix + name)
    if unknown:
        raise ConfigError(f"unknown key (known keys: {', '.join(sorted(known - {'path'}))})", path=file,
                          key=prefix + unknown[0])
    values = {}
    for name, raw in data.items():
        values[name] = _convert(hints[name], raw, key=prefix + name, file=file)
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(str(exc), path=file, key=prefix.rstrip(".") or None) from exc


def _convert(kind: Any, raw: Any, *, key: str, file: str) -> Any:
    """Check ``raw`` against the annotated ``kind`` and convert it; no guessing (a "5" is not an int)."""
    origin = typing.get_origin(kind)
    if kind is Path:
        return raw
    if isinstance(kind, type) and is_dataclass(kind):
        return _build(kind, raw, prefix=key + ".", file=file)
    if kind is bool:
        if not isinstance(raw, bool):
            raise ConfigError(f"must be true or false, not {raw!r}", path=file, key=key)
        return raw
    if kind is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ConfigError(f"must be an integer, not {raw!r}", path=file, key=key)
        return raw
    if kind is float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ConfigError(f"must be a number, not {raw!r}", path=file, key=key)
        return float(raw)
    if kind is str:
        if not isinstance(raw, str):
            raise ConfigError(f"must be a string, not {raw!r}", path=file, key=key)
        return raw
    if origin in (tuple, frozenset):
        (item_kind, *_rest) = typing.get_args(kind)
        if not isinstance(raw, list):
            raise ConfigError(f"must be an array, not {raw!r}", path=file, key=key)
        items = [_convert(item_kind, item, key=f"{key}[{i}]", file=file) for i, item in enumerate(raw)]
        return tuple(items) if origin is tuple else frozenset(items)
    if origin in (types.UnionType, typing.Union):
        raise ConfigError("optional keys are not supported in config files", path=file, key=key)
    raise ConfigError(f"unsupported setting type {kind!r}", path=file, key=key)


def describe_config(config: Config) -> list[str]:
    """What this config would connect to, one line each, with secrets shown only as set / not set."""

    def state(variable: str) -> str:
        return f"${variable} {'set' if secret(variable) else 'NOT SET'}"

    lines = [f"config file: {config.path}", f"database: {mask_url(config.database_url)}"]
    mail = config.mail
    if mail.backend == "smtp":
        smtp = mail.smtp
        auth = f", user {smtp.username}, password {state(smtp.password_env)}" if smtp.username else ""
        lines.append(f"mail: smtp {smtp.host}:{smtp.port} ({smtp.security}{auth}), from {mail.sender}")
    elif mail.backend == "file":
        lines.append(f"mail: .eml files in {config.resolve(mail.outbox_dir)}, from {mail.sender}")
    else:
        lines.append(f"mail: printed to the console, from {mail.sender}")
    lines.append(f"calendars: ICS files under {config.resolve(config.calendar.ics_dir)} and http(s) ICS URLs")
    google, microsoft = config.calendar.google, config.calendar.microsoft
    if google.enabled:
        lines.append(f"calendars: Google at {google.endpoint} for {', '.join(google.domains) or 'no domain'}, "
                     f"organizer {google.organizer or 'NOT SET'}, key {state(google.service_account_key_env)}")
    if microsoft.enabled:
        credential = (f"certificate {state(microsoft.certificate_env)}" if microsoft.certificate_env
                      else f"secret {state(microsoft.client_secret_env)}")
        lines.append(f"calendars: Microsoft 365 tenant {microsoft.tenant_id or '?'} for "
                     f"{', '.join(microsoft.domains) or 'no domain'}, organizer {microsoft.organizer or 'NOT SET'}, "
                     f"{credential}")
    caldav = config.calendar.caldav
    lines.append(f"calendars: CalDAV collections on {', '.join(caldav.servers) or 'any server'}, login "
                 f"{state(caldav.username_env)}")
    lines.append(f"web: http://{config.web.host}:{config.web.port}, secret key {state(config.web.secret_key_env)}")
    lines.append(f"participation: asked \"still in?\" after {config.participation.nonresponder_cycles} silent "
                 "cycles, paused if no answer by a later cycle")
    for program in config.programs:
        lines.append(f"program {program.name}: {program.kind}, {program.cadence}, groups of {program.group_size}, "
                     f"{program.duration_minutes} min, {program.meeting_mode}, invites by {program.invites}")
    return lines


def mask_url(url: str) -> str:
    """A database URL with any password replaced by ***, safe to print."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, has_password, _ = credentials.partition(":")
    return f"{scheme}://{user}{':***' if has_password else ''}@{host}"


__all__ = ["Config", "Program", "Weights", "describe_config", "find_config_path", "load_config", "secret"]
