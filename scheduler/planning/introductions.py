"""Introductions: someone wishes to meet a person they never met, and a connector who met both is asked, with one
click, to introduce them by email.

The meeting history is the graph: ``find_connectors`` (pure) reads the pairs who really met
(``HistoryRepository.last_met``) and gives the people who met both, best first. ``plan_introductions`` is a step
of each cycle, in the transaction that stores it: for each open wish (an email on a wishlist, never met, no
introduction asked yet) with a connector, it stores the request and plans the connector's email. The links of
that email lead to ``answer_introduction``: "Introduce them by email" plans the introduction to the person wished
for at once, and to the asker ``ASKER_DELAY`` later, so that the person wished for can say "I'd rather not"
first; "Not now", or that "I'd rather not", tells the asker only that the introduction could not happen this
time, never who said no. Either way the wish asks no one again, and keeps its weight in pairing as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from scheduler.delivery import emails
from scheduler.errors import NotFoundError
from scheduler.model import Effect, EmailMessage, Introduction, Person, normalize_email
from scheduler.planning.cycle import PlanSettings
from scheduler.planning.introduction_links import (
    CONNECTOR_ACTIONS,
    INTRODUCE,
    NOT_NOW,
    RATHER_NOT,
    IntroductionLinkError,
    IntroductionLinks,
)
from scheduler.planning.nonresponders import note_sign_of_life
from scheduler.ports import Clock, UnitOfWork, UowFactory

# The introduction reaches the asker this long after the person wished for, who may say "I'd rather not" first:
# then the asker's email is withdrawn unsent and they hear only that it could not happen this time.
ASKER_DELAY = timedelta(days=2)
# What the asker reads of each state: the same words for the connector's "not now" and the wished one's "no".
WAITING = "Waiting: we have asked someone who knows you both to introduce you."
INTRODUCED = "Introduced by email: look for an email from Coffee Chat."
NOT_THIS_TIME = "This introduction could not happen this time. The wish stays on your list and counts in pairing."


def find_connectors(asker: str, wished: str, last_met: Mapping[frozenset[str], date]) -> list[str]:
    """Everyone who met both ``asker`` and ``wished`` (``last_met``: pair -> day of their latest meeting), best
    first: the most recent of the two meetings the older one, then the newer one, then by email, so the same
    history always gives the same order. Never ``asker`` or ``wished`` themselves."""
    met_asker: dict[str, date] = {}
    met_wished: dict[str, date] = {}
    for pair, day in last_met.items():
        if len(pair) != 2:
            continue
        for person, partner in (tuple(pair), tuple(pair)[::-1]):
            if person == asker:
                met_asker[partner] = day
            elif person == wished:
                met_wished[partner] = day
    both = (set(met_asker) & set(met_wished)) - {asker, wished}

    def rank(connector: str) -> tuple[int, int, str]:
        older, newer = sorted((met_asker[connector], met_wished[connector]))
        return (-older.toordinal(), -newer.toordinal(), connector)

    return sorted(both, key=rank)


def wished_emails(person: Person) -> list[str]:
    """The entries of ``person``'s wishlist that name a person (an address, not ``team:`` or ``department:``),
    normalised and sorted."""
    return sorted({normalize_email(entry) for entry in person.wishlist if "@" in entry and ":" not in entry})


@dataclass(frozen=True)
class Wish:
    """An open wish with its connector: ``asker`` would like to meet ``wished``, whom ``connector`` met too."""

    asker: Person
    wished: Person
    connector: Person


def open_wishes(people: Iterable[Person], last_met: Mapping[frozenset[str], date],
                asked: Iterable[tuple[str, str]]) -> list[Wish]:
    """The wishes of ``people`` to meet someone they never met, that have no introduction ``asked`` yet and a
    connector among ``people``; everyone involved taking part (not opted out, confirmed), and neither blocking
    the other. Sorted by asker, then wished."""
    everyone = {person.email: person for person in people}
    active = {email for email, person in everyone.items() if not person.opted_out and person.verified_at}
    done = set(asked)
    wishes = []
    for asker in sorted(active):
        person = everyone[asker]
        for wished in wished_emails(person):
            other = everyone.get(wished)
            if (other is None or wished not in active or wished == asker or (asker, wished) in done
                    or frozenset((asker, wished)) in last_met
                    or asker in other.blocked or wished in person.blocked):
                continue
            connectors = [c for c in find_connectors(asker, wished, last_met) if c in active]
            if connectors:
                wishes.append(Wish(person, other, everyone[connectors[0]]))
    return wishes


def request_key(introduction_id: int) -> str:
    """The outbox key of the email asking the connector."""
    return f"introduction-{introduction_id}/request"


def _email_effect(key: str, message: EmailMessage, *, due: datetime | None = None) -> Effect:
    return Effect(key=key, kind="email", payload=emails.email_to_payload(message), next_attempt_at=due)


def plan_introductions(uow: UnitOfWork, now: datetime, settings: PlanSettings) -> list[Introduction]:
    """In the caller's transaction (the one storing a cycle): for each open wish with a connector, store an
    introduction request and plan the connector's email; return the requests stored. Nothing without
    ``settings.introduction_links`` (the email is all one-click links). The caller commits."""
    links = settings.introduction_links
    if links is None:
        return []
    wishes = open_wishes(uow.people.list(), uow.history.last_met(now), uow.introductions.asked_pairs())
    stored = []
    for wish in wishes:
        introduction = uow.introductions.add(wish.asker.email, wish.wished.email, wish.connector.email, now)
        if introduction is None:
            continue
        actions = {action: links.url(settings.site, introduction.id, wish.connector.email, action, now)
                   for action in CONNECTOR_ACTIONS}
        key = request_key(introduction.id)
        message = emails.introduction_request(wish.connector, wish.asker, wish.wished, sender=settings.sender,
                                              key=key, actions=actions)
        uow.outbox.add(_email_effect(key, message))
        stored.append(introduction)
    return stored


@dataclass(frozen=True)
class IntroductionLink:
    """What an introduction link's page shows: the introduction, its three people (``connector`` None once
    gone) and the action the link is for."""

    introduction: Introduction
    action: str
    asker: Person
    wished: Person
    connector: Person | None

    @property
    def open(self) -> bool:
        """Whether the action can still be taken (the introduction is in the state the action answers)."""
        return self.introduction.state == ("introduced" if self.action == RATHER_NOT else "asked")


def _read_link(uow: UnitOfWork, links: IntroductionLinks | None, action: str, token: str,
               now: datetime) -> IntroductionLink:
    if links is None:
        raise IntroductionLinkError("invalid")
    introduction_id, email = links.load(action, token, now)
    introduction = uow.introductions.get(introduction_id)
    if introduction is None:
        raise IntroductionLinkError("unavailable")
    # The link's address must be the one the action belongs to: the wished person's "no", the connector's others.
    if email != (introduction.wished if action == RATHER_NOT else introduction.connector):
        raise IntroductionLinkError("invalid")
    asker, wished = uow.people.get(introduction.asker), uow.people.get(introduction.wished)
    if asker is None or wished is None:
        raise IntroductionLinkError("unavailable")
    return IntroductionLink(introduction, action, asker, wished, uow.people.get(introduction.connector))


def open_introduction_link(uow_factory: UowFactory, links: IntroductionLinks | None, action: str, token: str,
                           now: datetime) -> IntroductionLink:
    """What the page of a link shows; ``IntroductionLinkError`` for a link that cannot be used. Reads only."""
    with uow_factory() as uow:
        return _read_link(uow, links, action, token, now)


def answer_introduction(uow_factory: UowFactory, clock: Clock, settings: PlanSettings, action: str,
                        token: str) -> IntroductionLink:
    """Do what the link's button says, in one transaction with its emails; return the link as it now stands.
    ``introduce``: plan the introduction to both (the asker's ``ASKER_DELAY`` later). ``not-now`` and
    ``rather-not``: withdraw the asker's introduction if still unsent and tell them only that it could not happen
    this time. An introduction already answered is left as it is (a second click changes nothing).
    ``IntroductionLinkError`` for a link that cannot be used."""
    now = clock.now()
    with uow_factory() as uow:
        link = _read_link(uow, settings.introduction_links, action, token, now)
        if not link.open:
            return link
        introduction, asker, wished = link.introduction, link.asker, link.wished
        prefix = f"introduction-{introduction.id}"
        if action == INTRODUCE:
            if link.connector is None:
                raise IntroductionLinkError("unavailable")
            uow.introductions.set_state(introduction.id, "introduced", now)
            rather_not = None
            if settings.introduction_links is not None:
                rather_not = settings.introduction_links.url(settings.site, introduction.id, wished.email,
                                                             RATHER_NOT, now)
            to_wished = emails.introduction_email(wished, asker, link.connector, wished=True,
                                                  sender=settings.sender, key=f"{prefix}/to-wished",
                                                  rather_not_url=rather_not)
            to_asker = emails.introduction_email(asker, wished, link.connector, wished=False,
                                                 sender=settings.sender, key=f"{prefix}/to-asker")
            uow.outbox.add(_email_effect(f"{prefix}/to-wished", to_wished))
            uow.outbox.add(_email_effect(f"{prefix}/to-asker", to_asker, due=now + ASKER_DELAY))
        else:
            uow.introductions.set_state(introduction.id, "not_now" if action == NOT_NOW else "declined", now)
            uow.outbox.withdraw(f"{prefix}/to-asker", "the introduction could not happen")
            closed = emails.introduction_closed(asker, wished, sender=settings.sender, site=settings.site,
                                                key=f"{prefix}/closed")
            uow.outbox.add(_email_effect(f"{prefix}/closed", closed))
        uow.commit()
        answered = _read_link(uow, settings.introduction_links, action, token, now)
    note_sign_of_life(uow_factory, clock, answered.wished.email if action == RATHER_NOT
                      else answered.introduction.connector)
    return answered


@dataclass(frozen=True)
class IntroductionStatus:
    """One of the asker's introductions as they see it: whom they wished for, since when, and where it stands in
    words that never say who said no."""

    wished: Person
    asked_on: date
    words: str


def asker_words(introduction: Introduction, now: datetime) -> str:
    """Where ``introduction`` stands for its asker: waiting (also while the person wished for may still say no
    before the asker's email goes), introduced, or could not happen this time (whoever said no)."""
    if introduction.state in ("not_now", "declined"):
        return NOT_THIS_TIME
    if introduction.state == "introduced" and introduction.answered_at is not None \
            and now >= introduction.answered_at + ASKER_DELAY:
        return INTRODUCED
    return WAITING


def introductions_of(uow_factory: UowFactory, email: str, now: datetime) -> list[IntroductionStatus]:
    """The introductions asked for ``email``'s wishes, newest first, in the asker's words. ``NotFoundError``
    for an unknown address."""
    with uow_factory() as uow:
        if uow.people.get(email) is None:
            raise NotFoundError(f"nobody has the address {email}")
        found = []
        for introduction in uow.introductions.of_asker(email):
            wished = uow.people.get(introduction.wished)
            if wished is not None:
                found.append(IntroductionStatus(wished, introduction.created_at.date(),
                                                asker_words(introduction, now)))
    return found
