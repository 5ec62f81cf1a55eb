"""The one place where configuration becomes real adapters.

Adapters are imported lazily, inside the functions that build them, so the core never imports ``integrations``
at module level and a command that needs no mail server never loads SMTP code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from scheduler.availability import CalendarRouter
from scheduler.clock import SystemClock
from scheduler.config import Config, secret
from scheduler.cycle import PlanSettings
from scheduler.model import Attendee, Effect
from scheduler.outbox import Performer, RetryPolicy
from scheduler.ports import CalendarProvider, Clock, EventCalendar, Mailer, UnitOfWork


@dataclass
class Services:
    """Everything a command or a web request needs, wired from one config."""

    config: Config
    uow_factory: Callable[[], UnitOfWork]
    calendar: CalendarProvider
    clock: Clock
    mailer_factory: Callable[[], Mailer]
    dispose: Callable[[], None] = field(default=lambda: None)
    # Providers that create meeting events themselves, by name ("google", "microsoft"): a program whose
    # invites come from one of them sends no iMIP email of its own.
    event_calendars: Mapping[str, EventCalendar] = field(default_factory=dict)

    @property
    def settings(self) -> PlanSettings:
        """Who emails come from, where their links point, and the offices' lunch hours and holidays."""
        org = self.config.organisation
        return PlanSettings(organizer=Attendee(org.organizer_email, org.organizer_name),
                            sender=self.config.mail.sender, base_url=org.base_url.rstrip("/"),
                            offices=self.config.office_rules())

    @property
    def retry_policy(self) -> RetryPolicy:
        """The outbox retry ladder from the ``[delivery]`` config."""
        delivery = self.config.delivery
        return RetryPolicy(max_attempts=delivery.max_attempts,
                           base=timedelta(seconds=delivery.retry_base_seconds),
                           cap=timedelta(seconds=delivery.retry_max_seconds),
                           lease=timedelta(seconds=delivery.lease_seconds))

    def performers(self, mailer: Mailer) -> dict[str, Performer]:
        """How each kind of outbox effect is performed."""
        from scheduler.emails import email_from_payload

        def send_email(effect: Effect) -> None:
            mailer.send(email_from_payload(effect.payload))

        return {"email": send_email}


def bootstrap(config: Config, *, clock: Clock | None = None, calendar: CalendarProvider | None = None,
              mailer_factory: Callable[[], Mailer] | None = None) -> Services:
    """Wire the adapters ``config`` asks for; any of them can be replaced (tests pass fakes)."""
    from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory

    engine = create_engine_for(config.database_url)
    session_factory = make_session_factory(engine)
    return Services(
        config=config,
        uow_factory=lambda: SqlAlchemyUnitOfWork(session_factory),
        calendar=calendar or build_calendar(config),
        clock=clock or SystemClock(),
        mailer_factory=mailer_factory or (lambda: build_mailer(config)),
        dispose=engine.dispose,
    )


def build_calendar(config: Config) -> CalendarProvider:
    """The calendar router with a provider for every source the config enables."""
    calendars = config.calendar
    providers: dict[str, CalendarProvider] = {
        "ics": build_ics_calendar(config.resolve(calendars.ics_dir), timeout=calendars.timeout_seconds),
    }
    return CalendarRouter(providers)


def build_ics_calendar(base_dir: Path, *, timeout: float = 10.0) -> CalendarProvider:
    """The provider of ``ics`` calendars: files relative to ``base_dir``, and http(s) URLs. Needs no config, so
    ``coffeechat busy --ics`` works before there is one."""
    from integrations.ics_feed import IcsCalendarProvider

    return IcsCalendarProvider(base_dir, timeout=timeout)


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
        local_hostname=None,
    )

