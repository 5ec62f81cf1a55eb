"""The emails of the web accounts: sign-up confirmation, sign-in link, and the two answers to a sign-in request
that cannot sign anyone in (no account, disabled account).

Like ``scheduler.delivery.emails``, this only builds ``model.EmailMessage`` values from Jinja templates in
``scheduler/templates/email/`` (``account_*.html`` autoescaped, ``account_*.txt`` plain); sending is the mail
adapter's. Subjects are fixed sentences with the organisation's name squeezed onto one line, and recipients are
rebuilt from a checked address and a one-line name, so nothing a person types can start a header.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from email.headerregistry import Address
from typing import Any

from scheduler.delivery.emails import (
    STANDARD_HEADERS,
    format_recipient,
    make_message_id,
    sender_domain,
    template_environment,
)
from scheduler.model import EmailMessage, Person


def _render(name: str, context: Mapping[str, Any]) -> str:
    return template_environment().get_template(name).render(context)


def one_line(text: str) -> str:
    """``text`` with every run of white space (line breaks included) made one space: fit for a header."""
    return " ".join(text.split())


def describe_duration(duration: timedelta) -> str:
    """``15 minutes``, ``1 hour``, ``48 hours``, ``2 days``: how long a link works, in words."""
    minutes = int(duration.total_seconds() // 60)
    if minutes % (24 * 60) == 0 and minutes >= 72 * 60:
        amount, unit = minutes // (24 * 60), "day"
    elif minutes % 60 == 0 and minutes >= 60:
        amount, unit = minutes // 60, "hour"
    else:
        amount, unit = max(minutes, 1), "minute"
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def _message(to: str, subject: str, template: str, context: Mapping[str, Any], *, sender: str,
             key: str) -> EmailMessage:
    return EmailMessage(
        to=(to,),
        subject=one_line(subject),
        text=_render(f"{template}.txt", context),
        html=_render(f"{template}.html", context),
        sender=sender,
        message_id=make_message_id(key, sender_domain(sender)),
        headers=STANDARD_HEADERS,
    )


def sign_up_confirmation(person: Person, link: str, *, organisation: str, valid_for: timedelta, sender: str,
                         key: str) -> EmailMessage:
    """The email asking ``person`` to confirm their sign-up through ``link`` (a signed, single-use URL that
    works for ``valid_for``). It repeats what they entered, so a sign-up made in someone else's name is
    recognisable. ``key`` makes the Message-ID (give each email its own)."""
    context = {
        "name": person.name,
        "team": person.team,
        "department": person.department,
        "office": person.office,
        "organisation": organisation,
        "link": link,
        "valid_for": describe_duration(valid_for),
    }
    return _message(format_recipient(person), f"Confirm your {organisation} Coffee Chat sign-up",
                    "account_confirm", context, sender=sender, key=key)


def sign_in_link(person: Person, link: str, *, organisation: str, valid_for: timedelta, sender: str,
                 key: str) -> EmailMessage:
    """The email with ``person``'s sign-in ``link`` (signed, single use, working for ``valid_for``)."""
    context = {"name": person.name, "organisation": organisation, "link": link,
               "valid_for": describe_duration(valid_for)}
    return _message(format_recipient(person), f"Your {organisation} Coffee Chat sign-in link", "account_sign_in",
                    context, sender=sender, key=key)


def no_account_notice(address: str, sign_up_url: str, *, organisation: str, sender: str, key: str) -> EmailMessage:
    """The answer to a sign-in request for ``address``, which has no account: a pointer to the sign-up page.

    Sending it (rather than nothing) makes every sign-in request cost one email, so the time an answer takes
    does not tell whether an address has an account.
    """
    context = {"organisation": organisation, "sign_up_url": sign_up_url}
    return _message(str(Address(addr_spec=address)), f"No {organisation} Coffee Chat account for this address",
                    "account_unknown", context, sender=sender, key=key)


def disabled_notice(person: Person, *, organisation: str, organizer_email: str, sender: str,
                    key: str) -> EmailMessage:
    """The answer to a sign-in request for a disabled account: whom to ask about it."""
    context = {"name": person.name, "organisation": organisation, "organizer_email": organizer_email}
    return _message(format_recipient(person), f"Your {organisation} Coffee Chat account is disabled",
                    "account_disabled", context, sender=sender, key=key)
