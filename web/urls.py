"""The site's addresses that emails link to, next to the routes that serve them.

``WebUrls`` implements ``scheduler.ports.SiteUrls``: the core asks it for a match page or a sign-in link and
never spells a path itself. It builds plain strings rather than calling ``flask.url_for``, because emails are
also built outside a request (``coffeechat run-cycle``, ``tick``, ``demo``); ``tests/web/test_urls.py`` checks
that every address it makes is routed by the app to the view it is meant for.
"""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.config import Config


@dataclass(frozen=True)
class WebUrls:
    """The absolute URLs of the site's pages under ``base_url`` (a trailing slash is ignored)."""

    base_url: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @classmethod
    def from_config(cls, config: Config) -> WebUrls:
        """The URLs of the site at ``config``'s ``[organisation] base_url``."""
        return cls(config.organisation.base_url)

    def match_page(self, meeting_id: int) -> str:
        """``<base_url>/matches/<id>``: the match page (``matches.page``)."""
        return f"{self.base_url}/matches/{meeting_id}"

    def match_action(self, meeting_id: int, action: str, token: str) -> str:
        """``<base_url>/matches/<id>/<action>/<token>``: the page of a signed answer link (``matches.link``)."""
        return f"{self.base_url}/matches/{meeting_id}/{action}/{token}"

    def account_settings(self) -> str:
        """``<base_url>/account``: the account page (``account.home``)."""
        return f"{self.base_url}/account"

    def sign_up(self) -> str:
        """``<base_url>/sign-up``: the sign-up page (``auth.sign_up``)."""
        return f"{self.base_url}/sign-up"

    def confirm_sign_up(self, token: str) -> str:
        """``<base_url>/confirm/<token>``: a sign-up confirmation link (``auth.use_link``)."""
        return f"{self.base_url}/confirm/{token}"

    def sign_in(self, token: str) -> str:
        """``<base_url>/sign-in/<token>``: a sign-in link (``auth.use_link``)."""
        return f"{self.base_url}/sign-in/{token}"

    def still_in(self, action: str, token: str) -> str:
        """``<base_url>/still-in/<action>/<token>``: a "still in?" email's link (``still_in.link``)."""
        return f"{self.base_url}/still-in/{action}/{token}"

    def introduction(self, action: str, token: str) -> str:
        """``<base_url>/introductions/<action>/<token>``: an introduction email's link (``introductions.link``)."""
        return f"{self.base_url}/introductions/{action}/{token}"

    def account_introductions(self) -> str:
        """``<base_url>/account/introductions``: the introductions one wished for (``introductions.mine``)."""
        return f"{self.base_url}/account/introductions"
