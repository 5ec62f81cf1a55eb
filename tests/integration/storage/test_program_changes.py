"""Programs as they run (scheduler.programs.settings), on SQLite and PostgreSQL: the file's programs with what admins
changed on the site, only the differences kept, every bad value refused by name with nothing stored, and a
stored change that no longer holds skipped rather than stopping the planning."""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.errors import InputError, NotFoundError
from scheduler.model import (
    CADENCES,
    IN_PERSON_KINDS,
    MEETING_KINDS,
    MEETING_MODES,
    RELAX_RULES,
    Program,
    ProgramChange,
    Weights,
)
from scheduler.programs.settings import (
    EDITABLE_NUMBERS,
    WEIGHT_NAMES,
    WEIGHT_RANGE,
    apply_changes,
    change_program,
    effective_programs,
    program_sheets,
    reset_program,
)
from scheduler.storage.uow import SqlAlchemyUnitOfWork

NOON = datetime(2026, 12, 6, 12, tzinfo=UTC)
FILE = (Program("coffee", cooldown_cycles=6), Program("lunch", kind="lunch", duration_minutes=60))

wanted_settings = st.fixed_dictionaries({}, optional={
    "kind": st.sampled_from(MEETING_KINDS),
    "cadence": st.sampled_from(CADENCES),
    "meeting_mode": st.sampled_from(MEETING_MODES),
    "relax": st.sampled_from(RELAX_RULES),
    "tentative_busy": st.booleans(),
    **{name: st.integers(low, high) for name, (low, high) in EDITABLE_NUMBERS.items()},
    "weights": st.dictionaries(st.sampled_from(WEIGHT_NAMES),
                               st.floats(*WEIGHT_RANGE, allow_nan=False).map(lambda x: round(x, 2))),
}).filter(lambda wanted: wanted.get("kind") not in IN_PERSON_KINDS  # a dinner meets in person (coffee: virtual)
          or (wanted.get("meeting_mode", "virtual") == "in_person"
              and int(wanted.get("group_size", 2)) <= 3)  # and seats two to four
          ).filter(lambda wanted: wanted.get("kind") != "leader" or int(wanted.get("group_size", 2)) == 2)  # 1:1


def stored(new_uow: Callable[[], SqlAlchemyUnitOfWork]) -> dict[str, dict[str, Any]]:
    with new_uow() as uow:
        return {change.name: dict(change.changes) for change in uow.program_changes.list()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(wanted=wanted_settings)
def test_a_change_runs_as_wanted_and_only_differences_are_stored(
        new_uow: Callable[[], SqlAlchemyUnitOfWork], wanted: dict[str, Any]) -> None:
    reset_program(new_uow, FILE, "coffee")
    program = change_program(new_uow, FILE, "coffee", wanted, by="ada@example.com", at=NOON)

    expected = dataclasses.replace(FILE[0], **{k: v for k, v in wanted.items() if k != "weights"},
                                   weights=dataclasses.replace(Weights(), **wanted.get("weights", {})))
    assert program == expected
    assert effective_programs(new_uow, FILE) == [expected, FILE[1]]
    kept = stored(new_uow).get("coffee", {})
    for name, value in kept.items():
        if name == "weights":
            assert all(getattr(Weights(), w) != v for w, v in value.items())
        else:
            assert getattr(FILE[0], name) != value
    # Whatever was changed, putting it back leaves the file's program, and nothing stored.
    reset_program(new_uow, FILE, "coffee")
    assert effective_programs(new_uow, FILE) == list(FILE)
    assert stored(new_uow) == {}


@pytest.mark.parametrize(("wanted", "where"), [
    ({"group_size": 5}, "group_size"),
    ({"group_size": "2"}, "group_size"),
    ({"cooldown_cycles": True}, "cooldown_cycles"),
    ({"window_days": 0}, "window_days"),
    ({"kind": "brunch"}, "kind"),
    ({"tentative_busy": "yes"}, "tentative_busy"),
    ({"name": "renamed"}, "name"),
    ({"invites": "google"}, "invites"),
    ({"weights": {"never_met": math.nan}}, "weights.never_met"),
    ({"weights": {"never_met": 51}}, "weights.never_met"),
    ({"weights": {"charisma": 1}}, "weights.charisma"),
    ({"weights": [1, 2]}, "weights"),
])
def test_a_bad_change_names_its_setting_and_stores_nothing(
        new_uow: Callable[[], SqlAlchemyUnitOfWork], wanted: dict[str, Any], where: str) -> None:
    with pytest.raises(InputError) as raised:
        change_program(new_uow, FILE, "coffee", {"cooldown_cycles": 2, **wanted}, by="ada@example.com", at=NOON)
    assert raised.value.where == where
    assert stored(new_uow) == {}


def test_an_unknown_program_is_not_found(new_uow: Callable[[], SqlAlchemyUnitOfWork]) -> None:
    with pytest.raises(NotFoundError, match="no program named 'tea'; configured: coffee, lunch"):
        change_program(new_uow, FILE, "tea", {}, by="ada@example.com", at=NOON)
    with pytest.raises(NotFoundError):
        reset_program(new_uow, FILE, "tea")


def test_a_stored_change_that_no_longer_holds_is_skipped_with_a_warning(
        new_uow: Callable[[], SqlAlchemyUnitOfWork], caplog: pytest.LogCaptureFixture) -> None:
    # As if a later release had dropped a setting, or an old row held a value now out of range.
    with new_uow() as uow:
        uow.program_changes.save(ProgramChange("coffee", {"window_days": 400}, "ada@example.com", NOON))
        uow.program_changes.save(ProgramChange("lunch", {"cooldown_cycles": 1}, "ada@example.com", NOON))
        uow.commit()
    with caplog.at_level(logging.WARNING, logger="scheduler.programs.settings"):
        sheets = program_sheets(new_uow, FILE)
    assert [sheet.program for sheet in sheets] == [FILE[0], dataclasses.replace(FILE[1], cooldown_cycles=1)]
    assert sheets[0].changed == frozenset()
    assert sheets[1].changed == frozenset({"cooldown_cycles"})
    assert "program 'coffee': the change stored on the site is ignored: window_days" in caplog.text


def test_a_change_for_a_program_no_longer_in_the_file_is_ignored(
        new_uow: Callable[[], SqlAlchemyUnitOfWork]) -> None:
    with new_uow() as uow:
        uow.program_changes.save(ProgramChange("retired", {"cooldown_cycles": 1}, "ada@example.com", NOON))
        uow.commit()
    assert effective_programs(new_uow, FILE) == list(FILE)


def test_the_last_admin_to_save_wins_whole(new_uow: Callable[[], SqlAlchemyUnitOfWork]) -> None:
    change_program(new_uow, FILE, "coffee", {"cooldown_cycles": 2, "cadence": "monthly"}, by="a@example.com", at=NOON)
    change_program(new_uow, FILE, "coffee", {"cooldown_cycles": 3}, by="b@example.com", at=NOON)
    assert stored(new_uow) == {"coffee": {"cooldown_cycles": 3}}
    (sheet, _) = program_sheets(new_uow, FILE)
    assert (sheet.changed_by, sheet.changed_at) == ("b@example.com", NOON)


def test_apply_changes_keeps_unchanged_weights() -> None:
    program = apply_changes(FILE[0], {"weights": {"wishlist": 0.0}})
    assert program.weights == dataclasses.replace(Weights(), wishlist=0.0)
