"""The admin's participants: find people, pause one, and import many from a CSV file.

Pure of Flask: the admin pages (``web/admin.py``) parse a form, call one function here and render the answer.
"""


from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from scheduler.admin.people_csv import parse_people_csv
from scheduler.errors import InputError, NotFoundError
from scheduler.model import (
    Person,
)
from scheduler.ports import Clock, UnitOfWork, UowFactory

if TYPE_CHECKING:
    from scheduler.ports import Clock, UnitOfWork


MAX_QUERY = 200




@dataclass(frozen=True)
class Participant:
    """A person as the admin's list shows them: the profile and whether their account is disabled."""

    person: Person
    disabled: bool


def search_participants(uow_factory: UowFactory, query: str, *, limit: int = 200) -> tuple[list[Participant], int]:
    """People whose name, email, team or department contains ``query`` (case-insensitive; every word must match
    somewhere), sorted by email; at most ``limit`` of them, and how many matched in all."""
    words = query.casefold().split()[:20]
    with uow_factory() as uow:
        found = [person for person in uow.people.list()
                 if all(word in _haystack(person) for word in words)]
        shown = [Participant(person, _is_disabled(uow, person.email)) for person in found[:limit]]
    return shown, len(found)


def _haystack(person: Person) -> str:
    return " ".join((person.name, person.email, person.team, person.department)).casefold()


def _is_disabled(uow: UnitOfWork, email: str) -> bool:
    account = uow.accounts.get(email)
    return account is not None and account.disabled


def pause_participant(uow_factory: UowFactory, email: str, until: date | None) -> Person:
    """Pause the person until ``until`` (they are left out of cycles starting before it), or resume them with
    ``None``; return the stored person. ``NotFoundError`` when nobody has the address."""
    with uow_factory() as uow:
        person = uow.people.get(email)
        if person is None:
            raise NotFoundError(f"nobody has the address {email}")
        person = replace(person, paused_until=until)
        uow.people.save(person)
        uow.commit()
    return person


def parse_pause_date(text: str, today: date) -> date | None:
    """The date of the pause form: empty resumes (``None``), else an ISO date after ``today``; ``InputError``
    naming the field otherwise."""
    text = text.strip()
    if not text:
        return None
    try:
        until = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{text[:20]!r} is not a date like 2026-12-31", where="pause until") from None
    if until <= today:
        raise InputError(f"{until.isoformat()} has passed: choose a later date, or leave it empty to resume",
                         where="pause until")
    return until




@dataclass(frozen=True)
class ImportReport:
    """What an import of people did: how many were created or updated, and each bad row's error."""

    created: int
    updated: int
    errors: tuple[InputError, ...]


def import_people(uow_factory: UowFactory, text: str, *, source: str, clock: Clock) -> ImportReport:
    """Create or update people from CSV ``text`` (see ``scheduler.admin.people_csv`` for the columns).

    Good rows are saved in one transaction; bad rows are reported with their line numbers and change nothing.
    Re-importing updates people by email and never duplicates them.
    """
    people, errors = parse_people_csv(text, source=source, now=clock.now())
    created = updated = 0
    with uow_factory() as uow:
        for person in people:
            existing = uow.people.get(person.email)
            if existing is not None and existing.verified_at is not None and person.verified_at is not None:
                # Keep the original confirmation time: a re-import is not a new confirmation.
                person = replace(person, verified_at=existing.verified_at)
            if uow.people.save(person):
                created += 1
            else:
                updated += 1
        uow.commit()
    return ImportReport(created=created, updated=updated, errors=tuple(errors))
