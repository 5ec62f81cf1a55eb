"""The periodic work (``coffeechat tick``, run from cron): plan every program that is due, deliver the due
effects, forget expired sign-in sessions.

It sits above the features it drives (planning, delivery, accounts); nothing in them imports it.
"""


from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from scheduler.accounts.access import purge_expired
from scheduler.delivery.outbox import DeliveryReport, Performer, RetryPolicy, deliver_due
from scheduler.errors import CoffeeChatError
from scheduler.model import Program
from scheduler.planning.cycle import (
    PlanSettings,
    Progress,
    is_due,
)
from scheduler.planning.run import CycleOutcome, run_cycle
from scheduler.ports import CalendarProvider, Clock, UowFactory

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgramFailure:
    """A program that ``tick`` could not plan this time: its name and what went wrong, in plain words."""

    program: str
    reason: str


@dataclass(frozen=True)
class TickReport:
    """What one ``tick`` did: the cycles it planned, the programs it could not plan, and what the delivery
    pass did."""

    cycles: tuple[CycleOutcome, ...] = ()
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    purged: int = 0  # expired sign-in sessions and used-link records removed
    failures: tuple[ProgramFailure, ...] = ()


def tick(
    uow_factory: UowFactory,
    provider: CalendarProvider,
    clock: Clock,
    programs: Sequence[Program],
    settings: PlanSettings,
    performers: dict[str, Performer],
    policy: RetryPolicy,
    *,
    batch_size: int = 200,
    progress: Progress | None = None,
) -> TickReport:
    """Do whatever is due: plan each program whose cadence has come round, deliver due effects, and forget
    expired sign-in sessions and used links.

    Each program is planned on its own: one that fails is logged with its traceback and reported in
    ``TickReport.failures``, and the other programs are planned and delivery runs all the same (emails of
    earlier cycles must not wait for a program that cannot be planned). Safe to run every few minutes: a
    planned window is never planned again and delivery is idempotent.
    """
    outcomes: list[CycleOutcome] = []
    failures: list[ProgramFailure] = []
    for program in programs:
        try:
            with uow_factory() as uow:
                cycles = uow.cycles.list(program.name)
            if is_due(program, cycles[0] if cycles else None, clock.now()):
                outcomes.append(run_cycle(uow_factory, provider, clock, program, settings, progress=progress))
        except Exception as exc:  # the boundary of one program: the others and delivery go on
            logger.exception("tick: program %r could not be planned", program.name)
            failures.append(ProgramFailure(program.name, _failure_reason(exc)))
    delivery = deliver_due(uow_factory, performers, clock, policy, batch_size=batch_size, progress=progress)
    return TickReport(cycles=tuple(outcomes), delivery=delivery, purged=purge_expired(uow_factory, clock),
                      failures=tuple(failures))


def _failure_reason(exc: Exception) -> str:
    """What went wrong, for the operator: our own errors say it themselves; anything else is named by type."""
    if isinstance(exc, CoffeeChatError):
        return str(exc)
    return f"an unexpected error ({type(exc).__name__}: {exc}); the traceback is in the log"
