"""What every response and every sensitive request goes through: security headers, cookie flags, the client's
real address, rate limits and safe redirect targets.

- Headers on every response, error pages included (``after_request`` runs for those too): a Content-Security-
  Policy that allows only this site's own scripts and styles (no inline script, no framing), nosniff, a
  same-origin Referrer-Policy (a link's token never leaves in a Referer, while Flask-WTF's HTTPS referrer check
  still sees our own pages), and HSTS when the request came over HTTPS.
- Cookies are Secure when the site's public address is https or the request came over HTTPS; always HttpOnly
  and SameSite=Lax.
- The client's address is the socket's peer unless ``[web] trusted_proxies`` says how many proxies in front
  may be believed: only then does werkzeug's ProxyFix read X-Forwarded-For and -Proto, so a client cannot
  escape a rate limit by making up a header.
- Rate limits are token buckets per client (an IPv4 address, or the /64 network of an IPv6 one) and area
  (``sign_up``, ``sign_in``, ``links``, ``calendar_check``), each allowing its ``[web] *_per_hour`` requests an
  hour in bursts up to that. They are kept in the database (``scheduler.accounts.access.count_request``: one atomic
  statement per request), so every gunicorn worker, and every server on the same database, counts against
  the same allowance; beyond it the answer is 429 with Retry-After. ``coffeechat tick`` forgets buckets that
  are full again.
"""

from __future__ import annotations

import functools
import ipaddress
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from scheduler.accounts import access as accounts
from scheduler.accounts.access import is_local_path
from scheduler.config import Config
from scheduler.entrypoints.bootstrap import Services

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
))
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"
LIMITER_KEY = "coffeechat.rate_limiter"
SECURE_KEY = "coffeechat.https_only"

_View = TypeVar("_View", bound=Callable[..., Any])


def init_app(app: Flask, config: Config, services: Services) -> None:
    """Install the headers, the cookie policy, ProxyFix (only when proxies are trusted) and the rate limiter,
    which keeps its buckets in the database of ``services``."""
    web = config.web
    if web.trusted_proxies:
        hops = web.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.extensions[SECURE_KEY] = config.organisation.base_url.lower().startswith("https://")
    app.session_interface = SchemeAwareSessionInterface()
    app.extensions[LIMITER_KEY] = RateLimiter({
        "sign_up": web.sign_up_per_hour,
        "sign_in": web.sign_in_per_hour,
        "links": web.links_per_hour,
    }, services)
    app.after_request(add_security_headers)


def cookies_secure() -> bool:
    """Whether cookies set now carry Secure: the site is public over https, or this request came over HTTPS."""
    return bool(current_app.extensions.get(SECURE_KEY)) or request.is_secure


class SchemeAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session (it holds only the CSRF token and flash messages), Secure per request."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure when the site is https or the request came over HTTPS."""
        return cookies_secure()


def add_security_headers(response: Response) -> Response:
    """Add the security headers to ``response``: every page, error pages included."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    for name, value in STATIC_HEADERS.items():
        headers.setdefault(name, value)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if "Cache-Control" not in headers:
        # Pages may show a person's data or carry a link's token: no shared or back-button cache keeps them.
        headers["Cache-Control"] = "no-store"
    return response


class RateLimiter:
    """The hourly allowance of each area (``per_hour``; a blueprint may add its own area) and the services whose
    database keeps the buckets."""

    def __init__(self, per_hour: Mapping[str, int], services: Services) -> None:
        self.per_hour = dict(per_hour)
        self._services = services

    def hit(self, area: str, client: str) -> float | None:
        """Count one request; ``None`` when allowed, else the seconds until the next one would be."""
        services = self._services
        return accounts.count_request(services.uow_factory, services.clock, area, client, self.per_hour[area])


def client_key(address: str | None) -> str:
    """Whom a rate limit counts: the IPv4 address, or the /64 network of an IPv6 one (a single host is usually
    given a whole /64, so counting addresses there would let it make up a new one for every request)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else parsed)


def rate_limited(area: str, methods: tuple[str, ...] = ("POST",)) -> Callable[[_View], _View]:
    """Limit the view's ``methods`` requests per client address to the ``area``'s hourly allowance; beyond it
    the answer is 429 with Retry-After."""

    def decorate(view: _View) -> _View:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            if request.method in methods:
                limiter: RateLimiter = current_app.extensions[LIMITER_KEY]
                wait = limiter.hit(area, client_key(request.remote_addr))
                if wait is not None:
                    raise TooManyRequests("Too many requests from your address. Please wait a while and try "
                                          "again.", retry_after=max(1, math.ceil(wait)))
            return view(*args, **kwargs)

        return limited  # type: ignore[return-value]

    return decorate


def safe_next(target: str | None, default: str = "/account") -> str:
    """``target`` when it is a path on this site, else ``default``: ``//evil``, ``https:evil``, ``/\\evil`` and
    ``javascript:`` never become a redirect."""
    return target if target and is_local_path(target) else default
