"""The outbox: idempotent adds, what is due, claims and their leases, retries and dead letters."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.errors import NotFoundError, StorageError
from scheduler.model import Cycle, Effect
from scheduler.storage.uow import SqlAlchemyUnitOfWork

MakeEffect = Callable[..., Effect]
NewUow = Callable[[], SqlAlchemyUnitOfWork]
Race = Callable[..., tuple[object, object]]

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def keys(effects: list[Effect]) -> list[str]:
    """The keys of ``effects``, in order."""
    return [effect.key for effect in effects]


def test_adding_an_existing_key_writes_nothing(uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect) -> None:
    original = make_effect("email:1", payload={"subject": "first"})

    assert uow.outbox.add(original) is True
    assert uow.outbox.add(make_effect("email:1", payload={"subject": "second"})) is False

    assert uow.outbox.list() == [original]


def test_an_effect_round_trips_its_payload(
    uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect, make_cycle: Callable[..., Cycle]
) -> None:
    cycle = uow.cycles.add(make_cycle())
    payload = {
        "to": ["ada@example.com", "Bob <bob@example.com>"],
        "subject": "Coffee with Bob ☕ — Tuesday",
        "invite": {"sequence": 2, "start": "2026-11-24T10:00:00+00:00", "all_day": False, "location": None},
        "score": 7.25,
    }
    effect = make_effect("email:2", payload=payload, cycle_id=cycle.id, next_attempt_at=NOW)

    uow.outbox.add(effect)

    [loaded] = uow.outbox.list()
    assert loaded == effect
    assert loaded.payload == payload


def test_a_new_effect_starts_pending_whatever_it_says(uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect) -> None:
    uow.outbox.add(make_effect("email:3", state="done", attempts=4, last_error="old"))

    [loaded] = uow.outbox.list()

    assert (loaded.state, loaded.attempts, loaded.last_error) == ("pending", 0, "")


def test_due_effects_are_pending_and_not_scheduled_after_now_oldest_first(
    uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect
) -> None:
    uow.outbox.add(make_effect("later", next_attempt_at=NOW + timedelta(microseconds=1)))
    uow.outbox.add(make_effect("now", next_attempt_at=NOW))
    uow.outbox.add(make_effect("unscheduled"))
    uow.outbox.add(make_effect("earlier", next_attempt_at=NOW - timedelta(hours=1)))

    assert keys(uow.outbox.due(NOW)) == ["now", "unscheduled", "earlier"]
    assert keys(uow.outbox.due(NOW, limit=2)) == ["now", "unscheduled"]
    assert keys(uow.outbox.due(NOW + timedelta(days=1))) == ["later", "now", "unscheduled", "earlier"]


def test_a_claim_takes_the_effect_in_flight_for_the_lease(uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect) -> None:
    uow.outbox.add(make_effect("email:1"))

    assert uow.outbox.claim("email:1", NOW, LEASE) is True

    [effect] = uow.outbox.list()
    assert (effect.state, effect.attempts) == ("in_flight", 1)
    assert uow.outbox.due(NOW) == []
    assert uow.outbox.due(NOW + LEASE) == []  # the lease runs until, and including, now + lease
    assert uow.outbox.claim("email:1", NOW + LEASE, LEASE) is False


def test_an_expired_claim_is_due_and_claimable_again(uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect) -> None:
    uow.outbox.add(make_effect("email:1"))
    uow.outbox.claim("email:1", NOW, LEASE)
    after_lease = NOW + LEASE + timedelta(seconds=1)

    assert keys(uow.outbox.due(after_lease)) == ["email:1"]
    assert uow.outbox.claim("email:1", after_lease, LEASE) is True
    [effect] = uow.outbox.list()
    assert (effect.state, effect.attempts) == ("in_flight", 2)


def test_only_due_effects_can_be_claimed(uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect) -> None:
    uow.outbox.add(make_effect("scheduled", next_attempt_at=NOW + timedelta(minutes=1)))

    assert uow.outbox.claim("scheduled", NOW, LEASE) is False
    assert uow.outbox.claim("no-such-key", NOW, LEASE) is False
    assert uow.outbox.list(state="pending")[0].attempts == 0


def test_a_retry_makes_the_effect_due_again_later(uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect) -> None:
    uow.outbox.add(make_effect("email:1"))
    uow.outbox.claim("email:1", NOW, LEASE)
    retry_at = NOW + timedelta(minutes=10)

    uow.outbox.mark_retry("email:1", "421 try again later", retry_at)

    [effect] = uow.outbox.list()
    assert (effect.state, effect.last_error, effect.next_attempt_at) == (
        "pending",
        "421 try again later",
        retry_at,
    )
    assert uow.outbox.due(retry_at - timedelta(seconds=1)) == []
    assert keys(uow.outbox.due(retry_at)) == ["email:1"]
    assert uow.outbox.claim("email:1", retry_at, LEASE) is True
    assert uow.outbox.list()[0].attempts == 2


def test_a_dead_effect_is_parked(uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect) -> None:
    uow.outbox.add(make_effect("email:1"))
    uow.outbox.claim("email:1", NOW, LEASE)

    uow.outbox.mark_dead("email:1", "550 no such user")

    assert uow.outbox.due(NOW + timedelta(days=365)) == []
    assert uow.outbox.claim("email:1", NOW + timedelta(days=365), LEASE) is False
    [dead] = uow.outbox.list(state="dead")
    assert (dead.key, dead.last_error, dead.attempts) == ("email:1", "550 no such user", 1)


def test_a_done_effect_records_when(uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect) -> None:
    uow.outbox.add(make_effect("email:1"))
    uow.outbox.claim("email:1", NOW, LEASE)

    uow.outbox.mark_done("email:1", NOW + timedelta(seconds=3))

    [done] = uow.outbox.list(state="done")
    assert done.done_at == NOW + timedelta(seconds=3)
    assert uow.outbox.due(NOW + timedelta(days=365)) == []


@pytest.mark.parametrize(
    "mark",
    [
        lambda outbox: outbox.mark_done("missing", NOW),
        lambda outbox: outbox.mark_retry("missing", "error", NOW),
        lambda outbox: outbox.mark_dead("missing", "error"),
    ],
    ids=["done", "retry", "dead"],
)
def test_marking_an_unknown_key_is_not_found(uow: SqlAlchemyUnitOfWork, mark: Callable[[object], None]) -> None:
    with pytest.raises(NotFoundError, match="missing"):
        mark(uow.outbox)


def test_list_filters_by_cycle_and_state_oldest_first(
    uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect, make_cycle: Callable[..., Cycle]
) -> None:
    first, second = uow.cycles.add(make_cycle(week=0)), uow.cycles.add(make_cycle(week=1))
    uow.outbox.add(make_effect("a", cycle_id=first.id))
    uow.outbox.add(make_effect("b", cycle_id=second.id))
    uow.outbox.add(make_effect("c", cycle_id=first.id))
    uow.outbox.add(make_effect("d"))
    uow.outbox.claim("c", NOW, LEASE)

    assert keys(uow.outbox.list()) == ["a", "b", "c", "d"]
    assert keys(uow.outbox.list(cycle_id=first.id)) == ["a", "c"]
    assert keys(uow.outbox.list(state="pending")) == ["a", "b", "d"]
    assert keys(uow.outbox.list(cycle_id=first.id, state="in_flight")) == ["c"]


def test_a_second_claim_after_a_commit_fails(new_uow: NewUow, make_effect: MakeEffect) -> None:
    with new_uow() as uow:
        uow.outbox.add(make_effect("email:1"))
        uow.commit()
    with new_uow() as first_relay:
        assert first_relay.outbox.claim("email:1", NOW, LEASE) is True
        first_relay.commit()

    with new_uow() as second_relay:
        assert second_relay.outbox.claim("email:1", NOW, LEASE) is False


def test_two_relays_claiming_at_once_cannot_both_win(new_uow: NewUow, make_effect: MakeEffect,
                                                     database_url: str) -> None:
    with new_uow() as uow:
        uow.outbox.add(make_effect("email:1"))
        uow.commit()

    with new_uow() as first, ThreadPoolExecutor(max_workers=1) as pool:
        assert first.outbox.claim("email:1", NOW, LEASE) is True

        def second() -> bool:
            with new_uow() as uow:
                claimed = uow.outbox.claim("email:1", NOW, LEASE)
                uow.commit()
                return claimed

        future = pool.submit(second)
        if database_url.startswith("postgresql"):
            # FOR UPDATE SKIP LOCKED: the second relay does not wait for the first, it skips the locked row.
            assert future.result(timeout=5) is False
        else:
            # SQLite has one writer at a time: the second waits for the first's commit, then finds it taken.
            with pytest.raises(FuturesTimeout):
                future.result(timeout=0.3)
        first.commit()
        assert future.result(timeout=30) is False
    with new_uow() as uow:
        assert uow.outbox.list()[0].attempts == 1


def test_two_planners_adding_one_key_at_once_store_it_once(
    new_uow: NewUow, make_effect: MakeEffect, race: Race
) -> None:
    def add(subject: str) -> Callable[[SqlAlchemyUnitOfWork], bool]:
        return lambda uow: uow.outbox.add(make_effect("email:1", payload={"subject": subject}))

    assert race(add("first"), add("second")) == (True, False)
    with new_uow() as uow:
        assert [effect.payload for effect in uow.outbox.list()] == [{"subject": "first"}]


def test_supersede_parks_pending_and_in_flight_effects_of_one_prefix(
    uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect
) -> None:
    for key in ("cycle-1/meeting-2/seq-0/remind/a", "cycle-1/meeting-2/seq-0/announce/a",
                "cycle-1/meeting-2/seq-0/feedback/a", "cycle-1/meeting-20/seq-0/remind/a"):
        uow.outbox.add(make_effect(key))
    uow.outbox.claim("cycle-1/meeting-2/seq-0/announce/a", NOW, LEASE)
    uow.outbox.mark_done("cycle-1/meeting-2/seq-0/announce/a", NOW)
    uow.outbox.claim("cycle-1/meeting-2/seq-0/feedback/a", NOW, LEASE)

    assert uow.outbox.supersede("cycle-1/meeting-2/", "superseded: rescheduled") == 2

    states = {effect.key: effect.state for effect in uow.outbox.list()}
    assert states == {
        "cycle-1/meeting-2/seq-0/remind/a": "superseded",
        "cycle-1/meeting-2/seq-0/announce/a": "done",  # already performed: history stays true
        "cycle-1/meeting-2/seq-0/feedback/a": "superseded",
        "cycle-1/meeting-20/seq-0/remind/a": "pending",  # another meeting whose id merely starts alike
    }
    assert uow.outbox.due(NOW + timedelta(days=1)) == [e for e in uow.outbox.list() if e.state == "pending"]
    assert not uow.outbox.claim("cycle-1/meeting-2/seq-0/remind/a", NOW + timedelta(days=1), LEASE)


def test_a_relay_finishing_a_superseded_effect_never_revives_it(
    uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect
) -> None:
    uow.outbox.add(make_effect("cycle-1/meeting-2/seq-0/remind/a"))
    uow.outbox.add(make_effect("cycle-1/meeting-2/seq-0/remind/b"))
    uow.outbox.claim("cycle-1/meeting-2/seq-0/remind/a", NOW, LEASE)
    uow.outbox.claim("cycle-1/meeting-2/seq-0/remind/b", NOW, LEASE)
    uow.outbox.supersede("cycle-1/meeting-2/", "superseded")

    uow.outbox.mark_retry("cycle-1/meeting-2/seq-0/remind/a", "421 later", NOW)
    uow.outbox.mark_done("cycle-1/meeting-2/seq-0/remind/b", NOW)

    assert [e.state for e in uow.outbox.list()] == ["superseded", "done"]


def test_prefix_wildcards_are_taken_literally(uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect) -> None:
    uow.outbox.add(make_effect("a_b/1"))
    uow.outbox.add(make_effect("axb/1"))
    assert uow.outbox.supersede("a_b/", "x") == 1
    assert uow.outbox.supersede("%", "x") == 0
    assert [e.state for e in uow.outbox.list()] == ["superseded", "pending"]


def test_requeue_makes_a_dead_effect_pending_with_attempts_reset(
    uow: SqlAlchemyUnitOfWork, make_effect: MakeEffect
) -> None:
    uow.outbox.add(make_effect("email:1"))
    uow.outbox.claim("email:1", NOW, LEASE)
    uow.outbox.mark_dead("email:1", "550 no such user")

    uow.outbox.requeue("email:1", NOW + timedelta(hours=1))

    (effect,) = uow.outbox.list()
    assert (effect.state, effect.attempts, effect.next_attempt_at) == ("pending", 0, NOW + timedelta(hours=1))
    assert uow.outbox.due(NOW + timedelta(hours=1)) == [effect]
    with pytest.raises(StorageError, match="is pending, not dead"):
        uow.outbox.requeue("email:1", NOW)
    with pytest.raises(NotFoundError, match="missing"):
        uow.outbox.requeue("missing", NOW)
