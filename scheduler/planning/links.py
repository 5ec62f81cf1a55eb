"""The signed links of match emails: one per action, each a token signed with the site's secret key.

Emails carry one link per action (``accept``, ``decline``, ``reschedule`` in the announcement; ``met`` and
``not-met`` in the "did you meet?" request), each a token signed with the site's secret key (itsdangerous,
HMAC-SHA256) under a salt of its own, so a token made for one action is refused for any other. Inside: the
meeting id, the recipient's address and when the link expires (a week after the meeting ends; for a meeting
without a time, a while after the email was planned). The token holds no random nonce and no issue time, so a
link is the same for a given key and meeting: emails built at plan time stay reproducible (and their snapshots
stable). A link only opens a page; the page's button (a POST with a CSRF token) does the action, because mail
scanners follow links.
"""


from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from itsdangerous import BadSignature, URLSafeSerializer

from scheduler.errors import InputError
from scheduler.model import Meeting, require_utc
from scheduler.ports import SiteUrls

ACCEPT = "accept"
DECLINE = "decline"
RESCHEDULE = "reschedule"
MET = "met"
NOT_MET = "not-met"
ACTIONS = (ACCEPT, DECLINE, RESCHEDULE, MET, NOT_MET)
ANNOUNCEMENT_ACTIONS = (ACCEPT, DECLINE, RESCHEDULE)
# A meeting without a time has nothing to accept yet: its announcement offers to find a time, or to decline.
UNSCHEDULED_ACTIONS = (RESCHEDULE, DECLINE)
FEEDBACK_ACTIONS = (MET, NOT_MET)
# A link works until a week after its meeting ends: long enough to answer "did you meet?" after a holiday.
LINK_GRACE = timedelta(days=7)
# A meeting without a time: its links work this long after the email was planned (about a cycle), plus grace.
UNSCHEDULED_LIFETIME = timedelta(days=14)


class MatchLinkError(InputError):
    """A match link that cannot be used: ``reason`` is ``invalid`` (tampered, cut short, made for another
    action), ``expired``, ``other-meeting`` (made for another match) or ``unavailable`` (the match or the
    person is gone). The message is fit to show to the person who clicked it."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "invalid": "This link is not valid. Copy the whole link from the email, or sign in to see your match.",
        "expired": "This link has expired. Sign in to see your matches.",
        "other-meeting": "This link belongs to another match. Open the link from the email again, or sign in.",
        "unavailable": "This match is no longer available to you.",
    }

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.MESSAGES[reason], where="link")


class MatchLinks:
    """Makes and reads the signed links of match emails, one salt per action.

    ``url`` is deterministic: the same key, meeting, recipient and action always give the same link.
    """

    def __init__(self, secret_key: str | bytes) -> None:
        if not secret_key:
            raise ValueError("match links need a secret key")
        self._serializers = {
            action: URLSafeSerializer(secret_key, salt=f"coffeechat.match.{action}",
                                      signer_kwargs={"digest_method": hashlib.sha256})
            for action in ACTIONS
        }

    @staticmethod
    def expiry(meeting: Meeting, issued_at: datetime) -> datetime:
        """When links for ``meeting`` made at ``issued_at`` stop working: a week after its end (or, without a
        time, ``UNSCHEDULED_LIFETIME`` plus that week after ``issued_at``)."""
        end = meeting.slot.end if meeting.slot is not None else require_utc(issued_at) + UNSCHEDULED_LIFETIME
        return end + LINK_GRACE

    def token(self, meeting: Meeting, email: str, action: str, issued_at: datetime) -> str:
        """The signed token for ``email`` to do ``action`` on ``meeting``; ``ValueError`` for an unknown action or
        a meeting that is not stored."""
        if action not in self._serializers:
            raise ValueError(f"{action!r} is not a match action ({', '.join(ACTIONS)})")
        if meeting.id is None:
            raise ValueError("links are made only for stored meetings")
        expires = int(self.expiry(meeting, issued_at).timestamp())
        token: str = self._serializers[action].dumps({"m": meeting.id, "e": email, "x": expires})
        return token

    def url(self, site: SiteUrls, meeting: Meeting, email: str, action: str, issued_at: datetime) -> str:
        """The address on ``site`` of the page that asks ``email`` to confirm ``action`` on ``meeting``, with its
        signed token (``SiteUrls.match_action``)."""
        if meeting.id is None:
            raise ValueError("links are made only for stored meetings")
        return site.match_action(meeting.id, action, self.token(meeting, email, action, issued_at))

    def urls(self, site: SiteUrls, meeting: Meeting, email: str, actions: Sequence[str],
             issued_at: datetime) -> dict[str, str]:
        """``{action: url}`` for each of ``actions``."""
        return {action: self.url(site, meeting, email, action, issued_at) for action in actions}

    def load(self, action: str, token: str, meeting_id: int, now: datetime) -> str:
        """The address a valid ``token`` for ``action`` on meeting ``meeting_id`` was made for; ``MatchLinkError``
        ``invalid``, ``other-meeting`` or ``expired`` otherwise."""
        if action not in self._serializers or len(token) > 1024:
            raise MatchLinkError("invalid")
        try:
            payload: Any = self._serializers[action].loads(token)
        except BadSignature:
            raise MatchLinkError("invalid") from None
        if not isinstance(payload, dict):
            raise MatchLinkError("invalid")
        meeting, email, expires = payload.get("m"), payload.get("e"), payload.get("x")
        if not (isinstance(meeting, int) and isinstance(email, str) and isinstance(expires, int)):
            raise MatchLinkError("invalid")
        if meeting != meeting_id:
            raise MatchLinkError("other-meeting")
        if require_utc(now).timestamp() >= expires:
            raise MatchLinkError("expired")
        return email
