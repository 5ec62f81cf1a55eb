"""Introductions on the site: the links of introduction emails, ``/introductions/<action>/<token>``
(``introduce``, ``not-now``, ``rather-not``), and the asker's page ``/account/introductions``.

A link's GET and HEAD only show what the button would do (mail scanners follow links); the button's POST, with
its CSRF token (checked app-wide by ``CSRFProtect`` before any view runs), calls
``scheduler.planning.introductions.answer_introduction``. A link that is tampered with, cut short, made for
another action or person, or expired shows an error page in plain words and changes nothing. The asker's page
says where each introduction stands in words that never tell who said no.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from scheduler.planning.introduction_links import INTRODUCE, NOT_NOW, IntroductionLinkError
from scheduler.planning.introductions import answer_introduction, introductions_of, open_introduction_link
from web.auth import current_viewer, sign_in_required
from web.security import rate_limited
from web.services import services_of

blueprint = Blueprint("introductions", __name__)
# What the error page of a link that cannot be used offers instead.
SIGN_IN_FOR = "to Coffee Chat."

BUTTONS = {INTRODUCE: "Introduce them by email", NOT_NOW: "Not now", "rather-not": "I’d rather not"}
DONE = {
    INTRODUCE: "Thank you! The introduction email to both is in the outbox: it goes out with the next delivery.",
    NOT_NOW: "Thank you. Nobody is told that you were asked.",
    "rather-not": "Thank you. Nobody will learn that the answer came from you.",
}


class IntroductionForm(FlaskForm):
    """The link page's button (its CSRF token only)."""


@blueprint.route("/introductions/<action>/<token>", methods=["GET", "POST"])
@rate_limited("links", methods=("GET", "HEAD", "POST"))
def link(action: str, token: str) -> ResponseReturnValue:
    """An introduction link: GET shows the button, its POST gives the answer."""
    services = services_of(current_app)
    try:
        if action not in BUTTONS:
            raise IntroductionLinkError("invalid")
        found = open_introduction_link(services.uow_factory, services.settings.introduction_links, action, token,
                                       services.clock.now())
    except IntroductionLinkError as error:
        status = 410 if error.reason in ("expired", "unavailable") else 400
        return render_template("signed_link_error.html", error=error, sign_in_for=SIGN_IN_FOR), status
    form = IntroductionForm()
    if form.validate_on_submit():
        try:
            found = answer_introduction(services.uow_factory, services.clock, services.settings, action, token)
        except IntroductionLinkError as error:  # someone left between the page and the button
            return render_template("signed_link_error.html", error=error, sign_in_for=SIGN_IN_FOR), 410
        flash(DONE[action])
        return redirect(url_for("introductions.link", action=action, token=token), code=303)
    return render_template("introduction_link.html", found=found, action=action, form=form,
                           button=BUTTONS[action]), 422 if form.is_submitted() else 200


@blueprint.get("/account/introductions")
@sign_in_required
def mine() -> ResponseReturnValue:
    """The introductions asked for my wishes, where each stands."""
    services = services_of(current_app)
    viewer = current_viewer()
    if viewer is None:  # pragma: no cover - sign_in_required sent every visitor without a session away
        raise RuntimeError("an account page was reached without a session")
    return render_template("account_introductions.html",
                           introductions=introductions_of(services.uow_factory, viewer.email, services.clock.now()))
