"""Ports: what the core needs from the outside world, as ``typing.Protocol`` classes.

Adapters in ``integrations/`` and ``scheduler/storage/`` implement them; tests use small fakes. Every
datetime crossing a port is timezone-aware UTC.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from scheduler.model import (
    Account,
    Busy,
    Cycle,
    CycleFact,
    CycleState,
    Effect,
    EffectCount,
    EmailMessage,
    Engagement,
    FeedbackAnswer,
    Group,
    Interval,
    Introduction,
    Invite,
    Meeting,
    MeetingFact,
    PairFact,
    Person,
    Program,
    ProgramChange,
    RatingFact,
    Rsvp,
    SessionRecord,
    SharedComment,
    Thanks,
    ThanksCount,
    Unmatched,
)


class Clock(Protocol):
    """Tells the time."""

    def now(self) -> datetime:
        """The current moment, timezone-aware, in UTC."""
        ...


class CalendarProvider(Protocol):
    """Reads free/busy for many people at once.

    Contract, shared by every connector (ICS, CalDAV, Google, Microsoft) and checked by one contract test:

    - ``fetch_busy`` answers for every person given, keyed by their email, and for nobody else. It asks the
      provider for as many people per call as the provider allows (Google 50 calendars, Graph 20 schedules) and
      splits long windows under the provider's limit (Google 90 days, Graph 62).
    - Intervals are timezone-aware UTC, merged, sorted and clipped to ``window``; nothing but times is kept:
      never titles, locations, attendees or descriptions, not even in memory longer than one answer.
    - Tentative time goes to ``Busy.tentative``, not ``Busy.busy``: the program decides what it means. Out of
      office is busy; "working elsewhere" (a day at home or at another office: Graph's ``workingElsewhere``,
      Outlook's ``X-MICROSOFT-CDO-BUSYSTATUS:WORKINGELSEWHERE``, Google's working-location events) is free, as
      the providers count it. Free and transparent time is not returned.
    - A person whose calendar cannot be read (file missing or malformed, mailbox not found, no permission) gets
      a ``Busy`` with ``error`` set to a reason a person understands: that is theirs alone and never raises.
    - Where the provider reports working hours (Graph), ``Busy.working_hours`` and ``Busy.working_zone`` carry
      them (the zone as an IANA name); otherwise both are ``None``.
    - Transient failures (429, 5xx, timeouts) are retried with backoff, honouring Retry-After, a bounded number
      of times; a provider that is still down then raises ``ProviderUnavailable`` naming the provider and the
      cause, and the caller records that those people had no calendar data. Credentials never appear in
      messages.
    """

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        """Busy intervals of each person over ``window``, keyed by email."""
        ...


class EventCalendar(Protocol):
    """Creates, moves and cancels meeting events in the organizer's calendar; the provider (Google, Exchange)
    then sends the invitations itself, so a program that uses this never sends its own iMIP email as well.

    Every call is idempotent, so the outbox can repeat it after a crash or an unknown outcome:

    - ``create_event`` derives the provider's event identity from ``invite.uid`` (a base32hex event id on Google,
      a ``transactionId`` on Graph); when the event already exists it returns the existing id and creates
      nothing. ``online_meeting`` asks for a Meet or Teams link.
    - ``update_event`` makes the event match ``invite`` (times, attendees, text) and notifies the attendees.
    - ``cancel_event`` cancels it and notifies the attendees; an event that is already gone is not an error.

    Failures raise ``DeliveryError``: ``transient`` for 429 / 5xx / timeouts (with ``retry_after`` when the
    provider gave one), permanent otherwise (no permission, organizer mailbox not found, update of an event that
    does not exist).
    """

    def create_event(self, invite: Invite, *, online_meeting: bool = False) -> str:
        """Create the event for ``invite`` (or find the one a previous attempt created); return its id."""
        ...

    def update_event(self, invite: Invite) -> None:
        """Move or change the event created for ``invite.uid``."""
        ...

    def cancel_event(self, invite: Invite) -> None:
        """Cancel the event created for ``invite.uid``, telling the attendees."""
        ...


class Mailer(Protocol):
    """Sends email. Raises ``DeliveryError`` (with ``transient`` set) when a message cannot be sent."""

    def send(self, message: EmailMessage) -> None:
        """Send one message (its invite, if any, rendered as an iMIP calendar part)."""
        ...

    def close(self) -> None:
        """Release any connection kept open across a batch of ``send`` calls."""
        ...


class SiteUrls(Protocol):
    """The absolute addresses of the web site's pages that emails link to.

    The core names no route: the site that owns the routes implements this (``web.urls.WebUrls``) and its
    callers pass it in, through ``bootstrap``. Tokens are passed as they are, already URL-safe.
    """

    def match_page(self, meeting_id: int) -> str:
        """The page of meeting ``meeting_id`` (it needs a sign-in)."""
        ...

    def match_action(self, meeting_id: int, action: str, token: str) -> str:
        """The page that asks to confirm ``action`` on meeting ``meeting_id``, opened by the signed ``token``."""
        ...

    def account_settings(self) -> str:
        """The signed-in person's account page, where they change their settings."""
        ...

    def sign_up(self) -> str:
        """The sign-up page."""
        ...

    def confirm_sign_up(self, token: str) -> str:
        """The page that confirms a sign-up with the signed ``token``."""
        ...

    def sign_in(self, token: str) -> str:
        """The page that signs in with the signed ``token``."""
        ...

    def still_in(self, action: str, token: str) -> str:
        """The page of a "still in?" email's link (``stay`` or ``pause``), opened by the signed ``token``."""
        ...

    def introduction(self, action: str, token: str) -> str:
        """The page of an introduction email's link (``introduce``, ``not-now``, ``rather-not``), opened by the
        signed ``token``."""
        ...

    def account_introductions(self) -> str:
        """The signed-in person's page of the introductions they wished for."""
        ...


class PeopleRepository(Protocol):
    """People, identified by their (normalised) email."""

    def get(self, email: str) -> Person | None:
        """The person with this email, or ``None``."""
        ...

    def save(self, person: Person) -> bool:
        """Insert or update the person by email; True when a new person was created."""
        ...

    def list(self) -> builtins.list[Person]:
        """Everyone, sorted by email."""
        ...


class ProgramRepository(Protocol):
    """Programs, identified by name."""

    def get(self, name: str) -> Program | None:
        """The program with this name, or ``None``."""
        ...

    def save(self, program: Program) -> None:
        """Insert or update the program by name."""
        ...

    def list(self) -> builtins.list[Program]:
        """Every program, sorted by name."""
        ...


class ProgramChangeRepository(Protocol):
    """What admins changed of programs on the site, one ``ProgramChange`` per program name."""

    def list(self) -> builtins.list[ProgramChange]:
        """Every program's changes, sorted by program name."""
        ...

    def save(self, change: ProgramChange) -> None:
        """Store the program's changes, replacing any it had."""
        ...

    def delete(self, name: str) -> bool:
        """Forget the program's changes; whether there were any."""
        ...


class ProgramChoiceRepository(Protocol):
    """Whether people joined or left each program (no entry: they never chose)."""

    def of_program(self, program: str) -> dict[str, bool]:
        """Who chose for ``program``: email → joined (True) or left (False)."""
        ...

    def of_person(self, email: str) -> dict[str, bool]:
        """The programs ``email`` chose for: program name → joined (True) or left (False)."""
        ...

    def set(self, email: str, program: str, joined: bool, at: datetime) -> None:
        """Store that ``email`` joined (or left) ``program`` at ``at``, replacing an earlier choice;
        ``NotFoundError`` for an unknown person."""
        ...


class CycleRepository(Protocol):
    """Cycles with their meetings (groups and members) and the people left unmatched."""

    def add(self, cycle: Cycle) -> Cycle:
        """Store a new cycle; return it with ``id`` and ``created_at`` set.

        Raises ``StorageError`` when the program already has a cycle for the same window start.
        """
        ...

    def find(self, program: str, window_start: datetime) -> Cycle | None:
        """The program's cycle whose window starts at ``window_start``, or ``None``."""
        ...

    def get(self, cycle_id: int) -> Cycle | None:
        """The cycle with this id, or ``None``."""
        ...

    def list(self, program: str | None = None) -> builtins.list[Cycle]:
        """Cycles, newest window first, optionally of one program."""
        ...

    def set_state(self, cycle_id: int, state: CycleState) -> None:
        """Move a cycle to ``state``."""
        ...

    def add_meetings(self, cycle_id: int, meetings: Sequence[Meeting]) -> builtins.list[Meeting]:
        """Store groups, their members and meetings; return the meetings with ``id`` and ``cycle_id`` set."""
        ...

    def meetings(self, cycle_id: int) -> builtins.list[Meeting]:
        """The cycle's meetings in the order they were added."""
        ...

    def meetings_during(self, window: Interval) -> builtins.list[Meeting]:
        """The meetings not cancelled whose time overlaps ``window``, of any cycle, by id."""
        ...

    def meeting(self, meeting_id: int) -> Meeting | None:
        """The meeting with this id, with ``cycle_id`` set, or ``None``."""
        ...

    def update_meeting(self, meeting: Meeting) -> None:
        """Store a changed meeting (slot, location, state, a raised sequence); ``NotFoundError`` when unknown,
        ``StorageError`` when its stored sequence is not below ``meeting.sequence`` (a concurrent change)."""
        ...

    def set_locations(self, locations: Mapping[int, str]) -> None:
        """Give stored meetings (by id) their location, as the plan that stores them decides it once they have
        ids (a video link made from the meeting's UID); their sequence stays."""
        ...

    def regroup_meeting(self, meeting: Meeting) -> None:
        """Store a meeting whose group changed (an admin removed or swapped someone): its members in order, the
        group's score and reasons, and what ``update_meeting`` stores, with the same errors."""
        ...

    def set_unmatched(self, cycle_id: int, unmatched: Sequence[Unmatched]) -> None:
        """Replace who was left out of the cycle and why."""
        ...

    def add_unmatched(self, cycle_id: int, unmatched: Sequence[Unmatched]) -> None:
        """Record who was left out of the cycle and why."""
        ...

    def unmatched(self, cycle_id: int) -> builtins.list[Unmatched]:
        """Who was left out of the cycle and why, sorted by email."""
        ...

    def add_calendar_gaps(self, cycle_id: int, gaps: Mapping[str, str]) -> None:
        """Record who was planned on working hours alone because their calendar could not be read (email →
        the reason in plain words)."""
        ...

    def calendar_gaps(self, cycle_id: int) -> dict[str, str]:
        """Who the cycle planned without calendar data, and why, by email."""
        ...


class HistoryRepository(Protocol):
    """Who met whom: the memory behind cooldowns and "never met" weights."""

    def record(self, cycle_id: int, program: str, met_on: date, groups: Sequence[Group]) -> None:
        """Remember every pair inside every group as having met on ``met_on`` in this cycle."""
        ...

    def forget(self, cycle_id: int, pairs: Iterable[frozenset[str]]) -> int:
        """Forget that these pairs (frozensets of two emails) were grouped in this cycle; how many were."""
        ...

    def pairs_in_recent_cycles(self, program: str, cycles: int) -> set[frozenset[str]]:
        """Pairs (as frozensets of two emails) grouped in the program's last ``cycles`` cycles, except those
        whose meeting its members reported as not having happened."""
        ...

    def last_met(self, before: datetime) -> dict[frozenset[str], date]:
        """For every pair who met in any program, the day of their latest meeting that took place before
        ``before`` (not cancelled, over, not reported missed)."""
        ...


class FeedbackRepository(Protocol):
    """Answers to "did you meet?"."""

    def add(self, meeting_id: int, email: str, met: bool, comment: str = "", *, rating: int | None = None,
            share_comment: bool = False) -> None:
        """Record one person's answer for one meeting, with an optional 1–5 ``rating`` and whether the organisers
        may read its comment (``share_comment``; a later answer replaces an earlier one, its rating and choice
        included). ``NotFoundError`` for an unknown meeting."""
        ...

    def answers(self, meeting_id: int) -> builtins.list[FeedbackAnswer]:
        """Every answer given for the meeting, by email."""
        ...


class MatchRepository(Protocol):
    """Each member's accept/decline answer to a meeting (one per member; a later answer replaces it)."""

    def set_rsvp(self, rsvp: Rsvp) -> None:
        """Store one member's answer; ``NotFoundError`` for an unknown meeting. Answers to one meeting take turns:
        the meeting stays locked until the transaction ends, so ``rsvps`` read after it sees every earlier one."""
        ...

    def rsvps(self, meeting_id: int) -> builtins.list[Rsvp]:
        """The meeting's answers, by email."""
        ...

    def clear_rsvps(self, meeting_id: int) -> int:
        """Forget the meeting's answers (its time changed); return how many went."""
        ...

    def forget_rsvp(self, meeting_id: int, email: str) -> bool:
        """Forget one member's answer (they took it back); whether there was one."""
        ...


class OutboxRepository(Protocol):
    """Side effects waiting to be performed, each identified by a deterministic key.

    Life of an effect: ``pending`` → (claimed) ``in_flight`` → ``done``; or back to ``pending`` with a later
    ``next_attempt_at`` after a transient failure; or ``dead`` after a permanent one or too many attempts
    (``requeue`` makes it pending again); or ``superseded`` when a later change of its meeting replaced it
    before it was done (never performed after that; ``mark_retry``/``mark_dead`` leave it so).
    """

    def add(self, effect: Effect) -> bool:
        """Store a pending effect; False (and nothing written) when its key already exists."""
        ...

    def due(self, now: datetime, limit: int = 100) -> builtins.list[Effect]:
        """Pending effects whose ``next_attempt_at`` is empty or not after ``now``, plus in-flight effects
        whose claim expired before ``now``; oldest first."""
        ...

    def claim(self, key: str, now: datetime, lease: timedelta) -> bool:
        """Mark a due effect in flight until ``now + lease`` and count an attempt; False if it is not due."""
        ...

    def mark_done(self, key: str, now: datetime) -> None:
        """The effect was performed."""
        ...

    def mark_retry(self, key: str, error: str, next_attempt_at: datetime) -> None:
        """The effect failed transiently; make it due again at ``next_attempt_at``."""
        ...

    def mark_dead(self, key: str, error: str) -> None:
        """The effect failed for good; park it for an admin."""
        ...

    def release(self, key: str, error: str, next_attempt_at: datetime) -> bool:
        """Give back a claimed effect without counting its attempt: pending, due at ``next_attempt_at``. False
        for an effect no longer in flight (superseded meanwhile), which is left as it is."""
        ...

    def supersede_key(self, key: str, reason: str) -> bool:
        """Mark the one pending or in-flight effect ``key`` superseded; whether it was."""
        ...

    def supersede(self, key_prefix: str, reason: str) -> int:
        """Mark every pending or in-flight effect whose key starts with ``key_prefix`` superseded; return how
        many."""
        ...

    def mark_stale(self, key: str, reason: str) -> None:
        """The effect came due after its ``stale_at``: superseded, never performed (``reason`` for the record)."""
        ...

    def with_prefix(self, key_prefix: str) -> Sequence[Effect]:
        """Every effect whose key starts with ``key_prefix``, in any state, oldest first."""
        ...

    def withdraw(self, key_prefix: str, reason: str) -> int:
        """Supersede the effects under ``key_prefix`` still pending and never attempted; how many."""
        ...

    def restore(self, key_prefix: str, reason: str) -> int:
        """Make the effects under ``key_prefix`` superseded for ``reason`` pending again; how many."""
        ...

    def requeue(self, key: str, now: datetime) -> None:
        """Make a dead effect pending again, due at ``now``, attempts reset; ``NotFoundError`` for an unknown key,
        ``StorageError`` for one that is not dead."""
        ...

    def list(self, cycle_id: int | None = None, state: str | None = None) -> builtins.list[Effect]:
        """Effects, oldest first, optionally of one cycle and/or in one state."""
        ...


class AccountRepository(Protocol):
    """Web accounts (the admin's disabled flag), server-side sessions, used single-use links, and the rate-limit
    buckets of the site's sensitive requests.

    Accounts and sessions belong to a stored person, named by email, and go when the person does; an operation
    on an address nobody has raises ``NotFoundError``. Sessions are found by the SHA-256 of their token, links by
    the SHA-256 of their nonce: raw tokens are never stored.
    """

    def get(self, email: str) -> Account | None:
        """The account of the person with this email, or ``None`` when they never signed in nor were disabled."""
        ...

    def ensure(self, email: str, now: datetime) -> Account:
        """The person's account, created (enabled, ``created_at`` = ``now``) if it did not exist."""
        ...

    def set_disabled(self, email: str, disabled_at: datetime | None) -> None:
        """Disable the account from ``disabled_at``, or enable it with ``None``."""
        ...

    def record_sign_in(self, email: str, now: datetime) -> None:
        """Note that the person signed in at ``now``."""
        ...

    def add_session(self, session: SessionRecord) -> None:
        """Store a new session."""
        ...

    def find_session(self, token_hash: str) -> SessionRecord | None:
        """The session with this token hash (revoked and expired ones included), or ``None``."""
        ...

    def touch_session(self, token_hash: str, now: datetime) -> None:
        """Set the session's ``last_seen_at`` to ``now``."""
        ...

    def revoke_session(self, token_hash: str, now: datetime) -> bool:
        """Revoke the session at ``now``; True when it existed and was not revoked yet."""
        ...

    def revoke_sessions(self, email: str, now: datetime) -> int:
        """Revoke every live session of the person; return how many."""
        ...

    def use_link(self, nonce_hash: str, purpose: str, now: datetime, expires_at: datetime) -> bool:
        """Record a link as used; True for its first use, False (and nothing written) if it was used before.
        Two concurrent uses cannot both get True."""
        ...

    def link_used(self, nonce_hash: str) -> bool:
        """True when the link with this nonce hash was used."""
        ...

    def purge(self, now: datetime) -> int:
        """Delete sessions and used-link records that expired before ``now``, and rate-limit buckets that are
        full again by ``now``; return how many rows went."""
        ...

    def count_request(self, area: str, client: str, per_hour: int, now: datetime) -> float | None:
        """Count one request of ``client`` (an address or network) in the rate-limit ``area``, which allows
        ``per_hour`` requests an hour in bursts up to that; ``None`` when this one is allowed, else the seconds
        until one would be (and nothing counted). Atomic: concurrent callers, in any process, share the one
        allowance."""
        ...

    def meetings_of(self, email: str) -> builtins.list[tuple[Cycle, Meeting]]:
        """The meetings the person is a member of, each with its cycle, newest first."""
        ...

    def delete_person(self, email: str, scrub: Callable[[Any], Any]) -> dict[str, int]:
        """Delete the person and every row that names their address (memberships, feedback, unmatched, calendar
        gaps, pairing history, effects addressed to them; their account and sessions); pass other effects'
        payloads that mention it through ``scrub`` and drop it from other people's wishlists, block lists and
        manager fields. Returns the rows removed by table; ``NotFoundError`` for an unknown address."""
        ...


class EngagementRepository(Protocol):
    """Whether people still answer: their signs of life, the cycles that placed them, and the "still in?"
    questions and pauses of ``scheduler.planning.nonresponders``. An operation on an address nobody has raises
    ``NotFoundError``; the rows go when the person does."""

    def by_person(self) -> dict[str, Engagement]:
        """Everyone stored, by email: the latest of their signs of life (accept / decline answers, "did you
        meet?" answers, sign-ins and signed-in visits, links used, as ``note_sign_of_life`` records), when each
        cycle that placed them in a meeting not cancelled was planned (``Cycle.created_at``, oldest first, one
        per cycle), and when they were last asked "still in?" and last paused for silence."""
        ...

    def note_sign_of_life(self, email: str, at: datetime) -> None:
        """Record that the person used a link of ours at ``at`` (a later moment replaces an earlier one; an
        earlier one changes nothing)."""
        ...

    def mark_asked(self, email: str, at: datetime) -> None:
        """The person was asked "still in?" at ``at``; any earlier pause for silence is over."""
        ...

    def mark_paused(self, email: str, at: datetime) -> None:
        """The person was paused for silence at ``at``."""
        ...


class ReportRepository(Protocol):
    """Read-only aggregates for the admin's pages and analytics (see ``scheduler.admin``). Never writes."""

    def cycles(self) -> builtins.list[CycleFact]:
        """Every cycle with how many people it left unmatched, oldest window first."""
        ...

    def meetings(self) -> builtins.list[MeetingFact]:
        """Every meeting with its members' current department and team ("" for a person who is gone) and how
        many members answered "did you meet?" and said yes."""
        ...

    def pairs(self) -> builtins.list[PairFact]:
        """Every pair of the pairing history, by cycle."""
        ...

    def effect_counts(self) -> builtins.list[EffectCount]:
        """Outbox effects counted by cycle (``None``: of no cycle) and state."""
        ...

    def ratings(self, program: str | None = None) -> builtins.list[RatingFact]:
        """Every cycle (of ``program``, or of all) with its count and average of "did you meet?" ratings, oldest
        window first (count 0, average None for a cycle without ratings)."""
        ...

    def shared_comments(self, cycle_id: int | None = None) -> builtins.list[SharedComment]:
        """The "did you meet?" comments whose writers allowed the organisers to read them (of one cycle, or of
        all), oldest first; never a private one, never the writer's address."""
        ...

    def thanks_counts(self) -> builtins.list[ThanksCount]:
        """Per program that has any, how many thank-you notes its meetings produced and how many of them were
        shared with the recipient's manager, by program name. Counts only: never who, never any text."""
        ...


class LeaderSuggestionRepository(Protocol):
    """The leaders managers suggest their reports meet (a leader program)."""

    def all(self) -> dict[str, frozenset[str]]:
        """Every suggestion: report email → the leaders' emails."""
        ...

    def of_report(self, email: str) -> frozenset[str]:
        """The leaders suggested to ``email`` (empty: none)."""
        ...

    def set(self, report: str, leaders: frozenset[str], by: str, at: datetime) -> None:
        """Make ``leaders`` the suggestions of ``report`` by manager ``by``, replacing earlier ones;
        ``NotFoundError`` naming an unknown person."""
        ...


class ThanksRepository(Protocol):
    """Thank-you notes after meetings (``scheduler.planning.thanks``): who thanked whom, whether the recipient's
    manager was told, when. Never the text. The rows go with their meeting and with either person."""

    def add(self, thanks: Thanks) -> bool:
        """Store ``thanks``; False, and nothing changed, when its writer already thanked its recipient for its
        meeting."""
        ...

    def of_meeting(self, meeting_id: int) -> builtins.list[Thanks]:
        """The notes written after one meeting, oldest first."""
        ...

    def of_person(self, email: str) -> builtins.list[Thanks]:
        """The notes the person wrote or received, oldest first."""
        ...


class IntroductionRepository(Protocol):
    """Requests to a connector to introduce someone to a person on their wishlist: one per (asker, wished)."""

    def add(self, asker: str, wished: str, connector: str, now: datetime) -> Introduction | None:
        """Store a request ``asked`` at ``now``; None (and nothing written) when the asker already has one for
        ``wished``. ``NotFoundError`` when one of the three addresses is nobody's."""
        ...

    def get(self, introduction_id: int) -> Introduction | None:
        """The request with this id, or None."""
        ...

    def asked_pairs(self) -> set[tuple[str, str]]:
        """Every (asker, wished) that already has a request, in any state."""
        ...

    def set_state(self, introduction_id: int, state: str, now: datetime) -> None:
        """Record the answer ``state`` given at ``now``. ``NotFoundError`` for an unknown id."""
        ...

    def of_asker(self, email: str) -> builtins.list[Introduction]:
        """The requests made for ``email``'s wishes, newest first."""
        ...


class UnitOfWork(Protocol):
    """One database transaction with its repositories. Rolls back on exit unless ``commit`` was called."""

    people: PeopleRepository
    programs: ProgramRepository
    program_changes: ProgramChangeRepository
    program_choices: ProgramChoiceRepository
    cycles: CycleRepository
    history: HistoryRepository
    feedback: FeedbackRepository
    outbox: OutboxRepository
    accounts: AccountRepository
    reports: ReportRepository
    matches: MatchRepository
    engagement: EngagementRepository
    introductions: IntroductionRepository
    thanks: ThanksRepository
    leader_suggestions: LeaderSuggestionRepository

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None:
        """Make everything done in this unit permanent."""
        ...

    def rollback(self) -> None:
        """Discard everything done in this unit since the last commit."""
        ...


# What the services take to open a unit of work: called once per transaction, used as a context manager.
UowFactory = Callable[[], UnitOfWork]
