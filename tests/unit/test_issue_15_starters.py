"""Issue 15: conversation starters from what a group shares and where it differs, in the announcement, the invite's
description and on the match page; never about anyone outside the group, never more than three."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.delivery import emails
from scheduler.model import Attendee, Group, Interval, Meeting, Person, Program
from scheduler.pairing.starters import MAX_STARTERS, conversation_starters
from scheduler.planning.matches import MatchPage
from tests.conftest import BERLIN, LONDON, NEW_YORK
from web.urls import WebUrls

ANA = Person(email="ana@example.com", name="Ana López", team="Payments", department="Engineering", office="London",
             timezone=LONDON, interests=frozenset({"climbing", "chess"}), seniority="director",
             manager="boss@example.com")
BEN = Person(email="ben@example.com", name="Ben Okafor", team="Field Sales", department="Sales", office="Berlin",
             timezone=BERLIN, interests=frozenset({"climbing", "jazz"}))
CY = Person(email="cy@example.com", name="Cy Park", team="Billing", department="Engineering", office="London",
            timezone=LONDON, interests=frozenset({"jazz", "chess"}))
SLOT = Interval(datetime(2026, 11, 24, 10, tzinfo=UTC), datetime(2026, 11, 24, 10, 30, tzinfo=UTC))


def test_issue_15_a_pair_is_told_what_it_shares_whom_to_ask_about_what_and_where_the_other_works() -> None:
    assert conversation_starters([ANA, BEN], ANA) == (
        "You both like climbing",
        "Ask Ben how Sales works with Engineering",
        "Ben is in the Berlin office: ask what it is like there",
    )
    assert conversation_starters([ANA, BEN], BEN) == (
        "You both like climbing",
        "Ask Ana how Engineering works with Sales",
        "Ana is in the London office: ask what it is like there",
    )


def test_issue_15_the_whole_group_reads_starters_that_name_who_asks_whom() -> None:
    assert conversation_starters([ANA, BEN]) == (
        "You both like climbing",
        "Ana, ask Ben how Sales works with Engineering",
        "Ana is in the London office and Ben in the Berlin office: ask each other what it is like there",
    )


def test_issue_15_a_trio_gets_one_starter_of_each_kind_before_a_second_of_any() -> None:
    assert conversation_starters([ANA, BEN, CY], ANA) == (
        "You and Ben both like climbing",
        "Ask Ben how Sales works with Engineering",
        "Ben is in the Berlin office: ask what it is like there",
    )
    # Cy shares Ana's department and office: ask about the team, swap tips for places nearby.
    assert conversation_starters([CY, ANA], CY) == (
        "You both like chess",
        "Ask Ana what Payments is working on right now",
        "You and Ana both work from the London office: swap tips for places nearby",
    )


def test_issue_15_a_time_zone_is_a_starter_when_the_offices_do_not_say_it_already() -> None:
    nia = Person(email="nia@example.com", name="Nia Cole", team="Growth", department="Engineering", office="London",
                 timezone=NEW_YORK)
    starters = conversation_starters([ANA, nia], ANA)
    assert "Nia works on America/New_York time: ask how they handle meetings across time zones" in starters
    assert not any("time zones" in starter for starter in conversation_starters([ANA, BEN], ANA))


def test_issue_15_two_members_with_one_first_name_are_called_by_their_whole_names() -> None:
    other_ana = replace(BEN, name="Ana Silva")
    starters = conversation_starters([ANA, other_ana], ANA)
    assert "Ask Ana Silva how Sales works with Engineering" in starters


def test_issue_15_strangers_with_nothing_on_their_profiles_get_no_starters_rather_than_empty_ones() -> None:
    blank = [Person(email=f"p{i}@example.com", name="", team="") for i in range(2)]
    assert conversation_starters(blank, blank[0]) == ()
    assert conversation_starters([ANA]) == ()


def test_issue_15_what_the_match_page_does_not_show_stays_out_of_the_starters() -> None:
    text = " ".join(conversation_starters([ANA, BEN], BEN) + conversation_starters([ANA, BEN]))
    # Ana's seniority and manager, and the interests only one of them has, are on no page the other sees.
    for private in ("director", "boss", "chess", "jazz"):
        assert private not in text


def test_issue_15_a_viewer_outside_the_group_is_refused() -> None:
    with pytest.raises(ValueError, match=r"cy@example\.com is not one of the members"):
        conversation_starters([ANA, BEN], CY)


# --- properties over random people --------------------------------------------------------------------------

# Text a member's profile may hold: anything, line breaks and markup included, but never "~", which marks what
# belongs to people outside the group (their names and addresses) and what no starter may say (seniority).
PROFILE_TEXT = st.text(st.characters(blacklist_characters="~", blacklist_categories=("Cs",)), max_size=12)
INTERESTS = [f"interest{k}" for k in range(6)]  # no one is a prefix of another


@st.composite
def groups(draw: st.DrawFn) -> list[Person]:
    size = draw(st.integers(2, 4))
    first_names = draw(st.lists(st.sampled_from(["Ana", "Ben", "Cy", "", "  ", "Dee\nX"]), min_size=size,
                                max_size=size))
    people = []
    for i, first in enumerate(first_names):
        people.append(Person(
            email=f"m{i}@example.com",
            name=f"{first} {draw(PROFILE_TEXT)}",
            team=draw(PROFILE_TEXT),
            department=draw(st.sampled_from(["", " ", "Sales", "R&D <b>", draw(PROFILE_TEXT)])),
            office=draw(st.sampled_from(["", "London", "Berlin", draw(PROFILE_TEXT)])),
            timezone=draw(st.sampled_from([LONDON, BERLIN, NEW_YORK, "UTC"])),
            interests=frozenset(draw(st.lists(st.sampled_from(INTERESTS), max_size=4))),
            seniority=f"~level{i}",
            manager=f"boss~{i}@elsewhere.example",
            wishlist=frozenset({f"wish~{i}@elsewhere.example"}),
            blocked=frozenset({f"blocked~{i}@elsewhere.example"}),
        ))
    return people


@settings(max_examples=300, deadline=None)
@given(members=groups(), data=st.data())
def test_issue_15_starters_are_few_never_empty_about_the_group_only_and_the_same_each_time(
        members: list[Person], data: st.DataObject) -> None:
    viewer = data.draw(st.sampled_from([None, *members]))
    starters = conversation_starters(members, viewer)
    assert len(starters) <= MAX_STARTERS
    assert len(set(starters)) == len(starters)
    for starter in starters:
        assert starter
        assert starter.strip() == starter
        assert "\n" not in starter  # one line, whatever the profiles hold
        assert "  " not in starter
        assert "~" not in starter  # nobody outside the group, no seniority
        for interest in INTERESTS:
            if interest in starter:
                assert sum(interest in person.interests for person in members) >= 2, (interest, starter)
    assert conversation_starters(list(members), viewer) == starters
    assert conversation_starters([replace(person) for person in members], viewer) == starters


# --- where they are shown -----------------------------------------------------------------------------------

SITE = WebUrls("https://coffee.example.com")
PROGRAM = Program("Engineering coffee")
ORGANIZER = Attendee("coffee@example.com", "Coffee Chat")
STAMP = datetime(2026, 11, 22, 12, tzinfo=UTC)
SENDER = "Coffee Chat <coffee@example.com>"


def meeting_of(*people: Person) -> Meeting:
    return Meeting(group=Group(tuple(p.email for p in people), 10.0, ("never met",)), slot=SLOT,
                   location="Video call", id=42, cycle_id=7)


def test_issue_15_the_announcement_addresses_its_reader_and_escapes_the_html() -> None:
    ben = replace(BEN, department="R&D <script>alert(1)</script>")
    meeting = meeting_of(ANA, ben)
    message = emails.match_announcement(meeting, [ANA, ben], ANA, PROGRAM, ORGANIZER, sender=SENDER, stamp=STAMP,
                                        site=SITE, key="cycle-7/meeting-42/seq-0/announce/ana")
    expected = "Ask Ben how R&D <script>alert(1)</script> works with Engineering"
    assert f"Something to talk about:\n- You both like climbing\n- {expected}\n" in message.text
    assert "<li>Ask Ben how R&amp;D &lt;script&gt;alert(1)&lt;/script&gt; works with Engineering</li>" in message.html
    assert "<script>" not in message.html
    # The invite is one for every member: its starters speak to the group.
    assert message.invite is not None
    assert "- Ana, ask Ben how R&D <script>alert(1)</script> works with Engineering" in message.invite.description


def test_issue_15_an_announcement_without_a_time_still_has_its_starters() -> None:
    meeting = replace(meeting_of(ANA, BEN), slot=None)
    message = emails.match_announcement(meeting, [ANA, BEN], BEN, PROGRAM, ORGANIZER, sender=SENDER, stamp=STAMP,
                                        site=SITE, key="cycle-7/meeting-42/seq-0/announce/ben")
    assert "- Ask Ana how Engineering works with Sales" in message.text
    assert re.search(r"<h2[^>]*>Something to talk about</h2>", message.html)


def test_issue_15_the_match_page_offers_the_viewer_their_own_starters() -> None:
    page = MatchPage(meeting=meeting_of(ANA, BEN), program=PROGRAM, viewer=BEN, members=(ANA, BEN),
                     now=SLOT.start - timedelta(days=1))
    assert page.starters == conversation_starters([ANA, BEN], BEN)
    assert page.starters[1] == "Ask Ana how Engineering works with Sales"
