"""``coffeechat pair`` end to end: an instance file in, a result file (or stdout) out, bad input named."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.org import CliResult

RunCli = Callable[..., CliResult]

INSTANCE: dict[str, Any] = {
    "program": {"kind": "coffee", "cooldown_cycles": 6, "weights": {"never_met": 5}},
    "window": {"start": "2026-11-23T00:00:00Z", "end": "2026-11-28T00:00:00Z"},
    "people": [
        {"id": "ana", "team": "Payments", "department": "Engineering", "office": "London",
         "timezone": "Europe/London", "interests": ["jazz"],
         "busy": [["2026-11-23T00:00:00Z", "2026-11-25T00:00:00Z"]]},
        {"id": "bo", "team": "Deals", "department": "Sales", "office": "Berlin", "timezone": "Europe/Berlin",
         "interests": ["jazz"], "wishlist": ["department:Engineering"]},
        {"id": "cy", "team": "Mobile", "department": "Engineering", "office": "London",
         "timezone": "Europe/London", "manager": "ana"},
        {"id": "di", "team": "Ads", "department": "Marketing", "office": "New York",
         "timezone": "America/New_York", "level": 3, "format": "virtual"},
        {"id": "ed", "team": "Ads", "department": "Marketing", "office": "New York",
         "timezone": "America/New_York"},
        {"id": "fi", "team": "Brunch", "kinds": ["lunch"]},
    ],
    "history": [{"members": ["ana", "bo"], "cycles_ago": 2}],
}


def write(tmp_path: Path, data: Any, name: str = "org.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_pair_writes_the_result_file(tmp_path: Path, run_cli: RunCli) -> None:
    instance = write(tmp_path, INSTANCE)
    output = tmp_path / "plan.json"

    result = run_cli("pair", instance, "-o", output)

    assert result.code == 0, result.text
    assert f"result in {output}" in result.text
    plan = json.loads(output.read_text(encoding="utf-8"))
    placed = sorted(member for group in plan["groups"] for member in group["members"])
    assert placed == ["ana", "bo", "cy", "di", "ed"]
    assert plan["unmatched"] == [{"id": "fi", "reason": "not eligible: does not take part in coffee meetings"}]
    groups = {frozenset(group["members"]) for group in plan["groups"]}
    assert frozenset({"ana", "bo"}) not in groups  # met two cycles ago: inside the cooldown
    assert not any({"di", "ed"} <= group for group in groups)  # one team
    for group in plan["groups"]:
        assert group["reasons"]
        start = datetime.fromisoformat(group["slot"]["start"])
        if "ana" in group["members"]:
            assert start >= datetime.fromisoformat("2026-11-25T00:00:00+00:00")  # ana is busy until Wednesday
    stats = plan["stats"]
    assert stats["people"] == 6
    assert stats["groups"] == len(plan["groups"])
    assert stats["upper_bound"] >= stats["score"] > 0
    assert 0 <= stats["gap"] < 1


def test_pair_makes_lunch_groups_of_four(tmp_path: Path, run_cli: RunCli) -> None:
    departments = ["Engineering", "Sales", "Design", "People"]
    people = [{"id": f"p{i}", "team": f"team-{i % 7}", "department": departments[i % 4], "kinds": ["lunch"],
               "office": "London", "timezone": "Europe/London"} for i in range(14)]
    data = {"program": {"kind": "lunch", "group_size": 4, "meeting_mode": "in_person"},
            "window": INSTANCE["window"], "seed": 3, "people": people}
    output = tmp_path / "plan.json"

    result = run_cli("pair", write(tmp_path, data), "-o", output)

    assert result.code == 0, result.text
    plan = json.loads(output.read_text(encoding="utf-8"))
    assert sorted(len(group["members"]) for group in plan["groups"]) == [3, 3, 4, 4]  # 14 by 4
    assert plan["unmatched"] == []
    team = {person["id"]: person["team"] for person in people}
    for group in plan["groups"]:
        assert len({team[m] for m in group["members"]}) == len(group["members"])
        assert group["slot"] is not None
        assert group["score"] > 0
        assert group["reasons"]
    assert plan["stats"]["upper_bound"] >= plan["stats"]["score"]


def test_pair_prints_json_on_stdout_and_a_summary_on_stderr(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("pair", write(tmp_path, INSTANCE))

    assert result.code == 0, result.text
    plan = json.loads(result.out)
    assert set(plan) == {"groups", "unmatched", "notes", "stats"}
    assert "6 people: 2 groups, 1 unmatched" in result.err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"people": [', ", line 1: not valid JSON"),
        ({"people": [{"id": "a", "team": "x", "timezone": "Mars/Base"}]},
         ": people[0].timezone: unknown time zone 'Mars/Base'"),
        ({"people": [{"id": "a", "team": "x"}, {"id": "b"}]}, ": people[1].team: is required"),
        ({"people": [{"id": "a", "team": "x", "busy": [["2026-11-23T09:00:00Z"]]}]},
         ": people[0].busy[0]: must be a pair"),
        ({"program": {"weights": {"charm": 1}}}, ": program.weights.charm: unknown key"),
    ],
    ids=["broken JSON", "unknown zone", "missing team", "malformed busy pair", "unknown weight"],
)
def test_bad_input_exits_2_naming_the_place(tmp_path: Path, run_cli: RunCli, content: Any, expected: str) -> None:
    output = tmp_path / "plan.json"
    instance = write(tmp_path, content)

    result = run_cli("pair", instance, "-o", output)

    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith(f"error: {instance}{expected}")
    assert result.err.count("\n") == 1  # one line, no traceback
    assert not output.exists()


def test_a_missing_file_exits_2(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("pair", tmp_path / "nowhere.json")

    assert result.code == 2
    assert result.err.startswith(f"error: {tmp_path / 'nowhere.json'}: cannot read")


def test_pair_needs_no_config(tmp_path: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no coffeechat.toml here
    result = run_cli("--config", tmp_path / "missing.toml", "pair", write(tmp_path, INSTANCE))
    assert result.code == 0, result.text
