"""Issue 15, part 6: the admin's cycle page and its changes before delivery (remove, swap), through the real
storage on SQLite and PostgreSQL: what the page shows, the meetings, pairing history, unmatched list and outbox
each change leaves, the refusals (delivery begun, a hard rule), and the ratings and shared comments."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from email.utils import parseaddr
from itertools import combinations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.admin.cycle_changes import LEFT_ALONE, REMOVED, ChangeRefused, remove_member, swap_members
from scheduler.admin.cycle_page import delivery_started, list_cycles, load_cycle_page
from scheduler.admin.ratings import program_ratings
from scheduler.errors import InputError, NotFoundError
from scheduler.model import Cycle, Effect, Interval, Person, Program, Rsvp
from scheduler.planning.matches import record_feedback
from scheduler.ports import UnitOfWork
from tests.fakes import FakeClock
from tests.integration.stored_cycles import SETTINGS, WINDOW, NewUow, eight_people, slot
from tests.integration.stored_cycles import store_cycle as store_cycle_as_laid_out

COFFEE = Program("coffee")


def plan_cycle(new_uow: NewUow, people: dict[str, Person], groups: list[tuple[str, ...]], left_out: list[str],
               clock: FakeClock, program: Program = COFFEE, window: Interval = WINDOW) -> Cycle:
    """A cycle with exactly these groups and these people left out (``stored_cycles.store_cycle``)."""
    return store_cycle_as_laid_out(new_uow, people, groups, left_out, clock, program=program, window=window,
                                   slot_of=lambda n: slot(1 + n % 3, 9 + n))


@pytest.fixture
def cast(create_person: Callable[..., Person]) -> dict[str, Person]:
    """Eight people in eight teams: a, b, c, d, e, f, g, h."""
    return eight_people(create_person)


@pytest.fixture
def cycle(new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> Cycle:
    """Groups {a, b}, {c, d} and {f, g, h}; e left out."""
    return plan_cycle(new_uow, cast, [("a", "b"), ("c", "d"), ("f", "g", "h")], ["e"], clock)


def cycle_id(cycle: Cycle) -> int:
    assert cycle.id is not None
    return cycle.id


def groups(new_uow: NewUow, cycle: Cycle) -> dict[int, tuple[str, tuple[str, ...], int]]:
    with new_uow() as uow:
        return {m.id: (m.state, m.group.members, m.sequence)  # type: ignore[misc]
                for m in uow.cycles.meetings(cycle_id(cycle))}


def unmatched(new_uow: NewUow, cycle: Cycle) -> dict[str, str]:
    with new_uow() as uow:
        return {u.email: u.reason for u in uow.cycles.unmatched(cycle_id(cycle))}


def history(new_uow: NewUow, cycle: Cycle) -> set[frozenset[str]]:
    with new_uow() as uow:
        return {frozenset((p.person_a, p.person_b)) for p in uow.reports.pairs() if p.cycle_id == cycle.id}


def effects(new_uow: NewUow, cycle: Cycle, state: str | None = None) -> list[Effect]:
    with new_uow() as uow:
        return uow.outbox.list(cycle_id=cycle_id(cycle), state=state)


def recipient(effect: Effect) -> str:
    (address,) = effect.payload["to"]  # type: ignore[misc]
    return parseaddr(str(address))[1]


def pending(new_uow: NewUow, cycle: Cycle, kind: str) -> dict[str, list[str]]:
    """Pending effects of one kind (announce, remind, feedback, unmatched) by recipient: their keys."""
    found: dict[str, list[str]] = {}
    for effect in effects(new_uow, cycle, "pending"):
        if f"/{kind}/" in effect.key:
            found.setdefault(recipient(effect), []).append(effect.key)
    return found


def meeting_of(new_uow: NewUow, cycle: Cycle, email: str) -> int:
    return next(i for i, (state, members, _) in groups(new_uow, cycle).items()
                if email in members and state != "cancelled")


def test_issue_15_cycle_page_lists_groups_times_in_each_zone_answers_and_who_was_left_out(
        new_uow: NewUow, create_person: Callable[..., Person], clock: FakeClock) -> None:
    people = {"a": create_person(email="a@example.com", name="Ana", department="Sales"),
              "b": create_person(email="b@example.com", name="Ben", department="Research",
                                 timezone="America/New_York"),
              "e": create_person(email="e@example.com", name="Eve")}
    stored = plan_cycle(new_uow, people, [("a", "b")], ["e"], clock)
    [meeting_id] = groups(new_uow, stored)
    with new_uow() as uow:
        uow.matches.set_rsvp(Rsvp(meeting_id, "a@example.com", "accepted", clock.now()))
        uow.commit()

    page = load_cycle_page(new_uow, cycle_id(stored))

    [group] = page.groups
    ana, ben = group.members
    assert (ana.name, ana.department, ana.answer, ana.met) == ("Ana", "Sales", "accepted", None)
    assert (ben.name, ben.department, ben.answer) == ("Ben", "Research", None)
    # Tue 24 Nov 09:00 UTC: 09:00 in London, 04:00 in New York.
    assert ana.local_time is not None
    assert "09:00–09:30 (Europe/London)" in ana.local_time
    assert ben.local_time is not None
    assert "04:00–04:30 (America/New_York)" in ben.local_time
    assert [(p.name, p.reason) for p in page.left_out] == [("Eve", "no partner was free")]
    assert page.can_change
    assert page.started == 0
    assert ("e@example.com", "Eve (left out)") in page.swappable
    assert [(c.id, c.program, c.groups) for c in list_cycles(new_uow)] == [(cycle_id(stored), "coffee", 1)]
    with pytest.raises(NotFoundError):
        load_cycle_page(new_uow, cycle_id(stored) + 99)


def test_issue_15_removing_from_a_trio_reannounces_the_pair_and_tells_the_one_removed(
        new_uow: NewUow, cycle: Cycle, clock: FakeClock) -> None:
    trio = meeting_of(new_uow, cycle, "f@example.com")

    change = remove_member(new_uow, clock, SETTINGS, cycle_id(cycle), "G@example.com ")

    state, members, sequence = groups(new_uow, cycle)[trio]
    assert (state, members, sequence) == ("proposed", ("f@example.com", "h@example.com"), 1)
    assert history(new_uow, cycle) == {frozenset(p) for p in [("a@example.com", "b@example.com"),
                                                              ("c@example.com", "d@example.com"),
                                                              ("f@example.com", "h@example.com")]}
    assert unmatched(new_uow, cycle)["g@example.com"] == REMOVED
    announced = pending(new_uow, cycle, "announce")
    assert "g@example.com" not in announced
    assert announced["f@example.com"] == [f"cycle-{cycle.id}/meeting-{trio}/seq-1/announce/f@example.com"]
    assert pending(new_uow, cycle, "unmatched")["g@example.com"] == [f"cycle-{cycle.id}/unmatched/g@example.com"]
    superseded = [e.key for e in effects(new_uow, cycle, "superseded")]
    assert all(f"/meeting-{trio}/seq-0/" in key for key in superseded)
    assert change.superseded == len(superseded) == 9  # announce, remind, feedback for each of three
    assert "out of group" in change.summary


def test_issue_15_removing_from_a_pair_cancels_it_and_leaves_the_partner_out_with_a_reason(
        new_uow: NewUow, cycle: Cycle, clock: FakeClock) -> None:
    pair = meeting_of(new_uow, cycle, "a@example.com")

    remove_member(new_uow, clock, SETTINGS, cycle_id(cycle), "a@example.com")

    state, members, _ = groups(new_uow, cycle)[pair]
    assert state == "cancelled"
    assert frozenset(members) not in history(new_uow, cycle)
    left = unmatched(new_uow, cycle)
    assert (left["a@example.com"], left["b@example.com"], left["e@example.com"]) == (REMOVED, LEFT_ALONE,
                                                                                     "no partner was free")
    announced = pending(new_uow, cycle, "announce")
    assert "a@example.com" not in announced
    assert "b@example.com" not in announced
    # Nobody had heard of the meeting: no cancellation goes out, only the notices of being left out.
    assert not [e for e in effects(new_uow, cycle) if "/cancel/" in e.key]
    assert set(pending(new_uow, cycle, "unmatched")) == {"a@example.com", "b@example.com", "e@example.com"}
    with pytest.raises(InputError, match="left out already"):
        remove_member(new_uow, clock, SETTINGS, cycle_id(cycle), "b@example.com")


def test_issue_15_swapping_two_grouped_people_swaps_their_groups_history_and_announcements(
        new_uow: NewUow, cycle: Cycle, clock: FakeClock) -> None:
    first, second = meeting_of(new_uow, cycle, "a@example.com"), meeting_of(new_uow, cycle, "c@example.com")

    swap_members(new_uow, clock, SETTINGS, cycle_id(cycle), "a@example.com", "c@example.com")

    now = groups(new_uow, cycle)
    assert now[first] == ("proposed", ("c@example.com", "b@example.com"), 1)
    assert now[second] == ("proposed", ("a@example.com", "d@example.com"), 1)
    assert {frozenset(("b@example.com", "c@example.com")), frozenset(("a@example.com", "d@example.com"))} <= \
        history(new_uow, cycle)
    assert frozenset(("a@example.com", "b@example.com")) not in history(new_uow, cycle)
    announced = pending(new_uow, cycle, "announce")
    assert announced["a@example.com"] == [f"cycle-{cycle.id}/meeting-{second}/seq-1/announce/a@example.com"]
    assert announced["c@example.com"] == [f"cycle-{cycle.id}/meeting-{first}/seq-1/announce/c@example.com"]
    with new_uow() as uow:
        reasons = uow.cycles.meeting(first).group.reasons  # type: ignore[union-attr]
    assert reasons[0] == "an organiser put this group together"


def test_issue_15_swapping_with_someone_left_out_places_them_and_supersedes_their_notice(
        new_uow: NewUow, cycle: Cycle, clock: FakeClock) -> None:
    pair = meeting_of(new_uow, cycle, "a@example.com")

    swap_members(new_uow, clock, SETTINGS, cycle_id(cycle), "e@example.com", "a@example.com")

    assert groups(new_uow, cycle)[pair][1] == ("e@example.com", "b@example.com")
    assert set(unmatched(new_uow, cycle)) == {"a@example.com"}
    notices = pending(new_uow, cycle, "unmatched")
    assert "e@example.com" not in notices
    assert notices["a@example.com"] == [f"cycle-{cycle.id}/unmatched/a@example.com"]

    # And back: e is told again, under a key of its own (the first notice's key is used up).
    swap_members(new_uow, clock, SETTINGS, cycle_id(cycle), "a@example.com", "e@example.com")

    assert groups(new_uow, cycle)[pair] == ("proposed", ("a@example.com", "b@example.com"), 2)
    notices = pending(new_uow, cycle, "unmatched")
    assert notices == {"e@example.com": [f"cycle-{cycle.id}/unmatched/e@example.com/change-1"]}
    assert pending(new_uow, cycle, "announce")["a@example.com"] == [
        f"cycle-{cycle.id}/meeting-{pair}/seq-2/announce/a@example.com"]


@pytest.mark.parametrize(("change", "rule"), [
    ({"blocked": frozenset({"b@example.com"})}, "blocked"),
    ({"team": "team-b"}, "same team"),
])
def test_issue_15_a_swap_that_breaks_a_hard_rule_is_refused_with_the_rule_named(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock, change: dict[str, object], rule: str) -> None:
    from dataclasses import replace

    cast["e"] = replace(cast["e"], **change)  # type: ignore[arg-type]
    stored = plan_cycle(new_uow, cast, [("a", "b"), ("c", "d")], ["e"], clock)
    before = (groups(new_uow, stored), unmatched(new_uow, stored), effects(new_uow, stored))

    with pytest.raises(ChangeRefused, match=f"Enne and Bnne cannot be grouped: {rule}"):
        swap_members(new_uow, clock, SETTINGS, cycle_id(stored), "a@example.com", "e@example.com")

    assert (groups(new_uow, stored), unmatched(new_uow, stored), effects(new_uow, stored)) == before


def test_issue_15_a_swap_into_a_time_outside_working_hours_is_refused(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> None:
    from dataclasses import replace

    cast["e"] = replace(cast["e"], timezone="Asia/Tokyo")  # 09:00 in London is 18:00 in Tokyo
    stored = plan_cycle(new_uow, cast, [("a", "b")], ["e"], clock)

    with pytest.raises(ChangeRefused, match=r"cannot join group \d+ at its time"):
        swap_members(new_uow, clock, SETTINGS, cycle_id(stored), "a@example.com", "e@example.com")


def test_issue_15_a_cycle_whose_delivery_began_is_refused_and_left_as_it_was(
        new_uow: NewUow, cycle: Cycle, clock: FakeClock) -> None:
    [first, *_] = effects(new_uow, cycle)
    with new_uow() as uow:
        assert uow.outbox.claim(first.key, clock.now(), timedelta(minutes=5))
        uow.commit()
    before = (groups(new_uow, cycle), unmatched(new_uow, cycle), history(new_uow, cycle))

    with pytest.raises(ChangeRefused, match="delivery of this cycle has begun"):
        remove_member(new_uow, clock, SETTINGS, cycle_id(cycle), "a@example.com")
    with pytest.raises(ChangeRefused, match="delivery of this cycle has begun"):
        swap_members(new_uow, clock, SETTINGS, cycle_id(cycle), "a@example.com", "c@example.com")

    assert (groups(new_uow, cycle), unmatched(new_uow, cycle), history(new_uow, cycle)) == before
    assert not load_cycle_page(new_uow, cycle_id(cycle)).can_change


def test_issue_15_delivery_counts_as_begun_once_anything_was_tried() -> None:
    def effect(state: str, attempts: int = 0) -> Effect:
        return Effect(key="k", kind="email", payload={}, state=state, attempts=attempts)

    assert delivery_started([effect("pending"), effect("superseded")]) == 0
    assert delivery_started([effect("pending", attempts=1)]) == 1  # failed once: it may have been sent
    assert delivery_started([effect("done"), effect("dead"), effect("in_flight"), effect("superseded", 1)]) == 4


@pytest.mark.parametrize(("first", "second", "message"), [
    ("a@example.com", "a@example.com", "two different people"),
    ("a@example.com", "b@example.com", "same group already"),
    ("a@example.com", "zed@example.com", "not in this cycle"),
    ("a@example.com", "not an address", "not an email address"),
])
def test_issue_15_a_swap_of_bad_choices_says_what_is_wrong(new_uow: NewUow, cycle: Cycle, clock: FakeClock,
                                                           first: str, second: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        swap_members(new_uow, clock, SETTINGS, cycle_id(cycle), first, second)


def test_issue_15_ratings_are_averaged_by_cycle_and_only_shared_comments_are_read(
        new_uow: NewUow, cast: dict[str, Person], clock: FakeClock) -> None:
    first = plan_cycle(new_uow, cast, [("a", "b"), ("c", "d")], [], clock)
    later = Interval(WINDOW.start + timedelta(days=7), WINDOW.end + timedelta(days=7))
    second = plan_cycle(new_uow, cast, [("a", "c")], [], clock, window=later)
    clock.current = later.end
    by_cycle = {c: groups(new_uow, c) for c in (first, second)}
    ab, cd = (meeting_of(new_uow, first, e) for e in ("a@example.com", "c@example.com"))
    [ac] = by_cycle[second]
    record_feedback(new_uow, clock, ab, "a@example.com", met=True, rating=5, comment="Shared praise",
                    share_comment=True)
    record_feedback(new_uow, clock, ab, "b@example.com", met=True, rating=4, comment="Private remark")
    record_feedback(new_uow, clock, cd, "c@example.com", met=False, comment="Shared, no rating", share_comment=True)
    record_feedback(new_uow, clock, ac, "a@example.com", met=True, rating=2)

    [ratings] = program_ratings(new_uow)

    assert ratings.program == "coffee"
    assert [(f.cycle_id, f.count, f.average) for f in ratings.cycles] == [(first.id, 2, 4.5), (second.id, 1, 2.0)]
    assert (ratings.count, ratings.average) == (3, pytest.approx(11 / 3))
    assert [c.comment for _, c in ratings.comments] == ["Shared praise", "Shared, no rating"]
    assert [c.rating for _, c in ratings.comments] == [5, None]
    page = load_cycle_page(new_uow, cycle_id(first))
    assert page.ratings is not None
    assert (page.ratings.count, page.ratings.average) == (2, 4.5)
    assert "Private remark" not in repr(page)
    assert [m.met for g in page.groups for m in g.members] == [True, True, False, None]
    # A later answer without the tick makes the comment private again.
    record_feedback(new_uow, clock, ab, "a@example.com", met=True, rating=5, comment="Shared praise")
    assert [c.comment for _, c in program_ratings(new_uow)[0].comments] == ["Shared, no rating"]


# --- any sequence of changes keeps the cycle whole -------------------------------------------------------------

moves = st.lists(st.one_of(st.tuples(st.just("remove"), st.sampled_from("abcdefgh")),
                           st.tuples(st.just("swap"), st.sampled_from("abcdefgh"), st.sampled_from("abcdefgh"))),
                 min_size=1, max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=moves)
def test_issue_15_any_changes_keep_everyone_once_the_history_and_the_outbox_in_step(
        sqlite_url: str, cast: dict[str, Person], clock: FakeClock, steps: list[tuple[str, ...]]) -> None:
    from scheduler.storage.migrate import upgrade_database
    from scheduler.storage.uow import SqlAlchemyUnitOfWork, create_engine_for, make_session_factory

    # A database of its own per example: hypothesis runs every example in the same test's folder.
    url = sqlite_url.replace("coffeechat.db", f"coffeechat-{uuid.uuid4().hex}.db")
    upgrade_database(url)
    engine = create_engine_for(url)
    try:
        def new_uow() -> UnitOfWork:
            return SqlAlchemyUnitOfWork(make_session_factory(engine))

        stored = plan_cycle(new_uow, cast, [("a", "b"), ("c", "d"), ("f", "g", "h")], ["e"], clock)
        for step in steps:
            emails = [f"{key}@example.com" for key in step[1:]]
            try:
                if step[0] == "remove":
                    remove_member(new_uow, clock, SETTINGS, cycle_id(stored), *emails)
                else:
                    swap_members(new_uow, clock, SETTINGS, cycle_id(stored), *emails)
            except InputError:
                pass  # refused: nothing changed, which the invariants below check as well
        standing = {i: members for i, (state, members, _) in groups(new_uow, stored).items() if state != "cancelled"}
        placed = [email for members in standing.values() for email in members]
        left = unmatched(new_uow, stored)
        # Everyone is in exactly one standing group or left out, never both, never neither.
        assert sorted(placed + list(left)) == sorted(p.email for p in cast.values())
        assert all(len(members) >= 2 for members in standing.values())
        # The history holds exactly the pairs of the standing groups.
        assert history(new_uow, stored) == {frozenset(pair) for members in standing.values()
                                            for pair in combinations(members, 2)}
        # Each placed person has one pending announcement, of their meeting's current generation; each person
        # left out one pending notice; nobody has both.
        sequences = {i: seq for i, (_, _, seq) in groups(new_uow, stored).items()}
        announced = pending(new_uow, stored, "announce")
        assert sorted(announced) == sorted(placed)
        for meeting_id, members in standing.items():
            for email in members:
                assert announced[email] == [
                    f"cycle-{stored.id}/meeting-{meeting_id}/seq-{sequences[meeting_id]}/announce/{email}"]
        notices = pending(new_uow, stored, "unmatched")
        assert sorted(notices) == sorted(left)
        assert all(len(keys) == 1 for keys in notices.values())
    finally:
        engine.dispose()
