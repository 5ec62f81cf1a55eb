"""``coffeechat demo`` end to end: a generated organisation, one real cycle per program, .eml invites on disk.

The demo runs twice in one module-scoped fixture (about 15 s): the tests read what the first run wrote and
check that the second run changed nothing.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections import Counter, defaultdict
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from scheduler.availability.slots import DEFAULT_OFFICE
from scheduler.entrypoints.cli import main
from scheduler.model import Cycle, Interval, Meeting, Person
from tests.e2e.org import open_store
from tests.e2e.outbox import Invite, read_email, read_invites, recipient_of, snapshot

pytestmark = pytest.mark.slow

ORGANIZER = "coffee@example.com"


@dataclass(frozen=True)
class DemoRun:
    """What two demo runs in the same folder printed and left behind."""

    directory: Path
    code: int
    output: str
    rerun_code: int
    rerun_output: str
    outbox_after_first: dict[str, tuple[int, bytes]]
    outbox_after_second: dict[str, tuple[int, bytes]]
    people: dict[str, Person]
    cycles: list[Cycle]
    cycles_after_second: list[Cycle]
    meetings: dict[str, list[Meeting]]  # by program
    effects_done: int
    effects_total: int
    invites: list[Invite]  # the calendar parts of the first run's emails

    @property
    def outbox(self) -> Path:
        return self.directory / "outbox"


def run_demo(directory: Path) -> tuple[int, str]:
    """``coffeechat demo --dir directory`` in-process; its exit code and output (whitespace collapsed)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["demo", "--dir", str(directory)])
    return code, " ".join(f"{out.getvalue()}\n{err.getvalue()}".split())


def read_store(directory: Path) -> tuple[dict[str, Person], list[Cycle], dict[str, list[Meeting]], Counter[str]]:
    with open_store(directory / "config.toml") as uow:
        people = {person.email: person for person in uow.people.list()}
        cycles = uow.cycles.list()
        meetings: dict[str, list[Meeting]] = defaultdict(list)
        for cycle in cycles:
            assert cycle.id is not None
            meetings[cycle.program].extend(uow.cycles.meetings(cycle.id))
        # Reminders wait in the outbox until the day before each meeting, "did you meet?" until after it; every
        # other email goes out at once.
        states = Counter(effect.state for effect in uow.outbox.list()
                         if "/remind/" not in effect.key and "/feedback/" not in effect.key)
    return people, cycles, dict(meetings), states


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    directory = tmp_path_factory.mktemp("e2e") / "demo"
    code, output = run_demo(directory)
    first = snapshot(directory / "outbox")
    # The calendar requests; the loop's declines add cancellations (METHOD:CANCEL), checked on their own.
    invites = [invite for invite in read_invites(directory / "outbox") if invite.method == "REQUEST"]
    people, cycles, meetings, states = read_store(directory)
    rerun_code, rerun_output = run_demo(directory)
    second = snapshot(directory / "outbox")
    _, cycles_after, _, _ = read_store(directory)
    return DemoRun(directory, code, output, rerun_code, rerun_output, first, second, people, cycles, cycles_after,
                   meetings, states["done"], sum(states.values()), invites)


def people_csv_rows(demo: DemoRun) -> list[dict[str, str]]:
    with (demo.directory / "people.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def program_of(demo: DemoRun) -> dict[tuple[tuple[str, ...], Interval | None], str]:
    """The program of each stored meeting, keyed by its sorted members and slot."""
    return {(tuple(sorted(m.group.members)), m.slot): program for program, ms in demo.meetings.items() for m in ms}


def test_demo_succeeds(demo: DemoRun) -> None:
    assert demo.code == 0, demo.output
    assert demo.rerun_code == 0, demo.rerun_output


def test_demo_writes_config_people_calendars_and_database(demo: DemoRun) -> None:
    for name in ("config.toml", "people.csv", "coffeechat.db"):
        assert (demo.directory / name).is_file(), name
    rows = people_csv_rows(demo)
    calendars = sorted((demo.directory / "calendars").glob("*.ics"))
    assert len(rows) == 150
    assert len(calendars) == len(rows)
    for row in rows:
        kind, _, location = row["calendar"].partition(":")
        assert kind == "ics"
        assert (demo.directory / location).is_file(), location
    assert sorted(demo.people) == sorted(row["email"] for row in rows)


def test_demo_organisation_is_varied(demo: DemoRun) -> None:
    rows = people_csv_rows(demo)
    assert len({row["team"] for row in rows}) >= 12
    assert len({row["department"] for row in rows}) == 4
    assert len({row["office"] for row in rows}) == 3
    assert len({row["timezone"] for row in rows}) == 3
    stored = demo.people.values()
    assert len({p.team for p in stored}) == len({row["team"] for row in rows})
    assert len({p.timezone for p in stored}) == 3


def test_one_cycle_per_program_in_the_next_week(demo: DemoRun) -> None:
    assert sorted(cycle.program for cycle in demo.cycles) == ["coffee", "dinner", "lunch"]
    for cycle in demo.cycles:
        assert cycle.window.start.weekday() == 0
        assert (cycle.window.start.hour, cycle.window.start.minute) == (0, 0)


def test_every_coffee_member_gets_an_invite(demo: DemoRun) -> None:
    invites = demo.invites
    by_recipient: dict[str, list[Invite]] = defaultdict(list)
    for invite in invites:
        by_recipient[invite.recipient].append(invite)
    coffee = demo.meetings["coffee"]
    assert len(coffee) >= 50
    for meeting in coffee:
        assert meeting.slot is not None, meeting
        members = tuple(sorted(meeting.group.members))
        for member in members:
            matching = [i for i in by_recipient[member] if i.attendees == members and i.start == meeting.slot.start]
            assert len(matching) == 1, f"{member}: no invite for {meeting}"


def test_invites_are_imip_requests(demo: DemoRun) -> None:
    invites = demo.invites
    assert invites
    meetings = program_of(demo)
    for invite in invites:
        assert invite.method == "REQUEST", invite.path.name
        assert invite.content_type_method == "REQUEST", invite.path.name
        assert invite.organizer == ORGANIZER
        assert invite.recipient in invite.attendees
        assert len(set(invite.attendees)) == len(invite.attendees) >= 2
        assert (invite.attendees, Interval(invite.start, invite.end)) in meetings, invite.path.name


def test_invites_fall_inside_the_week_and_everyone_s_working_hours(demo: DemoRun) -> None:
    windows = {cycle.program: cycle.window for cycle in demo.cycles}
    meetings = program_of(demo)
    for invite in demo.invites:
        program = meetings[(invite.attendees, Interval(invite.start, invite.end))]
        window = windows[program]
        assert window.start <= invite.start < invite.end <= window.end, invite.path.name
        for email in invite.attendees:
            person = demo.people[email]
            start, end = invite.start.astimezone(person.zone), invite.end.astimezone(person.zone)
            hours = person.working_hours
            assert start.date() == end.date(), (email, start, end)
            assert start.weekday() in hours.days, (email, start)
            if program == "dinner":  # the office's evening, after working hours, on a working day
                assert DEFAULT_OFFICE.dinner[0] <= start.time(), (email, start)
                assert end.time() <= DEFAULT_OFFICE.dinner[1], (email, end)
                continue
            assert hours.start <= start.time(), (email, start, hours)
            assert end.time() <= hours.end, (email, end, hours)
            if program == "lunch":
                assert DEFAULT_OFFICE.lunch[0] <= start.time(), (email, start)
                assert end.time() <= DEFAULT_OFFICE.lunch[1], (email, end)


def test_issue_15_the_demo_has_dinners_at_one_office_each_for_those_who_chose_them(demo: DemoRun) -> None:
    dinners = demo.meetings["dinner"]
    assert dinners
    for meeting in dinners:
        members = [demo.people[email] for email in meeting.group.members]
        assert 2 <= len(members) <= 4
        (office,) = {person.office for person in members}
        assert meeting.location == f"Dinner, {office} office"
        assert all("dinner" in person.kinds and person.mode != "virtual" for person in members)


def test_nobody_has_two_meetings_at_once(demo: DemoRun) -> None:
    cancelled = {(tuple(sorted(m.group.members)), m.slot.start) for ms in demo.meetings.values() for m in ms
                 if m.state == "cancelled" and m.slot is not None}
    by_person: dict[str, list[Invite]] = defaultdict(list)
    for invite in demo.invites:
        if (invite.attendees, invite.start) not in cancelled:  # a declined meeting no longer takes the time
            by_person[invite.recipient].append(invite)
    assert any(len(invites) > 1 for invites in by_person.values())  # coffee and lunch in the same week
    for email, invites in by_person.items():
        ordered = sorted(invites, key=lambda invite: invite.start)
        for earlier, later in itertools.pairwise(ordered):
            assert earlier.end <= later.start, (email, earlier.path.name, later.path.name)


def test_no_group_has_two_people_from_one_team(demo: DemoRun) -> None:
    for program, meetings in demo.meetings.items():
        for meeting in meetings:
            teams = [demo.people[email].team for email in meeting.group.members]
            assert len(set(teams)) == len(teams), (program, meeting.group.members, teams)


def test_demo_prints_summary_figures_that_match_the_stored_plan(demo: DemoRun) -> None:
    people = re.findall(r"people: 150 signed up, (\d+) eligible, (\d+) placed in (\d+) groups", demo.output)
    cross = re.findall(r"cross-department groups: (\d+)/(\d+) \((\d+)%\)", demo.output)
    with_slot = re.findall(r"groups with a common free slot: (\d+)/(\d+) \((\d+)%\)", demo.output)
    assert len(people) == len(cross) == len(with_slot) == 3  # coffee, lunch, then dinner
    for index, program in enumerate(("coffee", "lunch", "dinner")):
        # The figures are the plan's: the meetings the loop's re-pairs added afterwards are not in them.
        meetings = [m for m in demo.meetings[program] if not repaired(m)]
        eligible, placed, groups = map(int, people[index])
        assert groups == len(meetings)
        assert placed == sum(len(m.group.members) for m in meetings) <= eligible
        crossing = sum(1 for m in meetings if len({demo.people[e].department for e in m.group.members}) > 1)
        assert (int(cross[index][0]), int(cross[index][1])) == (crossing, groups)
        assert (int(with_slot[index][0]), int(with_slot[index][1])) == (sum(m.slot is not None for m in meetings),
                                                                        groups)


def repaired(meeting: Meeting) -> bool:
    """Whether the meeting is one the loop's re-pairing made (after a decline), not the cycle's plan."""
    return any("could not make it" in reason for reason in meeting.group.reasons)


def test_every_planned_email_is_written(demo: DemoRun) -> None:
    assert demo.effects_total > 200  # more than one delivery batch
    assert demo.effects_done == demo.effects_total
    assert len(demo.outbox_after_first) == demo.effects_total
    # The plan's delivery, then the loop's (its cancellations and the new invitations).
    sent = [int(n) for n in re.findall(r"delivery: (\d+) sent, 0 to retry, 0 failed", demo.output)]
    assert len(sent) == 2
    assert sum(sent) == demo.effects_total
    placed = {email for meetings in demo.meetings.values() for m in meetings for email in m.group.members}
    recipients = {recipient_of(read_email(demo.outbox / name)) for name in demo.outbox_after_first}
    assert placed <= recipients


def test_second_run_plans_and_writes_nothing_new(demo: DemoRun) -> None:
    before, after = demo.outbox_after_first, demo.outbox_after_second
    assert sorted(after) == sorted(before), "the second run wrote new .eml files"
    changed = sorted(name for name in before if after[name] != before[name])  # mtime or contents
    assert changed == [], "the second run rewrote .eml files"
    assert [(c.id, c.program, c.window) for c in demo.cycles_after_second] == \
        [(c.id, c.program, c.window) for c in demo.cycles]
    assert "people: 0 new, 150 already known" in demo.rerun_output
    for program in ("coffee", "lunch", "dinner"):
        assert f"program {program}: the cycle for the week of" in demo.rerun_output
    assert demo.rerun_output.count("is already planned; nothing new to plan") == 3
    assert "delivery: 0 sent, 0 to retry, 0 failed" in demo.rerun_output


def test_issue_15_the_demo_shows_a_decline_mended_within_the_cycle(demo: DemoRun) -> None:
    declines = re.findall(r"(\S+ \S+) declines the coffee with (\S+ \S+) \(as with the email's button\): ([^.]*?)"
                          r"(?= \S+ \S+ declines| delivering| delivery)", demo.output)
    assert len(declines) == 2, demo.output
    # Each partner is re-paired, or told nobody else is free (the demo's week decides which).
    paired = [outcome for *_, outcome in declines if "is paired with" in outcome and "instead" in outcome]
    assert len(paired) + sum("nobody else is free this cycle" in outcome for *_, outcome in declines) == 2
    coffee = demo.meetings["coffee"]
    assert sum(m.state == "cancelled" for m in coffee) == 2
    new = [m for m in coffee if repaired(m)]
    assert len(new) == len(paired)
    # Everyone in a re-paired meeting got its invitation; the declined meetings' members their cancellation.
    for meeting in new:
        members = tuple(sorted(meeting.group.members))
        assert all(any(i.attendees == members and i.recipient == member for i in demo.invites) for member in members)
    cancels = [i for i in read_invites(demo.outbox) if i.method == "CANCEL"]
    assert len(cancels) == 4  # two meetings of two
    assert "declines the coffee" not in demo.rerun_output  # shown once, when the cycle was planned
