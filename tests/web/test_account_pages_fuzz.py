"""Hypothesis fuzzing of the account forms through the test client, signed in: whatever is sent, never a 500;
a field with a control character (once the surrounding spaces are stripped) is refused; whatever is accepted
is stored without control characters; a calendar source is never stored unless it is an http(s) URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from scheduler.accounts.access import has_control_characters
from scheduler.model import Person
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeClock
from tests.web.conftest import SECRET, SIGN_UP, Site, build_site, csrf_from, sign_up_and_confirm
from tests.web.test_account_pages import PROFILE

FUZZ = settings(max_examples=100, deadline=None)
ANA = SIGN_UP["email"]
TEXT_FIELDS = ("name", "team", "department", "office", "interests", "work_start", "work_end", "lunch_start",
               "lunch_end")

nasty = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=250),
    st.sampled_from(["", " ", "\x00", "a\r\nBcc: evil@evil.example", "<script>alert(1)</script>", "x" * 201,
                     "Ana\u2028Lima", "a;b", "25:00", "09:00", "23:59", "00:00", "12:30", "Europe/Berlin",
                     "../../etc/passwd", "in_person", "monthly", "lunch", "\ud7ff"]),
)
choice_lists = st.lists(st.one_of(st.sampled_from(["0", "3", "6", "7", "coffee", "lunch", "tea", "\x00"]), nasty),
                        max_size=4)
# Text a person might type (no control characters), so that many examples are accepted and stored.
typed = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                max_size=40).filter(str.strip)
profile_forms = st.one_of(
    # Any field, anything.
    st.builds(lambda changes: {**PROFILE, **changes},
              st.dictionaries(st.sampled_from([*PROFILE]), st.one_of(nasty, choice_lists), max_size=4)),
    # The free-text fields, mostly typed text, sometimes nasty.
    st.builds(lambda changes: {**PROFILE, **changes},
              st.dictionaries(st.sampled_from(["name", "team", "department", "office", "interests"]),
                              st.one_of(typed, typed, nasty), max_size=3)),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[Site]:
    """One site, with Ana signed in on its client, for every example of this module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COFFEECHAT_SECRET_KEY", SECRET)
        site = build_site(tmp_path_factory.mktemp("account-fuzz") / "site", FakeClock(SUNDAY_NOON),
                          migrated_sqlite)
        assert sign_up_and_confirm(site).status_code == 303
    yield site
    site.services.dispose()


def stored(site: Site) -> Person:
    person = site.person(ANA)
    assert person is not None
    return person


def _typed(value: object) -> str:
    """What a one-line field receives: the value, or the first of several sent under its name."""
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return str(value) if value is not None else ""


@FUZZ
@given(form=profile_forms)
def test_fuzzed_profile_never_fails_and_refuses_control_characters(site: Site, form: dict[str, object]) -> None:
    token = csrf_from(site.client.get("/account/profile").get_data(as_text=True))
    before = stored(site)

    response = site.client.post("/account/profile", data={**form, "csrf_token": token})

    assert response.status_code in (303, 422), response.status_code
    event(f"answered {response.status_code}")
    controlled = any(has_control_characters(_typed(form.get(field)).strip()) for field in TEXT_FIELDS)
    if controlled:
        assert response.status_code == 422
    person = stored(site)
    if response.status_code == 422:
        assert person == before
        assert '<p class="error"' in response.get_data(as_text=True)
    texts = [person.name, person.team, person.department, person.office, person.timezone, *person.interests]
    assert not any(has_control_characters(text) for text in texts)
    assert person.verified_at is not None
    assert person.email == ANA


urls = st.one_of(
    nasty,
    st.from_regex(r"(https?|webcal|file|ftp|javascript):/{0,3}[a-z0-9.:@\[\]-]{0,20}(/[a-z0-9._%-]{0,10}){0,3}",
                  fullmatch=True),
    st.sampled_from(["https://cal.example.com/a.ics", "/etc/passwd", "http://127.0.0.1/", "http://[::1]/",
                     "https://u:p@cal.example.com/", "http://169.254.169.254/", "https://cal.example.com:0/"]),
)


@FUZZ
@given(kind=st.one_of(st.sampled_from(["none", "ics", "caldav", "google", "microsoft"]), nasty), url=urls)
def test_fuzzed_calendar_source_never_fails_and_stores_only_web_addresses(site: Site, kind: str,
                                                                          url: str) -> None:
    token = csrf_from(site.client.get("/account/calendar").get_data(as_text=True))

    response = site.client.post("/account/calendar", data={"kind": kind, "url": url, "csrf_token": token})

    assert response.status_code in (303, 422), response.status_code
    event(f"answered {response.status_code}")
    source = stored(site).calendar
    assert source.kind in ("none", "ics", "caldav")
    if source.kind != "none":
        assert source.location.startswith(("http://", "https://"))
        assert not any(c.isspace() for c in source.location)
        assert not has_control_characters(source.location)


@FUZZ
@given(people=nasty, teams=nasty, blocked=nasty)
def test_fuzzed_wishes_never_fail(site: Site, people: str, teams: str, blocked: str) -> None:
    token = csrf_from(site.client.get("/account/wishes").get_data(as_text=True))

    response = site.client.post("/account/wishes", data={"meet_people": people, "meet_teams": teams,
                                                         "meet_departments": teams, "blocked": blocked,
                                                         "csrf_token": token})

    assert response.status_code in (303, 422), response.status_code
    person = stored(site)
    assert not any(has_control_characters(entry) for entry in person.wishlist | person.blocked)
    assert ANA not in person.wishlist | person.blocked
