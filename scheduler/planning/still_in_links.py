"""The signed links of the "still in?" emails: "Yes, keep pairing me" (``stay``) and "Pause me" (``pause``).

Like the match links (``scheduler.planning.links``): a token signed with the site's secret key (itsdangerous,
HMAC-SHA256) under a salt of its own per action, so a stay token is refused as a pause token and neither is a
match or sign-in token. Inside: the recipient's address and when the link expires. No nonce and no issue time, so
a planned email is reproducible. A link only opens a page; the page's button (a POST with a CSRF token) does the
action, because mail scanners follow links. Using one twice is harmless (staying twice is staying).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, ClassVar

from itsdangerous import BadSignature, URLSafeSerializer

from scheduler.errors import InputError
from scheduler.model import require_utc
from scheduler.ports import SiteUrls

STAY = "stay"
PAUSE = "pause"
STILL_IN_ACTIONS = (STAY, PAUSE)
# A "still in?" link works this long after its email was planned: a holiday or two, then the person signs in.
STILL_IN_LIFETIME = timedelta(days=60)


class StillInLinkError(InputError):
    """A "still in?" link that cannot be used: ``reason`` is ``invalid`` (tampered, cut short, made for the
    other action), ``expired`` or ``unavailable`` (the person is gone). The message is fit to show to the person
    who clicked it."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "invalid": "This link is not valid. Copy the whole link from the email, or sign in to Coffee Chat.",
        "expired": "This link has expired. Sign in to Coffee Chat: signing in keeps you in.",
        "unavailable": "This link belongs to an account that no longer exists.",
    }

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.MESSAGES[reason], where="link")


class StillInLinks:
    """Makes and reads the stay and pause links, one salt per action; ``url`` is deterministic."""

    def __init__(self, secret_key: str | bytes) -> None:
        if not secret_key:
            raise ValueError("still-in links need a secret key")
        self._serializers = {
            action: URLSafeSerializer(secret_key, salt=f"coffeechat.still-in.{action}",
                                      signer_kwargs={"digest_method": hashlib.sha256})
            for action in STILL_IN_ACTIONS
        }

    def token(self, email: str, action: str, issued_at: datetime) -> str:
        """The signed token for ``email`` to do ``action``, working until ``STILL_IN_LIFETIME`` after
        ``issued_at``; ``ValueError`` for an unknown action."""
        if action not in self._serializers:
            raise ValueError(f"{action!r} is not a still-in action ({', '.join(STILL_IN_ACTIONS)})")
        expires = int((require_utc(issued_at, "issued_at") + STILL_IN_LIFETIME).timestamp())
        token: str = self._serializers[action].dumps({"e": email, "x": expires})
        return token

    def urls(self, site: SiteUrls, email: str, issued_at: datetime) -> dict[str, str]:
        """``{action: url}`` of both actions for ``email`` (``SiteUrls.still_in``)."""
        return {action: site.still_in(action, self.token(email, action, issued_at)) for action in STILL_IN_ACTIONS}

    def load(self, action: str, token: str, now: datetime) -> str:
        """The address a valid ``token`` for ``action`` was made for; ``StillInLinkError`` ``invalid`` or
        ``expired`` otherwise."""
        if action not in self._serializers or len(token) > 1024:
            raise StillInLinkError("invalid")
        try:
            payload: Any = self._serializers[action].loads(token)
        except BadSignature:
            raise StillInLinkError("invalid") from None
        if not isinstance(payload, dict):
            raise StillInLinkError("invalid")
        email, expires = payload.get("e"), payload.get("x")
        if not (isinstance(email, str) and isinstance(expires, int) and not isinstance(expires, bool)):
            raise StillInLinkError("invalid")
        if require_utc(now).timestamp() >= expires:
            raise StillInLinkError("expired")
        return email
