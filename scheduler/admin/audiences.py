"""Each program's audience as the admin sees it: who is in it, who joined or left, and who a cycle would plan.

The programs are passed in as they run (``scheduler.programs.settings``), with the people and their choices read
in one transaction; every reason comes from ``Person.ineligibility``, so this page and the cycles agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from scheduler.accounts.memberships import is_member
from scheduler.model import Person, Program
from scheduler.ports import UowFactory


@dataclass(frozen=True)
class AudienceMember:
    """One person of a program's audience: their choice (True joined, False left, None none yet), and why a
    cycle would leave them out (None: it would plan them)."""

    person: Person
    joined: bool | None
    reason: str | None


@dataclass(frozen=True)
class ProgramAudience:
    """A program's audience: its members by name, and the counts the admin's programs page shows."""

    program: Program
    members: tuple[AudienceMember, ...]

    @property
    def size(self) -> int:
        """How many people the audience holds."""
        return len(self.members)

    @property
    def joined(self) -> int:
        """How many of them joined the program (opted in)."""
        return sum(1 for m in self.members if m.joined is True)

    @property
    def left(self) -> int:
        """How many of them left the program (opted out)."""
        return sum(1 for m in self.members if m.joined is False)

    @property
    def in_program(self) -> int:
        """How many are in the program by their choice and its rule (opt in or opt out)."""
        return sum(1 for m in self.members if is_member(self.program, m.joined))

    @property
    def planned(self) -> int:
        """How many a cycle would plan: in the program and not left out for any other reason."""
        return sum(1 for m in self.members if m.reason is None)


def program_audiences(uow_factory: UowFactory, programs: Sequence[Program], on: date) -> list[ProgramAudience]:
    """For each program, in order, the people of its audience (by name) with their choice and whether a cycle
    starting ``on`` would plan them."""
    with uow_factory() as uow:
        people = uow.people.list()
        choices = {program.name: uow.program_choices.of_program(program.name) for program in programs}
    audiences = []
    for program in programs:
        chosen = choices[program.name]
        members = tuple(
            AudienceMember(person, chosen.get(person.email),
                           person.ineligibility(program, on, joined=chosen.get(person.email)))
            for person in sorted(people, key=lambda p: (p.name.casefold(), p.email))
            if program.audience.admits(person))
        audiences.append(ProgramAudience(program, members))
    return audiences
