"""The admin's view of how meetings went, by the members' own account: each program's "did you meet?" ratings,
averaged by cycle, and the comments whose writers allowed the organisers to read them (never the others, and
never who wrote them). Pure of Flask; the figures come from ``UnitOfWork.reports``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from scheduler.model import RatingFact, SharedComment
from scheduler.ports import UowFactory


@dataclass(frozen=True)
class ProgramRatings:
    """One program's ratings: per cycle (oldest first, those with at least one rating) and the shared comments,
    each with the week of its cycle."""

    program: str
    cycles: tuple[RatingFact, ...]
    comments: tuple[tuple[str, SharedComment], ...]

    @property
    def count(self) -> int:
        """Ratings given over all the program's cycles."""
        return sum(fact.count for fact in self.cycles)

    @property
    def average(self) -> float | None:
        """The average of every rating given in the program (None when none was)."""
        total = sum(fact.average * fact.count for fact in self.cycles if fact.average is not None)
        return total / self.count if self.count else None


def program_ratings(uow_factory: UowFactory) -> list[ProgramRatings]:
    """Each program that has ratings or shared comments, by name."""
    with uow_factory() as uow:
        facts = uow.reports.ratings()
        comments = uow.reports.shared_comments()
    programs = {fact.cycle_id: fact.program for fact in facts}
    weeks = {fact.cycle_id: fact.window_start.date().isoformat() for fact in facts}
    rated: dict[str, list[RatingFact]] = defaultdict(list)
    for fact in facts:
        if fact.count:
            rated[fact.program].append(fact)
    said: dict[str, list[tuple[str, SharedComment]]] = defaultdict(list)
    for comment in comments:
        if comment.cycle_id in programs:
            said[programs[comment.cycle_id]].append((weeks[comment.cycle_id], comment))
    return [ProgramRatings(name, tuple(rated.get(name, ())), tuple(said.get(name, ())))
            for name in sorted(set(rated) | set(said))]
