"""People who stop answering, as a step of each cycle: leave them out, ask "still in?", pause, and let any sign
of life bring them back (the rules are in ``scheduler.planning.silence``).

``run_cycle`` calls ``check_silence`` while it reads the stored state, plans the cycle without the people it
leaves out (so nobody is ever grouped with them) and with their reasons among the plan's ineligible, then calls
``plan_silence`` in the transaction that stores the cycle: the questions and pauses are marked and their emails
planned as outbox effects with deterministic keys, so a plan and its emails are stored whole or not at all.

``note_sign_of_life`` is what the site calls when someone uses one of our signed links; ``silence_overview`` is
the admin's list of who was asked and who is paused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from scheduler.delivery import emails
from scheduler.errors import NotFoundError
from scheduler.model import Cycle, Effect, Engagement, Interval, Person, Program
from scheduler.planning.cycle import CyclePlan, PlanSettings
from scheduler.planning.silence import LEFT_OUT, SilenceRules, SilenceState, silence_reason, silence_state
from scheduler.planning.still_in_links import STAY
from scheduler.ports import Clock, UnitOfWork, UowFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SilenceCheck:
    """Who a cycle planned at ``now`` leaves out for silence (``states``, by email, never ``ACTIVE``), why in
    plain words (``reasons``), and what is known of them (``people``, ``engagement``)."""

    now: datetime
    rules: SilenceRules
    states: Mapping[str, SilenceState] = field(default_factory=dict)
    reasons: Mapping[str, str] = field(default_factory=dict)
    people: Mapping[str, Person] = field(default_factory=dict)
    engagement: Mapping[str, Engagement] = field(default_factory=dict)

    def keep(self, people: Iterable[Person]) -> list[Person]:
        """``people`` without those left out for silence: whom the cycle may pair."""
        return [person for person in people if person.email not in self.states]

    def annotate(self, plan: CyclePlan) -> CyclePlan:
        """``plan`` with the reasons of the people left out for silence among its ineligible."""
        return replace(plan, ineligible={**plan.ineligible, **self.reasons})

    @property
    def to_tell(self) -> list[str]:
        """Whom this cycle asks or pauses (and so emails), sorted."""
        return sorted(email for email, state in self.states.items()
                      if state in (SilenceState.ASK, SilenceState.PAUSE))


def check_silence(uow: UnitOfWork, people: Sequence[Person], program: Program, window: Interval,
                  rules: SilenceRules, now: datetime) -> SilenceCheck:
    """Who of ``people`` a cycle of ``program`` over ``window`` planned at ``now`` leaves out for silence. Only
    people the program would otherwise include are looked at: someone paused or not in the program is neither
    asked nor paused by it. Reads only."""
    engagement = uow.engagement.by_person()
    states: dict[str, SilenceState] = {}
    reasons: dict[str, str] = {}
    left_out: dict[str, Person] = {}
    for person in people:
        known = engagement.get(person.email)
        if known is None or person.ineligibility(program, window.start.date()) is not None:
            continue
        state = silence_state(known, rules, now)
        if state in LEFT_OUT:
            states[person.email] = state
            reasons[person.email] = silence_reason(state, known, rules, now)
            left_out[person.email] = person
    return SilenceCheck(now=now, rules=rules, states=states, reasons=reasons, people=left_out,
                        engagement={email: engagement[email] for email in left_out})


def still_in_key(cycle_id: int | None, email: str) -> str:
    """The outbox key of the "still in?" email planned by a cycle."""
    return f"cycle-{cycle_id}/still-in/{email}"


def silence_pause_key(cycle_id: int | None, email: str) -> str:
    """The outbox key of the email telling someone a cycle paused them for silence."""
    return f"cycle-{cycle_id}/silence-pause/{email}"


def plan_silence(uow: UnitOfWork, check: SilenceCheck, cycle: Cycle, settings: PlanSettings) -> list[Effect]:
    """In the caller's transaction (the one storing ``cycle``): mark the questions and pauses of ``check`` and
    add their emails to the outbox; return the effects added. The caller commits."""
    effects = []
    for email in check.to_tell:
        person, state = check.people[email], check.states[email]
        links = (settings.still_in_links.urls(settings.site, email, check.now)
                 if settings.still_in_links is not None else {})
        if state is SilenceState.ASK:
            uow.engagement.mark_asked(email, check.now)
            key = still_in_key(cycle.id, email)
            message = emails.still_in_request(person, cycles=check.rules.cycles, sender=settings.sender,
                                              site=settings.site, key=key, actions=links)
        else:
            uow.engagement.mark_paused(email, check.now)
            key = silence_pause_key(cycle.id, email)
            asked_at = check.engagement[email].asked_at or check.now
            message = emails.silence_pause_notice(person, asked_at=asked_at, sender=settings.sender,
                                                  site=settings.site, key=key, stay_url=links.get(STAY))
        effect = Effect(key=key, kind="email", payload=emails.email_to_payload(message), cycle_id=cycle.id)
        if uow.outbox.add(effect):
            effects.append(effect)
    return effects


def note_sign_of_life(uow_factory: UowFactory, clock: Clock, email: str) -> bool:
    """Record that ``email`` used one of our signed links just now (a sign of life: it ends a silence). False,
    and nothing written, when nobody has the address."""
    with uow_factory() as uow:
        try:
            uow.engagement.note_sign_of_life(email, clock.now())
        except NotFoundError:
            return False
        uow.commit()
    return True


@dataclass(frozen=True)
class SilentPerson:
    """Someone the admin's page lists for silence: their state, since when (the question or the pause; None
    for someone about to be asked), and the reason in plain words."""

    person: Person
    state: SilenceState
    since: datetime | None
    reason: str


def silence_overview(uow_factory: UowFactory, rules: SilenceRules, now: datetime) -> list[SilentPerson]:
    """Everyone not active as of ``now`` by the silence rules (about to be asked, asked, to be paused, paused),
    the paused first, then by the day it began."""
    with uow_factory() as uow:
        people = {person.email: person for person in uow.people.list()}
        engagement = uow.engagement.by_person()
    found = []
    for email, known in engagement.items():
        person = people.get(email)
        if person is None:
            continue
        state = silence_state(known, rules, now)
        if state is SilenceState.ACTIVE:
            continue
        since = known.paused_at if state is SilenceState.PAUSED else known.asked_at
        if state is SilenceState.ASK:
            since = None
        found.append(SilentPerson(person, state, since, _admin_reason(state, known, rules, now)))
    order = [SilenceState.PAUSED, SilenceState.PAUSE, SilenceState.ASKED, SilenceState.ASK]
    return sorted(found, key=lambda entry: (order.index(entry.state), entry.since or now, entry.person.email))


def _admin_reason(state: SilenceState, engagement: Engagement, rules: SilenceRules, now: datetime) -> str:
    """The reason as the admin reads it between cycles (``silence_reason`` speaks of the cycle being planned)."""
    if state is SilenceState.ASK:
        return f"no answer for {rules.cycles} cycles: the next cycle asks whether they still want to be paired"
    if state is SilenceState.PAUSE:
        asked = (engagement.asked_at or now).date().isoformat()
        return f"asked on {asked}, no answer since: the next cycle pauses them"
    return silence_reason(state, engagement, rules, now)
