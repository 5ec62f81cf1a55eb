"""One cycle of a program: snapshot → availability → pairing → slots → planned effects.

``plan_cycle`` is pure apart from asking the calendar provider; ``save_plan`` writes the whole plan (cycle,
meetings, history, who was left out, and every email or provider event to perform as an outbox effect) in the
caller's unit of work, so a plan is either stored whole or not at all. ``plan_meeting_change`` plans what a
cancelled or rescheduled meeting needs. Delivery happens later, in ``scheduler.delivery.outbox``.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from scheduler.availability.calendars import fetch_busy_isolated
from scheduler.availability.slots import FreeTimeIndex, SlotRules, dinner_hours, lunch_hours
from scheduler.delivery import emails
from scheduler.model import (
    CADENCE_DAYS,
    Attendee,
    Busy,
    Cycle,
    CycleState,
    Effect,
    EmailMessage,
    Group,
    Interval,
    Meeting,
    OfficeRules,
    Person,
    Program,
    Unmatched,
    fill_video_link,
    merge_intervals,
)
from scheduler.pairing.engine import pair_people
from scheduler.pairing.leaders import leader_requests, pair_leaders, takes_part
from scheduler.pairing.rules import PairHistory, meeting_modes
from scheduler.pairing.score import unknown_levels
from scheduler.pairing.tuning import PairingTuning
from scheduler.planning.introduction_links import IntroductionLinks
from scheduler.planning.links import ANNOUNCEMENT_ACTIONS, FEEDBACK_ACTIONS, UNSCHEDULED_ACTIONS, MatchLinks
from scheduler.planning.silence import SilenceRules
from scheduler.planning.still_in_links import StillInLinks
from scheduler.ports import CalendarProvider, SiteUrls, UnitOfWork

Progress = Callable[[str, int, int], None]
# People per calendar request from the cycle: a multiple of Google's 50 and Graph's 20 calendars per call,
# so progress batches never split a provider's own batches.
AVAILABILITY_BATCH = 100
# Reminders go out this long before a meeting; a meeting planned closer than that gets none.
REMINDER_LEAD = timedelta(hours=24)
# "Did you meet?" goes out this long after a meeting's end: late enough for it to have happened.
FEEDBACK_DELAY = timedelta(hours=3)
EVENT_PAYLOAD_VERSION = 1
VIDEO_CALL = "Video call"
# Below this share of free working time, a person with no slot is treated as away rather than just busy.
OUT_OF_OFFICE_FREE_SHARE = 0.2


@dataclass(frozen=True)
class PlanSettings:
    """Organisation-wide settings of a plan: who the emails come from, where their links point, and each
    office's lunch hours and holidays.

    ``site`` gives the addresses of the web site's pages (``web.urls.WebUrls``, passed in by the caller: the
    core names no route). ``links`` signs the one-click answer links of the emails (accept / decline / another
    time, we met / we didn't meet). Without it (no secret key configured) emails link only to the plain match
    page, which needs a sign-in. ``silence`` says when people who stop answering are asked "still in?" and then
    paused (``scheduler.planning.nonresponders``); ``still_in_links`` signs that email's stay and pause links
    (without it, the email asks them to sign in).
    """

    organizer: Attendee
    sender: str
    site: SiteUrls
    offices: Mapping[str, OfficeRules] = field(default_factory=dict)
    links: MatchLinks | None = None
    silence: SilenceRules = field(default_factory=SilenceRules)
    still_in_links: StillInLinks | None = None
    # Signs the links of introduction emails (``scheduler.planning.introductions``); without it none is asked.
    introduction_links: IntroductionLinks | None = None

    def answer_links(self, meeting: Meeting, email: str, actions: Sequence[str], now: datetime) -> dict[str, str]:
        """``{action: signed URL}`` for ``email`` on ``meeting`` (empty without ``links``)."""
        if self.links is None:
            return {}
        return self.links.urls(self.site, meeting, email, actions, now)


@dataclass(frozen=True)
class CyclePlan:
    """Everything a cycle decided, before it is stored."""

    program: Program
    window: Interval
    seed: int
    planned_at: datetime
    people: Mapping[str, Person]
    meetings: tuple[Meeting, ...]
    unmatched: tuple[Unmatched, ...]
    ineligible: Mapping[str, str] = field(default_factory=dict)
    calendar_problems: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    # What steered the engine: with the seed, what replays the plan (kept in memory only: the cycles table has
    # no column for it).
    tuning: PairingTuning = field(default_factory=PairingTuning)


def next_window(program: Program, now: datetime) -> Interval:
    """The planning window of the next cycle: from the first Monday (00:00 UTC) after today, for
    ``program.window_days`` days. Running again on the same day gives the same window."""
    today = now.astimezone(UTC).date()
    monday = today + timedelta(days=7 - today.weekday())
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return Interval(start, start + timedelta(days=program.window_days))


def is_due(program: Program, latest: Cycle | None, now: datetime) -> bool:
    """Whether the program's cadence has come round: no cycle yet, or the next window is at least one cadence
    after the latest cycle's window."""
    if latest is None:
        return True
    return next_window(program, now).start - latest.window.start >= timedelta(days=CADENCE_DAYS[program.cadence])


def default_seed(program: Program, window: Interval) -> int:
    """A seed derived from the program and window, so a dry run shows exactly what the real run will do."""
    digest = hashlib.sha256(f"{program.name}|{window.start.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: fits a signed BIGINT column


def plan_cycle(
    program: Program,
    people: Sequence[Person],
    provider: CalendarProvider,
    *,
    now: datetime,
    window: Interval,
    history: PairHistory,
    seed: int,
    booked: Mapping[str, Sequence[Interval]] | None = None,
    offices: Mapping[str, OfficeRules] | None = None,
    progress: Progress | None = None,
    tuning: PairingTuning | None = None,
    choices: Mapping[str, bool] | None = None,
    suggestions: Mapping[str, frozenset[str]] | None = None,
) -> CyclePlan:
    """Decide one cycle: who is in, when each person is free, who meets whom, and when.

    ``booked`` holds meetings Coffee Chat already planned for people in this window (other programs), which
    count as busy even before they reach anyone's calendar. Tentative calendar events count as busy when
    ``program.tentative_busy`` says so, and as free time otherwise. ``tuning`` steers the pairing engine
    (default ``PairingTuning()``); the plan carries the tuning it was made with. ``choices`` holds who joined
    (True) or left (False) this program (``Person.ineligibility`` reads it with the program's audience).
    ``suggestions`` holds the leaders managers suggest to their reports (report → leader emails), which a
    ``leader`` program reads (``scheduler.pairing.leaders``).
    """
    ineligible: dict[str, str] = {}
    eligible: list[Person] = []
    for person in people:
        reason = person.ineligibility(program, window.start.date(), joined=(choices or {}).get(person.email))
        if reason is None:
            eligible.append(person)
        else:
            ineligible[person.email] = reason

    busy = _fetch_busy(provider, eligible, window, progress)
    index = FreeTimeIndex(window, SlotRules.for_program(program, now, offices))
    calendar_problems: dict[str, str] = {}
    skipped: list[Unmatched] = []
    available: list[Person] = []
    for person in eligible:
        answer = busy[person.email]  # the availability boundary answers for everyone asked
        if answer.error is not None:
            calendar_problems[person.email] = answer.error
        if program.tentative_busy and answer.tentative:
            answer = replace(answer, busy=merge_intervals((*answer.busy, *answer.tentative)))
        if booked and booked.get(person.email):
            answer = replace(answer, busy=merge_intervals((*answer.busy, *booked[person.email])))
        index.add(person, answer)
        if not index.has_any_slot(person.email):
            reason = _no_time_reason(person, answer, program, index.free_share(person.email), offices)
            skipped.append(Unmatched(person.email, reason))
        else:
            available.append(person)

    if program.kind == "leader":
        # Meet a leader: askers to leaders within capacities; only leaders and askers take part, so nobody else is
        # told they are left out.
        result = pair_leaders(available, program, history=history, today=now.date(), suggestions=suggestions,
                              free_time=index)
        skipped = [u for u in skipped if u.email in takes_part(eligible, suggestions)]
        # An asker whose leaders all have no time this cycle made no request the pairing could see: told too.
        told = {e for g in result.groups for e in g.members} | {u.email for u in (*result.unmatched, *skipped)}
        skipped += [Unmatched(email, "the leaders you asked to meet have no free time this cycle; you stay on the "
                                     "list for next month")
                    for email in sorted({r.asker for r in leader_requests(eligible, suggestions or {})} - told)]
    else:
        result = pair_people(available, program, history=history, today=now.date(), seed=seed, free_time=index,
                             tuning=tuning)
    by_email = {person.email: person for person in eligible}
    meetings = choose_slots(result.groups, by_email, index, program, favour=history.edge_of_day)
    notes = list(result.notes)
    unranked = unknown_levels(available, program.seniority_levels) if program.weights.seniority_mix else None
    if unranked:
        named = ", ".join(f"{level!r} ({count})" for level, count in sorted(unranked.items()))
        notes.append(f"the seniority mix leaves out {unranked.total()} people whose seniority is neither a number "
                     f"nor one of the program's seniority_levels: {named}")
    if calendar_problems:
        notes.append(f"{len(calendar_problems)} people planned on working hours alone: their calendar could "
                     "not be read")
    return CyclePlan(
        program=program,
        window=window,
        seed=seed,
        planned_at=now,
        people=by_email,
        meetings=meetings,
        unmatched=tuple(sorted((*result.unmatched, *skipped), key=lambda u: u.email)),
        ineligible=ineligible,
        calendar_problems=calendar_problems,
        notes=tuple(notes),
        tuning=result.tuning,
    )


def _fetch_busy(provider: CalendarProvider, people: Sequence[Person], window: Interval,
                progress: Progress | None) -> dict[str, Busy]:
    """Ask the provider in batches so a progress bar can move; the provider batches further per source. Each
    batch goes through the availability boundary, so no calendar can stop the cycle."""
    busy: dict[str, Busy] = {}
    for start in range(0, len(people), AVAILABILITY_BATCH):
        busy.update(fetch_busy_isolated(provider, people[start:start + AVAILABILITY_BATCH], window))
        if progress:
            progress("reading calendars", min(start + AVAILABILITY_BATCH, len(people)), len(people))
    return busy


def _no_time_reason(person: Person, busy: Busy, program: Program, free_share: float,
                    offices: Mapping[str, OfficeRules] | None) -> str:
    """Why someone has no room for a meeting this cycle, in their words."""
    lunch = lunch_hours(person, offices)
    hours = "lunch hours ({:%H:%M}–{:%H:%M})".format(*lunch) if program.kind == "lunch" else "working hours"
    if program.kind == "dinner":
        hours = "office's dinner hours ({:%H:%M}–{:%H:%M}) on your working days".format(*dinner_hours(person, offices))
    if not (busy.error is None and busy.known):
        return f"your {hours} leave no room for a meeting in this cycle's window; please check your profile"
    if free_share < OUT_OF_OFFICE_FREE_SHARE:
        return "your calendar shows you away or fully booked most of this cycle; you stay in for the next one"
    return (f"your calendar has no free {program.duration_minutes} minutes inside your {hours} this cycle; "
            "you stay in for the next one")


def choose_slots(groups: Sequence[Group], people: Mapping[str, Person], index: FreeTimeIndex,
                 program: Program, *, favour: frozenset[str] = frozenset()) -> tuple[Meeting, ...]:
    """A meeting for every group, with its slot (None when the group shares no free time) and place.

    The least flexible groups choose first, days fill evenly, the local time of people in ``favour`` counts
    more (they had the edge of the day last cycle), and each group's reasons gain the time it got.
    """
    by_flexibility = sorted(groups, key=lambda g: (index.common_hours(g.members), g.members))
    chosen: dict[tuple[str, ...], Interval | None] = {}
    day_load: Counter[str] = Counter()
    for group in by_flexibility:
        members = [people[email] for email in group.members]
        slot = index.choose_slot(members, day_load, favour)
        chosen[group.members] = slot
        if slot is not None:
            day_load[slot.start.date().isoformat()] += 1
    meetings = []
    for group in groups:
        members = [people[email] for email in group.members]
        slot = chosen[group.members]
        if slot is not None:
            group = replace(group, reasons=(*group.reasons, slot_reason(members, slot)))
        meetings.append(Meeting(group=group, slot=slot, location=_location(members, program)))
    return tuple(meetings)


def slot_reason(members: Sequence[Person], slot: Interval) -> str:
    """The chosen time as a reason, in each member's own time zone (once per zone, the day again only where it
    differs), as the match page and the invitation show it: "both free Tue 08 Dec 10:00 Europe/London,
    11:00 Europe/Berlin"."""
    who = "both free" if len(members) == 2 else "all free"
    times: list[str] = []
    first_day = None
    for person in {person.timezone: person for person in members}.values():
        local = slot.start.astimezone(person.zone)
        same_day = first_day == local.date()
        first_day = first_day or local.date()
        times.append(f"{local:%H:%M} {person.timezone}" if same_day else f"{local:%a %d %b %H:%M} {person.timezone}")
    return f"{who} {', '.join(times)}"


def _location(members: Sequence[Person], program: Program) -> str:
    if program.kind == "dinner":  # in person only: the program refuses any other mode, so all share an office
        return f"Dinner, {members[0].office} office" if members[0].office else "Dinner, in person"
    modes = meeting_modes(members, program)
    if "in_person" in modes and (program.meeting_mode == "in_person" or "virtual" not in modes
                                 or program.kind == "lunch"):
        return f"In person, {members[0].office} office" if members[0].office else "In person"
    return VIDEO_CALL


def meeting_location(members: Sequence[Person], program: Program) -> str:
    """Where ``members`` of ``program`` meet, as a cycle places a group: their office in person, else
    ``VIDEO_CALL`` (``video_links`` makes it a real link once the meeting is stored)."""
    return _location(members, program)


def video_links(meetings: Sequence[Meeting], program: Program) -> dict[int, str]:
    """The video link of each stored virtual meeting (``VIDEO_CALL``) by meeting id, from the program's
    ``video_link`` (a fixed room or a template filled in per meeting), when its invites go by email; empty
    without the setting. A provider sending the invites gives its own online meeting instead."""
    if not program.video_link or program.invites != "email":
        return {}
    return {meeting.id: fill_video_link(program.video_link, meeting.id) for meeting in meetings
            if meeting.id is not None and meeting.location == VIDEO_CALL}


def booked_intervals(uow: UnitOfWork, window: Interval) -> dict[str, list[Interval]]:
    """Slots of meetings already planned (by any program, not cancelled) that overlap ``window``, per member,
    wherever they were moved: a meeting moved into this window from an earlier cycle's counts too."""
    booked: dict[str, list[Interval]] = {}
    for meeting in uow.cycles.meetings_during(window):
        if meeting.slot is not None:
            for email in meeting.group.members:
                booked.setdefault(email, []).append(meeting.slot)
    return booked


def pairs_grouped_in_window(uow: UnitOfWork, window: Interval) -> frozenset[frozenset[str]]:
    """Pairs already grouped (by any program, in a meeting not cancelled) by a cycle whose window overlaps
    ``window``: a pair meets at most once per planning window, so a coffee and a lunch of the same two people in
    one week never happen (``Program.once_per_window``)."""
    pairs: set[frozenset[str]] = set()
    for meeting in _meetings_of_overlapping_cycles(uow, window):
        members = sorted(meeting.group.members)
        pairs.update(frozenset((a, b)) for i, a in enumerate(members) for b in members[i + 1:])
    return frozenset(pairs)


def _meetings_of_overlapping_cycles(uow: UnitOfWork, window: Interval) -> Iterator[Meeting]:
    """The meetings not cancelled of every stored cycle whose window overlaps ``window``."""
    for cycle in uow.cycles.list():
        if cycle.id is None or not cycle.window.overlaps(window):
            continue
        for meeting in uow.cycles.meetings(cycle.id):
            if meeting.state != "cancelled":
                yield meeting


def save_plan(uow: UnitOfWork, plan: CyclePlan, settings: PlanSettings) -> Cycle:
    """Store the plan: the cycle, its meetings, pairing history, who was left out, and one outbox effect per
    email. The caller commits. Effect keys are deterministic, so nothing is ever planned twice."""
    # Stamped with the plan's clock, not the database's: whether someone answered since is measured from it.
    cycle = uow.cycles.add(Cycle(program=plan.program.name, window=plan.window, seed=plan.seed,
                                 state=CycleState.PLANNED, created_at=plan.planned_at))
    cycle_id = _stored_id(cycle.id)
    meetings = uow.cycles.add_meetings(cycle_id, plan.meetings)
    links = video_links(meetings, plan.program)
    if links:  # a video link may name the meeting's UID, known only now that the meeting is stored
        uow.cycles.set_locations(links)
        meetings = [replace(m, location=links[m.id]) if m.id in links else m for m in meetings]
    uow.cycles.add_unmatched(cycle_id, plan.unmatched)
    uow.cycles.add_calendar_gaps(cycle_id, plan.calendar_problems)
    uow.history.record(cycle_id, plan.program.name, plan.window.start.date(), [m.group for m in meetings])
    effects = plan_effects(cycle, plan, meetings, settings)
    for effect in effects:
        uow.outbox.add(effect)
    if not effects:  # nothing to deliver: the relay, which closes the cycles it works on, will never see it
        uow.cycles.set_state(cycle_id, CycleState.DELIVERED)
        cycle = replace(cycle, state=CycleState.DELIVERED)
    return cycle


def _stored_id(value: int | None) -> int:
    if value is None:
        raise ValueError("the repository returned a cycle without an id")
    return value


def effect_key(cycle_id: int | None, meeting_id: int | None, generation: int, kind: str, person: str) -> str:
    """The idempotency key of a meeting's effect: ``cycle-C/meeting-M/seq-G/KIND/PERSON``.

    ``generation`` is the meeting's SEQUENCE when the effect was planned, so a reschedule or cancellation plans
    new keys rather than colliding with the earlier ones; ``meeting_key_prefix`` finds all of them.
    """
    return f"{generation_prefix(cycle_id, meeting_id, generation)}{kind}/{person}"


def generation_prefix(cycle_id: int | None, meeting_id: int | None, generation: int) -> str:
    """The start shared by the keys of one generation of a meeting's effects (``cycle-C/meeting-M/seq-G/``)."""
    return f"{meeting_key_prefix(cycle_id, meeting_id)}seq-{generation}/"


def meeting_key_prefix(cycle_id: int | None, meeting_id: int | None) -> str:
    """The start shared by the keys of every effect of one meeting, whatever its generation."""
    if cycle_id is None or meeting_id is None:
        raise ValueError("effects are planned only for stored meetings of stored cycles")
    return f"cycle-{cycle_id}/meeting-{meeting_id}/"


def plan_effects(cycle: Cycle, plan: CyclePlan, meetings: Sequence[Meeting],
                 settings: PlanSettings) -> list[Effect]:
    """Per member of each meeting: an announcement (with the iMIP invite when the program sends its own), a
    reminder the day before and a "did you meet?" request a few hours after the end (both held in the outbox
    until then, so `tick` sends them); one provider event per meeting when a provider sends the invitations;
    and one notice per person left out."""
    effects = []
    for meeting in meetings:
        members = [plan.people[email] for email in meeting.group.members]
        effects.extend(_meeting_effects(meeting, members, plan.program, settings, plan.planned_at,
                                        first="announce"))
    for left_out in plan.unmatched:
        key = unmatched_key(cycle.id, left_out.email)
        effects.append(unmatched_effect(key, cycle, plan.people[left_out.email], left_out.reason, plan.program,
                                        settings))
    return effects


def unmatched_key(cycle_id: int | None, email: str) -> str:
    """The key of the notice telling ``email`` they were left out of cycle ``cycle_id``."""
    return f"cycle-{cycle_id}/unmatched/{email}"


def unmatched_effect(key: str, cycle: Cycle, person: Person, reason: str, program: Program,
                     settings: PlanSettings) -> Effect:
    """The email telling ``person`` they were left out of ``cycle``, and why, as an outbox effect keyed ``key``."""
    message = emails.unmatched_notice(person, reason, program, sender=settings.sender, site=settings.site, key=key,
                                      window_start=cycle.window.start)
    return Effect(key=key, kind="email", payload=emails.email_to_payload(message), cycle_id=cycle.id)


def announcement_effects(meeting: Meeting, members: Sequence[Person], program: Program, settings: PlanSettings,
                         now: datetime) -> list[Effect]:
    """What a cycle plans for one meeting of its generation ``meeting.sequence``: an announcement per member,
    the reminder and the "did you meet?" request, and the provider event (as ``plan_effects`` does for each
    meeting of a plan). For a meeting whose group changed before anyone was told (``scheduler.admin``)."""
    return _meeting_effects(meeting, members, program, settings, now, first="announce")


def plan_meeting_change(meeting: Meeting, members: Sequence[Person], program: Program, settings: PlanSettings,
                        now: datetime, *, previous: Interval | None = None, reason: str = "",
                        next_steps: Mapping[str, str] | None = None) -> list[Effect]:
    """The effects of a changed meeting, of its new generation (``meeting.sequence``, already raised).

    A cancelled meeting (``state == "cancelled"``) gets a cancellation per member (with the ``METHOD:CANCEL``
    invite when the program sends its own, else one provider ``cancel`` event); ``next_steps`` (by email) tells
    a member what happens to them now instead of "we will pair you again in the next round". A rescheduled one
    gets a notice per member with the updated invite (or one provider ``update``), and a new reminder and
    feedback request; with a ``reason`` (its group changed, not its time) the notice says that instead of a new
    time. The caller supersedes the earlier generation's effects in the same transaction.
    """
    if meeting.state == "cancelled":
        effects = []
        attach = program.invites == "email"
        for recipient in members:
            key = effect_key(meeting.cycle_id, meeting.id, meeting.sequence, "cancel", recipient.email)
            message = emails.meeting_cancellation(
                meeting, members, recipient, program, settings.organizer, sender=settings.sender, stamp=now,
                site=settings.site, key=key, reason=reason, attach_invite=attach,
                next_step=(next_steps or {}).get(recipient.email, ""))
            effects.append(_email_effect(key, message, meeting))
        if not attach and meeting.slot is not None:
            effects.append(_event_effect(meeting, members, program, settings, now, "cancel"))
        return effects
    return _meeting_effects(meeting, members, program, settings, now, first="reschedule", previous=previous,
                            change=reason)


def _meeting_effects(meeting: Meeting, members: Sequence[Person], program: Program, settings: PlanSettings,
                     now: datetime, *, first: str, previous: Interval | None = None,
                     change: str = "") -> list[Effect]:
    """A generation's effects for a meeting that takes place: ``first`` (an announcement or a reschedule
    notice) per member, then the reminder and the feedback request when still ahead, and the provider event."""
    effects: list[Effect] = []
    attach = program.invites == "email"
    for recipient in members:
        key = effect_key(meeting.cycle_id, meeting.id, meeting.sequence, first, recipient.email)
        actions = settings.answer_links(
            meeting, recipient.email, ANNOUNCEMENT_ACTIONS if meeting.slot is not None else UNSCHEDULED_ACTIONS, now)
        if first == "announce":
            message = emails.match_announcement(
                meeting, members, recipient, program, settings.organizer, sender=settings.sender, stamp=now,
                site=settings.site, key=key, attach_invite=attach, actions=actions)
        else:
            message = emails.meeting_rescheduled(
                meeting, members, recipient, program, settings.organizer, sender=settings.sender, stamp=now,
                site=settings.site, key=key, previous=previous, attach_invite=attach, actions=actions,
                change=change)
        effects.append(_email_effect(key, message, meeting))
        if meeting.slot is None:
            continue
        remind_at = meeting.slot.start - REMINDER_LEAD
        if remind_at > now:
            key = effect_key(meeting.cycle_id, meeting.id, meeting.sequence, "remind", recipient.email)
            reminder = emails.meeting_reminder(meeting, members, recipient, program, sender=settings.sender,
                                               site=settings.site, key=key)
            # A reminder held up past the meeting's start (delivery stopped for a while) would say the meeting
            # "is coming up" after it began: it goes stale then.
            effects.append(_email_effect(key, reminder, meeting, at=remind_at, stale_at=meeting.slot.start))
        key = effect_key(meeting.cycle_id, meeting.id, meeting.sequence, "feedback", recipient.email)
        feedback = emails.feedback_request(
            meeting, members, recipient, program, sender=settings.sender, site=settings.site, key=key,
            actions=settings.answer_links(meeting, recipient.email, FEEDBACK_ACTIONS, now))
        effects.append(_email_effect(key, feedback, meeting, at=meeting.slot.end + FEEDBACK_DELAY))
    if not attach and meeting.slot is not None:
        effects.append(_event_effect(meeting, members, program, settings, now,
                                     "create" if first == "announce" else "update"))
    return effects


def _email_effect(key: str, message: EmailMessage, meeting: Meeting, at: datetime | None = None,
                  stale_at: datetime | None = None) -> Effect:
    return Effect(key=key, kind="email", payload=emails.email_to_payload(message), cycle_id=meeting.cycle_id,
                  next_attempt_at=at, stale_at=stale_at)


def _event_effect(meeting: Meeting, members: Sequence[Person], program: Program, settings: PlanSettings,
                  now: datetime, action: str) -> Effect:
    """One ``calendar_event`` effect: the provider creates, moves or cancels the meeting's event (and sends the
    invitations itself). Keyed by the organizer, the one "person" the provider call acts as."""
    invite = emails.build_invite(meeting, members, program, settings.organizer, stamp=now,
                                 match_url=emails.match_url(settings.site, meeting),
                                 method="CANCEL" if action == "cancel" else "REQUEST")
    payload: dict[str, object] = {
        "version": EVENT_PAYLOAD_VERSION,
        "provider": program.invites,
        "action": action,
        "online_meeting": meeting.location == VIDEO_CALL,
        "invite": emails.invite_to_payload(invite),
    }
    key = effect_key(meeting.cycle_id, meeting.id, meeting.sequence, "event", settings.organizer.email)
    return Effect(key=key, kind="calendar_event", payload=payload, cycle_id=meeting.cycle_id)
