"""Fakes: in-process fakes of the ports here (small enough to trust by reading); wire-level fakes of the
calendar providers in the modules beside it (servers that speak the providers' JSON on loopback)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from scheduler.errors import DeliveryError
from scheduler.model import Busy, EmailMessage, Interval, Invite, Person, merge_intervals


class FakeClock:
    """A clock that stands still until told to move."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


class FakeCalendarProvider:
    """Busy and tentative intervals held in dicts; people in neither have free calendars; ``errors`` fail one
    person as the contract says; ``raises`` makes any call that includes that person raise the exception, as an
    adapter with a bug would."""

    def __init__(self, busy: dict[str, list[Interval]] | None = None, errors: dict[str, str] | None = None,
                 tentative: dict[str, list[Interval]] | None = None,
                 raises: dict[str, Exception] | None = None):
        self.busy = busy or {}
        self.tentative = tentative or {}
        self.errors = errors or {}
        self.raises = raises or {}
        self.calls: list[list[str]] = []

    def fetch_busy(self, people: Sequence[Person], window: Interval) -> dict[str, Busy]:
        self.calls.append([p.email for p in people])
        for person in people:
            if person.email in self.raises:
                raise self.raises[person.email]
        answers = {}
        for person in people:
            if person.email in self.errors:
                answers[person.email] = Busy(error=self.errors[person.email])
            else:
                answers[person.email] = Busy(busy=_clipped(self.busy.get(person.email, []), window),
                                             tentative=_clipped(self.tentative.get(person.email, []), window))
        return answers


def _clipped(intervals: Sequence[Interval], window: Interval) -> tuple[Interval, ...]:
    return merge_intervals(c for i in intervals if (c := i.clip(window)))


class FakeMailer:
    """Keeps sent messages; ``fail_with`` makes the next sends raise until it is cleared."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_with: DeliveryError | None = None
        self.closed = 0

    def send(self, message: EmailMessage) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)

    def close(self) -> None:
        self.closed += 1


class FakeEventCalendar:
    """An ``EventCalendar`` keeping events by invite UID, idempotent as the port requires. ``failures`` are
    raised, one per call, before anything changes; ``calls`` records (method, uid, sequence)."""

    def __init__(self) -> None:
        self.events: dict[str, Invite] = {}  # live (not cancelled) events by UID
        self.cancelled: dict[str, Invite] = {}
        self.calls: list[tuple[str, str, int]] = []
        self.failures: list[DeliveryError] = []

    def _call(self, method: str, invite: Invite) -> None:
        self.calls.append((method, invite.uid, invite.sequence))
        if self.failures:
            raise self.failures.pop(0)

    def create_event(self, invite: Invite, *, online_meeting: bool = False) -> str:
        self._call("create", invite)
        if invite.uid not in self.events and invite.uid not in self.cancelled:
            self.events[invite.uid] = invite
        return f"event-{invite.uid}"

    def update_event(self, invite: Invite) -> None:
        self._call("update", invite)
        if invite.uid not in self.events:
            raise DeliveryError(f"no event {invite.uid} to update", transient=False)
        self.events[invite.uid] = invite

    def cancel_event(self, invite: Invite) -> None:
        self._call("cancel", invite)
        if invite.uid in self.events:
            self.cancelled[invite.uid] = self.events.pop(invite.uid)
