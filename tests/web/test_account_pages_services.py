"""The pure parts of ``scheduler.accounts.profile``: calendar URL checks and scrubbing an address out of an outbox
payload; and migration 0009, which the account pages reserved and found no schema change for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import inspect

from scheduler.accounts.profile import (
    FORMER_PARTICIPANT,
    address_pattern,
    calendar_source,
    check_calendar_url,
    scrub_address,
)
from scheduler.availability.addresses import AddressPolicy
from scheduler.errors import InputError
from scheduler.storage.migrate import current_revision, downgrade_database, head_revision, upgrade_database
from scheduler.storage.uow import create_engine_for


@pytest.mark.parametrize(("text", "expected"), [
    ("https://cal.example.com/a.ics", "https://cal.example.com/a.ics"),
    ("WEBCAL://cal.example.com/a.ics", "https://cal.example.com/a.ics"),
    ("https://cal.example.com:8443/a.ics?token=x%20y", "https://cal.example.com:8443/a.ics?token=x%20y"),
])
def test_calendar_urls_accepted(text: str, expected: str) -> None:
    assert check_calendar_url(text) == expected


@pytest.mark.parametrize("text", [
    "", "/srv/calendars/ana.ics", "file:///etc/passwd", "ana.ics", "ftp://x.example.com/a.ics", "https:///a.ics",
    "http://localhost/", "http://app.localhost/", "http://127.0.0.2/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/",
    "http://169.254.169.254/", "http://[fe80::1]/", "http://10.0.0.5/dav/ana/", "http://2130706433/",
    "https://a:b@x.example.com/", "https://x.example.com:port/",
    "https://x.example.com/a\nb", "h" * 2001,
])
def test_calendar_urls_refused(text: str) -> None:
    with pytest.raises(InputError) as refused:
        check_calendar_url(text)
    assert refused.value.where == "url"


def test_issue_13_an_intranet_server_is_accepted_only_when_the_configuration_allows_it() -> None:
    policy = AddressPolicy.allowing(["10.0.0.5"])

    assert check_calendar_url("  http://10.0.0.5/dav/ana/  ", policy=policy) == "http://10.0.0.5/dav/ana/"
    with pytest.raises(InputError):
        check_calendar_url("http://10.0.0.6/dav/ana/", policy=policy)


def test_calendar_source_kinds() -> None:
    assert str(calendar_source("none", "whatever")) == "none"
    assert str(calendar_source("caldav", "https://dav.example.com/c/")) == "caldav:https://dav.example.com/c/"
    with pytest.raises(InputError, match="choose one of the offered calendars"):
        calendar_source("ics-file", "https://x.example.com/a.ics")


@given(st.text(max_size=300))
def test_check_calendar_url_raises_only_input_errors(text: str) -> None:
    try:
        url = check_calendar_url(text)
    except InputError:
        return
    assert url.startswith(("http://", "https://"))
    assert not any(c.isspace() for c in url)


def test_scrub_drops_the_attendee_and_replaces_every_other_mention() -> None:
    payload = {
        "to": ["bo@example.com"],
        "text": "Meet Ana <Ana@Example.com>, not jimana@example.com nor ana@example.com.au.",
        "invite": {"attendees": [{"email": "ana@example.com", "name": "Ana"}, {"email": "bo@example.com",
                                                                                 "name": "Bo"}],
                   "sequence": 2},
    }

    scrubbed = scrub_address(payload, "ana@example.com")

    assert scrubbed == {
        "to": ["bo@example.com"],
        "text": f"Meet Ana <{FORMER_PARTICIPANT}>, not jimana@example.com nor ana@example.com.au.",
        "invite": {"attendees": [{"email": "bo@example.com", "name": "Bo"}], "sequence": 2},
    }
    assert scrub_address(scrubbed, "ana@example.com") == scrubbed


@given(st.recursive(st.one_of(st.text(max_size=20), st.integers(), st.none()),
                    lambda inner: st.one_of(st.lists(inner, max_size=4),
                                            st.dictionaries(st.text(max_size=5), inner, max_size=4)),
                    max_leaves=20),
       st.sampled_from(["", " ", "x ana@example.com y", "ANA@EXAMPLE.COM"]))
def test_scrub_leaves_no_whole_address_behind(payload: object, mention: str) -> None:
    mixed = {"data": payload, "mention": mention, "attendees": [{"email": "Ana@example.com"}]}

    scrubbed = scrub_address(mixed, "ana@example.com")

    pattern = address_pattern("ana@example.com")
    assert not any(pattern.search(text) for text in strings(scrubbed))
    assert scrubbed["attendees"] == []


def strings(value: object) -> list[str]:
    """Every string inside a JSON-like value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(text for item in value.values() for text in strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    return []


def _tables(url: str) -> dict[str, list[str]]:
    engine = create_engine_for(url)
    try:
        inspector = inspect(engine)
        return {name: sorted(column["name"] for column in inspector.get_columns(name))
                for name in inspector.get_table_names() if name != "alembic_version"}
    finally:
        engine.dispose()


def test_migration_0009_changes_no_table_and_goes_down_and_up_again(database_url: str) -> None:
    upgrade_database(database_url)
    assert downgrade_database(database_url, "0009") == "0009"
    at_0009 = _tables(database_url)

    assert downgrade_database(database_url, "0008") == "0008"
    assert _tables(database_url) == at_0009
    assert "people" in at_0009
    upgrade_database(database_url)
    assert current_revision(database_url) == head_revision()
