"""Availability: route each person to the calendar provider of their source, and keep the cycle going when
one provider or one calendar fails; and show one calendar's busy time as the engine reads it."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.errors import CalendarError, CoffeeChatError, InputError, NotFoundError, ProviderUnavailable
from scheduler.model import (
    Busy,
    CalendarSource,
    Interval,
    Person,
    as_local,
    zone_named,
)
from scheduler.ports import CalendarProvider, UowFactory

logger = logging.getLogger(__name__)


class CalendarRouter:
    """A ``CalendarProvider`` that sends each person to the provider for their calendar.

    A person's own calendar (an ICS URL, a CalDAV collection, a Google or Microsoft mailbox in their profile)
    wins; otherwise the organisation's provider for their email domain (``domains``: ``{"example.com":
    "google"}``) reads their mailbox. People with neither get ``Busy(known=False)``: they are planned on working
    hours. A kind with no configured provider, or a provider that is down, turns into a per-person error, so the
    cycle records who had no calendar data and goes on.
    """

    def __init__(self, providers: Mapping[str, CalendarProvider], domains: Mapping[str, str] | None = None) -> None:
        self._providers = dict(providers)
        self._domains = {domain.lower(): kind for domain, kind in (domains or {}).items()}

    def close(self) -> None:
        """Release the connections every provider keeps open between calls."""
        for provider in self._providers.values():
            close = getattr(provider, "close", None)
            if close is not None:
                close()

    def route(self, person: Person) -> Person:
        """``person`` with the calendar they will be read from: their own, else their domain's provider."""
        if person.calendar.kind != "none":
            return person
        kind = self._domains.get(person.email.rpartition("@")[2])
        if kind is None:
            return person
        return replace(person, calendar=CalendarSource(kind, person.email))

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        """Busy intervals of each person over ``window``, keyed by email (see ``CalendarProvider``).

        Never raises: each provider is asked through ``fetch_busy_isolated``, so whatever one provider, one
        batch or one calendar does goes no further than the people it concerns.
        """
        by_kind: dict[str, list[Person]] = defaultdict(list)
        for person in map(self.route, people):
            by_kind[person.calendar.kind].append(person)
        answers: dict[str, Busy] = {}
        for kind, group in by_kind.items():
            provider = self._providers.get(kind)
            if kind == "none":
                answers.update({p.email: Busy(known=False) for p in group})
            elif provider is None:
                answers.update({p.email: Busy(error=f"no {kind} calendar connector is configured") for p in group})
            else:
                answers.update(fetch_busy_isolated(provider, group, window, name=kind))
        return answers


def fetch_busy_isolated(provider: CalendarProvider, people: Sequence[Person], window: Interval, *,
                        name: str = "calendar") -> dict[str, Busy]:
    """``provider.fetch_busy(people, window)`` behind the boundary that keeps one person's calendar theirs.

    The answer holds exactly the people asked for. A provider that is down (``ProviderUnavailable``) or that
    raises one of our own errors (a ``ConfigError`` such as a key that is not set) gives each of them that
    reason. Any other exception is a failure nobody foresaw (a parsing library tripping over one
    file, a server answering something no protocol allows): the batch is split in halves and each half asked
    again, down to the single person whose calendar causes it, who gets the failure as their calendar problem
    in plain words, logged once with its traceback. Everyone else is read as usual. A person the provider left
    out of its answer gets a reason too, rather than silently counting as free.

    ``name`` says which provider this is in messages and logs (``ics``, ``google``, ...).
    """
    logged: set[tuple[str, str]] = set()
    return _isolated(provider, list(people), window, name, logged)


def _isolated(provider: CalendarProvider, people: list[Person], window: Interval, name: str,
              logged: set[tuple[str, str]]) -> dict[str, Busy]:
    if not people:
        return {}
    try:
        answers = provider.fetch_busy(people, window)
    except ProviderUnavailable as exc:
        return {p.email: Busy(error=str(exc)) for p in people}
    except CoffeeChatError as exc:
        # Raised on purpose and worded for people (a provider's key not set, say): the whole provider's
        # problem, so splitting would only repeat it. Logged once per call, loudly: an operator must act.
        if (type(exc).__name__, str(exc)) not in logged:
            logged.add((type(exc).__name__, str(exc)))
            logger.error("the %s calendars of %d people could not be read: %s", name, len(people), exc)
        return {p.email: Busy(error=str(exc)) for p in people}
    except Exception as exc:  # the boundary: anything an adapter or a library raises stops here
        if len(people) > 1:
            middle = len(people) // 2
            return {**_isolated(provider, people[:middle], window, name, logged),
                    **_isolated(provider, people[middle:], window, name, logged)}
        person = people[0]
        # Once per kind of failure and call: the same bug met by a thousand calendars is one traceback.
        signature = (type(exc).__name__, str(exc))
        if signature in logged:
            logger.error("the %s calendar of %s could not be read (%s, as above)", name, person.email,
                         signature[0])
        else:
            logged.add(signature)
            logger.exception("the %s calendar of %s could not be read", name, person.email)
        return {person.email: Busy(error=unexpected_failure(name, exc))}
    return {p.email: answers.get(p.email) or Busy(error=f"the {name} calendar provider gave no answer for "
                                                        "this person") for p in people}


def unexpected_failure(name: str, exc: BaseException) -> str:
    """The plain-words calendar problem for a failure nobody foresaw while reading one calendar."""
    return (f"the {name} calendar could not be read: Coffee Chat could not make sense of what it got "
            f"({type(exc).__name__}); this person is planned on working hours alone, and the administrators "
            "have the details in the log")


# --- "why was I marked busy?": the `coffeechat busy` command ---------------------------------------------

# Reads a calendar that belongs to nobody stored (``coffeechat busy --ics``): the provider needs a person.
_NOBODY = "calendar@coffeechat.invalid"


def check_zone(name: str, *, where: str = "--tz") -> str:
    """``name`` when it is an IANA time zone; ``InputError`` naming it and ``where`` otherwise."""
    try:
        zone_named(name)
    except ValueError as exc:
        raise InputError(str(exc), where=where) from None
    return name


def parse_moment(text: str, zone: str, *, where: str, end: bool = False) -> datetime:
    """An ISO date or date-time as UTC. A naive date-time is read on a wall clock in ``zone``; a date is that
    day's midnight in ``zone`` or, when ``end``, the next day's, so that an end date includes its whole day."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        moment = datetime.combine(day + timedelta(days=1) if end else day, time(0))
        return moment.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text!r} is not an ISO date or date-time such as 2025-03-17 or 2025-03-17T09:00",
                         where=where) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC)


def parse_window(start: str | None, end: str | None, zone: str) -> Interval:
    """The window from ``--start`` to ``--end`` (see ``parse_moment``); ``InputError`` when one is missing or
    the window is empty."""
    if start is None or end is None:
        raise InputError("give both --start and --end (ISO dates or date-times)")
    window_start = parse_moment(start, zone, where="--start")
    window_end = parse_moment(end, zone, where="--end", end=True)
    if window_end <= window_start:
        raise InputError(f"{end!r} is not after --start {start!r}", where="--end")
    return Interval(window_start, window_end)


def read_person_busy(provider: CalendarProvider, person: Person, window: Interval) -> Busy:
    """What ``provider`` says about ``person`` over ``window``, exactly as a cycle would ask.

    A calendar that cannot be read raises ``CalendarError`` with the provider's message (which names the file
    or feed and the problem), where a cycle would go on without it. A person with no calendar gets a warning
    saying they are planned on working hours alone.
    """
    answer = fetch_busy_isolated(provider, [person], window)[person.email]
    if answer.error is not None:
        raise CalendarError(answer.error)
    if not answer.known:
        return replace(answer, warnings=(*answer.warnings, "no calendar: planned on working hours alone"))
    return answer


def read_calendar_busy(provider: CalendarProvider, location: str, zone: str, window: Interval) -> Busy:
    """Like ``read_person_busy`` for an ICS file or URL that no stored person needs to have: read as the
    calendar of a person in ``zone`` (the zone of its floating times and all-day events)."""
    if not location.strip():
        raise InputError("needs a file name or an http(s) URL", where="--ics")
    stand_in = Person(email=_NOBODY, name="calendar", team="", timezone=zone, calendar=CalendarSource("ics", location))
    return read_person_busy(provider, stand_in, window)


def busy_as_json(busy: Busy) -> dict[str, list[Any]]:
    """``{"busy": [{"start": "…Z", "end": "…Z"}, …], "tentative": […], "warnings": […]}``, times in UTC."""

    def intervals(spans: tuple[Interval, ...]) -> list[dict[str, str]]:
        return [{"start": _utc_text(i.start), "end": _utc_text(i.end)} for i in spans]

    return {"busy": intervals(busy.busy), "tentative": intervals(busy.tentative), "warnings": list(busy.warnings)}


def describe_busy(busy: Busy, zone: str) -> list[str]:
    """One line per busy or tentative interval, in time order on a wall clock in ``zone``, then the warnings
    and a count: ``Tue 2025-03-18 09:00–10:00 busy``."""
    marked = sorted([*((i, "busy") for i in busy.busy), *((i, "tentative") for i in busy.tentative)])
    lines = [f"{_local_span(interval, zone)} {kind}" for interval, kind in marked]
    lines += [f"warning: {warning}" for warning in busy.warnings]
    rule = "; tentative is busy unless the program sets tentative_busy = false" if busy.tentative else ""
    lines.append(f"{len(busy.busy)} busy, {len(busy.tentative)} tentative (times in {zone}{rule})")
    return lines


def _utc_text(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S}Z"


def _local_span(interval: Interval, zone: str) -> str:
    start, end = as_local(interval.start, zone), as_local(interval.end, zone)
    if start.date() == end.date():
        return f"{start:%a %Y-%m-%d %H:%M}–{end:%H:%M}"
    return f"{start:%a %Y-%m-%d %H:%M} – {end:%a %Y-%m-%d %H:%M}"




def stored_person_busy(uow_factory: UowFactory, provider: CalendarProvider, email: str, window: Interval) -> Busy:
    """A stored person's busy and tentative time over ``window``, read through their own calendar source just
    as a cycle reads it ("why was I marked busy?").

    Raises ``NotFoundError`` when nobody with ``email`` is stored, ``CalendarError`` when their calendar cannot
    be read (see ``availability.read_person_busy``).
    """
    with uow_factory() as uow:
        person = uow.people.get(email)
    if person is None:
        raise NotFoundError(f"nobody with email {email.strip().lower()!r} is stored (see `coffeechat import-people`)")
    return read_person_busy(provider, person, window)
