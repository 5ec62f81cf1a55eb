"""The signed-in person's own data: profile and preferences, wishlist and block list, pause, opting out, calendar
source, meeting history, data export and account deletion.

Pure of Flask: the account pages parse a form, call one function here and render the answer. Every function
names the person by the (normalised) address of the signed-in viewer, so nobody can change anyone else's data.

Deleting an account (``delete_account``) removes the address from the whole database:

- the person's upcoming meetings are cancelled first through ``planning.meetings.cancel_meeting``, so every partner gets
  the CANCEL (a trio's meeting is cancelled for all three: re-planning it for two is a cycle's work);
- then, in one transaction: the person (their account, sessions and used links go with it), their group
  memberships, the "did we meet?" answers they gave, their rows in ``unmatched``, ``calendar_gaps`` and
  ``pairing_history``, the outbox effects addressed to them, and the address in other people's wishlists, block
  lists and manager fields. Effects addressed to partners that mention the address (an invite listing them as
  an attendee) are kept, with the address removed (see ``scrub_address``).
- ``pairing_history`` keeps emails on purpose, so that a colleague who leaves and re-joins is not paired again
  with the same person at once. The issue asks that the address appear nowhere after deletion, and a hash of an
  address is still the address to anyone who can guess it, so those rows are deleted: a person who deletes
  their account and signs up again starts with no memory of whom they met.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from scheduler.accounts.access import has_control_characters
from scheduler.availability.addresses import PUBLIC_ONLY, AddressPolicy, refusal_reason
from scheduler.availability.calendars import CalendarRouter, stored_person_busy
from scheduler.errors import CalendarError, InputError, NotFoundError
from scheduler.model import Busy, CalendarSource, Cycle, Interval, Meeting, Person, Rsvp, WorkingHours, as_local
from scheduler.planning.meetings import cancel_meeting
from scheduler.ports import UowFactory

if TYPE_CHECKING:
    from scheduler.planning.cycle import PlanSettings
    from scheduler.ports import CalendarProvider, Clock, UnitOfWork

log = logging.getLogger(__name__)


# The calendar kinds a participant may choose: the organisation's (routed by email domain), or a URL of their
# own. File paths are for the operator's CSV import only: a participant must never make the server read a file.
SELF_SERVICE_KINDS = ("none", "ics", "caldav")
MAX_URL_LENGTH = 2000
# How far ahead "check my calendar" reads: about one planning window.
CHECK_DAYS = 7
# Written where a deleted address stood in an email kept for someone else (".invalid" can never be delivered).
FORMER_PARTICIPANT = "former-participant@coffeechat.invalid"


@dataclass(frozen=True)
class ProfileChange:
    """What the profile page edits. ``lunch`` is ``None`` for the office's lunch hours."""

    name: str
    team: str
    department: str = ""
    office: str = ""
    timezone: str = "UTC"
    working_hours: WorkingHours = field(default_factory=WorkingHours)
    lunch: tuple[time, time] | None = None
    kinds: frozenset[str] = frozenset({"coffee"})
    mode: str = "either"
    cadence: str = "weekly"
    interests: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CalendarCheck:
    """What "check my calendar" found over ``window``: how many busy and tentative spans and hours, or why the
    calendar could not be read. Never titles, places or attendees: the engine reads only times."""

    window: Interval
    source: CalendarSource
    busy_count: int = 0
    busy_hours: float = 0.0
    tentative_count: int = 0
    known: bool = True
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class PastMeeting:
    """One meeting of the person's history, as their history page shows it."""

    meeting_id: int
    program: str
    partners: tuple[str, ...]
    start: datetime | None
    local_start: datetime | None
    state: str
    location: str


@dataclass(frozen=True)
class Deletion:
    """What ``delete_account`` did: the meetings it cancelled and the rows it removed, by table."""

    cancelled: tuple[int, ...]
    removed: Mapping[str, int]


def _require(uow: UnitOfWork, email: str) -> Person:
    person = uow.people.get(email)
    if person is None:
        raise NotFoundError(f"nobody has the address {email}")
    return person


def _check_text(fields: Sequence[tuple[str, str]]) -> None:
    for where, text in fields:
        if has_control_characters(text):
            raise InputError("contains control characters (such as NUL or a line break)", where=where)


def load_profile(uow_factory: UowFactory, email: str) -> Person:
    """The stored person with ``email``; ``NotFoundError`` when there is none."""
    with uow_factory() as uow:
        return _require(uow, email)


def _save(uow_factory: UowFactory, email: str, change: Callable[[Person], Person]) -> Person:
    """Apply ``change`` to the stored person in one transaction; a value the model refuses is an ``InputError``."""
    with uow_factory() as uow:
        person = _require(uow, email)
        try:
            changed = change(person)
        except ValueError as exc:
            raise InputError(str(exc), where="profile") from None
        uow.people.save(changed)
        uow.commit()
    return changed


def update_profile(uow_factory: UowFactory, email: str, change: ProfileChange) -> Person:
    """Store the person's new profile and preferences; ``InputError`` naming the field for control characters,
    an empty name or team, or a value the model refuses (an unknown zone, hours that end before they start)."""
    _check_text([("name", change.name), ("team", change.team), ("department", change.department),
                 ("office", change.office), ("timezone", change.timezone),
                 *(("interests", entry) for entry in sorted(change.interests))])
    if not change.name.strip():
        raise InputError("enter your name", where="name")
    if not change.team.strip():
        raise InputError("enter your team", where="team")
    if change.mode == "in_person" and not change.office.strip():
        raise InputError("to meet in person only, enter your office", where="office")
    return _save(uow_factory, email, lambda person: replace(
        person, name=change.name.strip(), team=change.team.strip(), department=change.department.strip(),
        office=change.office.strip(), timezone=change.timezone, working_hours=change.working_hours,
        lunch=change.lunch, kinds=change.kinds, mode=change.mode, cadence=change.cadence,
        interests=change.interests))


def update_wishes(uow_factory: UowFactory, email: str, wishlist: frozenset[str], blocked: frozenset[str]) -> Person:
    """Store whom the person would like to meet (addresses, ``team:NAME``, ``department:NAME``) and whom they
    never want to be paired with (addresses). ``InputError`` for control characters, their own address in either
    list, or an address both wished for and blocked."""
    _check_text([*(("wishlist", entry) for entry in sorted(wishlist)),
                 *(("blocked", entry) for entry in sorted(blocked))])
    own = email.strip().lower()
    if own in wishlist:
        raise InputError("you cannot wish to meet yourself", where="wishlist")
    if own in blocked:
        raise InputError("you cannot block yourself", where="blocked")
    both = sorted(wishlist & blocked)
    if both:
        raise InputError(f"{both[0]} is both wished for and blocked: choose one", where="blocked")
    return _save(uow_factory, email, lambda person: replace(person, wishlist=wishlist, blocked=blocked))


@dataclass(frozen=True)
class ParticipationChange:
    """What pausing, leaving or coming back did: the person as saved, and the meetings it cancelled (their
    partners get the cancellation from the outbox's next delivery run)."""

    person: Person
    cancelled: tuple[int, ...] = ()


def set_pause(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, email: str,
              until: date | None) -> ParticipationChange:
    """Pause the person until ``until`` (no cycle starting before that day includes them), or end a pause with
    ``None``. Their meetings already planned before that day are cancelled, so no partner waits for them.
    ``InputError`` for a day that is not after today (in the person's zone) or more than a year away."""
    with uow_factory() as uow:
        person = _require(uow, email)
    cancelled: tuple[int, ...] = ()
    if until is not None:
        today = as_local(clock.now(), person.timezone).date()
        if until <= today:
            raise InputError("choose a day after today", where="paused_until")
        if until > today + timedelta(days=366):
            raise InputError("choose a day within a year; to stop for longer, leave Coffee Chat instead",
                             where="paused_until")
        back = datetime.combine(until, time(0), tzinfo=person.zone)
        cancelled = cancel_upcoming_meetings(uow_factory, clock, settings, email, before=back,
                                             reason=f"{person.name} is away then")
    return ParticipationChange(_save(uow_factory, email, lambda stored: replace(stored, paused_until=until)),
                               cancelled)


def set_opted_out(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, email: str,
                  opted_out: bool) -> ParticipationChange:
    """Leave Coffee Chat (no cycle includes the person, their data stays; their meetings still ahead are
    cancelled, so partners are told rather than left waiting) or come back."""
    with uow_factory() as uow:
        person = _require(uow, email)
    cancelled: tuple[int, ...] = ()
    if opted_out:
        cancelled = cancel_upcoming_meetings(uow_factory, clock, settings, email,
                                             reason=f"{person.name} no longer takes part in Coffee Chat")
    return ParticipationChange(_save(uow_factory, email, lambda stored: replace(stored, opted_out=opted_out)),
                               cancelled)


def cancel_upcoming_meetings(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, email: str, *,
                             reason: str, before: datetime | None = None) -> tuple[int, ...]:
    """Cancel the person's meetings that have a time still ahead (starting before ``before``, when given),
    each through ``planning.meetings.cancel_meeting`` so every partner gets the cancellation; ``reason`` is
    what they are told. Returns the ids cancelled.

    One meeting that cannot be cancelled (cancelled meanwhile, its program gone) is logged and skipped: the
    others are still cancelled. Safe to repeat: cancelled meetings are not cancelled again.
    """
    now = clock.now()
    with uow_factory() as uow:
        upcoming = [meeting.id for _, meeting in uow.accounts.meetings_of(email)
                    if meeting.id is not None and meeting.state != "cancelled" and meeting.slot is not None
                    and meeting.slot.start > now and (before is None or meeting.slot.start < before)]
    cancelled = []
    for meeting_id in upcoming:
        try:
            cancel_meeting(uow_factory, clock, settings, meeting_id, reason=reason)
        except (NotFoundError, InputError) as exc:
            log.warning("meeting %d was not cancelled: %s", meeting_id, exc)
        else:
            cancelled.append(meeting_id)
    return tuple(cancelled)


def check_calendar_url(text: str, *, where: str = "url", policy: AddressPolicy = PUBLIC_ONLY) -> str:
    """``text`` as a calendar URL a participant may give: http or https (``webcal://`` becomes ``https://``), a
    host name, no user name or password, no control characters, at most 2,000 characters. A host that is not a
    public address (``localhost``, ``127.0.0.1`` in any numeric form, ``169.254.169.254``, ``10.0.0.5``: see
    ``scheduler.availability.addresses``) is refused unless ``policy`` (``CalendarConfig.address_policy``) allows
    it: the server would fetch it. Names are not resolved here; the connectors check what they resolve to when they
    connect. ``InputError`` (at ``where``) in plain words otherwise."""
    url = text.strip()
    if not url:
        raise InputError("enter the address of your calendar", where=where)
    if len(url) > MAX_URL_LENGTH or has_control_characters(url) or any(c.isspace() for c in url):
        raise InputError("this is not a web address (it is too long or has spaces or special characters)",
                         where=where)
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - reading it checks that the port is a number
    except ValueError:
        raise InputError("this is not a web address like https://calendar.example.com/me.ics", where=where) from None
    scheme = parts.scheme.lower()
    if scheme == "webcal":
        url, scheme = "https" + url[len(parts.scheme):], "https"
    if scheme not in ("http", "https"):
        raise InputError("give an http:// or https:// address (files and other kinds of address are not allowed)",
                         where=where)
    if not host:
        raise InputError("the address has no server name, like https://calendar.example.com/me.ics", where=where)
    if parts.username is not None or parts.password is not None:
        raise InputError("leave the user name and password out of the address", where=where)
    if refusal_reason(host, policy) is not None:
        raise InputError("this address points at the Coffee Chat server or a private network; give your "
                         "calendar's public address (an administrator can allow an internal server)", where=where)
    return url


def calendar_source(kind: str, url: str, *, policy: AddressPolicy = PUBLIC_ONLY) -> CalendarSource:
    """The calendar source a participant chose: ``none`` (the organisation's calendar, found from their email
    domain, or working hours alone), ``ics`` or ``caldav`` with a checked http(s) URL (``policy``: the internal
    hosts the configuration allows for that kind). ``InputError`` otherwise."""
    if kind not in SELF_SERVICE_KINDS:
        raise InputError("choose one of the offered calendars", where="kind")
    if kind == "none":
        return CalendarSource()
    return CalendarSource(kind, check_calendar_url(url, policy=policy))


def set_calendar(uow_factory: UowFactory, email: str, source: CalendarSource, *,
                 policy: AddressPolicy = PUBLIC_ONLY) -> Person:
    """Store where the person's free/busy is read from; ``InputError`` for a source a participant may not
    choose (a file path, a Google or Microsoft mailbox other than the organisation's routing, an address that
    is not public and that ``policy`` does not allow)."""
    if source.kind not in SELF_SERVICE_KINDS:
        raise InputError("choose one of the offered calendars", where="kind")
    if source.kind != "none":
        check_calendar_url(source.location, policy=policy)
    return _save(uow_factory, email, lambda person: replace(person, calendar=source))


def reading_source(provider: CalendarProvider, person: Person) -> CalendarSource:
    """The calendar a cycle would read for ``person``: their own source, or the organisation's provider for their
    email domain when ``provider`` routes by domain (``CalendarRouter``); ``none`` means working hours alone."""
    if isinstance(provider, CalendarRouter):
        return provider.route(person).calendar
    return person.calendar


def check_calendar(uow_factory: UowFactory, provider: CalendarProvider, clock: Clock, email: str,
                   days: int = CHECK_DAYS) -> CalendarCheck:
    """Read the person's calendar as a cycle would over the next ``days`` days and say what was found: counts
    and hours, or the reason it could not be read (a ``CalendarError`` becomes ``error``, never an exception)."""
    now = clock.now()
    window = Interval(now, now + timedelta(days=days))
    person = load_profile(uow_factory, email)
    source = reading_source(provider, person)
    try:
        busy: Busy = stored_person_busy(uow_factory, provider, email, window)
    except CalendarError as exc:
        return CalendarCheck(window=window, source=source, error=str(exc))
    hours = sum((span.duration for span in busy.busy), timedelta()).total_seconds() / 3600
    return CalendarCheck(window=window, source=source, busy_count=len(busy.busy), busy_hours=round(hours, 1),
                         tentative_count=len(busy.tentative), known=busy.known, warnings=busy.warnings)


def _partner_names(uow: UnitOfWork, members: Sequence[str], email: str) -> tuple[str, ...]:
    names = []
    for member in members:
        if member == email:
            continue
        partner = uow.people.get(member)
        names.append(partner.name if partner is not None else "a former participant")
    return tuple(names)


def meeting_history(uow_factory: UowFactory, email: str) -> list[PastMeeting]:
    """The person's meetings, newest first: partners by name, the start in the person's zone, the program."""
    with uow_factory() as uow:
        person = _require(uow, email)
        rows: list[tuple[Cycle, Meeting]] = uow.accounts.meetings_of(person.email)
        history = []
        for cycle, meeting in rows:
            start = meeting.slot.start if meeting.slot is not None else None
            history.append(PastMeeting(
                meeting_id=meeting.id or 0, program=cycle.program,
                partners=_partner_names(uow, meeting.group.members, person.email), start=start,
                local_start=as_local(start, person.timezone) if start is not None else None,
                state=meeting.state, location=meeting.location))
    return history


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def export_data(uow_factory: UowFactory, clock: Clock, email: str) -> dict[str, Any]:
    """Everything stored about the person, as JSON-ready data: profile, account, meetings (with partners'
    names, not their addresses, and the person's own accept / decline answer), and the "did we meet?" answers
    they gave, with their ratings, and the thank-you notes they wrote or received (who, when, whether a manager
    was told: no text, since none is stored). Reads only."""
    history = meeting_history(uow_factory, email)
    with uow_factory() as uow:
        person = _require(uow, email)
        account = uow.accounts.get(person.email)
        programs = uow.program_choices.of_person(person.email)
        rsvps = {rsvp.meeting_id: rsvp for entry in history for rsvp in uow.matches.rsvps(entry.meeting_id)
                 if rsvp.email == person.email}
        feedback = sorted((answer for entry in history for answer in uow.feedback.answers(entry.meeting_id)
                           if answer.email == person.email),
                          key=lambda answer: (answer.answered_at is None, answer.answered_at, answer.meeting_id))
        thanks = uow.thanks.of_person(person.email)
        names = {address: (found.name if (found := uow.people.get(address)) is not None else address)
                 for note in thanks for address in (note.writer, note.recipient)}
    hours = person.working_hours
    return {
        "exported_at": clock.now().isoformat(),
        "profile": {
            "email": person.email, "name": person.name, "team": person.team, "department": person.department,
            "office": person.office, "timezone": person.timezone,
            "working_hours": {"days": sorted(hours.days), "start": hours.start.isoformat("minutes"),
                              "end": hours.end.isoformat("minutes")},
            "lunch": None if person.lunch is None else [t.isoformat("minutes") for t in person.lunch],
            "calendar": {"kind": person.calendar.kind, "location": person.calendar.location},
            "kinds": sorted(person.kinds), "mode": person.mode, "cadence": person.cadence,
            "interests": sorted(person.interests), "seniority": person.seniority, "manager": person.manager,
            "role": person.role, "wishlist": sorted(person.wishlist), "blocked": sorted(person.blocked),
            "paused_until": None if person.paused_until is None else person.paused_until.isoformat(),
            "opted_out": person.opted_out, "verified_at": _when(person.verified_at),
        },
        "account": None if account is None else {
            "created_at": _when(account.created_at), "disabled_at": _when(account.disabled_at),
            "last_sign_in_at": _when(account.last_sign_in_at),
        },
        "meetings": [{"id": entry.meeting_id, "program": entry.program, "partners": list(entry.partners),
                      "start": _when(entry.start), "state": entry.state, "location": entry.location,
                      "my_answer": _rsvp(rsvps.get(entry.meeting_id))}
                     for entry in history],
        # The programs the person joined (true) or left (false).
        "programs": dict(sorted(programs.items())),
        "feedback": [{"meeting_id": answer.meeting_id, "met": answer.met, "rating": answer.rating,
                      "comment": answer.comment, "answered_at": _when(answer.answered_at)} for answer in feedback],
        # Thank-you notes by name: the note's text was only ever in the email, so there is none to export.
        "thanks_written": [{"meeting_id": note.meeting_id, "to": names[note.recipient],
                            "manager_told": note.shared_with_manager, "at": _when(note.thanked_at)}
                           for note in thanks if note.writer == person.email],
        "thanks_received": [{"meeting_id": note.meeting_id, "from": names[note.writer],
                             "manager_told": note.shared_with_manager, "at": _when(note.thanked_at)}
                            for note in thanks if note.recipient == person.email],
    }


def _rsvp(rsvp: Rsvp | None) -> dict[str, str | None] | None:
    return None if rsvp is None else {"answer": rsvp.answer, "answered_at": _when(rsvp.answered_at)}


def scrub_address(value: Any, address: str) -> Any:
    """``value`` (a JSON-like outbox payload) with ``address`` gone: attendee entries (``{"email": …}``) with it
    are dropped, and every other mention becomes ``FORMER_PARTICIPANT``. Case-insensitive, and only the whole
    address: ``bo@example.com`` inside ``jimbo@example.com`` is left alone."""
    target = address.strip().lower()
    if isinstance(value, dict):
        return {key: scrub_address(item, address) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub_address(item, address) for item in value
                if not (isinstance(item, dict) and str(item.get("email", "")).strip().lower() == target)]
    if isinstance(value, str) and target in value.lower():
        return address_pattern(target).sub(FORMER_PARTICIPANT, value)
    return value


def address_pattern(address: str) -> re.Pattern[str]:
    """A pattern matching ``address`` as a whole address in running text, in any case."""
    return re.compile(rf"(?<![A-Za-z0-9!#$%&'*+/=?^_`{{|}}~.-]){re.escape(address)}(?![A-Za-z0-9_-]|\.[A-Za-z0-9])",
                      re.IGNORECASE)


def delete_account(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, email: str) -> Deletion:
    """Delete the person and every trace of their address (see the module docstring). Their upcoming meetings
    are cancelled first, so partners get the CANCEL; then everything else goes in one transaction.

    Safe to repeat after a failure half-way: cancelled meetings are not cancelled again. ``NotFoundError`` when
    nobody has the address.
    """
    with uow_factory() as uow:
        person = _require(uow, email)
    cancelled = cancel_upcoming_meetings(uow_factory, clock, settings, person.email,
                                         reason="a participant left Coffee Chat")
    with uow_factory() as uow:
        removed = uow.accounts.delete_person(person.email, lambda payload: scrub_address(payload, person.email))
        uow.commit()
    log.info("deleted an account and cancelled %d upcoming meeting(s)", len(cancelled))
    return Deletion(cancelled=cancelled, removed=removed)
