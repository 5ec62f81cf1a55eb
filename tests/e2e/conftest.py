"""Fixtures of the end-to-end tests: an organisation folder written relative to today, and the real CLI run
in-process with its output captured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.clock import SystemClock
from scheduler.entrypoints.cli import main
from scheduler.model import Program
from scheduler.planning.cycle import next_window
from tests.e2e.org import ANSI, COFFEE, CONFIG, HEADER, PEOPLE, CliResult, Org, busy_calendar, person_row


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No config path or secret leaks in from the developer's shell."""
    for variable in ("COFFEECHAT_CONFIG", "COFFEECHAT_SECRET_KEY", "COFFEECHAT_SMTP_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``coffeechat ARGS...`` through ``scheduler.entrypoints.cli.main``; return its exit code and output."""

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        code = main([str(arg) for arg in args])
        out, err = capsys.readouterr()
        return CliResult(code, ANSI.sub("", out), ANSI.sub("", err))

    return run


@pytest.fixture
def make_org(tmp_path: Path) -> Callable[..., Org]:
    """Write an organisation folder: config (``programs`` appended), people.csv (``rows`` after the header,
    the six PEOPLE by default) and a busy calendar for each of PEOPLE."""

    def make(*, programs: str = COFFEE, rows: list[str] | None = None, name: str = "org") -> Org:
        org = Org(tmp_path / name)
        (org.directory / "calendars").mkdir(parents=True)
        org.config.write_text(CONFIG + programs, encoding="utf-8")
        if rows is None:
            rows = [person_row(*person) for person in PEOPLE]
        org.people_csv.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
        first = next_window(Program("coffee"), SystemClock().now()).start
        weeks = [first, first + timedelta(days=7)]
        for email, *_ in PEOPLE:
            calendar = org.directory / "calendars" / f"{email.partition('@')[0]}.ics"
            calendar.write_text(busy_calendar(email, weeks), encoding="utf-8", newline="")
        return org

    return make
