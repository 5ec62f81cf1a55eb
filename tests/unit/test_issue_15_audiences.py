"""Issue 15, part 5: programs for an audience, opting in per program, people's role, and video links. The pure
parts: the configuration, eligibility, the people CSV's role column, the site's program settings, and the invite
of a meeting with a video link read back with the icalendar library."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from integrations.invites import render_invite
from scheduler.admin import people_csv
from scheduler.admin.people_csv import format_people_csv, parse_people_csv
from scheduler.config import load_config
from scheduler.delivery import emails
from scheduler.errors import ConfigError, InputError
from scheduler.model import (
    Attendee,
    Audience,
    Group,
    Interval,
    Meeting,
    Person,
    Program,
    check_video_link,
    fill_video_link,
)
from scheduler.planning.cycle import VIDEO_CALL, video_links
from scheduler.programs.settings import apply_changes
from web.urls import WebUrls

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
MONDAY = date(2026, 12, 14)
ORGANIZER = Attendee("coffee@example.com", "Coffee Chat")
SITE = WebUrls("https://coffee.example.com")
TEMPLATE = "https://meet.example.org/coffee-{uid}"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coffeechat.toml"
    path.write_text(text, encoding="utf-8")
    return path


def config_error(tmp_path: Path, program_toml: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f'[[programs]]\nname = "coffee"\n{program_toml}'))
    return caught.value


def person(email: str = "ana@example.com", **overrides: object) -> Person:
    return Person(email=email, name=overrides.pop("name", "Ana"), team=str(overrides.pop("team", "Payments")),
                  verified_at=NOW, **overrides)  # type: ignore[arg-type]


# --- configuration ----------------------------------------------------------------------------------------------


def test_issue_15_config_reads_audience_opt_in_and_video_link(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, (
        '[[programs]]\nname = "london-lunch"\nkind = "lunch"\nopt_in = true\n'
        f'video_link = "{TEMPLATE}"\n'
        '[programs.audience]\noffices = ["London"]\nroles = ["engineer", "leader"]\n'
        'emails = [" New.Joiner@Example.com "]\n')))
    (program,) = config.programs
    assert program.opt_in is True
    assert program.video_link == TEMPLATE
    assert program.audience == Audience(offices=frozenset({"London"}), roles=frozenset({"engineer", "leader"}),
                                        emails=frozenset({"new.joiner@example.com"}))
    # Without any of it, a program is for everyone, who take part unless they leave, with no link: as before.
    default = load_config(write(tmp_path, '[[programs]]\nname = "coffee"\n')).programs[0]
    assert (default.audience.everyone, default.opt_in, default.video_link) == (True, False, "")


@pytest.mark.parametrize(("toml", "key", "words"), [
    ('[programs.audience]\ncountries = ["GB"]\n', "programs[0].audience.countries", "unknown key"),
    ('[programs.audience]\noffices = "London"\n', "programs[0].audience.offices", "must be an array"),
    ('[programs.audience]\nroles = [1]\n', "programs[0].audience.roles[0]", "must be a string"),
    ('[programs.audience]\nemails = ["not an address"]\n', "programs[0].audience", "is not an email address"),
    ('opt_in = "yes"\n', "programs[0].opt_in", "must be true or false"),
    ('video_link = 5\n', "programs[0].video_link", "must be a string"),
    ('video_link = "http://meet.example.org/coffee-room"\n', "programs[0].video_link", "is not an https://"),
    ('video_link = "meet.example.org/coffee-room"\n', "programs[0].video_link", "is not an https://"),
    ('video_link = "https://meet.example.org/coffee-{room}"\n', "programs[0].video_link",
     "unknown placeholder(s) room"),
    ('video_link = "https://meet.example.org/coffee-{uid"\n', "programs[0].video_link", "stray"),
    ('video_link = "https://meet.example.org/{uid.real}"\n', "programs[0].video_link", "unknown placeholder"),
])
def test_issue_15_config_errors_name_the_key(tmp_path: Path, toml: str, key: str, words: str) -> None:
    error = config_error(tmp_path, toml)
    assert error.key == key
    assert words in str(error)


def test_issue_15_a_video_link_is_for_invites_sent_by_email(tmp_path: Path) -> None:
    path = write(tmp_path, ('[calendar.google]\nenabled = true\ndomains = ["example.com"]\n'
                            'organizer = "coffee@example.com"\n'
                            '[[programs]]\nname = "coffee"\ninvites = "google"\n'
                            'video_link = "https://meet.example.org/coffee-room"\n'))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == "programs[0].video_link"
    assert "own online meeting" in str(caught.value)


def test_issue_15_placeholders_are_documented_and_filled_in() -> None:
    assert check_video_link("https://meet.example.org/coffee-room") == "https://meet.example.org/coffee-room"
    assert fill_video_link("https://meet.example.org/c/{id}/{uid}", 42) == \
        "https://meet.example.org/c/42/coffeechat-meeting-42"
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    assert "{uid}" in example.read_text()
    assert "{id}" in example.read_text()


# --- eligibility ----------------------------------------------------------------------------------------------


def test_issue_15_reasons_in_plain_words() -> None:
    london_lunch = Program("london-lunch", kind="lunch", audience=Audience(offices=frozenset({"London"})))
    lisbon = person(office="Lisbon")
    assert lisbon.ineligibility(london_lunch, MONDAY) == "not in this program's audience (London office only)"
    assert replace(lisbon, office=" london ").ineligibility(london_lunch, MONDAY) is None  # case and spaces

    joiners = Program("new-joiners", opt_in=True, audience=Audience(emails=frozenset({"ana@example.com"})))
    ana = person()
    assert ana.ineligibility(joiners, MONDAY) == "has not joined this program"
    assert ana.ineligibility(joiners, MONDAY, joined=True) is None
    assert ana.ineligibility(joiners, MONDAY, joined=False) == "has left this program"
    assert person("bo@example.com").ineligibility(joiners, MONDAY, joined=True) == \
        "not in this program's audience (invited people only)"
    # A program for everyone, as before: in unless they leave it.
    assert ana.ineligibility(Program("coffee"), MONDAY) is None
    assert ana.ineligibility(Program("coffee"), MONDAY, joined=False) == "has left this program"


def test_issue_15_audiences_describe_themselves() -> None:
    assert Audience().describe() == "everyone"
    assert Audience(offices=frozenset({"Paris", "London"})).describe() == "London or Paris office only"
    assert Audience(departments=frozenset({"Sales"}), roles=frozenset({"leader"}),
                    emails=frozenset({"a@example.com"})).describe() == \
        "Sales department, role leader or invited people only"


NAMES = st.sampled_from(["London", "Lisbon", "Sales", "Research", "Payments", "Search", "engineer", "leader", ""])
LISTS = st.frozensets(NAMES, max_size=3)
EMAILS = st.sampled_from([f"p{n}@example.com" for n in range(6)])


@given(offices=LISTS, departments=LISTS, teams=LISTS, roles=LISTS, invited=st.frozensets(EMAILS, max_size=3),
       email=EMAILS, office=NAMES, department=NAMES, team=NAMES.filter(bool), role=NAMES,
       opt_in=st.booleans(), joined=st.sampled_from([None, True, False]))
def test_issue_15_eligibility_over_random_audiences(
        offices: frozenset[str], departments: frozenset[str], teams: frozenset[str], roles: frozenset[str],
        invited: frozenset[str], email: str, office: str, department: str, team: str, role: str,
        opt_in: bool, joined: bool | None) -> None:
    audience = Audience(offices=offices, departments=departments, teams=teams, roles=roles, emails=invited)
    program = Program("p", opt_in=opt_in, audience=audience)
    someone = Person(email=email, name="X", team=team, department=department, office=office, role=role,
                     verified_at=NOW)
    # The rule, spelled out: invited, or every list given names the person's value (an empty list asks nothing).
    lists = [(offices, office), (departments, department), (teams, team), (roles, role)]
    named = [(names - {""}, value) for names, value in lists if names - {""}]
    expected_in = (not named and not invited) or email in invited or (
        bool(named) and all(value in names for names, value in named))
    assert audience.admits(someone) is expected_in
    reason = someone.ineligibility(program, MONDAY, joined=joined)
    if not expected_in:
        assert reason == f"not in this program's audience ({audience.describe()})"
    elif joined is False:
        assert reason == "has left this program"
    elif opt_in and joined is not True:
        assert reason == "has not joined this program"
    else:
        assert reason is None


# --- the people CSV's role column -------------------------------------------------------------------------------


def test_issue_15_the_csv_role_column_is_read_and_written() -> None:
    text = ("email,name,team,role\n"
            "ana@example.com,Ana,Payments, leader \n"
            "bo@example.com,Bo,Search,\n")
    people, errors = parse_people_csv(text, source="people.csv", now=NOW)
    assert errors == []
    assert [(p.email, p.role) for p in people] == [("ana@example.com", "leader"), ("bo@example.com", "")]
    # A file without the column gives nobody a role; what is written reads back as itself.
    (cy,), _ = parse_people_csv("email,name,team\ncy@example.com,Cy,Ops\n", source="people.csv", now=NOW)
    assert cy.role == ""
    again, errors = parse_people_csv(format_people_csv(people), source="again.csv", now=NOW)
    assert errors == []
    assert again == people
    assert "\nrole " in (people_csv.__doc__ or "")  # documented with the other columns


# --- the site's program settings --------------------------------------------------------------------------------


def test_issue_15_the_site_changes_audience_opt_in_and_video_link() -> None:
    coffee = Program("coffee")
    changed = apply_changes(coffee, {"opt_in": True, "video_link": " https://meet.example.org/c-{id} ",
                                     "audience": {"offices": ["London"], "emails": ["Ana@Example.com"]}})
    assert changed.opt_in is True
    assert changed.video_link == "https://meet.example.org/c-{id}"
    assert changed.audience == Audience(offices=frozenset({"London"}), emails=frozenset({"ana@example.com"}))


@pytest.mark.parametrize(("changes", "where"), [
    ({"video_link": "http://meet.example.org/x"}, "video_link"),
    ({"video_link": "https://meet.example.org/{who}"}, "video_link"),
    ({"video_link": 3}, "video_link"),
    ({"opt_in": "yes"}, "opt_in"),
    ({"audience": {"planets": ["Mars"]}}, "audience.planets"),
    ({"audience": {"offices": "London"}}, "audience.offices"),
    ({"audience": {"emails": ["nobody"]}}, "audience.emails"),
    ({"audience": ["London"]}, "audience"),
])
def test_issue_15_the_site_refuses_bad_settings_naming_them(changes: dict[str, object], where: str) -> None:
    with pytest.raises(InputError) as caught:
        apply_changes(Program("coffee"), changes)
    assert caught.value.where == where


def test_issue_15_the_site_refuses_a_video_link_for_provider_invites() -> None:
    with pytest.raises(InputError) as caught:
        apply_changes(Program("coffee", invites="google"), {"video_link": "https://meet.example.org/room"})
    assert caught.value.where == "video_link"


# --- video links in the invite and the emails -------------------------------------------------------------------


def stored_meeting(meeting_id: int = 42) -> tuple[Meeting, list[Person]]:
    ana, bo = person(), person("bo@example.com", name="Bo", team="Search")
    start = datetime(2026, 12, 15, 10, tzinfo=UTC)
    meeting = Meeting(Group((ana.email, bo.email), 1.0, ("different teams",)), Interval(start, start + timedelta(
        minutes=30)), location=VIDEO_CALL, id=meeting_id, cycle_id=7)
    return meeting, [ana, bo]


def test_issue_15_an_invite_with_a_templated_video_link_parses_back() -> None:
    program = Program("coffee", video_link=TEMPLATE)
    meeting, members = stored_meeting()
    (link,) = video_links([meeting], program).values()
    assert link == "https://meet.example.org/coffee-coffeechat-meeting-42"
    meeting = replace(meeting, location=link)
    message = emails.match_announcement(meeting, members, members[0], program, ORGANIZER,
                                        sender="Coffee Chat <coffee@example.com>", stamp=NOW, site=SITE,
                                        key="cycle-7/meeting-42/seq-0/announce/ana@example.com")
    assert message.invite is not None
    # The invite survives the outbox as it is.
    assert emails.invite_from_payload(emails.invite_to_payload(message.invite)) == message.invite
    calendar = Calendar.from_ical(render_invite(message.invite))
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == "coffeechat-meeting-42"
    assert str(event["LOCATION"]) == link
    assert str(event["URL"]) == link
    (conference,) = event.conferences
    assert (conference.uri, conference.feature, conference.label) == (link, "VIDEO", "Video call")
    assert link in str(event["DESCRIPTION"])
    # The emails give the link instead of "Video call", and the HTML one makes it a link.
    assert f"Where:  {link}" in message.text
    assert f'<a href="{link}">{link}</a>' in message.html
    assert VIDEO_CALL not in message.text


def test_issue_15_without_the_setting_or_with_a_provider_nothing_changes() -> None:
    meeting, members = stored_meeting()
    assert video_links([meeting], Program("coffee")) == {}
    assert video_links([meeting], Program("coffee", invites="microsoft")) == {}
    in_person = replace(meeting, location="In person, London office")
    assert video_links([in_person], Program("coffee", video_link=TEMPLATE)) == {}
    invite = emails.build_invite(meeting, members, Program("coffee"), ORGANIZER, stamp=NOW,
                                 match_url="https://coffee.example.com/matches/42")
    assert invite.video_url == ""
    assert "video_url" not in emails.invite_to_payload(invite)  # payloads of invites without a link as before
    (event,) = Calendar.from_ical(render_invite(invite)).walk("VEVENT")
    assert str(event["LOCATION"]) == VIDEO_CALL
    assert "URL" not in event
    assert "CONFERENCE" not in event


def test_issue_15_a_fixed_room_is_the_same_for_every_meeting() -> None:
    room = "https://meet.example.org/coffee-room"
    first, _ = stored_meeting(1)
    second, _ = stored_meeting(2)
    assert set(video_links([first, second], Program("coffee", video_link=room)).values()) == {room}
