"""Finding a connector for a wish (issue 15, part 4): over random meeting histories, every connector found met both,
none is found when nobody did, never the asker or the person wished for, and the same history gives the same
answer whatever order it is read in; and the open wishes skip those already met or already asked."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scheduler.model import Person
from scheduler.planning.introductions import find_connectors, open_wishes

PEOPLE = [f"p{n}@example.com" for n in range(7)]
CONFIRMED = datetime(2026, 1, 1, tzinfo=UTC)

histories = st.dictionaries(
    st.frozensets(st.sampled_from(PEOPLE), min_size=2, max_size=2),
    st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    max_size=15,
)
two = st.lists(st.sampled_from(PEOPLE), min_size=2, max_size=2, unique=True)


@given(histories, two)
def test_issue_15_every_connector_met_both_and_is_neither_of_them(history: dict[frozenset[str], date],
                                                                  pair: list[str]) -> None:
    asker, wished = pair
    found = find_connectors(asker, wished, history)
    assert asker not in found
    assert wished not in found
    assert len(found) == len(set(found))
    for connector in found:
        assert frozenset((asker, connector)) in history
        assert frozenset((wished, connector)) in history
    # Everyone who met both is found.
    both = {c for c in PEOPLE if frozenset((asker, c)) in history and frozenset((wished, c)) in history}
    assert set(found) == both - {asker, wished}


@given(histories, two, st.randoms(use_true_random=False))
def test_issue_15_the_best_connector_is_deterministic_and_the_most_recent(
        history: dict[frozenset[str], date], pair: list[str], shuffler: random.Random) -> None:
    asker, wished = pair
    items = list(history.items())
    shuffler.shuffle(items)
    found = find_connectors(asker, wished, history)
    assert find_connectors(asker, wished, dict(items)) == found
    if found:
        best = found[0]
        best_older = min(history[frozenset((asker, best))], history[frozenset((wished, best))])
        for other in found[1:]:
            assert min(history[frozenset((asker, other))], history[frozenset((wished, other))]) <= best_older


@given(histories, two)
def test_issue_15_nobody_is_found_when_nobody_met_both(history: dict[frozenset[str], date],
                                                       pair: list[str]) -> None:
    asker, wished = pair
    # Forget every meeting of the person wished for: nobody met both any more.
    history = {p: d for p, d in history.items() if wished not in p}
    assert find_connectors(asker, wished, history) == []


def person(email: str, **fields: object) -> Person:
    return Person(email=email, name=email.split("@")[0].title(), team=email, verified_at=CONFIRMED,
                  **fields)  # type: ignore[arg-type]


def test_issue_15_open_wishes_skip_met_asked_blocked_and_team_wishes() -> None:
    day = date(2026, 3, 2)
    history = {frozenset(("ana@example.com", "cy@example.com")): day,
               frozenset(("ben@example.com", "cy@example.com")): day - timedelta(days=7),
               frozenset(("ana@example.com", "dee@example.com")): day}
    people = [person("ana@example.com", wishlist=frozenset({"ben@example.com", "dee@example.com", "team:Sales"})),
              person("ben@example.com"), person("cy@example.com"), person("dee@example.com")]
    wishes = open_wishes(people, history, asked=())
    assert [(w.asker.email, w.wished.email, w.connector.email) for w in wishes] == [
        ("ana@example.com", "ben@example.com", "cy@example.com")]  # dee: already met; team: not a person
    assert open_wishes(people, history, asked={("ana@example.com", "ben@example.com")}) == []
    blocked = [*people[:1], person("ben@example.com", blocked=frozenset({"ana@example.com"})), *people[2:]]
    assert open_wishes(blocked, history, asked=()) == []
    gone = [*people[:2], person("cy@example.com", opted_out=True), people[3]]
    assert open_wishes(gone, history, asked=()) == []
