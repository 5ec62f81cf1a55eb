"""The outbox as the operator sees it: list effects by state or cycle, and give a dead one another round.
"""


from __future__ import annotations

from scheduler.model import Effect
from scheduler.ports import Clock, UowFactory


def list_effects(uow_factory: UowFactory, *, state: str | None = None, cycle_id: int | None = None) -> list[Effect]:
    """Outbox effects, oldest first, optionally in one state and/or of one cycle."""
    with uow_factory() as uow:
        return uow.outbox.list(cycle_id=cycle_id, state=state)


def requeue_effect(uow_factory: UowFactory, clock: Clock, key: str) -> None:
    """Give a dead effect another round of attempts, due now. ``NotFoundError`` for an unknown key,
    ``StorageError`` for an effect that is not dead."""
    with uow_factory() as uow:
        uow.outbox.requeue(key, clock.now())
        uow.commit()
