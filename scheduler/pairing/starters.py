"""Conversation starters: a few concrete openers from what a group's members share and where they differ.

"Ask Ana how Payments works with Sales", "You and Ben both like climbing", "Ben is in the Berlin office: ask
what it is like there". They sit beside the reasons of a match (the announcement, the invite's description,
the match page) and are made from the same profiles, by one pure function: the same members give the same
starters, in the same order.

Only what the match page already shows the members of each other goes in: names, teams, departments, offices,
time zones, and the interests two of them share (which the pairing reasons name too). A person's other
interests, seniority, manager and wishes never appear, so nobody learns from a starter anything about anyone
that they could not read on the page. The texts are plain strings of user input: the templates escape them.

It lives beside the pairing because it reads a group as the pairing does (``score.first_name``, shared
interests, different departments and offices), and low enough for the emails (``scheduler.delivery``) and the
match page (``scheduler.planning``) to call it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from scheduler.model import Person
from scheduler.pairing.score import first_name

MAX_STARTERS = 3
# Interests named in one starter: "climbing and chess", never a list the length of a profile.
MAX_INTERESTS_NAMED = 2


def conversation_starters(members: Sequence[Person], viewer: Person | None = None) -> tuple[str, ...]:
    """At most ``MAX_STARTERS`` openers for a meeting of ``members``, none empty, each about members only.

    With ``viewer`` (one of ``members``, found by email) they are addressed to that member about the others
    ("Ask Ana how Payments works with Sales"); without, to the whole group, as the calendar invite's description
    that every member reads ("Ben, ask Ana how Payments works with Sales"). One of each kind is taken before a
    second of any, in this order: a shared interest, a department or team to ask about, an office, a time
    zone. ``ValueError`` when ``viewer`` is not a member.
    """
    people = _distinct(members)
    if viewer is not None and viewer.email not in {person.email for person in people}:
        raise ValueError(f"{viewer.email} is not one of the members")
    names = _names(people)
    if viewer is None:
        pairs = [(a, b) for i, a in enumerate(people) for b in people[i + 1:]]
    else:
        asker = next(person for person in people if person.email == viewer.email)
        pairs = [(asker, other) for other in people if other.email != viewer.email]
    you = viewer is not None
    everyone = _common_interests(people)

    def shared_interest(a: Person, b: Person, names: dict[str, str], you: bool) -> str | None:
        return _shared_interest(a, b, names, you, everyone)

    kinds: list[list[str]] = [
        _everyone_shares(people, everyone) + _texts(pairs, names, you, shared_interest),
        _texts(pairs, names, you, _department),
        _texts(pairs, names, you, _office),
        _texts(pairs, names, you, _time_zone),
    ]
    chosen: list[str] = []
    # Round by round, one of each kind, so three starters are three different things to talk about.
    for round_ in range(MAX_STARTERS):
        for texts in kinds:
            if round_ < len(texts) and texts[round_] not in chosen and len(chosen) < MAX_STARTERS:
                chosen.append(texts[round_])
    return tuple(chosen)


Phrase = Callable[[Person, Person, dict[str, str], bool], str | None]


def _texts(pairs: Sequence[tuple[Person, Person]], names: dict[str, str], you: bool, phrase: Phrase) -> list[str]:
    return [text for a, b in pairs if (text := phrase(a, b, names, you)) is not None]


def _clean(text: str) -> str:
    # User input, shown on one line: line breaks and runs of spaces would break a list item or the invite.
    return " ".join(text.split())


def _distinct(members: Sequence[Person]) -> list[Person]:
    seen: dict[str, Person] = {}
    for person in members:
        seen.setdefault(person.email, person)
    return list(seen.values())


def _names(people: Sequence[Person]) -> dict[str, str]:
    """What each member is called in a starter: their first name, or their whole name when another member has
    the same first name (two Anas), keyed by email."""
    first = {person.email: _clean(first_name(person)) or person.email for person in people}
    return {person.email: (_clean(person.name) or person.email)
            if list(first.values()).count(first[person.email]) > 1 else first[person.email]
            for person in people}


def _interests(person: Person) -> set[str]:
    return {cleaned for interest in person.interests if (cleaned := _clean(interest))}


def _named(interests: set[str]) -> str:
    return " and ".join(sorted(interests)[:MAX_INTERESTS_NAMED])


def _common_interests(people: Sequence[Person]) -> set[str]:
    """The interests every member has (none for a group of one)."""
    if len(people) < 2:
        return set()
    return set.intersection(*(_interests(person) for person in people))


def _everyone_shares(people: Sequence[Person], common: set[str]) -> list[str]:
    if not common:
        return []
    return [f"You {'both' if len(people) == 2 else 'all'} like {_named(common)}"]


def _shared_interest(a: Person, b: Person, names: dict[str, str], you: bool, everyone: set[str]) -> str | None:
    """What two members share beyond what the whole group does (said once, for everyone)."""
    common = (_interests(a) & _interests(b)) - everyone
    if not common:
        return None
    who = f"You and {names[b.email]}" if you else f"{names[a.email]} and {names[b.email]}"
    return f"{who} both like {_named(common)}"


def _department(a: Person, b: Person, names: dict[str, str], you: bool) -> str | None:
    """Ask the other about their department, or their team when both are in one department."""
    mine, theirs = _clean(a.department), _clean(b.department)
    lead = "Ask" if you else f"{names[a.email]}, ask"
    if theirs and mine and theirs != mine:
        return f"{lead} {names[b.email]} how {theirs} works with {mine}"
    if theirs and not mine:
        return f"{lead} {names[b.email]} what {theirs} works on"
    team, my_team = _clean(b.team), _clean(a.team)
    if team and team != my_team:
        return f"{lead} {names[b.email]} what {team} is working on right now"
    return None


def _office(a: Person, b: Person, names: dict[str, str], you: bool) -> str | None:
    mine, theirs = _clean(a.office), _clean(b.office)
    if not theirs:
        return None
    if theirs == mine:
        who = f"You and {names[b.email]}" if you else f"{names[a.email]} and {names[b.email]}"
        return f"{who} both work from the {theirs} office: swap tips for places nearby"
    if you or not mine:
        return f"{names[b.email]} is in the {theirs} office: ask what it is like there"
    return (f"{names[a.email]} is in the {mine} office and {names[b.email]} in the {theirs} office: "
            "ask each other what it is like there")


def _time_zone(a: Person, b: Person, names: dict[str, str], you: bool) -> str | None:
    offices = _clean(a.office), _clean(b.office)
    if a.timezone == b.timezone or (all(offices) and offices[0] != offices[1]):
        return None  # different offices already make the starter; the zone would say it again
    if you:
        return f"{names[b.email]} works on {b.timezone} time: ask how they handle meetings across time zones"
    return (f"{names[a.email]} works on {a.timezone} time and {names[b.email]} on {b.timezone} time: compare "
            "how you handle meetings across time zones")
