"""The one place where configuration becomes real adapters.

Adapters are imported lazily, inside the functions that build them, so the core never imports ``integrations``
at module level and a command that needs no mail server never loads SMTP code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from scheduler.availability.calendars import CalendarRouter
from scheduler.clock import SystemClock
from scheduler.config import Config, secret
from scheduler.delivery.outbox import Performer, RetryPolicy
from scheduler.model import Attendee, Busy, Interval, Invite, Person, Program
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.introduction_links import IntroductionLinks
from scheduler.planning.links import MatchLinks
from scheduler.planning.silence import SilenceRules
from scheduler.planning.still_in_links import StillInLinks
from scheduler.ports import CalendarProvider, Clock, EventCalendar, Mailer, SiteUrls, UnitOfWork
from scheduler.programs.settings import effective_programs, find_program


@dataclass
class Services:
    """Everything a command or a web request needs, wired from one config. ``site`` gives the addresses of the
    web site's pages that emails link to; its caller passes it in, as nothing below the web knows its routes."""

    config: Config
    uow_factory: Callable[[], UnitOfWork]
    calendar: CalendarProvider
    clock: Clock
    mailer_factory: Callable[[], Mailer]
    site: SiteUrls
    dispose: Callable[[], None] = field(default=lambda: None)
    # Providers that create meeting events themselves, by name ("google", "microsoft"): a program whose
    # invites come from one of them sends no iMIP email of its own.
    event_calendars: Mapping[str, EventCalendar] = field(default_factory=dict)

    @property
    def settings(self) -> PlanSettings:
        """Who emails come from, where their links point, the offices' lunch hours and holidays, and the signer
        of the emails' one-click answer links: keyed with the web site's secret key (``[web] secret_key_env``),
        so the site can check them. Without that key, emails link only to the match page, which needs a
        sign-in."""
        org = self.config.organisation
        key = secret(self.config.web.secret_key_env)
        return PlanSettings(organizer=Attendee(org.organizer_email, org.organizer_name),
                            sender=self.config.mail.sender, site=self.site,
                            offices=self.config.office_rules(), links=MatchLinks(key) if key else None,
                            silence=SilenceRules(cycles=self.config.participation.nonresponder_cycles),
                            still_in_links=StillInLinks(key) if key else None,
                            introduction_links=IntroductionLinks(key) if key else None)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The outbox retry ladder from the ``[delivery]`` config."""
        delivery = self.config.delivery
        return RetryPolicy(max_attempts=delivery.max_attempts,
                           base=timedelta(seconds=delivery.retry_base_seconds),
                           cap=timedelta(seconds=delivery.retry_max_seconds),
                           lease=timedelta(seconds=delivery.lease_seconds))

    def programs(self) -> list[Program]:
        """The configured programs as they run: with the changes admins made on the site
        (``scheduler.programs.settings``), read afresh so every process plans with the latest."""
        return effective_programs(self.uow_factory, self.config.programs)

    def program(self, name: str | None) -> Program:
        """The program called ``name`` as it runs (the first when ``name`` is None); NotFoundError when the
        configuration has no such program."""
        return find_program(self.programs(), name)

    def performers(self, mailer: Mailer) -> dict[str, Performer]:
        """How each kind of outbox effect is performed: emails through ``mailer``, provider events through
        ``event_calendars`` (see ``scheduler.delivery.outbox.standard_performers``)."""
        from scheduler.delivery.outbox import standard_performers

        return standard_performers(mailer, self.event_calendars)


def bootstrap(config: Config, *, site: SiteUrls, clock: Clock | None = None,
              calendar: CalendarProvider | None = None, mailer_factory: Callable[[], Mailer] | None = None,
              event_calendars: Mapping[str, EventCalendar] | None = None) -> Services:
    """Wire the adapters ``config`` asks for; any of them can be replaced (tests pass fakes). ``site`` is where
    emails link to: the web site's addresses (``web.urls.WebUrls.from_config(config)``), given by the caller
    because the web sits above this module."""
    from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory

    engine = create_engine_for(config.database_url)
    session_factory = make_session_factory(engine)
    # One Google and one Microsoft adapter each, shared by reading free/busy and creating events.
    organisation = build_org_calendars(config)
    built: list[object] = [*organisation.values()]
    if calendar is None:
        calendar = build_calendar(config, organisation)
        built.append(calendar)

    def dispose() -> None:
        for adapter in built:
            close = getattr(adapter, "close", None)
            if close is not None:
                close()
        engine.dispose()

    return Services(
        config=config,
        uow_factory=lambda: SqlAlchemyUnitOfWork(session_factory),
        calendar=calendar,
        clock=clock or SystemClock(),
        mailer_factory=mailer_factory or (lambda: build_mailer(config)),
        site=site,
        dispose=dispose,
        event_calendars=event_calendars if event_calendars is not None else organisation,
    )


def build_org_calendars(config: Config) -> dict[str, LazyAdapter]:
    """The organisation-wide providers the config enables (``google``, ``microsoft``), built on first use.
    Each reads free/busy and, for programs whose ``invites`` name it, creates the meeting events."""
    calendars = config.calendar
    enabled = (("google", calendars.google, calendars.google.meet_links),
               ("microsoft", calendars.microsoft, calendars.microsoft.teams_links))
    return {kind: LazyAdapter(partial(_build_org_calendar, config, kind), online_links=links)
            for kind, settings, links in enabled if settings.enabled}


def build_calendar(config: Config, organisation: Mapping[str, CalendarProvider] | None = None) -> CalendarProvider:
    """The calendar router with a provider for every source the config enables: ICS always, CalDAV always
    (for collections named in profiles), Google and Microsoft when enabled (``organisation``, built from the
    config when not given), each also the provider of the email domains it lists."""
    calendars = config.calendar
    organisation = build_org_calendars(config) if organisation is None else organisation
    providers: dict[str, CalendarProvider] = {
        "ics": build_ics_calendar(config.resolve(calendars.ics_dir), timeout=calendars.timeout_seconds,
                                  allow_internal=calendars.ics_allow_internal,
                                  allowed_hosts=calendars.allowed_hosts),
        "caldav": LazyAdapter(partial(build_caldav, config)),
        **organisation,
    }
    domains: dict[str, str] = {}
    for kind, settings in (("google", calendars.google), ("microsoft", calendars.microsoft)):
        if settings.enabled:
            domains.update(dict.fromkeys(settings.domains, kind))
    return CalendarRouter(providers, domains)


def _build_org_calendar(config: Config, kind: str) -> Any:
    if kind == "google":
        from integrations.google_calendar import GoogleCalendar

        return GoogleCalendar.from_config(config.calendar.google)
    from integrations.microsoft_graph import build_graph_calendar

    return build_graph_calendar(config.calendar.microsoft)


def build_caldav(config: Config) -> CalendarProvider:
    """The provider of ``caldav`` collections named in people's profiles. ``ConfigError`` for a login without
    ``calendar.caldav.servers``, half a login, or a server that is not an http(s) URL."""
    from integrations.caldav import build_caldav_calendar

    return build_caldav_calendar(config.calendar.caldav, allowed_hosts=config.calendar.allowed_hosts)


def check_calendars(config: Config) -> None:
    """Build the calendar providers that are otherwise built on first use and need no network to build, so that
    ``coffeechat config check`` reports their configuration errors (``ConfigError``) before a cycle meets them:
    a CalDAV login configured in the environment without ``servers``, and an enabled Google Workspace whose
    service-account key is not set or cannot be read. (Microsoft's client asks its authority while it is built,
    so a missing secret there shows in the first cycle, as that provider's people's calendar problem.)"""
    build_caldav(config)  # holds no connection until it reads a calendar: nothing to close
    if config.calendar.google.enabled:
        close = getattr(_build_org_calendar(config, "google"), "close", None)
        if close is not None:
            close()


class LazyAdapter:
    """Builds an adapter on first use and then delegates to it, so that a command which never reads a calendar
    (``deliver``, ``import-people``) never loads a provider's client library or reads its secrets, and a missing
    secret fails the first call that needs it, with the variable's name, not start-up."""


    def __init__(self, build: Callable[[], Any], *, online_links: bool = True) -> None:
        self._build = build
        # Whether a virtual meeting's event gets a Meet / Teams link (``meet_links`` / ``teams_links``).
        self._online_links = online_links
        self._adapter: Any = None
        self._lock = threading.Lock()

    def _target(self) -> Any:
        with self._lock:
            if self._adapter is None:
                self._adapter = self._build()
            return self._adapter

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        return self._target().fetch_busy(people, window)

    def create_event(self, invite: Invite, *, online_meeting: bool = False) -> str:
        return self._target().create_event(invite, online_meeting=online_meeting and self._online_links)

    def update_event(self, invite: Invite) -> None:
        self._target().update_event(invite)

    def cancel_event(self, invite: Invite) -> None:
        self._target().cancel_event(invite)

    def close(self) -> None:
        """Release the adapter's connections, if it was ever built."""
        with self._lock:
            adapter, self._adapter = self._adapter, None
        if adapter is not None and hasattr(adapter, "close"):
            adapter.close()


def build_ics_calendar(base_dir: Path, *, timeout: float = 10.0, allow_internal: bool = False,
                       allowed_hosts: Sequence[str] = ()) -> CalendarProvider:
    """The provider of ``ics`` calendars: files relative to ``base_dir``, and http(s) URLs on public addresses
    or on ``allowed_hosts`` (any address when ``allow_internal``). Needs no config, so ``coffeechat busy --ics``
    works before there is one."""
    from integrations.ics_feed import IcsCalendarProvider

    return IcsCalendarProvider(base_dir, timeout=timeout, allow_internal=allow_internal, allowed_hosts=allowed_hosts)


def build_mailer(config: Config) -> Mailer:
    """The mail backend named by ``mail.backend``."""
    from integrations import mail

    settings = config.mail
    if settings.backend == "file":
        return mail.FileMailer(config.resolve(settings.outbox_dir))
    if settings.backend == "console":
        return mail.ConsoleMailer()
    smtp = settings.smtp
    return mail.SmtpMailer(
        smtp.host, smtp.port, security=smtp.security, username=smtp.username or None,
        password=secret(smtp.password_env) if smtp.username else None, timeout=smtp.timeout_seconds,
        local_hostname=None, password_name=smtp.password_env,
    )
