"""Issue 15, part 3: self-healing cycles. A decline that calls a pair off re-pairs the partner left alone within
the cycle (with someone left out, or another decline's partner), in one transaction of outbox effects like a
plan; nobody free gives the plain cancellation; the hard rules hold; a broken calendar keeps only its owner out;
a trio that loses one goes on as a pair; an undo is refused once the partner is re-paired. Through the services
and the real storage, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from email.utils import parseaddr

import pytest

from scheduler.admin.cycle_changes import REMOVED
from scheduler.errors import InputError
from scheduler.model import Cycle, Effect, Interval, Meeting, Person, Program, Unmatched
from scheduler.planning.cycle import VIDEO_CALL
from scheduler.planning.matches import respond, undo_decline
from scheduler.planning.repair import NOBODY_FREE_STEP, ORGANISER_REMOVED
from tests.fakes import FakeCalendarProvider, FakeClock
from tests.integration.stored_cycles import SETTINGS, WINDOW, NewUow, eight_people, slot
from tests.integration.stored_cycles import store_cycle as store_cycle_as_laid_out

COFFEE = Program("coffee", video_link="https://meet.example.org/coffee-{uid}")


def store_cycle(new_uow: NewUow, people: dict[str, Person], groups: list[tuple[str, ...]], left_out: list[str],
                clock: FakeClock, program: Program = COFFEE, window: Interval = WINDOW) -> Cycle:
    """A cycle with exactly these groups and these people left out (``stored_cycles.store_cycle``)."""
    return store_cycle_as_laid_out(new_uow, people, groups, left_out, clock, program=program, window=window,
                                   slot_of=lambda n: slot(1, 9 + n), location=VIDEO_CALL)


@pytest.fixture
def cast(create_person: Callable[..., Person]) -> dict[str, Person]:
    """Eight people in eight teams: a, b, c, d, e, f, g, h."""
    return eight_people(create_person)


def meetings(new_uow: NewUow, cycle: Cycle) -> list[Meeting]:
    assert cycle.id is not None
    with new_uow() as uow:
        return uow.cycles.meetings(cycle.id)


def meeting_of(new_uow: NewUow, cycle: Cycle, *emails: str) -> Meeting:
    return next(m for m in meetings(new_uow, cycle) if set(m.group.members) == set(emails))


def mid(meeting: Meeting) -> int:
    assert meeting.id is not None
    return meeting.id


def history(new_uow: NewUow, cycle: Cycle) -> set[frozenset[str]]:
    with new_uow() as uow:
        return {frozenset((p.person_a, p.person_b)) for p in uow.reports.pairs() if p.cycle_id == cycle.id}


def pending(new_uow: NewUow, cycle: Cycle) -> list[Effect]:
    with new_uow() as uow:
        return uow.outbox.list(cycle_id=cycle.id, state="pending")


def to(effect: Effect) -> str:
    (address,) = effect.payload["to"]  # type: ignore[misc]
    return parseaddr(str(address))[1]


def text_of(effect: Effect) -> str:
    return str(effect.payload["text"])


def unmatched(new_uow: NewUow, cycle: Cycle) -> dict[str, str]:
    assert cycle.id is not None
    with new_uow() as uow:
        return {u.email: u.reason for u in uow.cycles.unmatched(cycle.id)}


def test_issue_15_a_decline_re_pairs_the_partner_with_someone_left_out_in_one_plan(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> None:
    cycle = store_cycle(new_uow, cast, [("a", "b"), ("c", "d")], ["e"], clock)
    old = meeting_of(new_uow, cycle, "a@example.com", "b@example.com")
    assert "e@example.com" in unmatched(new_uow, cycle)

    answer = respond(new_uow, clock, SETTINGS, mid(old), "b@example.com", "declined",
                     provider=FakeCalendarProvider())

    assert answer.called_off
    assert answer.repaired is not None
    new = meeting_of(new_uow, cycle, "a@example.com", "e@example.com")
    assert new.id == answer.repaired.id
    assert new.cycle_id == cycle.id
    # Ana's old time suits Enne: they meet then, and the reason says so in words both understand.
    assert new.slot == old.slot
    assert new.group.reasons[0] == "Anne's partner could not make it; Enne is free at the same time"
    assert new.location == f"https://meet.example.org/coffee-coffeechat-meeting-{new.id}"
    assert meeting_of(new_uow, cycle, "a@example.com", "b@example.com").state == "cancelled"
    assert frozenset(("a@example.com", "e@example.com")) in history(new_uow, cycle)
    assert "e@example.com" not in unmatched(new_uow, cycle)
    effects = pending(new_uow, cycle)
    # Enne's "left out" notice is superseded: she is placed now.
    assert not [e for e in effects if "/unmatched/e@example.com" in e.key]
    announced = {to(e) for e in effects if f"meeting-{new.id}/seq-0/announce/" in e.key}
    assert announced == {"a@example.com", "e@example.com"}
    assert {to(e) for e in effects if f"meeting-{new.id}/seq-0/remind/" in e.key} == announced
    cancellation = next(e for e in effects if f"meeting-{old.id}/" in e.key and "/cancel/a@example.com" in e.key)
    assert "We have paired you with Enne instead: Enne is free at the same time." in text_of(cancellation)
    assert "next round" not in text_of(cancellation)
    assert "Why: Bnne cannot make it" in text_of(cancellation)


def test_issue_15_an_undo_is_refused_once_the_partner_is_re_paired(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> None:
    cycle = store_cycle(new_uow, cast, [("a", "b")], ["e"], clock)
    old = meeting_of(new_uow, cycle, "a@example.com", "b@example.com")
    respond(new_uow, clock, SETTINGS, mid(old), "b@example.com", "declined", provider=FakeCalendarProvider())

    with pytest.raises(InputError, match="your partner has been paired with someone else"):
        undo_decline(new_uow, clock, mid(old), "b@example.com")

    assert meeting_of(new_uow, cycle, "a@example.com", "b@example.com").state == "cancelled"
    assert meeting_of(new_uow, cycle, "a@example.com", "e@example.com").state == "proposed"


def test_issue_15_two_declines_partners_are_re_paired_together_and_nobody_free_is_said_plainly(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> None:
    cycle = store_cycle(new_uow, cast, [("a", "b"), ("c", "d")], [], clock)
    first = meeting_of(new_uow, cycle, "a@example.com", "b@example.com")
    second = meeting_of(new_uow, cycle, "c@example.com", "d@example.com")

    alone = respond(new_uow, clock, SETTINGS, mid(first), "b@example.com", "declined",
                    provider=FakeCalendarProvider())

    # Nobody else is free (Cnne and Dnne meet): Anne's plain cancellation says so, and the decline can be undone.
    assert (alone.called_off, alone.repaired, alone.nobody_free) == (True, None, True)
    to_ana = next(e for e in pending(new_uow, cycle) if e.key.endswith("/cancel/a@example.com"))
    assert NOBODY_FREE_STEP in text_of(to_ana)
    assert len(meetings(new_uow, cycle)) == 2

    healed = respond(new_uow, clock, SETTINGS, mid(second), "d@example.com", "declined",
                     provider=FakeCalendarProvider())

    assert healed.repaired is not None
    new = meeting_of(new_uow, cycle, "a@example.com", "c@example.com")
    assert new.slot == second.slot  # Cnne's time, which Anne has free now
    assert new.group.reasons[0].startswith("Cnne's and Anne's partners could not make it")
    assert frozenset(("a@example.com", "c@example.com")) in history(new_uow, cycle)
    assert {to(e) for e in pending(new_uow, cycle) if f"meeting-{new.id}/seq-0/announce/" in e.key} == {
        "a@example.com", "c@example.com"}
    # Bnne's decline is refused an undo now that Anne is paired again.
    with pytest.raises(InputError, match="paired with someone else"):
        undo_decline(new_uow, clock, mid(first), "b@example.com")


@pytest.mark.parametrize("rule", ["blocked", "same team", "apart"])
def test_issue_15_a_re_pair_respects_the_hard_rules(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock, rule: str) -> None:
    people = dict(cast)
    if rule == "blocked":
        people["e"] = replace(cast["e"], blocked=frozenset({"a@example.com"}))
    elif rule == "same team":
        people["e"] = replace(cast["e"], team="team-a")
    cycle = store_cycle(new_uow, people, [("a", "b")], ["e"], clock)
    if rule == "apart":  # Anne and Enne already have lunch this week, in another program
        store_cycle(new_uow, people, [("a", "e")], [], clock, program=Program("lunch", kind="lunch"))
    old = meeting_of(new_uow, cycle, "a@example.com", "b@example.com")

    answer = respond(new_uow, clock, SETTINGS, mid(old), "b@example.com", "declined",
                     provider=FakeCalendarProvider())

    assert (answer.called_off, answer.repaired, answer.nobody_free) == (True, None, True)
    assert [m.state for m in meetings(new_uow, cycle)] == ["cancelled"]
    assert "e@example.com" in unmatched(new_uow, cycle)


def test_issue_15_a_broken_calendar_keeps_only_its_owner_out_of_the_re_pair(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    cycle = store_cycle(new_uow, cast, [("a", "b")], ["e", "f"], clock)
    old = meeting_of(new_uow, cycle, "a@example.com", "b@example.com")
    broken = FakeCalendarProvider(raises={"e@example.com": RuntimeError("the parser tripped")})

    with caplog.at_level(logging.ERROR):
        answer = respond(new_uow, clock, SETTINGS, mid(old), "b@example.com", "declined", provider=broken)

    assert answer.repaired is not None
    assert set(answer.repaired.group.members) == {"a@example.com", "f@example.com"}
    assert "e@example.com" in unmatched(new_uow, cycle)
    assert sum("e@example.com" in record.getMessage() for record in caplog.records) == 1


def test_issue_15_the_orphans_own_broken_calendar_skips_the_re_pair_and_the_decline_stands(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    cycle = store_cycle(new_uow, cast, [("a", "b")], ["e"], clock)
    old = meeting_of(new_uow, cycle, "a@example.com", "b@example.com")
    broken = FakeCalendarProvider(raises={"a@example.com": RuntimeError("the parser tripped")})

    with caplog.at_level(logging.WARNING):
        answer = respond(new_uow, clock, SETTINGS, mid(old), "b@example.com", "declined", provider=broken)

    assert (answer.called_off, answer.repaired) == (True, None)
    assert [m.state for m in meetings(new_uow, cycle)] == ["cancelled"]
    assert any("re-pairing a@example.com" in record.getMessage() for record in caplog.records)


def test_issue_15_someone_an_organiser_took_out_is_not_re_paired(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> None:
    assert REMOVED.startswith(ORGANISER_REMOVED)
    cycle = store_cycle(new_uow, cast, [("a", "b")], [], clock)
    assert cycle.id is not None
    with new_uow() as uow:
        uow.cycles.set_unmatched(cycle.id, [Unmatched("e@example.com", REMOVED)])
        uow.commit()
    old = meeting_of(new_uow, cycle, "a@example.com", "b@example.com")

    answer = respond(new_uow, clock, SETTINGS, mid(old), "b@example.com", "declined",
                     provider=FakeCalendarProvider())

    assert answer.repaired is None


def test_issue_15_a_trio_that_loses_one_goes_on_as_a_pair(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> None:
    cycle = store_cycle(new_uow, cast, [("f", "g", "h")], [], clock)
    trio = meeting_of(new_uow, cycle, "f@example.com", "g@example.com", "h@example.com")

    answer = respond(new_uow, clock, SETTINGS, mid(trio), "f@example.com", "declined",
                     provider=FakeCalendarProvider())

    assert (answer.called_off, answer.left_group) == (False, True)
    pair = meeting_of(new_uow, cycle, "g@example.com", "h@example.com")
    assert (pair.id, pair.state, pair.sequence, pair.slot) == (trio.id, "proposed", 1, trio.slot)
    assert history(new_uow, cycle) == {frozenset(("g@example.com", "h@example.com"))}
    effects = [e for e in pending(new_uow, cycle) if f"meeting-{trio.id}/" in e.key]
    # Nobody had heard of it: the two get the announcement again, of the new generation; Fnne gets nothing more.
    assert {e.key.split("/")[2] for e in effects} == {"seq-1"}
    assert {to(e) for e in effects if "/announce/" in e.key} == {"g@example.com", "h@example.com"}
    assert all(to(e) != "f@example.com" for e in effects)


def test_issue_15_a_trio_told_already_gets_the_updated_invite_with_the_new_attendees(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> None:
    cycle = store_cycle(new_uow, cast, [("f", "g", "h")], [], clock)
    trio = meeting_of(new_uow, cycle, "f@example.com", "g@example.com", "h@example.com")
    with new_uow() as uow:  # the announcements went out
        for effect in uow.outbox.list(cycle_id=cycle.id):
            if "/announce/" in effect.key:
                uow.outbox.mark_done(effect.key, clock.now())
        uow.commit()

    respond(new_uow, clock, SETTINGS, mid(trio), "f@example.com", "declined", provider=FakeCalendarProvider())

    updates = [e for e in pending(new_uow, cycle) if f"meeting-{trio.id}/seq-1/reschedule/" in e.key]
    assert {to(e) for e in updates} == {"g@example.com", "h@example.com"}
    for update in updates:
        assert "has changed: Fnne cannot make it" in text_of(update)
        assert str(update.payload["subject"]).startswith("Changed: ")
        invite = update.payload["invite"]
        assert isinstance(invite, dict)
        assert (invite["uid"], invite["sequence"], invite["method"]) == (trio.uid, 1, "REQUEST")
        assert {a["email"] for a in invite["attendees"]} == {"g@example.com", "h@example.com"}


def test_issue_15_without_a_provider_a_decline_only_cancels_as_before(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> None:
    cycle = store_cycle(new_uow, cast, [("a", "b")], ["e"], clock)
    old = meeting_of(new_uow, cycle, "a@example.com", "b@example.com")

    answer = respond(new_uow, clock, SETTINGS, mid(old), "b@example.com", "declined")

    assert (answer.called_off, answer.repaired, answer.nobody_free) == (True, None, False)
    to_ana = next(e for e in pending(new_uow, cycle) if e.key.endswith("/cancel/a@example.com"))
    assert "we will pair you again in the next round" in text_of(to_ana)
