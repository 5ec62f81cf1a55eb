"""The cycle pipeline and the delivery relay through the real storage (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

import pytest

from scheduler.admin.participants import import_people
from scheduler.delivery.outbox import RetryPolicy, deliver_due
from scheduler.errors import DeliveryError
from scheduler.model import Attendee, CycleState, Effect, Interval, Meeting, OfficeRules, Person, Program
from scheduler.periodic import tick
from scheduler.planning.cycle import PlanSettings, save_plan
from scheduler.planning.meetings import SlotConflict, reschedule_meeting
from scheduler.planning.run import run_cycle
from scheduler.ports import UnitOfWork
from tests.conftest import NEW_YORK
from tests.fakes import FakeCalendarProvider, FakeClock, FakeMailer
from web.urls import WebUrls

SETTINGS = PlanSettings(Attendee("coffee@example.com", "Coffee Chat"), "Coffee Chat <coffee@example.com>",
                        WebUrls("https://coffee.example.com"))
COFFEE = Program("coffee")
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base=timedelta(minutes=1), lease=timedelta(minutes=5))
NewUow = Callable[[], UnitOfWork]


def add_people(new_uow: NewUow, people: list[Person]) -> None:
    with new_uow() as uow:
        for person in people:
            uow.people.save(person)
        uow.commit()


def org(create_person: Callable[..., Person], size: int) -> list[Person]:
    departments = ["Sales", "Engineering", "Design"]
    return [create_person(team=f"team-{i % 4}", department=departments[i % 3]) for i in range(size)]


def recipient(effect: Effect) -> str:
    (address,) = effect.payload["to"]  # type: ignore[misc]
    return parseaddr(str(address))[1]


def deliver(new_uow: NewUow, mailer: FakeMailer, clock: FakeClock, policy: RetryPolicy = POLICY):
    def send(effect: Effect) -> None:
        from scheduler.delivery.emails import email_from_payload

        mailer.send(email_from_payload(effect.payload))

    return deliver_due(new_uow, {"email": send}, clock, policy)


def test_a_cycle_stores_meetings_history_and_one_email_per_person(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = org(create_person, 9)
    add_people(new_uow, people)
    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    assert outcome.cycle is not None
    assert outcome.plan is not None
    with new_uow() as uow:
        meetings = uow.cycles.meetings(outcome.cycle.id)  # type: ignore[arg-type]
        effects = uow.outbox.list(cycle_id=outcome.cycle.id)
        assert outcome.cycle.seed == outcome.plan.seed
    assert sorted(e for m in meetings for e in m.group.members) == sorted(p.email for p in people)
    assert all(m.slot is not None and MONDAY <= m.slot.start < MONDAY + timedelta(days=5) for m in meetings)
    announcements = [e for e in effects if "/announce/" in e.key]
    reminders = [e for e in effects if "/remind/" in e.key]
    assert sorted(recipient(e) for e in announcements) == sorted(p.email for p in people)
    assert sorted(recipient(e) for e in reminders) == sorted(p.email for p in people)
    slot_of = {email: m.slot for m in meetings for email in m.group.members}
    for reminder in reminders:
        assert reminder.next_attempt_at == slot_of[recipient(reminder)].start - timedelta(hours=24)  # type: ignore[union-attr]


def test_a_dry_run_stores_nothing_and_plans_what_the_real_run_does(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, org(create_person, 8))
    dry = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS, dry_run=True)
    with new_uow() as uow:
        assert uow.cycles.list() == []
        assert uow.outbox.list() == []
    real = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    assert dry.plan is not None
    assert real.plan is not None
    assert dry.plan.meetings == real.plan.meetings


def test_issue_15_an_empty_cycle_does_not_use_up_its_window(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    empty = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    assert empty.nobody_eligible
    assert empty.cycle is None
    with new_uow() as uow:
        assert uow.cycles.list() == []
        assert uow.outbox.list() == []
    people = org(create_person, 6)
    add_people(new_uow, people)  # imported after the empty run, before the window begins
    planned = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    assert not planned.nobody_eligible
    assert not planned.already_planned
    assert planned.cycle is not None
    with new_uow() as uow:
        meetings = uow.cycles.meetings(planned.cycle.id)  # type: ignore[arg-type]
    assert sorted(e for m in meetings for e in m.group.members) == sorted(p.email for p in people)


def test_a_cycle_where_everyone_is_left_out_is_stored_so_they_are_told_why(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, [create_person(team="Solo")])  # one person: nobody to meet, and told so
    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    assert not outcome.nobody_eligible
    assert outcome.cycle is not None
    assert outcome.plan is not None
    assert [u.email for u in outcome.plan.unmatched] != []


def test_the_same_window_is_never_planned_twice(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, org(create_person, 6))
    first = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    clock.advance(timedelta(hours=3))
    again = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    assert again.already_planned
    assert again.cycle == first.cycle
    with new_uow() as uow:
        assert len(uow.cycles.list()) == 1
        assert len([e for e in uow.outbox.list() if "/announce/" in e.key]) == 6


def test_busy_time_is_respected_and_broken_calendars_do_not_stop_the_cycle(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    ana = create_person(team="a", department="Sales")
    ben = create_person(team="b", department="Engineering", timezone=NEW_YORK, office="New York")
    cat = create_person(team="c")
    dan = create_person(team="d")
    add_people(new_uow, [ana, ben, cat, dan])
    # Ana is busy all week except Thursday afternoon (UTC); Dan's calendar cannot be read.
    busy = {ana.email: [Interval(MONDAY, MONDAY + timedelta(days=3, hours=14)),
                        Interval(MONDAY + timedelta(days=3, hours=17), MONDAY + timedelta(days=5))]}
    provider = FakeCalendarProvider(busy=busy, errors={dan.email: "calendars/dan.ics: not iCalendar"})
    outcome = run_cycle(new_uow, provider, clock, COFFEE, SETTINGS)
    assert outcome.plan is not None
    assert outcome.plan.calendar_problems == {dan.email: "calendars/dan.ics: not iCalendar"}
    ana_meeting = next(m for m in outcome.plan.meetings if ana.email in m.group.members)
    assert ana_meeting.slot is not None
    assert MONDAY + timedelta(days=3, hours=14, minutes=5) <= ana_meeting.slot.start
    assert ana_meeting.slot.end <= MONDAY + timedelta(days=3, hours=16, minutes=55)
    assert any(dan.email in m.group.members for m in outcome.plan.meetings)
    assert outcome.cycle is not None
    assert outcome.cycle.id is not None
    with new_uow() as uow:  # the cycle keeps who had no calendar data, for the admin
        assert uow.cycles.calendar_gaps(outcome.cycle.id) == {dan.email: "calendars/dan.ics: not iCalendar"}


def test_someone_out_of_office_all_week_skips_the_cycle_and_is_told_why(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = org(create_person, 5)
    away = people[0]
    add_people(new_uow, people)
    provider = FakeCalendarProvider(busy={away.email: [Interval(MONDAY, MONDAY + timedelta(days=5))]})
    outcome = run_cycle(new_uow, provider, clock, COFFEE, SETTINGS)
    assert outcome.plan is not None
    assert [u.email for u in outcome.plan.unmatched] == [away.email]
    assert "away or fully booked" in outcome.plan.unmatched[0].reason
    with new_uow() as uow:
        notice = uow.outbox.list()[-1]
        assert uow.cycles.unmatched(outcome.cycle.id) == list(outcome.plan.unmatched)  # type: ignore[arg-type]
    assert recipient(notice) == away.email
    assert "away or fully booked" in str(notice.payload["text"])


def test_ineligible_people_are_left_out_without_an_email(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = [*org(create_person, 4), create_person(opted_out=True),
              create_person(kinds=frozenset({"lunch"})), create_person(verified_at=None)]
    add_people(new_uow, people)
    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    assert outcome.plan is not None
    assert sorted(outcome.plan.ineligible.values()) == [
        "does not take part in coffee meetings", "email address not yet confirmed", "opted out"]
    with new_uow() as uow:
        assert sorted({recipient(e) for e in uow.outbox.list()}) == sorted(p.email for p in people[:4])


def test_next_cycles_respect_the_cooldown(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, org(create_person, 8))
    seen: set[frozenset[str]] = set()
    for _week in range(3):
        outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
        assert outcome.plan is not None
        pairs = {frozenset(m.group.members) for m in outcome.plan.meetings}
        assert not pairs & seen
        seen |= pairs
        clock.advance(timedelta(days=7))


def test_meetings_booked_by_another_program_are_busy_time(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = org(create_person, 4)
    add_people(new_uow, people)
    coffee = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    lunch = run_cycle(new_uow, FakeCalendarProvider(), clock,
                      Program("lunch", kind="lunch", duration_minutes=60), SETTINGS)
    assert coffee.plan is not None
    assert lunch.plan is not None
    slots: dict[str, list[Interval]] = {}
    for meeting in (*coffee.plan.meetings, *lunch.plan.meetings):
        assert meeting.slot is not None
        for email in meeting.group.members:
            slots.setdefault(email, []).append(meeting.slot)
    for own in slots.values():
        first, second = own
        assert not Interval(first.start - timedelta(minutes=5), first.end + timedelta(minutes=5)).overlaps(second)


def tentative_week(ana: Person, tentative: Interval) -> FakeCalendarProvider:
    """Ana busy all week except Thursday 09:00-17:00 UTC (London working hours in November), and ``tentative``
    in that gap; everyone else free."""
    thursday = MONDAY + timedelta(days=3)
    busy = [Interval(MONDAY, thursday + timedelta(hours=9)), Interval(thursday + timedelta(hours=17),
                                                                        MONDAY + timedelta(days=5))]
    return FakeCalendarProvider(busy={ana.email: busy}, tentative={ana.email: [tentative]})


def test_a_program_that_counts_tentative_as_free_books_over_a_tentative_event(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    ana, ben = create_person(team="a"), create_person(team="b")
    add_people(new_uow, [ana, ben])
    thursday = MONDAY + timedelta(days=3)
    tentative = Interval(thursday + timedelta(hours=9), thursday + timedelta(hours=17))  # all of Ana's free time

    outcome = run_cycle(new_uow, tentative_week(ana, tentative), clock, Program("coffee", tentative_busy=False),
                        SETTINGS)

    assert outcome.plan is not None
    (meeting,) = outcome.plan.meetings
    assert meeting.slot is not None
    assert meeting.slot.overlaps(tentative)
    assert outcome.plan.unmatched == ()


def test_a_program_that_counts_tentative_as_busy_books_around_a_tentative_event(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    ana, ben = create_person(team="a"), create_person(team="b")
    add_people(new_uow, [ana, ben])
    thursday = MONDAY + timedelta(days=3)
    tentative = Interval(thursday + timedelta(hours=9), thursday + timedelta(hours=16))

    outcome = run_cycle(new_uow, tentative_week(ana, tentative), clock, Program("coffee", tentative_busy=True),
                        SETTINGS)

    assert outcome.plan is not None
    (meeting,) = outcome.plan.meetings
    assert meeting.slot is not None
    assert not meeting.slot.overlaps(tentative)
    # The only time left: after the tentative event and its 5-minute buffer, before the end of the day.
    assert thursday + timedelta(hours=16, minutes=5) <= meeting.slot.start
    assert meeting.slot.end <= thursday + timedelta(hours=16, minutes=55)


def test_a_program_that_counts_tentative_as_busy_skips_someone_tentative_all_week(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    ana, ben, cat = create_person(team="a"), create_person(team="b"), create_person(team="c")
    add_people(new_uow, [ana, ben, cat])
    thursday = MONDAY + timedelta(days=3)
    tentative = Interval(thursday + timedelta(hours=9), thursday + timedelta(hours=17))

    outcome = run_cycle(new_uow, tentative_week(ana, tentative), clock, COFFEE, SETTINGS)  # the default: True

    assert outcome.plan is not None
    assert [u.email for u in outcome.plan.unmatched] == [ana.email]
    assert all(ana.email not in m.group.members for m in outcome.plan.meetings)


def test_delivery_sends_each_email_once_and_closes_the_cycle(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, org(create_person, 6))
    outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    mailer = FakeMailer()
    report = deliver(new_uow, mailer, clock)
    assert (report.done, report.retried, report.dead) == (6, 0, 0)
    assert len({m.message_id for m in mailer.sent}) == 6
    assert all(m.invite is not None and m.invite.method == "REQUEST" for m in mailer.sent)
    assert deliver(new_uow, mailer, clock).attempted == 0
    assert len(mailer.sent) == 6
    with new_uow() as uow:
        assert uow.cycles.get(outcome.cycle.id).state == CycleState.PLANNED  # type: ignore[arg-type, union-attr]
    # The reminders wait in the outbox until the day before each meeting, the "did you meet?" requests until
    # a few hours after it; then each goes out once (the relay runs every hour through the week).
    sent = 0
    while clock.current < MONDAY + timedelta(days=5):
        clock.advance(timedelta(hours=1))
        sent += deliver(new_uow, mailer, clock).done
    assert sent == 12
    assert deliver(new_uow, mailer, clock).attempted == 0
    kinds = Counter(m.subject.split(" ")[0] for m in mailer.sent)
    assert (kinds["Reminder:"], kinds["Did"], len(mailer.sent)) == (6, 6, 18)
    with new_uow() as uow:
        assert uow.cycles.get(outcome.cycle.id).state == CycleState.DELIVERED  # type: ignore[arg-type, union-attr]


def test_transient_failures_wait_on_the_ladder_then_succeed(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, org(create_person, 2))
    run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    mailer = FakeMailer()
    mailer.fail_with = DeliveryError("451 try later", transient=True, retry_after=120)
    assert deliver(new_uow, mailer, clock).retried == 2
    mailer.fail_with = None
    clock.advance(timedelta(seconds=119))
    assert deliver(new_uow, mailer, clock).attempted == 0  # Retry-After (120 s) beats the 60 s ladder
    clock.advance(timedelta(seconds=1))
    assert deliver(new_uow, mailer, clock).done == 2
    assert len(mailer.sent) == 2


def test_permanent_failures_and_exhausted_retries_become_dead_letters(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, org(create_person, 2))
    run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    mailer = FakeMailer()
    mailer.fail_with = DeliveryError("550 no such user", transient=True)
    for _attempt in range(POLICY.max_attempts):
        deliver(new_uow, mailer, clock)
        clock.advance(timedelta(hours=1))
    with new_uow() as uow:
        dead = uow.outbox.list(state="dead")
    assert len(dead) == 2
    assert all("gave up after 3 attempts" in e.last_error for e in dead)
    assert mailer.sent == []


def test_an_effect_claimed_by_a_crashed_relay_is_taken_over_after_its_lease(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, org(create_person, 2))
    run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    with new_uow() as uow:
        key = uow.outbox.list()[0].key
        assert uow.outbox.claim(key, clock.now(), POLICY.lease)  # a relay claims it, then dies
        uow.commit()
    mailer = FakeMailer()
    assert deliver(new_uow, mailer, clock).done == 1
    clock.advance(POLICY.lease + timedelta(seconds=1))
    assert deliver(new_uow, mailer, clock).done == 1
    assert len(mailer.sent) == 2


def test_an_unknown_effect_kind_is_parked_not_dropped(new_uow: NewUow, clock: FakeClock) -> None:
    with new_uow() as uow:
        uow.outbox.add(Effect(key="x", kind="carrier-pigeon", payload={}))
        uow.commit()
    report = deliver_due(new_uow, {}, clock, POLICY)
    assert report.dead == 1
    with new_uow() as uow:
        assert "carrier-pigeon" in uow.outbox.list(state="dead")[0].last_error


@pytest.mark.parametrize(("cadence", "weeks_until_next"), [("weekly", 1), ("fortnightly", 2), ("monthly", 4)])
def test_tick_plans_each_program_when_its_cadence_comes_round(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock, cadence: str,
        weeks_until_next: int) -> None:
    add_people(new_uow, org(create_person, 4))
    program = Program("coffee", cadence=cadence, cooldown_cycles=0)
    mailer = FakeMailer()

    def run() -> int:
        from scheduler.delivery.emails import email_from_payload

        report = tick(new_uow, FakeCalendarProvider(), clock, [program], SETTINGS,
                      {"email": lambda e: mailer.send(email_from_payload(e.payload))}, POLICY)
        return sum(1 for c in report.cycles if not c.already_planned)

    planned = [run()]
    for _week in range(weeks_until_next):
        this_week = 0
        for _day in range(7):  # tick every day, so each reminder goes out in the day before its meeting
            clock.advance(timedelta(days=1))
            this_week += run()
        planned.append(this_week)
    assert planned == [1] + [0] * (weeks_until_next - 1) + [1]
    # Two cycles' announcements; the first cycle's reminders and feedback requests, and whatever of the
    # second cycle's has come due; every reminder before its meeting, none too late.
    subjects = [m.subject for m in mailer.sent]
    assert sum(not s.startswith(("Reminder", "Did you meet")) for s in subjects) == 8
    with new_uow() as uow:
        first, _second = sorted(c.id for c in uow.cycles.list())  # type: ignore[type-var]
        effects = uow.outbox.list()
    for kind, subject in (("/remind/", "Reminder"), ("/feedback/", "Did you meet")):
        of_kind = [e for e in effects if kind in e.key]
        assert [e.state for e in of_kind if e.cycle_id == first] == ["done"] * 4
        assert "superseded" not in {e.state for e in of_kind}
        assert sum(s.startswith(subject) for s in subjects) == sum(e.state == "done" for e in of_kind)


def test_issue_15_a_reminder_that_comes_due_after_its_meeting_began_is_not_sent(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    add_people(new_uow, org(create_person, 4))
    run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS)
    mailer = FakeMailer()
    assert deliver(new_uow, mailer, clock).done == 4  # the announcements
    # Delivery stops until the week is over: the reminders are then pointless, the feedback requests not.
    clock.current = MONDAY + timedelta(days=6)
    report = deliver(new_uow, mailer, clock)
    assert (report.done, report.stale) == (4, 4)
    assert [m.subject for m in mailer.sent if m.subject.startswith("Reminder")] == []
    with new_uow() as uow:
        stale = [e for e in uow.outbox.list() if "/remind/" in e.key]
    assert {e.state for e in stale} == {"superseded"}
    assert all("too late to be sent" in e.last_error for e in stale)
    assert deliver(new_uow, mailer, clock).attempted == 0  # superseded for good


def test_reimport_updates_by_email_and_keeps_the_confirmation_time(new_uow: NewUow, clock: FakeClock) -> None:
    csv = "email,name,team\nAna@Example.com,Ana,Payments\n"
    first = import_people(new_uow, csv, source="people.csv", clock=clock)
    clock.advance(timedelta(days=1))
    second = import_people(new_uow, csv.replace("Payments", "Platform"), source="people.csv", clock=clock)
    assert (first.created, second.created, second.updated) == (1, 0, 1)
    with new_uow() as uow:
        (ana,) = uow.people.list()
    assert (ana.email, ana.team) == ("ana@example.com", "Platform")
    assert ana.verified_at == clock.now() - timedelta(days=1)


def test_a_cycle_with_nothing_to_send_is_closed_at_once(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    # run_cycle stores no such plan (see the issue 15 test above); save_plan is what closes one it is given.
    add_people(new_uow, [create_person(opted_out=True)])
    dry = run_cycle(new_uow, FakeCalendarProvider(), clock, COFFEE, SETTINGS, dry_run=True)
    assert dry.plan is not None
    with new_uow() as uow:
        uow.programs.save(COFFEE)
        cycle = save_plan(uow, dry.plan, SETTINGS)
        uow.commit()
    with new_uow() as uow:
        assert uow.outbox.list() == []
        assert uow.cycles.get(cycle.id).state == CycleState.DELIVERED  # type: ignore[arg-type, union-attr]


def test_tick_forgets_expired_sessions_and_keeps_live_ones(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    from scheduler.model import SessionRecord

    ana = create_person()
    add_people(new_uow, [ana])
    now = clock.now()
    with new_uow() as uow:
        for name, expires in (("old", now - timedelta(minutes=1)), ("live", now + timedelta(days=1))):
            uow.accounts.add_session(SessionRecord(token_hash=name * 8, email=ana.email, created_at=now,
                                                   last_seen_at=now, expires_at=expires))
        uow.commit()
    report = tick(new_uow, FakeCalendarProvider(), clock, [], SETTINGS, {}, POLICY)
    assert report.purged == 1
    with new_uow() as uow:
        assert uow.accounts.find_session("old" * 8) is None
        assert uow.accounts.find_session("live" * 8) is not None


# --- issue 13: a reschedule checks every member's calendar and working hours ---------------------------------

WEDNESDAY = MONDAY + timedelta(days=2)  # London is on UTC, New York five hours behind: both work 14:00-17:00 UTC


def planned_pair(new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock,
                 *programs: Program) -> tuple[Meeting, ...]:
    """Ana (London) and Bob (New York office) planned together by ``programs`` (default: coffee), free
    calendars; the stored meetings, one per program. Their own lunch hours share 14:00-16:00 UTC."""
    add_people(new_uow, [create_person(email="ana@example.com", team="a", lunch=(time(13), time(16))),
                         create_person(email="bob@example.com", team="b", timezone=NEW_YORK, office="New York",
                                       lunch=(time(9), time(12)))])
    meetings = []
    for program in programs or (COFFEE,):
        outcome = run_cycle(new_uow, FakeCalendarProvider(), clock, program, SETTINGS)
        assert outcome.cycle is not None
        with new_uow() as uow:
            (meeting,) = uow.cycles.meetings(outcome.cycle.id)  # type: ignore[arg-type]
        meetings.append(meeting)
    return tuple(meetings)


def half_hour(start: datetime) -> Interval:
    return Interval(start, start + timedelta(minutes=30))


def stored(new_uow: NewUow, meeting: Meeting) -> tuple[Meeting | None, int]:
    """The meeting as stored now, and how many outbox effects there are."""
    with new_uow() as uow:
        return uow.cycles.meeting(meeting.id), len(uow.outbox.list())  # type: ignore[arg-type]


def test_issue_13_reschedule_refuses_a_time_a_member_is_busy_in_their_calendar(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    (meeting,) = planned_pair(new_uow, create_person, clock)
    before = stored(new_uow, meeting)
    provider = FakeCalendarProvider(
        busy={"ana@example.com": [Interval(WEDNESDAY + timedelta(hours=14, minutes=45),
                                           WEDNESDAY + timedelta(hours=15, minutes=15))]},
        tentative={"bob@example.com": [half_hour(WEDNESDAY + timedelta(hours=15, minutes=15))]})

    with pytest.raises(SlotConflict) as caught:
        reschedule_meeting(new_uow, clock, SETTINGS, meeting.id,  # type: ignore[arg-type]
                           half_hour(WEDNESDAY + timedelta(hours=15)), provider=provider)

    assert caught.value.exit_code == 2
    assert caught.value.conflicts == (
        "ana@example.com is busy 14:45–15:15 Europe/London in their calendar",
        "bob@example.com is tentatively busy 10:15–10:45 America/New_York in their calendar",
    )
    assert str(caught.value) == ("meeting 1 cannot move to Wed 2026-11-25 15:00 UTC: "
                                 + "; ".join(caught.value.conflicts))
    assert stored(new_uow, meeting) == before  # nothing moved, nothing planned


def test_issue_13_reschedule_refuses_a_time_outside_a_members_working_hours(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    (meeting,) = planned_pair(new_uow, create_person, clock)

    with pytest.raises(SlotConflict) as caught:  # 13:00 UTC is 08:00 in New York
        reschedule_meeting(new_uow, clock, SETTINGS, meeting.id,  # type: ignore[arg-type]
                           half_hour(WEDNESDAY + timedelta(hours=13)), provider=FakeCalendarProvider())

    assert caught.value.conflicts == ("outside bob@example.com's working hours (09:00–17:00 America/New_York)",)


def test_issue_13_reschedule_refuses_a_public_holiday_of_a_members_office(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    (meeting,) = planned_pair(new_uow, create_person, clock)
    settings = replace(SETTINGS, offices={"London": OfficeRules(country="GB", subdivision="ENG")})

    with pytest.raises(SlotConflict) as caught:
        reschedule_meeting(new_uow, clock, settings, meeting.id,  # type: ignore[arg-type]
                           half_hour(datetime(2026, 12, 25, 15, tzinfo=UTC)), provider=FakeCalendarProvider())

    assert caught.value.conflicts == (
        "Fri 2026-12-25 is a public holiday (Christmas Day, GB-ENG) at ana@example.com's office, London",)


def test_issue_13_reschedule_counts_other_coffee_chat_meetings_as_busy(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    # The lunch program opts out of "once per window", so the same two people have both meetings this week.
    coffee, lunch = planned_pair(new_uow, create_person, clock, COFFEE,
                                 Program("lunch", kind="lunch", duration_minutes=60, meeting_mode="virtual",
                                         once_per_window=False))
    assert lunch.slot is not None

    with pytest.raises(SlotConflict) as caught:
        reschedule_meeting(new_uow, clock, SETTINGS, coffee.id,  # type: ignore[arg-type]
                           half_hour(lunch.slot.start), provider=FakeCalendarProvider(), force=False)

    local = lunch.slot.start.astimezone(ZoneInfo(NEW_YORK))
    assert (f"bob@example.com has another Coffee Chat meeting {local:%H:%M}–{local + timedelta(hours=1):%H:%M} "
            "America/New_York") in caught.value.conflicts


def test_issue_13_reschedule_next_to_its_own_old_time_is_no_clash(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    (meeting,) = planned_pair(new_uow, create_person, clock)
    assert meeting.slot is not None
    later = half_hour(meeting.slot.start + timedelta(minutes=15))  # overlaps the time it leaves

    change = reschedule_meeting(new_uow, clock, SETTINGS, meeting.id, later,  # type: ignore[arg-type]
                                provider=FakeCalendarProvider())

    assert (change.meeting.slot, change.meeting.sequence) == (later, 1)
    assert (change.warnings, change.overridden) == ((), ())


def test_issue_13_reschedule_with_force_moves_despite_the_conflicts_and_says_which(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    (meeting,) = planned_pair(new_uow, create_person, clock)
    early = half_hour(WEDNESDAY + timedelta(hours=13))

    change = reschedule_meeting(new_uow, clock, SETTINGS, meeting.id, early,  # type: ignore[arg-type]
                                provider=FakeCalendarProvider(), force=True)

    assert change.overridden == ("outside bob@example.com's working hours (09:00–17:00 America/New_York)",)
    moved, _ = stored(new_uow, meeting)
    assert moved is not None
    assert (moved.slot, moved.sequence) == (early, 1)
    assert change.planned  # the updated invites


def test_issue_13_reschedule_names_a_calendar_it_cannot_read_as_a_warning_not_a_conflict(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    (meeting,) = planned_pair(new_uow, create_person, clock)
    provider = FakeCalendarProvider(errors={"bob@example.com": "calendars/bob.ics: not iCalendar"})
    slot = half_hour(WEDNESDAY + timedelta(hours=15))

    change = reschedule_meeting(new_uow, clock, SETTINGS, meeting.id, slot, provider=provider)  # type: ignore[arg-type]

    assert change.meeting.slot == slot
    assert change.warnings == ("bob@example.com's calendar could not be read (calendars/bob.ics: not iCalendar): "
                               "their busy time is not checked",)
    assert change.overridden == ()
