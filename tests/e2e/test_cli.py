"""The ``coffeechat`` command end to end: a real config, SQLite database, ICS calendars and .eml outbox."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import click
import pytest

from scheduler.entrypoints.cli import cli
from scheduler.model import Meeting
from scheduler.storage.migrate import current_revision, head_revision
from tests.e2e.org import COFFEE, LONDON, LUNCH, PEOPLE, CliResult, Org, free_wednesday, open_store, person_row
from tests.e2e.outbox import read_invites, snapshot

RunCli = Callable[..., CliResult]
EMAILS = {email for email, *_ in PEOPLE}


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group under ``group``, as the words that name it."""
    yield prefix
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def stored_emails(org: Org) -> list[str]:
    with open_store(org.config) as uow:
        return sorted(person.email for person in uow.people.list())


# --- init and the database ----------------------------------------------------------------------------------


def test_init_creates_the_database_and_can_run_again(make_org: Callable[..., Org], run_cli: RunCli) -> None:
    org = make_org()
    assert not org.database.exists()

    first = run_cli("--config", org.config, "init")

    assert first.code == 0, first.text
    url = f"sqlite:///{org.database}"
    assert org.database.is_file()
    assert current_revision(url) == head_revision()
    assert f"is at revision {head_revision()}" in first.text

    assert run_cli("--config", org.config, "import-people", org.people_csv).code == 0
    again = run_cli("--config", org.config, "init")

    assert again.code == 0, again.text
    assert current_revision(url) == head_revision()
    assert stored_emails(org) == sorted(EMAILS)  # upgrading an up-to-date database keeps its data


@pytest.mark.parametrize(
    "command",
    [["run-cycle"], ["run-cycle", "--dry-run"], ["deliver"], ["tick"], ["import-people", "people.csv"]],
    ids=lambda words: " ".join(words),
)
def test_commands_before_init_fail_with_exit_code_5(
    make_org: Callable[..., Org], run_cli: RunCli, command: list[str]
) -> None:
    org = make_org()
    words = [str(org.directory / word) if word.endswith(".csv") else word for word in command]

    result = run_cli("--config", org.config, *words)

    assert result.code == 5
    assert result.out == ""
    assert result.err.startswith("error: ")
    assert result.err.count("\n") == 1  # one line, no traceback
    assert "run `coffeechat init`" in result.err
    assert not org.outbox.exists()


# --- config -------------------------------------------------------------------------------------------------

SMTP_CONFIG = """
[database]
url = "postgresql+psycopg://coffee:db-pass-9f3k@db.internal:5432/coffee"

[mail]
backend = "smtp"
sender = "Coffee Chat <coffee@test.example.com>"

[mail.smtp]
host = "mail.internal"
port = 2525
username = "relay-user"
password_env = "COFFEECHAT_TEST_SMTP_PASSWORD"
"""


def test_config_check_says_what_it_would_connect_to_without_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    config = tmp_path / "coffeechat.toml"
    config.write_text(SMTP_CONFIG, encoding="utf-8")
    secrets = ("db-pass-9f3k", "smtp-pass-7x2q", "web-key-5v8z")
    monkeypatch.setenv("COFFEECHAT_TEST_SMTP_PASSWORD", "smtp-pass-7x2q")
    monkeypatch.setenv("COFFEECHAT_SECRET_KEY", "web-key-5v8z")

    result = run_cli("--config", config, "config", "check")

    assert result.code == 0, result.text
    assert f"config file: {config}" in result.text
    assert "database: postgresql+psycopg://coffee:***@db.internal:5432/coffee" in result.text
    assert "mail: smtp mail.internal:2525 (starttls, user relay-user, password $COFFEECHAT_TEST_SMTP_PASSWORD set)" \
        in result.text
    assert "secret key $COFFEECHAT_SECRET_KEY set" in result.text
    assert "program coffee: coffee, weekly" in result.text
    assert result.text.endswith("config OK")
    for value in secrets:
        assert value not in result.out
        assert value not in result.err


def test_config_check_says_when_a_secret_is_not_set(tmp_path: Path, run_cli: RunCli) -> None:
    config = tmp_path / "coffeechat.toml"
    config.write_text(SMTP_CONFIG, encoding="utf-8")

    result = run_cli("--config", config, "config", "check")

    assert result.code == 0, result.text
    assert "password $COFFEECHAT_TEST_SMTP_PASSWORD NOT SET" in result.text
    assert "secret key $COFFEECHAT_SECRET_KEY NOT SET" in result.text


def test_config_unknown_key_exits_2_naming_key_and_file(tmp_path: Path, run_cli: RunCli) -> None:
    config = tmp_path / "coffeechat.toml"
    config.write_text('[mail]\nbackend = "file"\ncolour = "blue"\n', encoding="utf-8")

    result = run_cli("--config", config, "config", "check")

    assert result.code == 2
    assert result.out == ""
    assert "'mail.colour'" in result.err
    assert str(config) in result.err
    assert result.err.count("\n") == 1


def test_missing_config_file_exits_2_mentioning_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./coffeechat.toml here, and no COFFEECHAT_CONFIG (see clean_environment)

    result = run_cli("init")

    assert result.code == 2
    assert "coffeechat.toml" in result.err
    assert "COFFEECHAT_CONFIG" in result.err
    assert "--config" in result.err
    assert not (tmp_path / "coffeechat.db").exists()


def test_missing_config_file_named_by_the_variable_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli
) -> None:
    missing = tmp_path / "etc" / "coffeechat.toml"
    monkeypatch.setenv("COFFEECHAT_CONFIG", str(missing))

    result = run_cli("config", "check")

    assert result.code == 2
    assert str(missing) in result.err
    assert "$COFFEECHAT_CONFIG" in result.err


def test_missing_config_file_given_with_the_option_is_named(tmp_path: Path, run_cli: RunCli) -> None:
    result = run_cli("--config", tmp_path / "nope.toml", "config", "check")

    assert result.code == 2
    assert f"{tmp_path / 'nope.toml'}: no config file here" in result.err


# --- import-people ------------------------------------------------------------------------------------------


def test_import_people_reports_bad_rows_imports_good_ones_and_never_duplicates(
    make_org: Callable[..., Org], run_cli: RunCli
) -> None:
    rows = [person_row(*person) for person in PEOPLE]  # lines 2-7
    rows += [
        person_row("not-an-email", "Bad Email", "Team X", "Engineering"),  # line 8
        person_row("zone@example.com", "Bad Zone", "Team Y", "Engineering", timezone="Mars/Olympus"),  # line 9
        person_row("noteam@example.com", "No Team", "", "Engineering"),  # line 10
        person_row("ana.alpha@example.com", "Ana Again", "Team Z", "Sales"),  # line 11: duplicate of line 2
    ]
    org = make_org(rows=rows)
    assert run_cli("--config", org.config, "init").code == 0

    result = run_cli("--config", org.config, "import-people", org.people_csv)

    assert result.code == 2
    where = f"{org.people_csv}, line"
    assert f"{where} 8: email: 'not-an-email' is not an email address" in result.text
    assert f"{where} 9: timezone: unknown time zone 'Mars/Olympus'" in result.text
    assert f"{where} 10: team: required but empty" in result.text
    assert f"{where} 11: email: ana.alpha@example.com already appears on line 2" in result.text
    assert result.text.count("skipped ") == 4
    assert "imported 6 people (6 new, 0 updated), 4 rows skipped" in result.text
    with open_store(org.config) as uow:
        people = {person.email: person for person in uow.people.list()}
    assert sorted(people) == sorted(EMAILS)
    assert people["ana.alpha@example.com"].name == "Ana Alpha"  # the duplicate row changed nothing

    again = run_cli("--config", org.config, "import-people", org.people_csv)

    assert again.code == 2
    assert "imported 6 people (0 new, 6 updated), 4 rows skipped" in again.text
    assert stored_emails(org) == sorted(EMAILS)


def test_import_people_prints_user_data_as_it_is(make_org: Callable[..., Org], run_cli: RunCli) -> None:
    """Regression: output went through rich markup, so "[/red]" in a CSV cell crashed the command with a
    traceback and "[b]" silently vanished."""
    org = make_org(rows=[person_row("x[/red]@example", "Bracket", "Team", "Sales"),
                         person_row("[b]bold@example", "Bold", "Team", "Sales")])
    assert run_cli("--config", org.config, "init").code == 0

    result = run_cli("--config", org.config, "import-people", org.people_csv)

    assert result.code == 2
    assert "line 2: email: 'x[/red]@example' is not an email address" in result.text
    assert "line 3: email: '[b]bold@example' is not an email address" in result.text


def test_import_people_missing_file_exits_2(make_org: Callable[..., Org], run_cli: RunCli) -> None:
    org = make_org()
    assert run_cli("--config", org.config, "init").code == 0

    result = run_cli("--config", org.config, "import-people", org.directory / "nope.csv")

    assert result.code == 2
    assert f"{org.directory / 'nope.csv'}: cannot read" in result.err


# --- run-cycle, deliver, tick -------------------------------------------------------------------------------


@pytest.fixture
def imported_org(make_org: Callable[..., Org], run_cli: RunCli) -> Org:
    """An initialised organisation with its six people imported and nothing planned."""
    org = make_org()
    assert run_cli("--config", org.config, "init").code == 0
    imported = run_cli("--config", org.config, "import-people", org.people_csv)
    assert imported.code == 0, imported.text
    return org


def seed_of(result: CliResult) -> str:
    (line,) = [line for line in result.out.splitlines() if line.startswith("seed: ")]
    return line


def test_run_cycle_dry_run_prints_the_plan_and_changes_nothing(imported_org: Org, run_cli: RunCli) -> None:
    org = imported_org

    result = run_cli("--config", org.config, "run-cycle", "--dry-run")

    assert result.code == 0, result.text
    assert "(dry run: nothing stored)" in result.text
    assert "people: 6 signed up, 6 eligible, 6 placed in 3 groups (3 of 2), 0 not placed" in result.text
    assert "groups with a common free slot: 3/3 (100%)" in result.text
    for _email, name, *_ in PEOPLE:
        assert name.split()[0] in result.out
    assert "delivery:" not in result.text
    with open_store(org.config) as uow:
        assert uow.cycles.list() == []
        assert uow.outbox.list() == []
        assert uow.programs.list() == []
    assert snapshot(org.outbox) == {}


def test_run_cycle_stores_sends_once_and_deliver_sends_nothing_more(imported_org: Org, run_cli: RunCli) -> None:
    org = imported_org
    dry = run_cli("--config", org.config, "run-cycle", "--dry-run")

    result = run_cli("--config", org.config, "run-cycle")

    assert result.code == 0, result.text
    assert "dry run" not in result.text
    assert seed_of(result) == seed_of(dry)  # a dry run shows what the real run does
    assert "delivery: 6 sent, 0 to retry, 0 failed" in result.text
    with open_store(org.config) as uow:
        (cycle,) = uow.cycles.list()
        assert cycle.id is not None
        meetings = uow.cycles.meetings(cycle.id)
        effects = uow.outbox.list()
    assert len(meetings) == 3
    assert sorted(email for m in meetings for email in m.group.members) == sorted(EMAILS)
    sent_now = [effect for effect in effects if "/remind/" not in effect.key and "/feedback/" not in effect.key]
    reminders = [effect for effect in effects if "/remind/" in effect.key]
    feedback = [effect for effect in effects if "/feedback/" in effect.key]
    # "Did you meet?" waits until three hours after each meeting's end.
    assert len(feedback) == 6
    assert {effect.state for effect in feedback} == {"pending"}
    assert {effect.state for effect in sent_now} == {"done"}
    # Reminders wait for the day before each meeting.
    assert len(reminders) == 6
    assert {effect.state for effect in reminders} == {"pending"}
    slot_start = {email: m.slot.start for m in meetings for email in m.group.members if m.slot}
    for reminder in reminders:
        assert reminder.next_attempt_at == slot_start[reminder.key.rsplit("/", 1)[1]] - timedelta(hours=24)
    files = snapshot(org.outbox)
    assert len(files) == 6
    invites = read_invites(org.outbox)
    assert sorted(invite.recipient for invite in invites) == sorted(EMAILS)
    free = free_wednesday(cycle.window.start)
    for invite in invites:
        assert invite.method == "REQUEST"
        assert invite.recipient in invite.attendees
        # The calendars leave only Wednesday 13:00-15:00 London free: the meeting is there.
        assert free.start <= invite.start < invite.end <= free.end, invite

    again = run_cli("--config", org.config, "run-cycle")

    assert again.code == 0, again.text
    assert f"the cycle for the week of {cycle.window.start.date().isoformat()} is already planned" in again.text
    assert "delivery: 0 sent, 0 to retry, 0 failed" in again.text
    assert snapshot(org.outbox) == files
    with open_store(org.config) as uow:
        assert len(uow.cycles.list()) == 1

    delivered = run_cli("--config", org.config, "deliver")

    assert delivered.code == 0, delivered.text
    assert delivered.text == "delivery: 0 sent, 0 to retry, 0 failed"
    assert snapshot(org.outbox) == files


def test_issue_15_run_cycle_on_an_empty_database_leaves_the_week_for_people_imported_after(
        make_org: Callable[..., Org], run_cli: RunCli) -> None:
    org = make_org()
    assert run_cli("--config", org.config, "init").code == 0
    empty = run_cli("--config", org.config, "run-cycle")
    assert empty.code == 0, empty.text
    assert "nobody is eligible" in empty.out
    assert run_cli("--config", org.config, "import-people", org.people_csv).code == 0
    planned = run_cli("--config", org.config, "run-cycle")
    assert planned.code == 0, planned.text
    assert "already planned" not in planned.out
    assert seed_of(planned)  # the plan is printed with its seed: this time it was made and stored


def test_run_cycle_unknown_program_exits_2_naming_the_programs(
    make_org: Callable[..., Org], run_cli: RunCli
) -> None:
    org = make_org(programs=COFFEE + LUNCH)
    assert run_cli("--config", org.config, "init").code == 0

    result = run_cli("--config", org.config, "run-cycle", "--program", "nope", "--dry-run")

    assert result.code == 2
    assert "no program named 'nope'; configured: coffee, lunch" in result.err
    assert result.out == ""


def test_run_cycle_program_option_plans_that_program_with_its_rules(
    make_org: Callable[..., Org], run_cli: RunCli
) -> None:
    org = make_org(programs=COFFEE + LUNCH)
    assert run_cli("--config", org.config, "init").code == 0
    assert run_cli("--config", org.config, "import-people", org.people_csv).code == 0

    result = run_cli("--config", org.config, "run-cycle", "--program", "lunch")

    assert result.code == 0, result.text
    with open_store(org.config) as uow:
        assert [cycle.program for cycle in uow.cycles.list()] == ["lunch"]
    # A lunch needs a free hour inside 11:30-14:00; the calendars are free only from 13:00 to 15:00, and a
    # buffer is kept after the busy block: nobody has room, and as their calendars are nearly full all week
    # they are told they look away or fully booked, and stay in for next time.
    assert "people: 6 signed up, 6 eligible, 0 placed in 0 groups (none), 6 not placed" in result.text
    for email in EMAILS:
        assert f"not paired {email}: your calendar shows you away or fully booked most of this cycle" in result.text
    assert read_invites(org.outbox) == []
    assert len(snapshot(org.outbox)) == 6


def test_tick_plans_what_is_due_and_delivers_then_does_nothing_new(imported_org: Org, run_cli: RunCli) -> None:
    org = imported_org

    first = run_cli("--config", org.config, "tick")

    assert first.code == 0, first.text
    assert "groups with a common free slot: 3/3 (100%)" in first.text
    assert "delivery: 6 sent, 0 to retry, 0 failed" in first.text
    files = snapshot(org.outbox)
    assert len(files) == 6
    with open_store(org.config) as uow:
        assert [cycle.program for cycle in uow.cycles.list()] == ["coffee"]

    second = run_cli("--config", org.config, "tick")

    assert second.code == 0, second.text
    assert second.text == "delivery: 0 sent, 0 to retry, 0 failed"
    assert snapshot(org.outbox) == files
    with open_store(org.config) as uow:
        assert len(uow.cycles.list()) == 1


# --- help and the installed entry point ---------------------------------------------------------------------


@pytest.mark.parametrize("words", list(command_paths(cli)), ids=lambda words: " ".join(words) or "coffeechat")
def test_every_command_help_has_an_example(words: tuple[str, ...], run_cli: RunCli) -> None:
    result = run_cli(*words, "--help")

    assert result.code == 0
    assert f"Usage: coffeechat {' '.join(words)}".rstrip() in result.out
    assert "Example" in result.out


def test_installed_console_script(make_org: Callable[..., Org]) -> None:
    script = Path(sys.executable).with_name("coffeechat")
    assert script.is_file(), f"{script} is missing: is the project installed into this environment?"
    org = make_org()
    env = {name: value for name, value in os.environ.items() if not name.startswith("COFFEECHAT_")}

    def coffeechat(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - our own console script with fixed arguments
            [str(script), "--config", str(org.config), *args],
            capture_output=True, text=True, env=env, timeout=120, check=False,
        )

    before = coffeechat("deliver")
    assert before.returncode == 5
    assert "run `coffeechat init`" in before.stderr
    assert "Traceback" not in before.stderr

    init = coffeechat("init")
    assert init.returncode == 0, init.stderr
    assert org.database.is_file()

    check = coffeechat("config", "check")
    assert check.returncode == 0, check.stderr
    assert check.stdout.rstrip().endswith("config OK")


# --- issue 13: meeting reschedule checks calendars and working hours ----------------------------------------


@pytest.fixture
def planned(imported_org: Org, run_cli: RunCli) -> tuple[Org, Meeting]:
    """The organisation with one cycle planned and delivered, and its first meeting (Wednesday afternoon)."""
    result = run_cli("--config", imported_org.config, "run-cycle")
    assert result.code == 0, result.text
    with open_store(imported_org.config) as uow:
        first = uow.cycles.meetings(1)[0]
    assert first.slot is not None
    return imported_org, first


def london_on_the_day_of(meeting: Meeting, days: int, hour: int, minute: int = 0) -> str:
    """An ISO wall time in London, ``days`` after the meeting's day."""
    assert meeting.slot is not None
    day = meeting.slot.start.astimezone(LONDON).date() + timedelta(days=days)
    return datetime.combine(day, time(hour, minute)).isoformat()


def stored_sequence(org: Org, meeting: Meeting) -> int:
    with open_store(org.config) as uow:
        now = uow.cycles.meeting(meeting.id)  # type: ignore[arg-type]
    assert now is not None
    return now.sequence


def test_issue_13_meeting_reschedule_refuses_a_busy_time_naming_it_and_force_moves_it(
        planned: tuple[Org, Meeting], run_cli: RunCli) -> None:
    org, meeting = planned
    thursday = london_on_the_day_of(meeting, 1, 10)  # the test calendars are busy all Thursday
    sent = snapshot(org.outbox)
    words = ("--config", org.config, "meeting", "reschedule", str(meeting.id), "--start", thursday,
             "--tz", "Europe/London")

    refused = run_cli(*words)

    assert refused.code == 2, refused.text
    assert refused.err.count("\n") == 1
    for email in meeting.group.members:
        assert f"{email} is busy all day (Europe/London) in their calendar" in refused.err
    assert refused.err.rstrip().endswith("; --force moves it anyway")
    assert stored_sequence(org, meeting) == 0
    assert snapshot(org.outbox) == sent  # nobody was told anything

    forced = run_cli(*words, "--force")

    assert forced.code == 0, forced.text
    assert forced.err.count("moved despite: ") == len(meeting.group.members)
    assert "delivery: 2 sent" in forced.text
    assert stored_sequence(org, meeting) == 1


def test_issue_13_meeting_reschedule_refuses_a_time_outside_working_hours(
        planned: tuple[Org, Meeting], run_cli: RunCli) -> None:
    org, meeting = planned
    member = meeting.group.members[0]

    evening = run_cli("--config", org.config, "meeting", "reschedule", str(meeting.id),
                      "--start", london_on_the_day_of(meeting, 0, 16, 45), "--tz", "Europe/London")
    saturday = run_cli("--config", org.config, "meeting", "reschedule", str(meeting.id),
                       "--start", london_on_the_day_of(meeting, 3, 10), "--tz", "Europe/London")

    assert evening.code == 2, evening.text
    assert f"outside {member}'s working hours (09:00–17:00 Europe/London)" in evening.err
    assert saturday.code == 2, saturday.text
    assert (f"Saturday is not one of {member}'s working days (mon-fri 09:00-17:00 Europe/London)"
            in saturday.err)  # the calendars are free on Saturdays: only the working days stand in the way
    assert "busy" not in saturday.err
    assert stored_sequence(org, meeting) == 0


def test_issue_13_meeting_reschedule_names_an_unreadable_calendar_as_a_warning(
        planned: tuple[Org, Meeting], run_cli: RunCli) -> None:
    org, meeting = planned
    assert meeting.slot is not None
    unread = meeting.group.members[1]
    (org.directory / "calendars" / f"{unread.partition('@')[0]}.ics").unlink()
    # The only free time in the calendars is Wednesday 13:00-15:00 London; the other meetings have other people.
    local = meeting.slot.start.astimezone(LONDON)
    target = london_on_the_day_of(meeting, 0, 14, 30) if local.hour == 13 else london_on_the_day_of(meeting, 0, 13)

    moved = run_cli("--config", org.config, "meeting", "reschedule", str(meeting.id), "--start", target,
                    "--tz", "Europe/London")

    assert moved.code == 0, moved.text
    (warning,) = [line for line in moved.err.splitlines() if line.startswith("warning: ")]
    assert warning.startswith(f"warning: {unread}'s calendar could not be read (")
    assert warning.endswith("): their busy time is not checked")
    assert "moved despite" not in moved.err
    assert stored_sequence(org, meeting) == 1
