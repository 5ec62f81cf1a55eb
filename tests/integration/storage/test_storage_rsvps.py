"""Accept/decline answers on SQLite and PostgreSQL: answers to one meeting take turns, so a member who answers
right after another always reads that other's answer (two declines at once cannot both see a meeting that still
stands)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from scheduler.model import Cycle, Group, Meeting, Person, Rsvp
from scheduler.storage.uow import SqlAlchemyUnitOfWork

NewUow = Callable[[], SqlAlchemyUnitOfWork]
Race = Callable[..., tuple[object, object]]
NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_answers_to_one_meeting_take_turns(new_uow: NewUow, race: Race, create_person: Callable[..., Person],
                                           make_cycle: Callable[..., Cycle]) -> None:
    with new_uow() as uow:
        for email in ("ada@example.com", "bob@example.com"):
            uow.people.save(create_person(email=email))
        cycle = uow.cycles.add(make_cycle())
        assert cycle.id is not None
        [meeting] = uow.cycles.add_meetings(cycle.id, [Meeting(Group(("ada@example.com", "bob@example.com"), 1.0),
                                                               None)])
        uow.commit()
    assert meeting.id is not None
    meeting_id = meeting.id

    def decline(email: str) -> Callable[[SqlAlchemyUnitOfWork], list[tuple[str, str]]]:
        def step(uow: SqlAlchemyUnitOfWork) -> list[tuple[str, str]]:
            uow.matches.set_rsvp(Rsvp(meeting_id, email, "declined", NOON))
            return [(rsvp.email, rsvp.answer) for rsvp in uow.matches.rsvps(meeting_id)]
        return step

    # The second answer waits for the first transaction (the race fixture checks it is still waiting 0.3 s
    # in), then reads both declines.
    first, second = race(decline("ada@example.com"), decline("bob@example.com"))
    assert first == [("ada@example.com", "declined")]
    assert second == [("ada@example.com", "declined"), ("bob@example.com", "declined")]
