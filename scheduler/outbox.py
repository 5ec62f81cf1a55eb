"""The delivery relay: performs planned side effects exactly once, as far as the outside world can tell.

Each effect is claimed (a short lease, committed), performed, and recorded (committed) — three steps, so a
crash between them leaves the effect either unclaimed, or claimed with an expiring lease to be picked up again.
Claims are conditional updates (``SELECT … FOR UPDATE SKIP LOCKED`` first on PostgreSQL), so two relays never
perform the same effect at once. Transient failures wait on a doubling ladder, honouring a server's
Retry-After; permanent ones, or too many attempts, park the effect as a dead letter for the admin
(``coffeechat outbox requeue`` revives it).

What a crash can repeat, by effect kind:

- ``calendar_event`` (a provider creates, moves or cancels the event and sends the invitations): exactly once.
  The provider's event identity is derived from the meeting's UID, and ``EventCalendar.create_event`` looks
  for an existing event before creating, so a repeat after an unknown outcome changes nothing.
- ``email``: at least once. SMTP has no idempotency key, so a relay killed after the server accepted a message
  and before the outcome was committed sends it again after the lease expires. The window is one message
  wide (the outcome is committed right after each send), so at most one duplicate per crash, and the copy
  carries the same deterministic Message-ID, by which mail servers and clients recognise it (the file backend
  simply overwrites the same file).

A meeting that is rescheduled or cancelled supersedes its pending effects of earlier generations (the keys
carry the meeting's SEQUENCE), so no stale reminder or invite goes out afterwards.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from scheduler.emails import email_from_payload, invite_from_payload
from scheduler.errors import DeliveryError
from scheduler.model import CycleState, Effect
from scheduler.ports import Clock, EventCalendar, Mailer, UnitOfWork

Performer = Callable[[Effect], None]
Progress = Callable[[str, int, int], None]


MIN_WAIT = timedelta(seconds=1)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry an effect that failed transiently."""

    max_attempts: int = 8
    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=6)
    lease: timedelta = timedelta(minutes=5)

    def delay(self, attempts: int, retry_after: float | None = None, *, draw: float = 1.0) -> timedelta:
        """The wait before attempt ``attempts + 1``: full jitter, ``draw`` (uniform in [0, 1)) × base ×
        2^(attempts-1), capped; never below the server's Retry-After nor below one second (so a retried effect
        is never due again within the same pass). ``draw = 1`` gives the top of the ladder.

        Jitter spreads the retries of many effects that failed together (a mail server's outage) instead of
        sending them back all at once when it returns.
        """
        ladder = min(self.cap, self.base * (2 ** max(0, attempts - 1))) * draw
        wait = max(ladder, MIN_WAIT)
        if retry_after is not None:
            wait = max(wait, timedelta(seconds=retry_after))
        return wait


@dataclass(frozen=True)
class DeliveryReport:
    """What one pass of the relay did."""

    done: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0

    @property
    def attempted(self) -> int:
        """Effects this pass tried to perform."""
        return self.done + self.retried + self.dead


def deliver_due(
    uow_factory: Callable[[], UnitOfWork],
    performers: Mapping[str, Performer],
    clock: Clock,
    policy: RetryPolicy,
    *,
    batch_size: int = 200,
    progress: Progress | None = None,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Perform every effect that is due now, one at a time, reading ``batch_size`` at a time; return what
    happened. ``rng`` draws the retry jitter (a fresh generator when not given).

    ``performers`` maps an effect kind to the function that performs it; a performer raises
    ``DeliveryError`` on failure. An effect of an unknown kind is parked as dead, never dropped.
    """
    total = DeliveryReport()
    touched: set[int] = set()
    while True:
        batch, due = _deliver_batch(uow_factory, performers, clock, policy, batch_size, progress, touched,
                                    rng or random.Random())  # noqa: S311 - jitter, not a secret
        total = DeliveryReport(done=total.done + batch.done, retried=total.retried + batch.retried,
                               dead=total.dead + batch.dead, skipped=total.skipped + batch.skipped)
        # A short batch means nothing more is due; a retried effect is never due again at once, so this ends.
        if due < batch_size:
            break
    _close_delivered_cycles(uow_factory, touched)
    return total


def _deliver_batch(uow_factory: Callable[[], UnitOfWork], performers: Mapping[str, Performer], clock: Clock,
                   policy: RetryPolicy, batch_size: int, progress: Progress | None,
                   touched: set[int], rng: random.Random) -> tuple[DeliveryReport, int]:
    """One batch of due effects: the report and how many were due. Adds the cycles of the effects it
    performed to ``touched``."""
    done = retried = dead = skipped = 0
    with uow_factory() as uow:
        due = uow.outbox.due(clock.now(), limit=batch_size)
    for position, effect in enumerate(due, start=1):
        with uow_factory() as uow:
            claimed = uow.outbox.claim(effect.key, clock.now(), policy.lease)
            uow.commit()
        if not claimed:
            skipped += 1  # another relay got there first, or it is no longer due
            continue
        if effect.cycle_id is not None:
            touched.add(effect.cycle_id)
        attempts = effect.attempts + 1
        outcome = _perform(performers, effect)
        with uow_factory() as uow:
            if outcome is None:
                uow.outbox.mark_done(effect.key, clock.now())
                done += 1
            elif outcome.transient and attempts < policy.max_attempts:
                when = clock.now() + policy.delay(attempts, outcome.retry_after, draw=rng.random())
                uow.outbox.mark_retry(effect.key, str(outcome), when)
                retried += 1
            else:
                why = str(outcome) if not outcome.transient else f"gave up after {attempts} attempts: {outcome}"
                uow.outbox.mark_dead(effect.key, why)
                dead += 1
            uow.commit()
        if progress:
            progress("delivering", position, len(due))
    return DeliveryReport(done=done, retried=retried, dead=dead, skipped=skipped), len(due)


def _perform(performers: Mapping[str, Performer], effect: Effect) -> DeliveryError | None:
    performer = performers.get(effect.kind)
    if performer is None:
        return DeliveryError(f"no way to perform effects of kind {effect.kind!r}", transient=False)
    try:
        performer(effect)
    except DeliveryError as error:
        return error
    return None


def _close_delivered_cycles(uow_factory: Callable[[], UnitOfWork], cycle_ids: set[int]) -> None:
    """Mark the given planned cycles delivered once none of their effects is pending or in flight. Only the
    cycles this pass worked on are looked at: the others cannot have changed."""
    if not cycle_ids:
        return
    with uow_factory() as uow:
        for cycle_id in sorted(cycle_ids):
            cycle = uow.cycles.get(cycle_id)
            if cycle is None or cycle.state != CycleState.PLANNED:
                continue
            open_effects = [e for e in uow.outbox.list(cycle_id=cycle_id) if e.state in ("pending", "in_flight")]
            if not open_effects:
                uow.cycles.set_state(cycle_id, CycleState.DELIVERED)
        uow.commit()


def standard_performers(mailer: Mailer, event_calendars: Mapping[str, EventCalendar]) -> dict[str, Performer]:
    """How each kind of effect is performed: ``email`` through ``mailer``; ``calendar_event`` through the
    ``EventCalendar`` its payload names (``event_calendars["google"]``, …).

    A malformed payload, or a provider that is not configured, is a permanent ``DeliveryError`` (the effect
    goes dead with the reason, for the admin).
    """

    def send_email(effect: Effect) -> None:
        try:
            message = email_from_payload(effect.payload)
        except ValueError as exc:
            raise DeliveryError(f"effect {effect.key}: {exc}", transient=False) from exc
        mailer.send(message)

    def perform_event(effect: Effect) -> None:
        payload = effect.payload
        provider, action = payload.get("provider"), payload.get("action")
        calendar = event_calendars.get(str(provider))
        if calendar is None:
            raise DeliveryError(f"no event calendar {provider!r} is configured (effect {effect.key})",
                                transient=False)
        try:
            invite = invite_from_payload(_payload_mapping(payload.get("invite")))
        except ValueError as exc:
            raise DeliveryError(f"effect {effect.key}: {exc}", transient=False) from exc
        online = payload.get("online_meeting") is True
        if action == "create":
            calendar.create_event(invite, online_meeting=online)
        elif action == "update":
            # The create of an earlier generation may have been superseded before it ran: creating first
            # (which finds an existing event and changes nothing) makes sure there is an event to move.
            calendar.create_event(invite, online_meeting=online)
            calendar.update_event(invite)
        elif action == "cancel":
            calendar.cancel_event(invite)
        else:
            raise DeliveryError(f"unknown calendar event action {action!r} (effect {effect.key})", transient=False)

    return {"email": send_email, "calendar_event": perform_event}


def _payload_mapping(value: object) -> Mapping[str, object]:
    if not isinstance(value, dict):
        raise ValueError(f"payload field 'invite' is {value!r}, not an object")
    return value
