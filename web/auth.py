"""Sign-up, the emailed links, sign-in and sign-out; the signed-in viewer of a request.

Every view parses, calls one service of ``scheduler.accounts.access`` and renders. GET and HEAD never change anything:
an emailed link opens a page with a button, and only the button's POST uses it (mail scanners follow links).
Whatever address is entered, the answer is the same "check your inbox" page.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from markupsafe import escape
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.wrappers import Response

from scheduler.accounts import access as accounts
from scheduler.accounts.access import AccountSettings, LinkError, LinkSigner, Viewer
from scheduler.errors import DeliveryError, InputError, StorageError
from web.forms import ConfirmForm, SignInForm, SignOutForm, SignUpForm, zone_options
from web.security import cookies_secure, rate_limited, safe_next
from web.services import services_of

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__)

COOKIE = "coffeechat_session"
ACCOUNTS_KEY = "coffeechat.accounts"
PURPOSE_BY_PATH = {"confirm": accounts.CONFIRM, "sign-in": accounts.SIGN_IN}
BLANK_SIGN_UP_KEY = "coffeechat.blank_sign_up"
# Stands for the CSRF token in the stored blank sign-up page: nothing that escaping changes, nothing a page
# would otherwise contain.
TOKEN_SLOT = "csrf-token-slot-5b1e0c7d"  # noqa: S105 - a placeholder, not a secret

_View = TypeVar("_View", bound=Callable[..., Any])


@dataclass(frozen=True)
class AccountContext:
    """The account settings and the link signer of one app."""

    settings: AccountSettings
    signer: LinkSigner


def init_app(app: Flask, secret_key: str) -> None:
    """Give the app its account settings and link signer, and templates their ``viewer`` and sign-out form."""
    services = services_of(app)
    app.extensions[ACCOUNTS_KEY] = AccountContext(AccountSettings.from_config(services.config, services.site),
                                                  LinkSigner(secret_key))

    @app.context_processor
    def inject_viewer() -> dict[str, Any]:
        try:
            viewer = current_viewer()
        except StorageError:
            # The page being drawn may be the error page of this very failure: draw it signed out.
            viewer = None
        return {"viewer": viewer, "sign_out_form": SignOutForm() if viewer else None}


def _context() -> AccountContext:
    context: AccountContext = current_app.extensions[ACCOUNTS_KEY]
    return context


def current_viewer() -> Viewer | None:
    """Who is signed in on this request (looked up once per request), or ``None``."""
    if "viewer" not in g:
        token = request.cookies.get(COOKIE, "")
        if token:
            services = services_of(current_app)
            g.viewer = accounts.current_viewer(services.uow_factory, services.clock, _context().settings, token)
        else:
            g.viewer = None
    viewer: Viewer | None = g.viewer
    return viewer


def sign_in_required(view: _View) -> _View:
    """Send a visitor who is not signed in to the sign-in page, coming back here afterwards."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if current_viewer() is None:
            return redirect(url_for("auth.sign_in", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def _mail_failed(error: DeliveryError) -> ServiceUnavailable:
    log.warning("an account email could not be sent: %s", error)
    return ServiceUnavailable("We could not send the email just now. Please try again in a few minutes.",
                              retry_after=60)


@blueprint.route("/sign-up", methods=["GET", "POST"])
@rate_limited("sign_up")
def sign_up() -> ResponseReturnValue:
    """The sign-up form; a valid one sends the email it calls for and leads to "check your inbox"."""
    context = _context()
    form = SignUpForm(allowed_domains=context.settings.allowed_domains)
    if form.validate_on_submit():
        services = services_of(current_app)
        try:
            accounts.sign_up(services.uow_factory, services.mailer_factory, services.clock, context.signer,
                             context.settings, form.to_request())
        except DeliveryError as error:
            raise _mail_failed(error) from error
        except InputError as error:
            form.form_errors.append(str(error))
        else:
            return redirect(url_for("auth.check_inbox"), code=303)
    if form.is_submitted():
        return render_template("sign_up.html", form=form, prefill_zone=False, zone_options=zone_options), 422
    return _blank_sign_up_page(form)


def _blank_sign_up_page(form: SignUpForm) -> str:
    """The sign-up page with a blank form. For a new visitor (not signed in, no message waiting) it is the same
    page for everyone but the form's CSRF token, so it is drawn once per process with a placeholder for the
    token, which each request fills in: drawing the form's fields took about a seventh of a worker's time in
    the sign-up benchmark (bench/web.py)."""
    if current_viewer() is not None or session.get("_flashes"):
        return render_template("sign_up.html", form=form, prefill_zone=True, zone_options=zone_options)
    page: str | None = current_app.extensions.get(BLANK_SIGN_UP_KEY)
    if page is None:
        token = form.csrf_token.current_token
        form.csrf_token.current_token = TOKEN_SLOT
        try:
            page = render_template("sign_up.html", form=form, prefill_zone=True, zone_options=zone_options)
        finally:
            form.csrf_token.current_token = token
        current_app.extensions[BLANK_SIGN_UP_KEY] = page
    return page.replace(TOKEN_SLOT, str(escape(form.csrf_token.current_token)), 1)


@blueprint.get("/check-inbox")
def check_inbox() -> ResponseReturnValue:
    """The one answer to every accepted sign-up or sign-in request."""
    return render_template("check_inbox.html")


@blueprint.route("/sign-in", methods=["GET", "POST"])
@rate_limited("sign_in")
def sign_in() -> ResponseReturnValue:
    """Ask for a sign-in link by email."""
    context = _context()
    form = SignInForm(allowed_domains=context.settings.allowed_domains)
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"), default="")
    if form.validate_on_submit():
        services = services_of(current_app)
        try:
            accounts.request_sign_in(services.uow_factory, services.mailer_factory, services.clock,
                                     context.signer, context.settings, form.email.data or "",
                                     next_path=safe_next(form.next.data, default=""))
        except DeliveryError as error:
            raise _mail_failed(error) from error
        return redirect(url_for("auth.check_inbox"), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("sign_in.html", form=form), status


@blueprint.route("/confirm/<token>", methods=["GET", "POST"], defaults={"kind": "confirm"})
@blueprint.route("/sign-in/<token>", methods=["GET", "POST"], defaults={"kind": "sign-in"})
@rate_limited("links", methods=("GET", "HEAD", "POST"))
def use_link(kind: str, token: str) -> ResponseReturnValue:
    """An emailed link: GET shows what it does and a button; the button's POST uses it and signs in."""
    purpose = PURPOSE_BY_PATH[kind]
    services = services_of(current_app)
    context = _context()
    form = ConfirmForm()
    try:
        if form.validate_on_submit():
            opened = accounts.use_link(services.uow_factory, services.clock, context.signer, context.settings,
                                       purpose, token, previous_session=request.cookies.get(COOKIE) or None)
            return _signed_in(opened)
        preview = accounts.preview_link(services.uow_factory, services.clock, context.signer, context.settings,
                                        purpose, token)
    except LinkError as error:
        return render_template("link_error.html", error=error, purpose=purpose), 410 if error.reason in (
            "expired", "used") else 400
    return render_template("use_link.html", form=form, preview=preview, purpose=purpose)


def _signed_in(opened: accounts.NewSession) -> Response:
    """Redirect to where the person was going, with the new session's cookie (and a fresh CSRF token)."""
    session.clear()
    if opened.confirmed:
        flash("Your address is confirmed: you are in. We will pair you in the next cycle.")
    response = redirect(safe_next(opened.next_path), code=303)
    lifetime = int((opened.expires_at - services_of(current_app).clock.now()).total_seconds())
    response.set_cookie(COOKIE, opened.token, max_age=max(lifetime, 0), secure=cookies_secure(), httponly=True,
                        samesite="Lax", path="/")
    return response


@blueprint.post("/sign-out")
def sign_out() -> ResponseReturnValue:
    """End the session: the cookie is deleted here and useless everywhere else."""
    form = SignOutForm()
    if form.validate_on_submit():
        token = request.cookies.get(COOKIE, "")
        services = services_of(current_app)
        accounts.sign_out(services.uow_factory, services.clock, token)
    session.clear()
    flash("You are signed out.")
    response = redirect(url_for("public.index"), code=303)
    response.delete_cookie(COOKIE, path="/", secure=cookies_secure(), httponly=True, samesite="Lax")
    return response
