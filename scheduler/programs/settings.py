"""Programs as they run: the configuration file's programs with the changes admins made on the site.

The file defines which programs exist, their names and who sends their invites (that depends on which calendar
providers the file enables). The admin's programs page may change the rest: cadence, kind, group size,
duration, rules and weights. Only what differs from the file is stored (``ProgramChange``), so a later edit of
the file still shows through for every setting nobody changed on the site, and "back to the file" is forgetting
the stored change.

Every command and page that plans a cycle asks here (``Services.programs``), so a change made on the site is
what the next cycle uses, in every web worker and in the ``tick`` worker alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from scheduler.errors import InputError, NotFoundError
from scheduler.model import Program
from scheduler.ports import UowFactory

if TYPE_CHECKING:
    pass

import logging

from scheduler.model import (
    CADENCES,
    IN_PERSON_KINDS,
    MEETING_KINDS,
    MEETING_MODES,
    RELAX_RULES,
    Audience,
    ProgramChange,
    Weights,
    check_video_link,
)

log = logging.getLogger(__name__)


# The settings the site may change, with the inclusive range of each number (the others are choices checked by
# ``Program`` itself). Ranges keep a slip of the keyboard from planning a 500-day window.
EDITABLE_NUMBERS: Mapping[str, tuple[int, int]] = {
    "group_size": (2, 4),
    "duration_minutes": (10, 180),
    "cooldown_cycles": (0, 52),
    "window_days": (1, 28),
    "min_notice_hours": (0, 14 * 24),
    "buffer_minutes": (0, 60),
}
EDITABLE_CHOICES: Mapping[str, tuple[str, ...]] = {
    "kind": MEETING_KINDS,
    "cadence": CADENCES,
    "meeting_mode": MEETING_MODES,
    "relax": RELAX_RULES,
}
EDITABLE_FLAGS = ("tentative_busy", "once_per_window", "opt_in")
# Settings of free text, each with its own check.
EDITABLE_TEXTS = ("video_link",)
EDITABLE = (*EDITABLE_CHOICES, *EDITABLE_NUMBERS, *EDITABLE_FLAGS, *EDITABLE_TEXTS)
# The lists of a program's audience (``Audience``), stored under ``"audience"`` like the weights.
AUDIENCE_NAMES = tuple(f.name for f in dataclasses.fields(Audience))
WEIGHT_RANGE = (-50.0, 50.0)
WEIGHT_NAMES = tuple(f.name for f in dataclasses.fields(Weights))


@dataclass(frozen=True)
class ProgramSheet:
    """A program as it runs, the file's version of it, and who changed it on the site last and when."""

    program: Program
    configured: Program
    changed_by: str | None = None
    changed_at: datetime | None = None

    @property
    def changed(self) -> frozenset[str]:
        """The settings in which it runs otherwise than the file says (weights as ``weights.<name>``)."""
        return frozenset(_differences(self.configured, self.program))


def effective_programs(uow_factory: UowFactory, configured: Sequence[Program]) -> list[Program]:
    """The configured programs, in the file's order, each with its stored changes applied."""
    return [sheet.program for sheet in program_sheets(uow_factory, configured)]


def find_program(programs: Sequence[Program], name: str | None) -> Program:
    """The program called ``name`` (the first when ``name`` is None); NotFoundError naming the known ones."""
    if name is None and programs:
        return programs[0]
    for program in programs:
        if program.name == name:
            return program
    known = ", ".join(p.name for p in programs) or "none"
    raise NotFoundError(f"no program named {name!r}; configured: {known}")


def program_sheets(uow_factory: UowFactory, configured: Sequence[Program]) -> list[ProgramSheet]:
    """Each configured program as it runs, with what the site changed of it.

    A stored change that no longer holds (a setting this release does not know, a value out of range after
    an upgrade) is skipped with a warning in the log: the file's value stands and planning goes on.
    """
    with uow_factory() as uow:
        stored = {change.name: change for change in uow.program_changes.list()}
    sheets = []
    for program in configured:
        change = stored.get(program.name)
        if change is None:
            sheets.append(ProgramSheet(program, program))
            continue
        try:
            effective = apply_changes(program, change.changes)
        except InputError as error:
            log.warning("program %r: the change stored on the site is ignored: %s", program.name, error)
            sheets.append(ProgramSheet(program, program))
            continue
        sheets.append(ProgramSheet(effective, program, change.changed_by, change.changed_at))
    return sheets


def apply_changes(program: Program, changes: Mapping[str, object]) -> Program:
    """``program`` with ``changes`` (settings by name, weights under ``"weights"``); InputError naming the
    first setting that is unknown, of the wrong type or out of range."""
    settings: dict[str, object] = {}
    for name, value in changes.items():
        if name in ("weights", "audience"):
            continue
        if name not in EDITABLE:
            raise InputError("not a setting that can be changed on the site", where=name)
        settings[name] = _checked(name, value)
    weights = changes.get("weights", {})
    if not isinstance(weights, Mapping):
        raise InputError("must be a table of weights by name", where="weights")
    new_weights = {}
    for name, value in weights.items():
        if name not in WEIGHT_NAMES:
            raise InputError(f"not a weight (known: {', '.join(WEIGHT_NAMES)})", where=f"weights.{name}")
        new_weights[name] = _checked_weight(name, value)
    if "audience" in changes:
        settings["audience"] = _checked_audience(changes["audience"])
    if settings.get("video_link") and program.invites != "email":
        raise InputError(f"the invites of {program.name} go through {program.invites}, which gives its own online "
                         "meeting: a video link is for invites sent by email", where="video_link")
    kind, mode = settings.get("kind", program.kind), settings.get("meeting_mode", program.meeting_mode)
    if kind in IN_PERSON_KINDS and mode != "in_person":
        raise InputError(f"a {kind} program meets in person: choose in_person, not {mode}", where="meeting_mode")
    size = settings.get("group_size", program.group_size)
    if kind == "dinner" and isinstance(size, int) and size > 3:
        raise InputError("a dinner seats 2 to 4: choose 2 (pairs, a trio for an odd count) or 3 (tables of three, "
                         "two or four where the count does not divide)", where="group_size")
    try:
        return dataclasses.replace(program, **settings,  # type: ignore[arg-type]
                                   weights=dataclasses.replace(program.weights, **new_weights))
    except ValueError as error:  # Program's own checks, should it ever check more than the above
        raise InputError(str(error)) from error


def change_program(uow_factory: UowFactory, configured: Sequence[Program], name: str,
                   wanted: Mapping[str, object], *, by: str, at: datetime) -> Program:
    """Make the program called ``name`` run with the ``wanted`` settings (any of ``EDITABLE``, and weights
    under ``"weights"``), keeping only what differs from the file; returns the program as it now runs.

    InputError names a setting that is unknown, of the wrong type or out of range, and nothing is stored then;
    NotFoundError when the file has no such program.
    """
    program = find_program(configured, name)
    effective = apply_changes(program, wanted)
    changes: dict[str, object] = {}
    weights: dict[str, float] = {}
    for key in _differences(program, effective):
        if key.startswith("weights."):
            weight = key.removeprefix("weights.")
            weights[weight] = getattr(effective.weights, weight)
        elif key == "audience":  # stored as JSON lists, sorted so that equal audiences store equal JSON
            changes[key] = {name: sorted(getattr(effective.audience, name)) for name in AUDIENCE_NAMES}
        else:
            changes[key] = getattr(effective, key)
    if weights:
        changes["weights"] = weights
    with uow_factory() as uow:
        if changes:
            uow.program_changes.save(ProgramChange(name, changes, by, at))
        else:  # everything as in the file again: nothing to keep
            uow.program_changes.delete(name)
        uow.commit()
    log.info("program %r changed on the site by %s: %s", name, by, ", ".join(sorted(changes)) or "as the file")
    return effective


def reset_program(uow_factory: UowFactory, configured: Sequence[Program], name: str) -> bool:
    """Forget what the site changed of the program called ``name``: it runs as the file says again. Whether
    anything was changed; NotFoundError when the file has no such program."""
    find_program(configured, name)
    with uow_factory() as uow:
        forgotten = uow.program_changes.delete(name)
        uow.commit()
    return forgotten


def _differences(configured: Program, effective: Program) -> list[str]:
    """The editable settings (and ``weights.<name>``) in which ``effective`` differs from ``configured``."""
    names = [name for name in EDITABLE if getattr(configured, name) != getattr(effective, name)]
    if configured.audience != effective.audience:
        names.append("audience")
    names += [f"weights.{name}" for name in WEIGHT_NAMES
              if getattr(configured.weights, name) != getattr(effective.weights, name)]
    return names


def _checked(name: str, value: object) -> object:
    if name in EDITABLE_TEXTS:
        if not isinstance(value, str):
            raise InputError("must be text", where=name)
        try:
            return check_video_link(value.strip())
        except ValueError as error:
            raise InputError(str(error).removeprefix(f"{name} "), where=name) from None
    if name in EDITABLE_FLAGS:
        if not isinstance(value, bool):
            raise InputError("must be true or false", where=name)
        return value
    if name in EDITABLE_CHOICES:
        if value not in EDITABLE_CHOICES[name]:
            raise InputError(f"must be one of {', '.join(EDITABLE_CHOICES[name])}", where=name)
        return value
    low, high = EDITABLE_NUMBERS[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError("must be a whole number", where=name)
    if not low <= value <= high:
        raise InputError(f"must be between {low} and {high}, not {value}", where=name)
    return value


def _checked_audience(value: object) -> Audience:
    """A program's audience from ``{"offices": [...], ...}`` (any of ``AUDIENCE_NAMES``, lists of text);
    InputError naming the list that is unknown or not a list of text, or the address that is not one."""
    if not isinstance(value, Mapping):
        raise InputError("must be a table of lists by name", where="audience")
    lists: dict[str, frozenset[str]] = {}
    for name, entries in value.items():
        if name not in AUDIENCE_NAMES:
            raise InputError(f"not a list of the audience (known: {', '.join(AUDIENCE_NAMES)})",
                             where=f"audience.{name}")
        if not isinstance(entries, list | tuple | frozenset | set) or not all(isinstance(e, str) for e in entries):
            raise InputError("must be a list of text", where=f"audience.{name}")
        lists[name] = frozenset(entries)
    try:
        return Audience(**lists)
    except ValueError as error:  # an invitation list entry that is not an address
        raise InputError(str(error).removeprefix("audience emails: "), where="audience.emails") from None


def _checked_weight(name: str, value: object) -> float:
    low, high = WEIGHT_RANGE
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError("must be a number", where=f"weights.{name}")
    if not low <= value <= high:  # also refuses NaN, which compares false both ways
        raise InputError(f"must be between {low:g} and {high:g}, not {value:g}", where=f"weights.{name}")
    return float(value)





def program_settings(program: Program) -> list[tuple[str, str]]:
    """The program's rules as (name, value) rows, in the config file's spelling; weights apart."""
    return [(f.name, _spell(getattr(program, f.name))) for f in dataclasses.fields(program)
            if f.name not in ("name", "weights", "audience")]


def program_weights(program: Program) -> list[tuple[str, str]]:
    """The program's soft-rule weights as (name, value) rows."""
    return [(f.name, _spell(getattr(program.weights, f.name))) for f in dataclasses.fields(program.weights)]


def _spell(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
