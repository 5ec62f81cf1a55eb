"""A manager's page of their reports: which leaders each report should get to know (a leader program).

A manager is whoever is named as ``manager`` by someone; a suggestion names leaders (role ``leader``) outside the
report's own department, and counts in a leader program like the report's own request, but weaker
(``scheduler.pairing.leaders``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduler.errors import InputError
from scheduler.model import Person, normalize_email
from scheduler.pairing.leaders import is_leader, same_department
from scheduler.ports import UowFactory


@dataclass(frozen=True)
class ReportSuggestions:
    """One direct report with the leaders suggested to them and the leaders they may be suggested."""

    report: Person
    suggested: tuple[Person, ...]
    possible: tuple[Person, ...]


def my_reports(uow_factory: UowFactory, manager: str) -> list[ReportSuggestions]:
    """The people whose manager is ``manager``, by name, each with their suggestions and the leaders outside
    their department."""
    manager = normalize_email(manager)
    with uow_factory() as uow:
        people = uow.people.list()
        stored = uow.leader_suggestions.all()
    leaders = [p for p in people if is_leader(p)]
    reports = sorted((p for p in people if p.manager.strip().lower() == manager), key=lambda p: (p.name, p.email))
    return [ReportSuggestions(report, tuple(p for p in leaders if p.email in stored.get(report.email, frozenset())),
                              tuple(p for p in leaders if not same_department(p, report) and p.email != report.email))
            for report in reports]


def suggest_leaders(uow_factory: UowFactory, manager: str, report: str, leaders: frozenset[str],
                    at: datetime) -> frozenset[str]:
    """Make ``leaders`` the leaders ``manager`` suggests to ``report``, replacing earlier ones, and return them.

    ``InputError`` naming the field: ``report`` when that person is not the manager's direct report, ``leaders``
    for an address that is not a leader outside the report's department."""
    mine = {entry.report.email: entry for entry in my_reports(uow_factory, manager)}
    entry = mine.get(report.strip().lower())
    if entry is None:
        raise InputError("you can suggest leaders only to your own direct reports", where="report")
    allowed = {p.email for p in entry.possible}
    wrong = sorted(leaders - allowed)
    if wrong:
        raise InputError(f"{wrong[0]} is not a leader outside {entry.report.name}'s department", where="leaders")
    with uow_factory() as uow:
        uow.leader_suggestions.set(entry.report.email, leaders, by=manager, at=at)
        uow.commit()
    return leaders
