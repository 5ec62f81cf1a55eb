"""The programs open to a person, and their choice to join or leave each one.

A program is open to a person when its audience admits them (``Audience.admits``). Each program says whether
everyone in its audience takes part unless they leave it (the default) or only those who join it
(``Program.opt_in``); the choice is stored per person and program (``ports.ProgramChoiceRepository``) and read by
``Person.ineligibility`` when a cycle is planned. The programs themselves are passed in as they run
(``scheduler.programs.settings``, a layer above), so this module never reads the configuration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from scheduler.errors import InputError, NotFoundError
from scheduler.model import Person, Program
from scheduler.ports import UowFactory


@dataclass(frozen=True)
class ProgramMembership:
    """One program open to a person: their choice (``joined``: True, False, or None for none yet), whether they
    are in it by that choice and the program's rule (``member``), and, when the next cycle would still leave
    them out, why (``reason``, such as "paused until 2026-12-24"); None when it would plan them."""

    program: Program
    joined: bool | None
    member: bool
    reason: str | None


def is_member(program: Program, joined: bool | None) -> bool:
    """Whether a person in ``program``'s audience with the choice ``joined`` is in it: they joined, or the
    program takes everyone who has not left (not ``opt_in``) and they did not leave."""
    return joined is True or (joined is None and not program.opt_in)


def _membership(person: Person, program: Program, joined: bool | None, on: date) -> ProgramMembership:
    return ProgramMembership(program, joined, is_member(program, joined),
                             person.ineligibility(program, on, joined=joined))


def program_memberships(uow_factory: UowFactory, programs: Sequence[Program], email: str,
                        on: date) -> list[ProgramMembership]:
    """The programs of ``programs`` open to ``email`` (their audience admits the person), in that order, each with
    the person's choice and whether a cycle starting ``on`` would plan them. ``NotFoundError`` for an unknown
    person."""
    with uow_factory() as uow:
        person = uow.people.get(email)
        if person is None:
            raise NotFoundError(f"nobody has the address {email}")
        choices = uow.program_choices.of_person(person.email)
    return [_membership(person, program, choices.get(program.name), on) for program in programs
            if program.audience.admits(person)]


def choose_program(uow_factory: UowFactory, programs: Sequence[Program], email: str, name: str, joined: bool, *,
                   at: datetime) -> ProgramMembership:
    """Store that ``email`` joins (``joined``) or leaves the program called ``name`` as of ``at``; the membership
    as it now stands. ``NotFoundError`` for an unknown person or program; ``InputError`` when the program's
    audience does not include the person (nobody joins a program that is not open to them)."""
    program = next((p for p in programs if p.name == name), None)
    if program is None:
        raise NotFoundError(f"no program named {name!r}")
    with uow_factory() as uow:
        person = uow.people.get(email)
        if person is None:
            raise NotFoundError(f"nobody has the address {email}")
        if not program.audience.admits(person):
            raise InputError(f"{program.name} is for {program.audience.describe()}", where="program")
        uow.program_choices.set(person.email, program.name, joined, at)
        uow.commit()
    return _membership(person, program, joined, at.date())
