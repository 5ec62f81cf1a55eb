"""The engagement repository: every sign of life read from where it is stored, the cycles that placed someone,
and the "still in?" questions and pauses, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.errors import NotFoundError
from scheduler.model import Cycle, Engagement, Group, Meeting, Person, Rsvp, SessionRecord
from scheduler.storage.uow import SqlAlchemyUnitOfWork

NewUow = Callable[[], SqlAlchemyUnitOfWork]
PLANNED = datetime(2026, 11, 19, 10, 0, tzinfo=UTC)  # each cycle below is planned a week after the one before


def planned(week: int) -> datetime:
    return PLANNED + timedelta(weeks=week)


def store_cycle(uow: SqlAlchemyUnitOfWork, make_cycle: Callable[..., Cycle], week: int,
                meetings: list[Meeting], program: str = "coffee") -> list[Meeting]:
    cycle = uow.cycles.add(make_cycle(program=program, week=week, created_at=planned(week)))
    assert cycle.id is not None
    return uow.cycles.add_meetings(cycle.id, meetings)


def meeting(*members: str, state: str = "proposed") -> Meeting:
    return Meeting(Group(members, 1.0), None, state=state)


def test_issue_15_placements_count_each_cycle_once_and_skip_cancelled_meetings(
        new_uow: NewUow, create_person: Callable[..., Person], make_cycle: Callable[..., Cycle]) -> None:
    ana, ben, cy = (create_person(email=f"{name}@example.com") for name in ("ana", "ben", "cy"))
    with new_uow() as uow:
        for person in (ana, ben, cy):
            uow.people.save(person)
        store_cycle(uow, make_cycle, 0, [meeting(ana.email, ben.email)])
        # Two meetings of one cycle (a re-pair) count as one placement.
        store_cycle(uow, make_cycle, 1, [meeting(ana.email, ben.email, state="cancelled"),
                                         meeting(ana.email, cy.email)])
        store_cycle(uow, make_cycle, 1, [meeting(ana.email, ben.email)], program="lunch")
        store_cycle(uow, make_cycle, 2, [meeting(cy.email, ben.email, state="cancelled")])
        uow.commit()
    with new_uow() as uow:
        found = uow.engagement.by_person()
    assert found == {
        ana.email: Engagement(ana.email, placed_at=(planned(0), planned(1), planned(1))),
        ben.email: Engagement(ben.email, placed_at=(planned(0), planned(1))),
        cy.email: Engagement(cy.email, placed_at=(planned(1),)),
    }


def test_issue_15_every_sign_of_life_counts_and_the_latest_wins(
        new_uow: NewUow, create_person: Callable[..., Person], make_cycle: Callable[..., Cycle]) -> None:
    people = {name: create_person(email=f"{name}@example.com") for name in ("rsvp", "feedback", "sign", "visit",
                                                                             "link", "none")}
    with new_uow() as uow:
        for person in people.values():
            uow.people.save(person)
        (first,) = store_cycle(uow, make_cycle, 0, [meeting(*(p.email for p in people.values()))])
        assert first.id is not None
        uow.matches.set_rsvp(Rsvp(first.id, people["rsvp"].email, "accepted", planned(0) + timedelta(hours=1)))
        uow.matches.set_rsvp(Rsvp(first.id, people["link"].email, "declined", planned(0) + timedelta(hours=2)))
        uow.feedback.add(first.id, people["feedback"].email, True)
        uow.accounts.ensure(people["sign"].email, planned(0))
        uow.accounts.record_sign_in(people["sign"].email, planned(0) + timedelta(hours=3))
        uow.accounts.add_session(SessionRecord("a" * 64, people["visit"].email, planned(0),
                                               planned(0) + timedelta(hours=4), planned(1)))
        uow.accounts.add_session(SessionRecord("b" * 64, people["visit"].email, planned(0),
                                               planned(0) + timedelta(hours=5), planned(1)))
        uow.engagement.note_sign_of_life(people["link"].email, planned(0) + timedelta(hours=6))
        uow.engagement.note_sign_of_life(people["link"].email, planned(0))  # an earlier one changes nothing
        uow.commit()
    with new_uow() as uow:
        found = uow.engagement.by_person()
        (feedback,) = uow.feedback.answers(first.id)
    last = {name: found[person.email].last_sign_of_life for name, person in people.items()}
    assert last == {
        "rsvp": planned(0) + timedelta(hours=1),
        "feedback": feedback.answered_at,  # stamped by the repository when it was stored
        "sign": planned(0) + timedelta(hours=3),
        "visit": planned(0) + timedelta(hours=5),
        "link": planned(0) + timedelta(hours=6),  # later than the same person's decline
        "none": None,
    }
    assert all(moment is None or moment.tzinfo is UTC for moment in last.values())


def test_issue_15_asks_and_pauses_are_kept_and_a_new_ask_ends_a_pause(
        new_uow: NewUow, create_person: Callable[..., Person]) -> None:
    ana = create_person(email="ana@example.com")
    with new_uow() as uow:
        uow.people.save(ana)
        uow.engagement.mark_asked(ana.email, planned(0))
        uow.commit()
    with new_uow() as uow:
        assert uow.engagement.by_person()[ana.email] == Engagement(ana.email, asked_at=planned(0))
        uow.engagement.mark_paused(ana.email, planned(1))
        uow.engagement.note_sign_of_life(ana.email, planned(1) + timedelta(days=1))
        uow.commit()
    with new_uow() as uow:
        assert uow.engagement.by_person()[ana.email] == Engagement(
            ana.email, last_sign_of_life=planned(1) + timedelta(days=1), asked_at=planned(0), paused_at=planned(1))
        uow.engagement.mark_asked(ana.email, planned(5))
        uow.commit()
    with new_uow() as uow:
        again = uow.engagement.by_person()[ana.email]
    assert (again.asked_at, again.paused_at, again.last_sign_of_life) == (planned(5), None,
                                                                          planned(1) + timedelta(days=1))


def test_issue_15_unknown_addresses_are_refused_and_the_row_goes_with_the_person(
        new_uow: NewUow, create_person: Callable[..., Person]) -> None:
    ana = create_person(email="ana@example.com")
    with new_uow() as uow:
        uow.people.save(ana)
        uow.engagement.mark_paused(ana.email, planned(0))
        for call in (uow.engagement.mark_asked, uow.engagement.mark_paused, uow.engagement.note_sign_of_life):
            with pytest.raises(NotFoundError, match=r"nobody@example\.com"):
                call("nobody@example.com", planned(0))
        uow.commit()
    with new_uow() as uow:
        uow.accounts.delete_person(ana.email, lambda payload: payload)
        uow.commit()
    with new_uow() as uow:
        assert uow.engagement.by_person() == {}
        uow.people.save(ana)  # the same address again starts afresh: no pause carried over
        uow.commit()
    with new_uow() as uow:
        assert uow.engagement.by_person() == {ana.email: Engagement(ana.email)}
