"""Issue 15: seniority levels may be named (an ordered list in the program's configuration) or numbers; the
seniority mix works with the demo's text levels instead of silently doing nothing, and says whom it cannot rank."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.model import Person, Program, Weights
from scheduler.pairing.engine import pair_people
from scheduler.pairing.rules import PairHistory
from scheduler.pairing.score import score_pair, seniority_level, unknown_levels
from scheduler.planning.cycle import next_window, plan_cycle
from tests.fakes import FakeCalendarProvider

LEVELS = ("junior", "mid", "senior", "staff", "lead", "director")
TODAY = date(2026, 11, 23)
MIX = Weights(different_department=0.0, different_office=0.0, never_met=0.0, shared_interest=0.0,
              common_slots=0.0, timezone_overlap=0.0, wishlist=0.0, no_shared_manager=0.0, seniority_mix=5.0)


def person(name: str, seniority: str) -> Person:
    return Person(email=f"{name}@example.com", name=name.capitalize(), team=name, seniority=seniority,
                  verified_at=datetime(2026, 11, 1, tzinfo=UTC))


@given(st.lists(st.sampled_from(LEVELS), min_size=1, max_size=6, unique=True), st.data())
def test_issue_15_a_named_level_is_its_place_in_the_list_whatever_its_case(names: list[str],
                                                                           data: st.DataObject) -> None:
    chosen = data.draw(st.sampled_from(names))
    spelled = data.draw(st.sampled_from([chosen, chosen.upper(), chosen.capitalize(), f" {chosen} "]))
    assert seniority_level(person("ana", spelled), names) == names.index(chosen)
    assert seniority_level(person("ana", spelled)) is None  # without names, text is no level


@pytest.mark.parametrize(("seniority", "levels", "expected"), [
    ("3", (), 3), ("3", LEVELS, 3), ("", LEVELS, None), ("intern", LEVELS, None), ("Director", LEVELS, 5)])
def test_issue_15_numbers_still_count_and_unknown_names_do_not(seniority: str, levels: tuple[str, ...],
                                                                expected: int | None) -> None:
    assert seniority_level(person("ana", seniority), levels) == expected


def test_issue_15_the_mix_scores_named_levels_and_says_them_by_name() -> None:
    junior, director = person("ana", "junior"), person("bo", "Director")
    program = Program("mentoring", weights=MIX, seniority_levels=LEVELS)
    edge = score_pair(junior, director, program, PairHistory(), TODAY, None)
    # Five levels apart, counted up to three: the mix adds 5.0 x 3.
    plain = score_pair(junior, director, Program("mentoring", weights=MIX), PairHistory(), TODAY, None)
    assert edge.score - plain.score == pytest.approx(15.0)
    assert "seniority mix: junior and director" in edge.reasons


def test_issue_15_the_engine_mixes_named_levels() -> None:
    people = [person("a", "junior"), person("b", "junior"), person("c", "director"), person("d", "director")]
    result = pair_people(people, Program("mentoring", weights=MIX, seniority_levels=LEVELS), history=PairHistory(),
                         today=TODAY, seed=1)
    for group in result.groups:
        levels = {seniority_level(p, LEVELS) for p in people if p.email in group.members}
        assert levels == {0, 5}, group


def test_issue_15_a_plan_names_the_seniorities_the_mix_cannot_rank() -> None:
    people = [person("a", "junior"), person("b", "intern"), person("c", "intern"), person("d", "7")]
    program = Program("mentoring", weights=MIX, seniority_levels=LEVELS)
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    plan = plan_cycle(program, people, FakeCalendarProvider(), now=now, window=next_window(program, now),
                      history=PairHistory(), seed=1)
    assert any("leaves out 2 people" in note and "'intern' (2)" in note for note in plan.notes)
    assert unknown_levels(people, LEVELS) == {"intern": 2}


def test_issue_15_seniority_levels_refuse_blanks_and_repeats() -> None:
    with pytest.raises(ValueError, match="empty"):
        Program("x", seniority_levels=("staff", " "))
    with pytest.raises(ValueError, match="twice"):
        Program("x", seniority_levels=("staff", "Staff"))
