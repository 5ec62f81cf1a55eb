"""Property tests: values of every shape survive the database, on SQLite as on PostgreSQL.

Each example runs in its own unit of work that is rolled back, so examples cannot see one another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.model import (
    CADENCES,
    MEETING_KINDS,
    MEETING_MODES,
    CalendarSource,
    Effect,
    Person,
    WorkingHours,
)
from scheduler.storage.uow import SqlAlchemyUnitOfWork

NewUow = Callable[[], SqlAlchemyUnitOfWork]

# The fixtures give one database per test, shared by its examples; each example rolls its work back.
database_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Aware datetimes in every zone, DST gaps and folds included.
aware_datetimes = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.timezones())
# PostgreSQL text cannot hold NUL, and surrogates are not valid UTF-8: neither can come from a web form.
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)


@st.composite
def working_hours(draw: st.DrawFn) -> WorkingHours:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    start, end = sorted(draw(st.lists(st.times(), min_size=2, max_size=2, unique=True)))
    return WorkingHours(days, start, end)


@st.composite
def lunch_hours(draw: st.DrawFn) -> tuple[time, time]:
    start, end = sorted(draw(st.lists(st.times(), min_size=2, max_size=2, unique=True)))
    return (start, end)


people = st.builds(
    Person,
    email=st.just("ada@example.com"),
    name=texts,
    team=texts,
    department=texts,
    office=texts,
    timezone=st.timezone_keys(),
    working_hours=working_hours(),
    calendar=st.one_of(
        st.just(CalendarSource()),
        st.builds(CalendarSource, st.sampled_from(["ics", "google", "microsoft", "caldav"]), texts.filter(bool)),
    ),
    kinds=st.frozensets(st.sampled_from(MEETING_KINDS)),
    mode=st.sampled_from(MEETING_MODES),
    cadence=st.sampled_from(CADENCES),
    interests=st.frozensets(texts, max_size=5),
    seniority=texts,
    manager=texts,
    # Storage keeps whatever the model holds; what counts as a valid entry is for the CSV and the web to say.
    wishlist=st.frozensets(
        st.emails() | texts.map("team:{}".format) | texts.map("department:{}".format) | texts, max_size=5
    ),
    blocked=st.frozensets(st.emails() | texts, max_size=5),
    paused_until=st.none() | st.dates(),
    opted_out=st.booleans(),
    verified_at=st.none() | aware_datetimes,
    lunch=st.none() | lunch_hours(),
)


@database_settings
@given(moment=aware_datetimes)
def test_datetimes_come_back_as_the_same_moment_in_utc(new_uow: NewUow, moment: datetime) -> None:
    with new_uow() as uow:
        uow.outbox.add(Effect("email:1", "email", {}, next_attempt_at=moment))
        [effect] = uow.outbox.list()

    assert effect.next_attempt_at == moment.astimezone(UTC)
    assert effect.next_attempt_at is not None
    assert effect.next_attempt_at.tzinfo is UTC


@database_settings
@given(scheduled=aware_datetimes, now=aware_datetimes)
def test_the_database_orders_moments_as_python_does(new_uow: NewUow, scheduled: datetime, now: datetime) -> None:
    # SQLite compares stored timestamps as text: only right if every value is stored in one zone and format.
    with new_uow() as uow:
        uow.outbox.add(Effect("email:1", "email", {}, next_attempt_at=scheduled))
        due = [effect.key for effect in uow.outbox.due(now)]

    assert due == (["email:1"] if scheduled <= now else [])


@database_settings
@given(person=people)
def test_people_of_every_shape_round_trip(new_uow: NewUow, person: Person) -> None:
    with new_uow() as uow:
        uow.people.save(person)
        loaded = uow.people.get(person.email)

    assert loaded == person
