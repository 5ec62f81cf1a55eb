"""The account emails as data: recipients, one-line subjects, HTML escaped and text as typed, and the link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from scheduler.accounts import emails as account_emails
from scheduler.model import Person

SENDER = "Coffee Chat <coffee@example.com>"
LINK = "https://coffee.example.com/confirm/abc.def"


@pytest.mark.parametrize(("duration", "words"), [
    (timedelta(minutes=15), "15 minutes"), (timedelta(minutes=1), "1 minute"), (timedelta(hours=1), "1 hour"),
    (timedelta(hours=48), "48 hours"), (timedelta(days=3), "3 days"), (timedelta(minutes=90), "90 minutes"),
    (timedelta(seconds=20), "1 minute"),
])
def test_durations_in_words(duration: timedelta, words: str) -> None:
    assert account_emails.describe_duration(duration) == words


def test_confirmation_email(create_person: Callable[..., Person]) -> None:
    person = create_person(email="ana@example.com", name='Ana "<b>" Lima', team="R&D", department="", office="Oslo")

    message = account_emails.sign_up_confirmation(person, LINK, organisation="Example\nCorp",
                                                  valid_for=timedelta(hours=48), sender=SENDER, key="k1")

    assert message.to == ('"Ana \\"<b>\\" Lima" <ana@example.com>',)
    assert message.subject == "Confirm your Example Corp Coffee Chat sign-up"
    assert message.sender == SENDER
    assert message.headers == (("Auto-Submitted", "auto-generated"),)
    assert message.message_id.endswith("@example.com>")
    assert f"\n{LINK}\n" in message.text
    assert "within 48 hours" in message.text
    assert 'Name: Ana "<b>" Lima' in message.text
    assert "Team: R&D" in message.text
    assert "Department" not in message.text
    assert "Office: Oslo" in message.text
    assert f'href="{LINK}"' in message.html
    assert "Ana &#34;&lt;b&gt;&#34; Lima" in message.html
    assert "R&amp;D" in message.html
    assert "<b>" not in message.html


def test_each_email_has_its_own_message_id(create_person: Callable[..., Person]) -> None:
    person = create_person()
    first, second = (account_emails.sign_in_link(person, LINK, organisation="X", valid_for=timedelta(minutes=15),
                                                 sender=SENDER, key=key) for key in ("a", "b"))

    assert first.message_id != second.message_id
    assert first.subject == "Your X Coffee Chat sign-in link"
    assert "works once, within 15 minutes" in first.text


def test_no_account_notice_goes_to_the_bare_address() -> None:
    message = account_emails.no_account_notice("new@example.com", "https://coffee.example.com/sign-up",
                                               organisation="X", sender=SENDER, key="k")

    assert message.to == ("new@example.com",)
    assert "https://coffee.example.com/sign-up" in message.text
    assert 'href="https://coffee.example.com/sign-up"' in message.html


def test_disabled_notice_names_whom_to_ask(create_person: Callable[..., Person]) -> None:
    message = account_emails.disabled_notice(create_person(name="Bo"), organisation="X",
                                             organizer_email="coffee@example.com", sender=SENDER, key="k")

    assert message.subject == "Your X Coffee Chat account is disabled"
    assert "write to coffee@example.com" in message.text
    assert 'href="mailto:coffee@example.com"' in message.html
