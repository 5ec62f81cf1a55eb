"""Values of the domain: people, programs, intervals, groups, meetings, invites, effects.

Everything here is a frozen dataclass built from the standard library only. Datetimes are timezone-aware and
in UTC unless a field says otherwise; local times are produced at the edges with ``zoneinfo``.
"""

from __future__ import annotations

import enum
import string
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MEETING_KINDS = ("coffee", "lunch", "dinner", "leader")
# What a person takes part in unless they choose: dinner is in the evening, the person's own time, so only by choice.
DEFAULT_KINDS = frozenset({"coffee", "lunch"})
# Kinds a person takes part in by what they do rather than by ticking the kind: "meet a leader" takes leaders (by
# their role) and people who ask to meet one (scheduler.pairing.leaders); nobody else is paired in it.
KINDS_BY_REQUEST = frozenset({"leader"})
# Kinds that meet in person only, at an office: their programs refuse any other meeting mode.
IN_PERSON_KINDS = frozenset({"dinner"})
MEETING_MODES = ("in_person", "virtual", "either")
CADENCES = ("weekly", "fortnightly", "monthly")
CADENCE_DAYS = {"weekly": 7, "fortnightly": 14, "monthly": 28}
RELAX_RULES = ("never", "cooldown", "cooldown_then_team")
INVITE_SENDERS = ("email", "google", "microsoft")
GROUP_SIZES = (2, 3, 4)
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``ValueError`` saying so for anything else (a typo, a folder of zones
    such as "Europe", a path)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/London") from None


def require_utc(moment: datetime, what: str = "datetime") -> datetime:
    """Return ``moment`` converted to UTC; raise ``ValueError`` for a naive datetime.

    Naive datetimes are the classic source of time-zone bugs, so the core refuses them outright.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span of time ``[start, end)`` in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_utc(self.start, "Interval.start"))
        object.__setattr__(self, "end", require_utc(self.end, "Interval.end"))
        if self.end < self.start:
            raise ValueError(f"interval ends before it starts: {self.start.isoformat()} > {self.end.isoformat()}")

    @property
    def duration(self) -> timedelta:
        """Length of the interval."""
        return self.end - self.start

    def overlaps(self, other: Interval) -> bool:
        """True when the two half-open intervals share any moment."""
        return self.start < other.end and other.start < self.end

    def clip(self, window: Interval) -> Interval | None:
        """The part of this interval inside ``window``, or ``None`` when they do not overlap."""
        start, end = max(self.start, window.start), min(self.end, window.end)
        return Interval(start, end) if start < end else None


def merge_intervals(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sort and merge overlapping or touching intervals; empty intervals disappear."""
    merged: list[Interval] = []
    for interval in sorted(i for i in intervals if i.start < i.end):
        if merged and interval.start <= merged[-1].end:
            if interval.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return tuple(merged)


@dataclass(frozen=True)
class WorkingHours:
    """A person's working days and hours, in their own time zone. Days are 0 = Monday … 6 = Sunday."""

    days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    start: time = time(9, 0)
    end: time = time(17, 0)

    def __post_init__(self) -> None:
        if not self.days or not all(0 <= day <= 6 for day in self.days):
            raise ValueError("working days must be a non-empty set of 0 (Monday) … 6 (Sunday)")
        if self.end <= self.start:
            raise ValueError(f"working hours end ({self.end}) must be after start ({self.start})")

    def describe(self) -> str:
        """A compact human form such as ``mon-fri 09:00-17:00``."""
        days = sorted(self.days)
        if days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
            day_text = f"{WEEKDAY_NAMES[days[0]]}-{WEEKDAY_NAMES[days[-1]]}"
        else:
            day_text = ",".join(WEEKDAY_NAMES[d] for d in days)
        return f"{day_text} {self.start:%H:%M}-{self.end:%H:%M}"

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """Parse ``mon-fri 09:00-17:00`` or ``mon,tue,thu 08:30-16:30``; raise ``ValueError`` naming the part."""
        try:
            day_part, hour_part = text.strip().lower().split()
            start_text, end_text = hour_part.split("-")
            start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
        except ValueError as exc:
            raise ValueError(f"working hours {text!r} are not like 'mon-fri 09:00-17:00'") from exc
        days: set[int] = set()
        for piece in day_part.split(","):
            if "-" in piece:
                first, last = piece.split("-", 1)
                a, b = _weekday_index(first), _weekday_index(last)
                if b < a:
                    raise ValueError(f"working days {piece!r} run backwards")
                days.update(range(a, b + 1))
            else:
                days.add(_weekday_index(piece))
        return cls(frozenset(days), start, end)


def _weekday_index(name: str) -> int:
    try:
        return WEEKDAY_NAMES.index(name[:3])
    except ValueError:
        raise ValueError(f"unknown weekday {name!r}; use mon, tue, wed, thu, fri, sat, sun") from None


@dataclass(frozen=True)
class CalendarSource:
    """Where a person's free/busy comes from: ``kind`` names the provider, ``location`` what it needs.

    Kinds: ``none`` (no calendar: planned on working hours alone), ``ics`` (a file path or http(s) URL),
    ``google`` and ``microsoft`` (location is the mailbox address), ``caldav`` (a collection URL).
    """

    kind: str = "none"
    location: str = ""

    KINDS = ("none", "ics", "google", "microsoft", "caldav")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"unknown calendar kind {self.kind!r}; use one of {', '.join(self.KINDS)}")
        if self.kind != "none" and not self.location:
            raise ValueError(f"a {self.kind} calendar needs a location")

    def __str__(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}:{self.location}"

    @classmethod
    def parse(cls, text: str) -> CalendarSource:
        """Parse ``ics:path/to/file.ics``, ``google:me@example.com``, ``none`` or empty text."""
        text = text.strip()
        if not text or text == "none":
            return cls()
        kind, sep, location = text.partition(":")
        if not sep:
            raise ValueError(f"calendar {text!r} is not like 'ics:path.ics' or 'google:me@example.com'")
        return cls(kind.strip().lower(), location.strip())


@dataclass(frozen=True)
class Person:
    """A participant, as the pairing engine and the slot finder see them."""

    email: str
    name: str
    team: str
    department: str = ""
    office: str = ""
    timezone: str = "UTC"
    working_hours: WorkingHours = field(default_factory=WorkingHours)
    calendar: CalendarSource = field(default_factory=CalendarSource)
    kinds: frozenset[str] = DEFAULT_KINDS
    mode: str = "either"
    cadence: str = "weekly"
    interests: frozenset[str] = frozenset()
    seniority: str = ""
    manager: str = ""
    # Free text such as "engineer" or "leader": what programs for an audience (``Audience.roles``) look at.
    role: str = ""
    # Emails, or "team:NAME" / "department:NAME": whom this person would like to meet (a soft rule).
    wishlist: frozenset[str] = frozenset()
    # Emails of people this person must never be paired with (a hard rule, either way round).
    blocked: frozenset[str] = frozenset()
    paused_until: date | None = None
    opted_out: bool = False
    verified_at: datetime | None = None
    # Lunch hours (local, in the person's zone) that replace their office's for lunch programs; None = the office's.
    lunch: tuple[time, time] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", normalize_email(self.email))
        if self.lunch is not None:
            object.__setattr__(self, "lunch", _lunch_hours(self.lunch))
        if self.verified_at is not None:
            # Stored and compared in UTC: a wall time in a DST gap never equals its UTC twin in Python.
            object.__setattr__(self, "verified_at", require_utc(self.verified_at, "verified_at"))
        zone_named(self.timezone)  # an unknown zone fails here rather than in the middle of a cycle
        if not self.kinds <= set(MEETING_KINDS):
            raise ValueError(f"unknown meeting kinds {sorted(self.kinds - set(MEETING_KINDS))}")
        if self.mode not in MEETING_MODES:
            raise ValueError(f"unknown meeting mode {self.mode!r}; use one of {', '.join(MEETING_MODES)}")
        if self.cadence not in CADENCES:
            raise ValueError(f"unknown cadence {self.cadence!r}; use one of {', '.join(CADENCES)}")

    @property
    def zone(self) -> ZoneInfo:
        """The person's time zone."""
        return ZoneInfo(self.timezone)

    def ineligibility(self, program: Program, on: date, *, joined: bool | None = None) -> str | None:
        """Why this person is not in a cycle of ``program`` starting ``on``, or ``None`` if they are.

        ``joined`` is the person's own choice for this program: True (joined), False (left) or None (never
        chose). A program that is ``opt_in`` takes only those who joined; any other takes everyone in its
        audience but those who left.
        """
        if self.opted_out:
            return "opted out"
        if self.verified_at is None:
            return "email address not yet confirmed"
        if self.paused_until is not None and self.paused_until > on:
            return f"paused until {self.paused_until.isoformat()}"
        if not program.audience.admits(self):
            return f"not in this program's audience ({program.audience.describe()})"
        if joined is False:
            return "has left this program"
        if program.opt_in and joined is not True:
            return "has not joined this program"
        if program.kind not in self.kinds and program.kind not in KINDS_BY_REQUEST:
            return f"does not take part in {program.kind} meetings"
        if program.kind in IN_PERSON_KINDS and self.mode == "virtual":
            return f"meets only virtually; {program.kind} is in person"
        if program.kind in IN_PERSON_KINDS and not self.office.strip():
            return f"works from no office; {program.kind} is in person, at an office"
        if {self.mode, program.meeting_mode} == {"in_person", "virtual"}:
            wanted, offered = self.mode.replace("_", " "), program.meeting_mode.replace("_", " ")
            return f"meets only {wanted}; this program meets {offered}"
        return None


def _lunch_hours(lunch: tuple[time, time]) -> tuple[time, time]:
    """``lunch`` as a pair of local times, end after start; ``ValueError`` saying what is wrong."""
    start, end = lunch
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("lunch hours are local times: give them without a time zone")
    if end <= start:
        raise ValueError(f"lunch hours end ({end}) must be after they start ({start})")
    return (start, end)


def normalize_email(address: str) -> str:
    """Lower-case and strip an address; raise ``ValueError`` when it is plainly not one."""
    address = address.strip().lower()
    local, sep, domain = address.partition("@")
    if not sep or not local or "." not in domain or any(c.isspace() or c in "<>,;\"" for c in address):
        raise ValueError(f"{address!r} is not an email address")
    return address


@dataclass(frozen=True)
class OfficeRules:
    """What an office decides for slots: its lunch and dinner hours (local), its own holidays (local dates), and the
    country (ISO 3166-1 code such as ``GB``, with an optional subdivision such as ``ENG``) whose public holidays
    it keeps. Empty ``country``: only ``holidays``. The public holidays are looked up by
    ``scheduler.availability.slots`` for whatever years a window covers, so this value stays plain data."""

    lunch: tuple[time, time] = (time(11, 30), time(14, 0))
    holidays: frozenset[date] = frozenset()
    country: str = ""
    subdivision: str = ""
    # The evening a dinner program books, on the office's working days; it replaces working hours, which end
    # before dinner begins.
    dinner: tuple[time, time] = (time(18, 0), time(21, 0))

    def __post_init__(self) -> None:
        if self.lunch[1] <= self.lunch[0]:
            raise ValueError(f"lunch hours end ({self.lunch[1]}) must be after they start ({self.lunch[0]})")
        if self.dinner[1] <= self.dinner[0]:
            raise ValueError(f"dinner hours end ({self.dinner[1]}) must be after they start ({self.dinner[0]})")
        if self.subdivision and not self.country:
            raise ValueError(f"subdivision {self.subdivision!r} needs the country it belongs to")


def _or_list(names: Iterable[str]) -> str:
    """``London``, ``London or Paris``, ``Leeds, London or Paris``: names sorted, in plain words."""
    ordered = sorted(names, key=str.casefold)
    return ordered[0] if len(ordered) == 1 else f"{', '.join(ordered[:-1])} or {ordered[-1]}"


@dataclass(frozen=True)
class Audience:
    """Whom a program is for: everyone (all empty, the default), or people of the given ``offices``,
    ``departments``, ``teams`` and ``roles`` (each list that is not empty must match: a "London lunch" names
    offices only), plus everyone on the invitation list ``emails`` whatever their office or team (a "new
    joiners" program may be that list alone). Names compare without regard to case or surrounding spaces."""

    offices: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()
    teams: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for name in ("offices", "departments", "teams", "roles"):
            object.__setattr__(self, name, frozenset(n.strip() for n in getattr(self, name) if n.strip()))
        emails = set()
        for address in self.emails:
            try:
                emails.add(normalize_email(address))
            except ValueError as exc:
                raise ValueError(f"audience emails: {exc}") from None
        object.__setattr__(self, "emails", frozenset(emails))

    @property
    def everyone(self) -> bool:
        """True when the program is open to everyone."""
        return not (self.offices or self.departments or self.teams or self.roles or self.emails)

    def _criteria(self) -> tuple[tuple[frozenset[str], str], ...]:
        return ((self.offices, "office"), (self.departments, "department"), (self.teams, "team"),
                (self.roles, "role"))

    def admits(self, person: Person) -> bool:
        """Whether ``person`` is in this audience."""
        if self.everyone or person.email in self.emails:
            return True
        values = {"office": person.office, "department": person.department, "team": person.team,
                  "role": person.role}
        named = [(names, what) for names, what in self._criteria() if names]
        return bool(named) and all(
            values[what].strip().casefold() in {n.casefold() for n in names} for names, what in named)

    def describe(self) -> str:
        """The audience in plain words: "everyone", "London office only", "role leader or invited people only"."""
        if self.everyone:
            return "everyone"
        parts = [f"role {_or_list(names)}" if what == "role" else f"{_or_list(names)} {what}"
                 for names, what in self._criteria() if names]
        text = ", ".join(parts)
        if self.emails:
            text = f"{text} or invited people" if text else "invited people"
        return f"{text} only"


# The placeholders a program's ``video_link`` may hold, each filled in per meeting.
VIDEO_LINK_PLACEHOLDERS = {
    "uid": "the meeting's stable invite UID, such as coffeechat-meeting-42",
    "id": "the meeting's number, such as 42",
}


def check_video_link(template: str) -> str:
    """``template`` when it is a usable video link (``https://meet.example.org/coffee-room``, or one with
    placeholders of ``VIDEO_LINK_PLACEHOLDERS`` such as ``https://meet.example.org/coffee-{uid}``); empty
    means no link. ``ValueError`` saying what is wrong otherwise."""
    if not template:
        return template
    try:
        names = [name or "" for _, name, spec, conv in string.Formatter().parse(template)
                 if name is not None or spec or conv]
    except ValueError:
        raise ValueError(f"video_link {template!r} has a stray '{{' or '}}'") from None
    unknown = sorted({name for name in names if name not in VIDEO_LINK_PLACEHOLDERS})
    if unknown:
        raise ValueError(f"video_link {template!r} has unknown placeholder(s) {', '.join(unknown)}; use "
                         f"{', '.join('{' + n + '}' for n in VIDEO_LINK_PLACEHOLDERS)}")
    sample = fill_video_link(template, 1)
    parts = urllib.parse.urlsplit(sample)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() or c in "<>\"" for c in sample):
        raise ValueError(f"video_link {template!r} is not an https:// address such as "
                         "https://meet.example.org/coffee-{uid}")
    return template


def fill_video_link(template: str, meeting_id: int) -> str:
    """``template`` with its placeholders filled in for the stored meeting ``meeting_id``."""
    return template.format(uid=meeting_uid(meeting_id), id=meeting_id)


def meeting_uid(meeting_id: int) -> str:
    """The stable iCalendar UID of the stored meeting ``meeting_id``."""
    return f"coffeechat-meeting-{meeting_id}"


@dataclass(frozen=True)
class Weights:
    """Soft-rule weights of a program. Higher means a pair is more wanted. Documented in config.example.toml."""

    different_department: float = 3.0
    different_office: float = 1.5
    never_met: float = 4.0
    shared_interest: float = 1.0
    common_slots: float = 0.5
    timezone_overlap: float = 1.0
    wishlist: float = 3.0
    no_shared_manager: float = 0.5
    seniority_mix: float = 0.0


@dataclass(frozen=True)
class Program:
    """A recurring pairing program: who meets, how often, for how long, and by which rules."""

    name: str
    kind: str = "coffee"
    cadence: str = "weekly"
    # People per group: 2 (pairs, one trio for an odd count) or 3 or 4 (lunch groups); see GROUP_SIZES.
    group_size: int = 2
    duration_minutes: int = 30
    cooldown_cycles: int = 6
    meeting_mode: str = "virtual"
    window_days: int = 5
    min_notice_hours: int = 24
    buffer_minutes: int = 5
    # When the hard rules leave people without a partner: "never" relaxes nothing, "cooldown" lets recent
    # pairs meet again, "cooldown_then_team" also lets teammates meet as a last resort.
    relax: str = "cooldown"
    # Whether events the calendar marks tentative count as busy (True) or as free time (False).
    tentative_busy: bool = True
    # A pair meets at most once per planning window across programs: two people another program already groups
    # in an overlapping window are kept apart (False: this program may group them anyway).
    once_per_window: bool = True
    # Named seniority levels, lowest first ("staff", "senior", "director"), for the seniority mix; a person's
    # seniority is matched without case. Without names, only levels written as numbers count.
    seniority_levels: tuple[str, ...] = ()
    weights: Weights = field(default_factory=Weights)
    # Who sends the calendar invitations: "email" (our own iMIP emails) or the provider that creates the event
    # ("google", "microsoft"), never both: one sender per meeting.
    invites: str = "email"
    # Whom the program is for (everyone by default), and whether only those who join take part (True) rather
    # than everyone in the audience who has not left it (False).
    audience: Audience = field(default_factory=Audience)
    opt_in: bool = False
    # The video link of virtual meetings whose invites go by email: a fixed room, or a template with the
    # placeholders of VIDEO_LINK_PLACEHOLDERS. Empty: "Video call", the people agree on a link. A provider that
    # sends the invites (``invites`` google or microsoft) gives its own online meeting instead.
    video_link: str = ""
    # A leader program: how many 1:1 meetings each leader offers a month (scheduler.pairing.leaders).
    leader_slots: int = 2

    def __post_init__(self) -> None:
        if self.kind not in MEETING_KINDS:
            raise ValueError(f"unknown program kind {self.kind!r}; use one of {', '.join(MEETING_KINDS)}")
        if self.cadence not in CADENCES:
            raise ValueError(f"unknown cadence {self.cadence!r}; use one of {', '.join(CADENCES)}")
        if self.group_size not in GROUP_SIZES:
            # 2: pairs (a trio takes an odd count); 3 or 4: lunch groups, a few of one more or one fewer when
            # the count does not divide (see scheduler.pairing.rules.group_sizes).
            raise ValueError(f"group_size must be 2 (pairs), 3 or 4 (groups), not {self.group_size}")
        if not 10 <= self.duration_minutes <= 180:
            raise ValueError("duration_minutes must be between 10 and 180")
        if self.meeting_mode not in MEETING_MODES:
            raise ValueError(f"unknown meeting mode {self.meeting_mode!r}")
        if self.kind == "dinner" and self.group_size > 3:
            # Groups are one bigger or smaller where the count does not divide: 3 seats two to four, 4 would
            # seat five at some tables.
            raise ValueError("a dinner seats 2 to 4: group_size 2 (pairs, a trio for an odd count) or 3 (tables "
                             f"of three, two or four where the count does not divide), not {self.group_size}")
        if self.kind in IN_PERSON_KINDS and self.meeting_mode != "in_person":
            raise ValueError(f"a {self.kind} program meets in person: set meeting_mode = \"in_person\", not "
                             f"{self.meeting_mode!r}")
        if self.relax not in RELAX_RULES:
            raise ValueError(f"relax must be one of {', '.join(RELAX_RULES)}")
        if self.invites not in INVITE_SENDERS:
            raise ValueError(f"invites must be one of {', '.join(INVITE_SENDERS)}, got {self.invites!r}")
        check_video_link(self.video_link)
        if self.kind == "leader" and self.group_size != 2:
            raise ValueError(f"a leader program meets one to one: group_size must be 2, not {self.group_size}")
        if not 1 <= self.leader_slots <= 31:
            raise ValueError(f"leader_slots must be between 1 and 31 meetings a month, not {self.leader_slots}")
        names = [name.strip().casefold() for name in self.seniority_levels]
        if any(not name for name in names):
            raise ValueError("seniority_levels must not hold an empty name")
        if len(set(names)) != len(names):
            raise ValueError("seniority_levels names a level twice")

    @property
    def duration(self) -> timedelta:
        """How long each meeting lasts."""
        return timedelta(minutes=self.duration_minutes)


@dataclass(frozen=True)
class ProgramChange:
    """What an admin changed of a program on the site, over the configuration file: the settings that differ
    from the file by name (weights under ``"weights"``), who changed them and when (``scheduler.programs.settings``)."""

    name: str
    changes: Mapping[str, object]
    changed_by: str
    changed_at: datetime


class CycleState(enum.StrEnum):
    """Where a cycle is in its life: planned with its effects in the outbox, then delivered once none is left
    to perform."""

    PLANNED = "planned"
    DELIVERED = "delivered"


@dataclass(frozen=True)
class Cycle:
    """One round of a program over a planning window. ``seed`` makes the pairing replayable."""

    program: str
    window: Interval
    seed: int
    state: CycleState = CycleState.PLANNED
    id: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class Group:
    """People who meet in one cycle, with the score and the human reasons for putting them together."""

    members: tuple[str, ...]
    score: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unmatched:
    """Someone left out of a cycle, with the reason in words a person understands."""

    email: str
    reason: str


@dataclass(frozen=True)
class Meeting:
    """A group's meeting: when, where, and how it stands. ``slot`` is ``None`` when no common time exists."""

    group: Group
    slot: Interval | None
    location: str = ""
    state: str = "proposed"
    sequence: int = 0
    id: int | None = None
    cycle_id: int | None = None

    @property
    def uid(self) -> str:
        """The stable iCalendar UID of this meeting (needs a stored meeting)."""
        if self.id is None:
            raise ValueError("a meeting has a UID only once it is stored")
        return meeting_uid(self.id)


@dataclass(frozen=True)
class Attendee:
    """One person on an invite."""

    email: str
    name: str


@dataclass(frozen=True)
class Invite:
    """A calendar invitation to render as iCalendar. ``sequence`` rises on every change to the same ``uid``."""

    uid: str
    sequence: int
    method: str  # "REQUEST" or "CANCEL"
    organizer: Attendee
    attendees: tuple[Attendee, ...]
    start: datetime
    end: datetime
    summary: str
    description: str = ""
    location: str = ""
    stamp: datetime | None = None
    # The meeting's video link (https), when it has one: also its location.
    video_url: str = ""


@dataclass(frozen=True)
class EmailMessage:
    """An email ready to send: built by the core, sent by a ``Mailer``.

    ``invite``, when set, is rendered by the mail adapter as the iMIP text/calendar part and invite.ics.
    ``sender`` and ``to`` are bare addresses or ``Name <address>``.
    """

    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    sender: str
    message_id: str
    invite: Invite | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Busy:
    """What a calendar says about one person over a window: merged busy intervals, or why it could not say.

    ``busy`` holds the events the person is surely at; ``tentative`` those they only might be at (STATUS or
    Outlook's busy status TENTATIVE). Both are merged, sorted, UTC and clipped to the window. Whether tentative
    time counts as busy is the program's decision (``Program.tentative_busy``), not the calendar's.
    ``error`` set means the calendar could not be read; ``busy`` is then empty and must not be taken as "free".
    Only times are kept: never titles, attendees or locations.
    """

    busy: tuple[Interval, ...] = ()
    tentative: tuple[Interval, ...] = ()
    error: str | None = None
    warnings: tuple[str, ...] = ()
    known: bool = True  # False for people with no calendar at all (kind "none")
    # Working hours as the provider reports them (Graph's workingHours), in ``working_zone`` (IANA); None when
    # the provider does not say, and the person's profile applies.
    working_hours: WorkingHours | None = None
    working_zone: str | None = None


@dataclass(frozen=True)
class Effect:
    """A side effect planned by a cycle and performed later by the outbox relay.

    ``key`` is deterministic (cycle, meeting, kind, recipient, sequence), so planning the same thing twice
    yields the same key and the database keeps one row.
    """

    key: str
    kind: str  # "email" or "calendar_event" (a provider creates, moves or cancels the event)
    payload: dict[str, object]
    cycle_id: int | None = None
    state: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    done_at: datetime | None = None
    # Past this moment the effect means nothing any more (a reminder once its meeting has begun): a relay that
    # comes to it later supersedes it instead of performing it. None: it never goes stale.
    stale_at: datetime | None = None


def as_local(moment: datetime, zone: str) -> datetime:
    """``moment`` seen on a wall clock in ``zone``."""
    return require_utc(moment).astimezone(ZoneInfo(zone))


# --- values the ports name for accounts, match answers and the admin's figures -------------------------


@dataclass(frozen=True)
class Account:
    """What the site keeps about a person beyond their profile: when they first signed in, whether an admin
    disabled them, and their latest sign-in."""

    email: str
    created_at: datetime
    disabled_at: datetime | None = None
    last_sign_in_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        """True when an admin disabled the account."""
        return self.disabled_at is not None


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in browser as stored: ``token_hash`` is the SHA-256 (hex) of the cookie's token."""

    token_hash: str
    email: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class CycleFact:
    """One stored cycle: its id, program, window start, and how many people it left unmatched."""

    id: int
    program: str
    window_start: datetime
    unmatched: int


@dataclass(frozen=True)
class MeetingFact:
    """One stored meeting: its cycle, members (emails, in order) with their current department and team ("" when
    the person is gone), how many members answered "did you meet?" and how many said yes."""

    cycle_id: int
    members: tuple[str, ...]
    departments: tuple[str, ...]
    teams: tuple[str, ...]
    state: str = "proposed"
    answers: int = 0
    met: int = 0


@dataclass(frozen=True)
class PairFact:
    """Two people grouped together in a cycle (from the pairing history)."""

    cycle_id: int
    person_a: str
    person_b: str


@dataclass(frozen=True)
class EffectCount:
    """How many outbox effects of a cycle (``None``: of no cycle) are in a state."""

    cycle_id: int | None
    state: str
    count: int


# The answers a member can give to a meeting (``Rsvp.answer``).
RSVP_ANSWERS = ("accepted", "declined")


@dataclass(frozen=True)
class Rsvp:
    """One member's answer to a meeting: ``accepted`` or ``declined``, and when."""

    meeting_id: int
    email: str
    answer: str
    answered_at: datetime


@dataclass(frozen=True)
class FeedbackAnswer:
    """One member's answer to "did you meet?": whether, an optional 1–5 rating, a comment, and when.
    ``comment_shared``: the writer allowed the organisers to read the comment (off unless they ticked it)."""

    meeting_id: int
    email: str
    met: bool
    comment: str = ""
    rating: int | None = None
    answered_at: datetime | None = None
    comment_shared: bool = False


@dataclass(frozen=True)
class RatingFact:
    """The "did you meet?" ratings of one cycle: how many were given and their average (None when none)."""

    cycle_id: int
    program: str
    window_start: datetime
    count: int
    average: float | None


@dataclass(frozen=True)
class SharedComment:
    """A "did you meet?" comment whose writer allowed the organisers to read it: its cycle, the text and the
    rating given with it. Carries no address: the admin reads what was said, not who said it."""

    cycle_id: int
    comment: str
    rating: int | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True)
class Engagement:
    """What Coffee Chat knows of whether a person still answers (``scheduler.planning.silence`` reads it).

    ``last_sign_of_life`` is the latest of their answers to a meeting (accept / decline), their "did you meet?"
    answers, their sign-ins and signed-in visits, and the signed links they used (a "still in?" answer among
    them); ``None`` when they never gave one. ``placed_at`` holds, oldest first, when each cycle (of any program)
    that placed them in a meeting still standing was planned. ``asked_at`` is when they were last asked "still
    in?", ``paused_at`` when they were last paused for silence (either ``None`` when it never happened)."""

    email: str
    last_sign_of_life: datetime | None = None
    placed_at: tuple[datetime, ...] = ()
    asked_at: datetime | None = None
    paused_at: datetime | None = None


@dataclass(frozen=True)
class Thanks:
    """A thank-you note one member wrote to a partner after a meeting they said took place: who to whom, whether
    the writer chose to tell the recipient's manager, and when. Never the note's text: that lives only in the
    email (``scheduler.planning.thanks``)."""

    meeting_id: int
    writer: str
    recipient: str
    shared_with_manager: bool
    thanked_at: datetime


@dataclass(frozen=True)
class ThanksCount:
    """How many thank-you notes the meetings of one program produced, and how many of them their writers shared
    with the recipient's manager. Counts only: the admin never sees who thanked whom, nor what they wrote."""

    program: str
    count: int
    shared_with_manager: int


# The states of an introduction (``Introduction.state``): the connector was asked; they introduced the two by
# email; they said "not now"; the person wished for said "I'd rather not".
INTRODUCTION_STATES = ("asked", "introduced", "not_now", "declined")


@dataclass(frozen=True)
class Introduction:
    """A request to ``connector``, who met both, to introduce ``asker`` to ``wished`` (a person on the asker's
    wishlist they never met), its state (``INTRODUCTION_STATES``), when it was asked and when answered
    (``scheduler.planning.introductions``). ``connector`` is empty once the connector's account is gone."""

    id: int
    asker: str
    wished: str
    connector: str
    state: str
    created_at: datetime
    answered_at: datetime | None = None
