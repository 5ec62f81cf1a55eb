"""Issue 13 through the real CLI: a hostile calendar never makes `run-cycle`, `tick` or `busy` print a
traceback, and the cycle plans everyone else."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.org import PEOPLE, CliResult, Org, open_store

RunCli = Callable[..., CliResult]
HOSTILE = sorted((Path(__file__).resolve().parents[1] / "data" / "ics" / "hostile").glob("*"))
ANA = PEOPLE[0][0]


@pytest.fixture
def org_with(make_org: Callable[..., Org], run_cli: RunCli) -> Callable[[Path], Org]:
    """An imported organisation whose first person's calendar is the given file."""

    def make(calendar: Path) -> Org:
        org = make_org()
        shutil.copyfile(calendar, org.directory / "calendars" / f"{ANA.partition('@')[0]}.ics")
        assert run_cli("--config", org.config, "init").code == 0
        assert run_cli("--config", org.config, "import-people", org.people_csv).code == 0
        return org

    return make


@pytest.mark.parametrize("path", HOSTILE[::3], ids=[path.name for path in HOSTILE[::3]])
def test_issue_13_tick_plans_everyone_else_and_delivers_with_a_hostile_calendar(
        path: Path, org_with: Callable[[Path], Org], run_cli: RunCli) -> None:
    org = org_with(path)

    result = run_cli("--config", org.config, "tick")

    assert result.code == 0, result.text
    assert "Traceback" not in result.text
    assert f"delivery: {len(PEOPLE)} sent" in result.text
    with open_store(org.config) as uow:
        (cycle,) = uow.cycles.list()
        assert cycle.id is not None
        members = {email for meeting in uow.cycles.meetings(cycle.id) for email in meeting.group.members}
    assert members == {email for email, *_ in PEOPLE}


@pytest.mark.parametrize("path", HOSTILE, ids=[path.name for path in HOSTILE])
def test_issue_13_busy_reads_or_names_the_problem_in_one_line(path: Path, run_cli: RunCli) -> None:
    result = run_cli("busy", "--ics", path, "--start", "2026-03-02", "--end", "2026-03-14", "--tz", "Europe/London")

    assert "Traceback" not in result.text
    if result.code == 0:
        assert result.err == ""
        assert "busy," in result.out
    else:
        assert result.code == 1, result.text
        assert result.err.startswith("error: ")
        assert result.err.count("\n") == 1, result.err
        assert path.name in result.err
