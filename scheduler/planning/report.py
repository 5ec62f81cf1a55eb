"""Human summaries of a cycle plan: one row per group and the figures that say how good the plan is."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scheduler.model import Group, Person, as_local
from scheduler.planning.cycle import CyclePlan


@dataclass(frozen=True)
class GroupRow:
    """One group as people read it: who (with team), when in each member's zone, and why."""

    members: tuple[str, ...]
    times: tuple[str, ...]
    location: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class PlanSummary:
    """Rows for a table, and summary lines."""

    rows: tuple[GroupRow, ...]
    figures: tuple[str, ...]


def count_mixed(groups: Iterable[Group], people: Mapping[str, Person], attribute: str) -> int:
    """How many groups bring together people of more than one department or office (``attribute``); people
    without one, or no longer known, do not count."""
    return sum(1 for group in groups
               if len({getattr(people[e], attribute) for e in group.members if e in people} - {""}) > 1)


def summarize(plan: CyclePlan) -> PlanSummary:
    """Turn a plan into rows and figures (people, groups, cross-department share, share with a slot)."""
    rows = []
    with_slot = 0
    cross_department = count_mixed((m.group for m in plan.meetings), plan.people, "department")
    for meeting in plan.meetings:
        members = [plan.people[email] for email in meeting.group.members]
        if meeting.slot is not None:
            with_slot += 1
            times = tuple(
                f"{as_local(meeting.slot.start, m.timezone):%a %d %b %H:%M} {m.timezone}" for m in members)
        else:
            times = ("no common free time: they will pick one",)
        rows.append(GroupRow(
            members=tuple(f"{m.name} ({m.team}, {m.office})" for m in members),
            times=times,
            location=meeting.location,
            reasons=meeting.group.reasons,
        ))
    groups = len(plan.meetings)
    placed = sum(len(m.group.members) for m in plan.meetings)
    eligible = len(plan.people)
    sizes = Counter(len(m.group.members) for m in plan.meetings)
    by_size = ", ".join(f"{count} of {size}" for size, count in sorted(sizes.items()))
    figures = [
        f"people: {eligible + len(plan.ineligible)} signed up, {eligible} eligible, {placed} placed in "
        f"{groups} groups ({by_size or 'none'}), {len(plan.unmatched)} not placed",
        *(f"not eligible: {count} {reason}" for reason, count in Counter(plan.ineligible.values()).most_common()),
        f"cross-department groups: {_share(cross_department, groups)}",
        f"groups with a common free slot: {_share(with_slot, groups)}",
        f"calendars read: {eligible - len(plan.calendar_problems)} of {eligible}",
        f"seed: {plan.seed}",
        *plan.notes,
    ]
    return PlanSummary(tuple(rows), tuple(figures))


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "0/0"
