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

A service that refuses Coffee Chat itself (``ServiceRefused``: the mail server rejects the login) pauses that
service for the rest of the pass: the effect being performed goes back to pending without the attempt counted
against it, the others of the service are not tried, and the report carries one alert. Failing them one by one
would park every email of a cycle as dead, each needing its own requeue, for a single wrong password.
"""
from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from scheduler.delivery.emails import email_from_payload, invite_from_payload
from scheduler.errors import DeliveryError, ServiceRefused
from scheduler.model import CycleState, Effect
from scheduler.ports import Clock, EventCalendar, Mailer, UnitOfWork

Performer = Callable[[Effect], None]
Progress = Callable[[str, int, int], None]

logger = logging.getLogger(__name__)


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
    """What one pass of the relay did.

    ``skipped``: effects another relay took first. ``held``: effects kept pending, attempts not counted,
    because their service refused Coffee Chat (see ``alerts``). ``stale``: effects that came due too late to
    mean anything (a reminder after its meeting began), superseded unsent. ``alerts``: one line per paused
    service, for the admin (``"email delivery paused: …"``).
    """

    done: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    held: int = 0
    alerts: tuple[str, ...] = ()
    stale: int = 0

    @property
    def attempted(self) -> int:
        """Effects this pass tried to perform (an effect held back by a paused service is not one)."""
        return self.done + self.retried + self.dead

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        """Both reports' figures summed and their alerts in order (the batches of a pass)."""
        return DeliveryReport(done=self.done + other.done, retried=self.retried + other.retried,
                              dead=self.dead + other.dead, skipped=self.skipped + other.skipped,
                              held=self.held + other.held, alerts=self.alerts + other.alerts,
                              stale=self.stale + other.stale)


@dataclass
class _Pauses:
    """The services paused in this pass: why (by channel, see ``_channel``) and the effects held back."""

    reasons: dict[str, ServiceRefused] = field(default_factory=dict)
    held: dict[str, set[str]] = field(default_factory=dict)  # channel -> keys of the effects held back

    def held_keys(self) -> set[str]:
        return set().union(*self.held.values())

    def hold(self, channel: str, key: str) -> None:
        self.held.setdefault(channel, set()).add(key)

    def alerts(self) -> tuple[str, ...]:
        return tuple(f"{error.service} delivery paused: {error}; {len(self.held[channel])} kept pending for the "
                     "next pass" for channel, error in self.reasons.items())


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
    ``DeliveryError`` on failure. An effect of an unknown kind is parked as dead, never dropped. A performer
    that raises ``ServiceRefused`` pauses its service (the effect's kind, and for a provider event the
    provider) until the pass ends: that effect and the other due ones of the service stay pending with their
    attempts not counted, other services still go, and the report has one alert per paused service (logged
    once as a warning).
    """
    total = DeliveryReport()
    touched: set[int] = set()
    pauses = _Pauses()
    jitter = rng or random.Random()  # noqa: S311 - jitter, not a secret
    while True:
        batch, complete = _deliver_batch(uow_factory, performers, clock, policy, batch_size, progress, touched,
                                         jitter, pauses)
        total += batch
        # Nothing more is due once a read comes back short; a retried effect is never due again at once, and a
        # held one is read past, so this ends.
        if complete:
            break
    _close_delivered_cycles(uow_factory, touched)
    return replace(total, held=len(pauses.held_keys()), alerts=pauses.alerts())


def _deliver_batch(uow_factory: Callable[[], UnitOfWork], performers: Mapping[str, Performer], clock: Clock,
                   policy: RetryPolicy, batch_size: int, progress: Progress | None,
                   touched: set[int], rng: random.Random, pauses: _Pauses) -> tuple[DeliveryReport, bool]:
    """One batch of due effects: the report, and whether every due effect has now been seen. Adds the cycles
    of the effects it performed to ``touched`` and the effects it held back to ``pauses``."""
    held = pauses.held_keys()
    # Held effects stay due: read past them, so the effects of other services behind them still come up.
    limit = batch_size + len(held)
    with uow_factory() as uow:
        read = uow.outbox.due(clock.now(), limit=limit)
    due = [effect for effect in read if effect.key not in held]
    outcomes: Counter[str] = Counter()
    for position, effect in enumerate(due, start=1):
        outcomes[_deliver_one(uow_factory, performers, clock, policy, touched, rng, pauses, effect)] += 1
        if progress:
            progress("delivering", position, len(due))
    report = DeliveryReport(done=outcomes["done"], retried=outcomes["retried"], dead=outcomes["dead"],
                            skipped=outcomes["skipped"], stale=outcomes["stale"])
    return report, len(read) < limit


def _deliver_one(uow_factory: Callable[[], UnitOfWork], performers: Mapping[str, Performer], clock: Clock,
                 policy: RetryPolicy, touched: set[int], rng: random.Random, pauses: _Pauses,
                 effect: Effect) -> str:
    """Claim, perform and record one effect; what became of it: done, retried, dead, skipped or held."""
    channel = _channel(effect)
    if channel in pauses.reasons:
        pauses.hold(channel, effect.key)  # not claimed: it stays pending exactly as it was
        return "held"
    with uow_factory() as uow:
        claimed = uow.outbox.claim(effect.key, clock.now(), policy.lease)
        uow.commit()
    if not claimed:
        return "skipped"  # another relay got there first, or it is no longer due
    if effect.cycle_id is not None:
        touched.add(effect.cycle_id)
    now = clock.now()
    if effect.stale_at is not None and now >= effect.stale_at:
        with uow_factory() as uow:
            uow.outbox.mark_stale(effect.key, f"superseded: came due at {now:%Y-%m-%d %H:%M} UTC, after "
                                              f"{effect.stale_at:%Y-%m-%d %H:%M} UTC, too late to be sent")
            uow.commit()
        return "stale"
    attempts = effect.attempts + 1
    outcome = _perform(performers, effect)
    with uow_factory() as uow:
        if isinstance(outcome, ServiceRefused):
            # Due again at once (or after the service's Retry-After): this pass reads past it, the next one
            # begins with it.
            kept = uow.outbox.release(effect.key, str(outcome),
                                      clock.now() + timedelta(seconds=outcome.retry_after or 0))
            uow.commit()
            pauses.reasons[channel] = outcome
            if kept:
                pauses.hold(channel, effect.key)
            # Once per service and pass: the effects held after this one are counted, not logged.
            logger.warning("%s delivery paused for the rest of this pass, its effects kept pending: %s",
                           outcome.service, outcome)
            return "held"
        if outcome is None:
            uow.outbox.mark_done(effect.key, clock.now())
            result = "done"
        elif outcome.transient and attempts < policy.max_attempts:
            when = clock.now() + policy.delay(attempts, outcome.retry_after, draw=rng.random())
            uow.outbox.mark_retry(effect.key, str(outcome), when)
            result = "retried"
        else:
            why = str(outcome) if not outcome.transient else f"gave up after {attempts} attempts: {outcome}"
            uow.outbox.mark_dead(effect.key, why)
            result = "dead"
        uow.commit()
    return result


def _channel(effect: Effect) -> str:
    """What an effect is sent through, the unit a refusal pauses: its kind, and for a provider event the
    provider, so a refused Google sign-in does not hold back Microsoft's events."""
    provider = effect.payload.get("provider")
    return f"{effect.kind}:{provider}" if isinstance(provider, str) else effect.kind


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
