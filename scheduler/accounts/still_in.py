"""The answers to "still in?": "Yes, keep pairing me" and "Pause me", from the email's signed links.

Pure of Flask: the link page (``web/still_in.py``) reads the token with ``open_still_in_link``, shows a button,
and its POST calls ``answer_still_in``. Either answer is a sign of life, so the silence that led to the
question is over (``scheduler.planning.silence``). "Pause me" uses the pause of the account page (``paused_until``),
so the person ends it there in one click, or it ends by itself.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from scheduler.model import Person, as_local
from scheduler.planning.still_in_links import PAUSE, STAY, StillInLinkError, StillInLinks
from scheduler.ports import Clock, UowFactory

# "Pause me" pauses for about a quarter: long enough for a busy season, short enough not to be forgotten.
PAUSE_ON_REQUEST = timedelta(weeks=12)


def open_still_in_link(uow_factory: UowFactory, links: StillInLinks | None, action: str, token: str,
                       now: datetime) -> Person:
    """The person a valid ``action`` link was made for; ``StillInLinkError`` ``invalid`` (bad, tampered, made for
    the other action, or no signer configured), ``expired`` or ``unavailable`` (nobody has the address any more).
    Reads only."""
    if links is None:
        raise StillInLinkError("invalid")
    email = links.load(action, token, now)
    with uow_factory() as uow:
        person = uow.people.get(email)
    if person is None:
        raise StillInLinkError("unavailable")
    return person


def answer_still_in(uow_factory: UowFactory, clock: Clock, email: str, action: str) -> Person:
    """Record the answer of ``email`` in one transaction and return them as stored: ``stay`` ends a pause they
    had (they asked to be paired); ``pause`` pauses them for ``PAUSE_ON_REQUEST`` from today in their zone. Both
    note a sign of life. Leaving Coffee Chat (opting out) is not undone by either: that is the account page's.
    ``StillInLinkError`` ``unavailable`` when nobody has the address, ``ValueError`` for another action."""
    if action not in (STAY, PAUSE):
        raise ValueError(f"{action!r} is not a still-in answer")
    now = clock.now()
    with uow_factory() as uow:
        person = uow.people.get(email)
        if person is None:
            raise StillInLinkError("unavailable")
        if action == STAY:
            changed = replace(person, paused_until=None)
        else:
            changed = replace(person, paused_until=as_local(now, person.timezone).date() + PAUSE_ON_REQUEST)
        if changed != person:
            uow.people.save(changed)
        uow.engagement.note_sign_of_life(person.email, now)
        uow.commit()
    return changed
