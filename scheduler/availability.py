"""Availability: route each person to the calendar provider of their source, and keep the cycle going when
one provider or one calendar fails."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from scheduler.errors import ProviderUnavailable
from scheduler.model import Busy, Interval, Person
from scheduler.ports import CalendarProvider


class CalendarRouter:
    """A ``CalendarProvider`` that sends each person to the provider for their calendar kind.

    People without a calendar (kind ``none``) get ``Busy(known=False)``: they are planned on working hours.
    A kind with no configured provider, or a provider that is down, turns into a per-person error, so the cycle
    records who had no calendar data and goes on.
    """

    def __init__(self, providers: Mapping[str, CalendarProvider]) -> None:
        self._providers = dict(providers)

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        """Busy intervals of each person over ``window``, keyed by email (see ``CalendarProvider``)."""
        by_kind: dict[str, list[Person]] = defaultdict(list)
        for person in people:
            by_kind[person.calendar.kind].append(person)
        answers: dict[str, Busy] = {}
        for kind, group in by_kind.items():
            provider = self._providers.get(kind)
            if kind == "none":
                answers.update({p.email: Busy(known=False) for p in group})
            elif provider is None:
                answers.update({p.email: Busy(error=f"no {kind} calendar connector is configured") for p in group})
            else:
                try:
                    answers.update(provider.fetch_busy(group, window))
                except ProviderUnavailable as exc:
                    answers.update({p.email: Busy(error=str(exc)) for p in group})
        return answers
