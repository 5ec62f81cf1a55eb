"""The signed links of introduction emails: the connector's "Introduce them by email" (``introduce``) and
"Not now" (``not-now``), and the wished-for person's "I'd rather not" (``rather-not``).

Like the match links (``scheduler.planning.links``): a token signed with the site's secret key (itsdangerous,
HMAC-SHA256) under a salt of its own per action, so a token made for one action is refused for any other and is
never a match, still-in or sign-in token. Inside: the introduction's id, the recipient's address and when the
link expires. No nonce and no issue time, so a planned email is reproducible. A link only opens a page; the
page's button (a POST with a CSRF token) does the action, because mail scanners follow links.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, ClassVar

from itsdangerous import BadSignature, URLSafeSerializer

from scheduler.errors import InputError
from scheduler.model import require_utc
from scheduler.ports import SiteUrls

INTRODUCE = "introduce"
NOT_NOW = "not-now"
RATHER_NOT = "rather-not"
INTRODUCTION_ACTIONS = (INTRODUCE, NOT_NOW, RATHER_NOT)
CONNECTOR_ACTIONS = (INTRODUCE, NOT_NOW)
# A link works this long after its email was planned: long enough for a holiday, short enough to be current.
INTRODUCTION_LINK_LIFETIME = timedelta(days=30)


class IntroductionLinkError(InputError):
    """An introduction link that cannot be used: ``reason`` is ``invalid`` (tampered, cut short, made for another
    action or person), ``expired`` or ``unavailable`` (the introduction or a person in it is gone). The message
    is fit to show to the person who clicked it."""

    MESSAGES: ClassVar[dict[str, str]] = {
        "invalid": "This link is not valid. Copy the whole link from the email, or sign in to Coffee Chat.",
        "expired": "This link has expired. Nothing more is needed from you for this introduction.",
        "unavailable": "This introduction is no longer available.",
    }

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(self.MESSAGES[reason], where="link")


class IntroductionLinks:
    """Makes and reads the introduction links, one salt per action; ``url`` is deterministic."""

    def __init__(self, secret_key: str | bytes) -> None:
        if not secret_key:
            raise ValueError("introduction links need a secret key")
        self._serializers = {
            action: URLSafeSerializer(secret_key, salt=f"coffeechat.introduction.{action}",
                                      signer_kwargs={"digest_method": hashlib.sha256})
            for action in INTRODUCTION_ACTIONS
        }

    def token(self, introduction_id: int, email: str, action: str, issued_at: datetime) -> str:
        """The signed token for ``email`` to do ``action`` on introduction ``introduction_id``, working until
        ``INTRODUCTION_LINK_LIFETIME`` after ``issued_at``; ``ValueError`` for an unknown action."""
        if action not in self._serializers:
            raise ValueError(f"{action!r} is not an introduction action ({', '.join(INTRODUCTION_ACTIONS)})")
        expires = int((require_utc(issued_at, "issued_at") + INTRODUCTION_LINK_LIFETIME).timestamp())
        token: str = self._serializers[action].dumps({"i": introduction_id, "e": email, "x": expires})
        return token

    def url(self, site: SiteUrls, introduction_id: int, email: str, action: str, issued_at: datetime) -> str:
        """The address on ``site`` of the page of ``action`` for ``email`` (``SiteUrls.introduction``)."""
        return site.introduction(action, self.token(introduction_id, email, action, issued_at))

    def load(self, action: str, token: str, now: datetime) -> tuple[int, str]:
        """``(introduction id, address)`` of a valid ``token`` for ``action``; ``IntroductionLinkError``
        ``invalid`` or ``expired`` otherwise."""
        if action not in self._serializers or len(token) > 1024:
            raise IntroductionLinkError("invalid")
        try:
            payload: Any = self._serializers[action].loads(token)
        except BadSignature:
            raise IntroductionLinkError("invalid") from None
        if not isinstance(payload, dict):
            raise IntroductionLinkError("invalid")
        introduction, email, expires = payload.get("i"), payload.get("e"), payload.get("x")
        if not (isinstance(introduction, int) and not isinstance(introduction, bool) and isinstance(email, str)
                and isinstance(expires, int) and not isinstance(expires, bool)):
            raise IntroductionLinkError("invalid")
        if require_utc(now).timestamp() >= expires:
            raise IntroductionLinkError("expired")
        return introduction, email
