"""Offline pairing instances: a JSON description of people, a program and history, solved without a database.

Used by ``coffeechat pair`` for admins' what-if planning and by the benchmark. The format is documented in
``docs/pairing-instance.md``. ``load_instance`` checks everything up front and raises an ``InputError`` whose
``where`` names the place (``instance.json: people[12].timezone``); ``solve_instance`` runs the engine and
returns the result as plain JSON-ready data, with the instance's own ids.

Instance ids need not be email addresses, but the engine knows people by email: an id that is not an address
becomes ``<id>@instance.invalid`` (the ``.invalid`` top-level domain can never be delivered to), and the
mapping is kept in the instance so results speak the instance's ids again.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

from scheduler.availability.slots import FreeTimeIndex, SlotRules
from scheduler.errors import InputError
from scheduler.model import (
    CADENCE_DAYS,
    MEETING_KINDS,
    MEETING_MODES,
    WEEKDAY_NAMES,
    Busy,
    Group,
    Interval,
    Person,
    Program,
    Unmatched,
    Weights,
    WorkingHours,
    merge_intervals,
    normalize_email,
    zone_named,
)
from scheduler.pairing.bound import certified_bound
from scheduler.pairing.engine import pair_people
from scheduler.pairing.rules import PairHistory
from scheduler.pairing.tuning import BoundLimits, PairingTuning
from scheduler.planning.cycle import choose_slots
from scheduler.planning.report import count_mixed

# The domain of addresses made up for ids that are not addresses. RFC 2606: .invalid never resolves.
INVALID_DOMAIN = "instance.invalid"
# Ids made only of these characters become "<id>@instance.invalid" as they are; others are hex-encoded
# behind "=" (a character this pattern excludes), so two different ids can never share an address.
_PLAIN_ID = re.compile(r"[a-z0-9][a-z0-9._+-]*")
DEFAULT_SEED = 1

_TOP_KEYS = ("program", "window", "today", "seed", "people", "history")
_PROGRAM_KEYS = ("name", "kind", "cadence", "group_size", "duration_minutes", "cooldown_cycles", "meeting_mode",
                 "buffer_minutes", "relax", "weights")
_PERSON_KEYS = ("id", "name", "team", "department", "office", "timezone", "format", "kinds", "level", "manager",
                "interests", "wishlist", "blocked", "busy", "working_hours")
_HOURS_KEYS = ("days", "start", "end")
_HISTORY_KEYS = ("members", "cycles_ago")


@dataclass(frozen=True)
class PairingInstance:
    """A loaded instance: engine inputs plus the id ↔ email mapping that results are reported in.

    ``people`` are in file order. ``busy`` holds the busy intervals of the people who gave a busy list (keyed
    by email); the others have no calendar data. ``today`` is the window's start date when a window is given.
    """

    source: str
    program: Program
    people: tuple[Person, ...]
    history: PairHistory
    today: date
    window: Interval | None
    busy: Mapping[str, tuple[Interval, ...]]
    seed: int
    email_of: Mapping[str, str] = field(default_factory=dict)
    id_of: Mapping[str, str] = field(default_factory=dict)


def load_instance(data: Any, *, source: str, now: datetime | None = None) -> PairingInstance:
    """Check and convert parsed instance JSON ``data``; raise ``InputError`` naming the place of a problem.

    ``source`` names the file in errors. ``now`` (timezone-aware, default the current time) gives ``today``
    when the instance has neither a window nor a ``today`` key.
    """
    where = _Where(source)
    top = _table(data, where, _TOP_KEYS)
    program = _program(top.get("program", {}), where.key("program"))
    window = _window(top["window"], where.key("window")) if "window" in top else None
    if window is not None:
        if "today" in top:
            raise InputError("leave it out when a window is given: today is the window's start date",
                             where=where.key("today").text)
        today = window.start.date()
    elif "today" in top:
        today = _date(top["today"], where.key("today"))
    else:
        today = (now or datetime.now(UTC)).astimezone(UTC).date()
    seed = _integer(top.get("seed", DEFAULT_SEED), where.key("seed"))

    raw_people = _array(top.get("people", []), where.key("people"))
    email_of, id_of = _map_ids(raw_people, where.key("people"))
    # Instance people are eligible by construction (an admin vouches for them); verified_at says so.
    verified_at = datetime(today.year, today.month, today.day, tzinfo=UTC)
    people: list[Person] = []
    busy: dict[str, tuple[Interval, ...]] = {}
    for index, raw in enumerate(raw_people):
        place = where.key("people").item(index)
        person, intervals = _person(raw, place, email_of, verified_at)
        people.append(person)
        if intervals is not None:
            busy[person.email] = intervals
    history = _history(top.get("history", []), where.key("history"), email_of, program, today)
    return PairingInstance(source=source, program=program, people=tuple(people), history=history, today=today,
                           window=window, busy=busy, seed=seed, email_of=email_of, id_of=id_of)


def solve_instance(instance: PairingInstance, *, bound: bool = True, tight_bound: bool = False,
                   tuning: PairingTuning | None = None, limits: BoundLimits | None = None) -> dict[str, Any]:
    """Pair the instance's people and describe the result as JSON-ready data (see docs/pairing-instance.md).

    With a window, a free-time index is built (people without a busy list are planned on their working hours)
    and every group gets a slot, or ``None`` when its members share no free time. ``stats.seconds`` times
    the free-time index, the engine and the slot choice, ``stats.pairing_seconds`` the engine alone; the
    certified upper bound (``bound=False`` skips it) is timed apart in ``stats.bound_seconds``, as the issue
    allows at 100,000 people, and ``stats.bound_method`` says which
    argument gave it (for groups of 3 or 4 it bounds groupings of that size: see scheduler/pairing/bound.py).
    The LP dual bound is used up to ``limits.quick_lp_limit`` people, or up to its own limit with
    ``tight_bound``. ``tuning`` steers the engine and ``limits`` the bound (defaults: ``PairingTuning()``,
    ``BoundLimits()``).
    """
    limits = limits or BoundLimits()
    started = time.perf_counter()
    program = instance.program
    eligible: list[Person] = []
    ineligible: list[Unmatched] = []
    for person in instance.people:
        reason = person.ineligibility(program, instance.today)
        if reason is None:
            eligible.append(person)
        else:
            ineligible.append(Unmatched(person.email, f"not eligible: {reason}"))

    index = free_time_index(instance, eligible)
    pairing_started = time.perf_counter()
    result = pair_people(eligible, program, history=instance.history, today=instance.today, seed=instance.seed,
                         free_time=index, tuning=tuning)
    pairing_seconds = time.perf_counter() - pairing_started
    by_email = {person.email: person for person in eligible}
    meetings: list[tuple[Group, Interval | None]]
    if index is None:
        meetings = [(group, None) for group in result.groups]
    else:  # the chosen time joins each group's reasons
        meetings = [(m.group, m.slot) for m in choose_slots(result.groups, by_email, index, program)]
    seconds = time.perf_counter() - started

    total = sum(group.score for group in result.groups)
    bound_value: float | None = None
    bound_method: str | None = None
    bound_seconds: float | None = None
    if bound:
        started = time.perf_counter()
        # Groups one over the program's size (trios of pairs) score more pairs: the bound allows as many.
        bigger = sum(1 for group in result.groups if len(group.members) > program.group_size)
        position = {person.email: i for i, person in enumerate(eligible)}
        plan = [(position[group.members[0]], position[group.members[1]]) for group in result.groups]
        certificate = certified_bound(eligible, program, instance.history, instance.today, index, trios=bigger,
                                      lp_limit=None if tight_bound else limits.quick_lp_limit, plan=plan,
                                      limits=limits)
        bound_value, bound_method = certificate.value, certificate.method
        bound_seconds = time.perf_counter() - started

    id_of = instance.id_of
    unmatched = sorted((*result.unmatched, *ineligible), key=lambda u: id_of[u.email])
    return {
        "groups": [_group_json(group, slot, id_of) for group, slot in meetings],
        "unmatched": [{"id": id_of[u.email], "reason": u.reason} for u in unmatched],
        "notes": list(result.notes),
        "stats": {
            "people": len(instance.people),
            "groups": len(result.groups),
            "placed": sum(len(group.members) for group in result.groups),
            "score": round(total, 3),
            "cross_department_share": _share(result.groups, by_email, "department"),
            "cross_office_share": _share(result.groups, by_email, "office"),
            "seconds": round(seconds, 3),
            "pairing_seconds": round(pairing_seconds, 3),
            "upper_bound": None if bound_value is None else round(bound_value, 3),
            "gap": None if bound_value is None else _gap(total, bound_value),
            "bound_method": bound_method,
            "bound_seconds": None if bound_seconds is None else round(bound_seconds, 3),
        },
    }


def free_time_index(instance: PairingInstance, people: Sequence[Person]) -> FreeTimeIndex | None:
    """The free-time index of the window, or None without one. No minimum notice: the window is the plan."""
    if instance.window is None:
        return None
    program = instance.program
    rules = SlotRules(duration=program.duration, buffer=timedelta(minutes=program.buffer_minutes),
                      earliest_start=instance.window.start, lunch=program.kind == "lunch",
                      dinner=program.kind == "dinner")
    index = FreeTimeIndex(instance.window, rules)
    for person in people:
        intervals = instance.busy.get(person.email)
        index.add(person, Busy(known=False) if intervals is None else Busy(busy=intervals))
    return index


def _group_json(group: Group, slot: Interval | None, id_of: Mapping[str, str]) -> dict[str, Any]:
    return {
        "members": [id_of[email] for email in group.members],
        "score": group.score,
        "reasons": list(group.reasons),
        "slot": None if slot is None else {"start": _utc_text(slot.start), "end": _utc_text(slot.end)},
    }


def _share(groups: Sequence[Group], people: Mapping[str, Person], attribute: str) -> float:
    """Share of groups whose members come from more than one (named) department or office."""
    return round(count_mixed(groups, people, attribute) / len(groups), 4) if groups else 0.0


def _gap(total: float, bound: float) -> float:
    """``1 - total / bound``, rounded up: the figure never claims more than the certificate gives."""
    if bound <= 0:
        return 0.0
    return math.ceil((1 - total / bound) * 1e6) / 1e6


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# -- reading ------------------------------------------------------------------------------------------------


class _Where:
    """A place in the instance, printed like ``instance.json: people[12].timezone``."""

    def __init__(self, source: str, path: str = "") -> None:
        self.source = source
        self.path = path

    def key(self, name: str) -> _Where:
        return _Where(self.source, f"{self.path}.{name}" if self.path else name)

    def item(self, index: int) -> _Where:
        return _Where(self.source, f"{self.path}[{index}]")

    @property
    def text(self) -> str:
        return f"{self.source}: {self.path}" if self.path else self.source

    def error(self, message: str) -> InputError:
        return InputError(message, where=self.text)


def _table(raw: Any, where: _Where, known: Sequence[str]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise where.error(f"must be an object, not {_kind(raw)}")
    for key in raw:
        if key not in known:
            raise where.key(str(key)).error(f"unknown key (known keys: {', '.join(sorted(known))})")
    return raw


def _array(raw: Any, where: _Where) -> list[Any]:
    if not isinstance(raw, list):
        raise where.error(f"must be an array, not {_kind(raw)}")
    return raw


def _string(raw: Any, where: _Where, *, required: bool = False) -> str:
    if not isinstance(raw, str):
        raise where.error(f"must be a string, not {_kind(raw)}")
    if required and not raw.strip():
        raise where.error("must not be empty")
    return raw.strip()


def _strings(raw: Any, where: _Where) -> list[str]:
    return [_string(item, where.item(i), required=True) for i, item in enumerate(_array(raw, where))]


def _integer(raw: Any, where: _Where) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise where.error(f"must be an integer, not {_kind(raw)}")
    return raw


def _number(raw: Any, where: _Where) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise where.error(f"must be a number, not {_kind(raw)}")
    return float(raw)


def _kind(raw: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    return names.get(type(raw), f"{type(raw).__name__} {raw!r}" if isinstance(raw, int | float) else "that")


def _moment(raw: Any, where: _Where) -> datetime:
    """An ISO 8601 date-time with a zone (``Z`` or an offset), in UTC."""
    text = _string(raw, where, required=True)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise where.error(f"{text!r} is not an ISO 8601 date-time like 2026-11-23T09:00:00Z") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise where.error(f"{text!r} has no time zone: add Z (UTC) or an offset such as +01:00")
    return moment.astimezone(UTC)


def _date(raw: Any, where: _Where) -> date:
    text = _string(raw, where, required=True)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise where.error(f"{text!r} is not a date like 2026-11-23") from None


def _window(raw: Any, where: _Where) -> Interval:
    table = _table(raw, where, ("start", "end"))
    for key in ("start", "end"):
        if key not in table:
            raise where.key(key).error("is required")
    start, end = _moment(table["start"], where.key("start")), _moment(table["end"], where.key("end"))
    if end <= start:
        raise where.key("end").error("must be after the start")
    if start.minute % 15 or start.second or start.microsecond:
        raise where.key("start").error("must fall on a quarter hour (slots are cut in 15-minute steps)")
    return Interval(start, end)


def _program(raw: Any, where: _Where) -> Program:
    table = _table(raw, where, _PROGRAM_KEYS)
    values: dict[str, Any] = {"name": "instance"}
    for key, value in table.items():
        place = where.key(key)
        if key == "weights":
            values[key] = _weights(value, place)
        elif key in ("group_size", "duration_minutes", "cooldown_cycles", "buffer_minutes"):
            values[key] = _integer(value, place)
            if values[key] < 0:
                raise place.error("must not be negative")
        else:
            values[key] = _string(value, place, required=True)
    # Program checks its own fields; trying each key alone finds the one a complaint is about.
    for key, value in values.items():
        try:
            Program(**{"name": "instance", key: value})
        except ValueError as exc:
            raise where.key(key).error(str(exc)) from None
    try:
        return Program(**values)
    except ValueError as exc:  # pragma: no cover - a rule between two fields; none exists today
        raise where.error(str(exc)) from None


def _weights(raw: Any, where: _Where) -> Weights:
    known = tuple(f.name for f in fields(Weights))
    table = _table(raw, where, known)
    return Weights(**{key: _number(value, where.key(key)) for key, value in table.items()})


def _map_ids(raw_people: list[Any], where: _Where) -> tuple[dict[str, str], dict[str, str]]:
    """Each person's id → the email the engine knows them by, and back; duplicate ids are errors."""
    email_of: dict[str, str] = {}
    id_of: dict[str, str] = {}
    first_place: dict[str, int] = {}
    for index, raw in enumerate(raw_people):
        place = where.item(index)
        if not isinstance(raw, dict):
            raise place.error(f"must be an object, not {_kind(raw)}")
        if "id" not in raw:
            raise place.key("id").error("is required")
        person_id = _string(raw["id"], place.key("id"), required=True)
        email = _email_for(person_id)
        if person_id in email_of or email in id_of:
            earlier = first_place[email]
            raise place.key("id").error(f"{person_id!r} is already the id of people[{earlier}]")
        email_of[person_id] = email
        id_of[email] = person_id
        first_place[email] = index
    return email_of, id_of


def _email_for(person_id: str) -> str:
    """The engine's address for an instance id: the id itself when it is an address, else one made up."""
    if "@" in person_id:
        try:
            return normalize_email(person_id)
        except ValueError:
            pass
    local = person_id.lower()
    if person_id == local and _PLAIN_ID.fullmatch(local) and len(local) <= 64:
        return f"{local}@{INVALID_DOMAIN}"
    return f"={person_id.encode('utf-8').hex()}@{INVALID_DOMAIN}"


def _person(raw: dict[str, Any], where: _Where, email_of: Mapping[str, str],
            verified_at: datetime) -> tuple[Person, tuple[Interval, ...] | None]:
    table = _table(raw, where, _PERSON_KEYS)
    person_id = table["id"].strip()
    if "team" not in table:
        raise where.key("team").error("is required")
    fields_: dict[str, Any] = {
        "email": email_of[person_id],
        "name": _string(table.get("name", person_id), where.key("name"), required=True),
        "team": _string(table["team"], where.key("team"), required=True),
        "department": _string(table.get("department", ""), where.key("department")),
        "office": _string(table.get("office", ""), where.key("office")),
        "verified_at": verified_at,
    }
    if "timezone" in table:
        zone = _string(table["timezone"], where.key("timezone"), required=True)
        try:
            zone_named(zone)
        except ValueError as exc:
            raise where.key("timezone").error(str(exc)) from None
        fields_["timezone"] = zone
    if "format" in table:
        mode = _string(table["format"], where.key("format"), required=True)
        if mode not in MEETING_MODES:
            raise where.key("format").error(f"must be one of {', '.join(MEETING_MODES)}, not {mode!r}")
        fields_["mode"] = mode
    if "kinds" in table:
        kinds = _strings(table["kinds"], where.key("kinds"))
        for i, kind in enumerate(kinds):
            if kind not in MEETING_KINDS:
                raise where.key("kinds").item(i).error(f"must be one of {', '.join(MEETING_KINDS)}, not {kind!r}")
        fields_["kinds"] = frozenset(kinds)
    if "level" in table:
        level = table["level"]
        if isinstance(level, int) and not isinstance(level, bool):
            if level < 0:
                raise where.key("level").error("must not be negative")
            fields_["seniority"] = str(level)
        else:
            fields_["seniority"] = _string(level, where.key("level"))
    if "manager" in table:
        fields_["manager"] = _reference(table["manager"], where.key("manager"), email_of)
    if "interests" in table:
        fields_["interests"] = frozenset(_strings(table["interests"], where.key("interests")))
    if "wishlist" in table:
        wishes = []
        for i, wish in enumerate(_strings(table["wishlist"], where.key("wishlist"))):
            if wish.startswith(("team:", "department:")):
                if not wish.partition(":")[2].strip():
                    raise where.key("wishlist").item(i).error(f"{wish!r} names no {wish.partition(':')[0]}")
                wishes.append(wish)
            else:
                wishes.append(_reference(wish, where.key("wishlist").item(i), email_of))
        fields_["wishlist"] = frozenset(wishes)
    if "blocked" in table:
        fields_["blocked"] = frozenset(_reference(other, where.key("blocked").item(i), email_of)
                                       for i, other in enumerate(_strings(table["blocked"], where.key("blocked"))))
    if "working_hours" in table:
        fields_["working_hours"] = _working_hours(table["working_hours"], where.key("working_hours"))
    busy = _busy(table["busy"], where.key("busy")) if "busy" in table else None
    try:
        return Person(**fields_), busy
    except ValueError as exc:  # pragma: no cover - every field is checked above; kept as a last net
        raise where.error(str(exc)) from None


def _reference(raw: Any, where: _Where, email_of: Mapping[str, str]) -> str:
    other = _string(raw, where, required=True)
    if other not in email_of:
        raise where.error(f"{other!r} is not the id of anyone in people")
    return email_of[other]


def _working_hours(raw: Any, where: _Where) -> WorkingHours:
    table = _table(raw, where, _HOURS_KEYS)
    default = WorkingHours()
    days = default.days
    if "days" in table:
        names = _strings(table["days"], where.key("days"))
        if not names:
            raise where.key("days").error("must name at least one day")
        picked = set()
        for i, name in enumerate(names):
            if name.lower() not in WEEKDAY_NAMES:
                raise where.key("days").item(i).error(f"unknown day {name!r}; use {', '.join(WEEKDAY_NAMES)}")
            picked.add(WEEKDAY_NAMES.index(name.lower()))
        days = frozenset(picked)
    hours = {}
    for key in ("start", "end"):
        text = _string(table.get(key, getattr(default, key).strftime("%H:%M")), where.key(key), required=True)
        try:
            hours[key] = clock_time.fromisoformat(text)
        except ValueError:
            raise where.key(key).error(f"{text!r} is not a time like 09:00") from None
    if hours["end"] <= hours["start"]:
        raise where.key("end").error("must be after the start")
    return WorkingHours(days, hours["start"], hours["end"])


def _busy(raw: Any, where: _Where) -> tuple[Interval, ...]:
    intervals = []
    for i, pair in enumerate(_array(raw, where)):
        place = where.item(i)
        if not isinstance(pair, list) or len(pair) != 2:
            raise place.error('must be a pair ["start", "end"] of ISO 8601 date-times')
        start, end = _moment(pair[0], place.item(0)), _moment(pair[1], place.item(1))
        if end < start:
            raise place.error("ends before it starts")
        intervals.append(Interval(start, end))
    return merge_intervals(intervals)


def _history(raw: Any, where: _Where, email_of: Mapping[str, str], program: Program, today: date) -> PairHistory:
    """Recent pairs (within the cooldown), when each pair last met, and who was left over last cycle."""
    recent: set[frozenset[str]] = set()
    last_met: dict[frozenset[str], date] = {}
    left_over: set[str] = set()
    cadence = timedelta(days=CADENCE_DAYS[program.cadence])
    for index, entry in enumerate(_array(raw, where)):
        place = where.item(index)
        table = _table(entry, place, _HISTORY_KEYS)
        for key in _HISTORY_KEYS:
            if key not in table:
                raise place.key(key).error("is required")
        members = [_reference(m, place.key("members").item(i), email_of)
                   for i, m in enumerate(_strings(table["members"], place.key("members")))]
        if not members:
            raise place.key("members").error("must name at least one person")
        if len(set(members)) != len(members):
            raise place.key("members").error("names someone twice")
        cycles_ago = _integer(table["cycles_ago"], place.key("cycles_ago"))
        if cycles_ago < 1:
            raise place.key("cycles_ago").error("must be 1 (the previous cycle) or more")
        met_on = today - cycles_ago * cadence
        for x, a in enumerate(members):
            for b in members[x + 1:]:
                pair = frozenset((a, b))
                if cycles_ago <= program.cooldown_cycles:
                    recent.add(pair)
                if pair not in last_met or last_met[pair] < met_on:
                    last_met[pair] = met_on
        # One member: unmatched that cycle; more than a group: in a trio. Either way, not again if avoidable.
        if cycles_ago == 1 and (len(members) == 1 or len(members) > program.group_size):
            left_over.update(members)
    return PairHistory(recent=frozenset(recent), last_met=last_met, left_over=frozenset(left_over))
