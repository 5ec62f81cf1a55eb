"""The links of the "still in?" emails: ``/still-in/<action>/<token>``, ``stay`` ("Yes, keep pairing me") or
``pause`` ("Pause me").

GET and HEAD only show whom the link is for, where they stand, and a button (mail scanners follow links); the
button's POST, with its CSRF token (checked app-wide by ``CSRFProtect`` before any view runs), calls
``scheduler.accounts.still_in.answer_still_in``. A link that is tampered with, cut short, made for the other
action or expired shows an error page in plain words and changes nothing.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from scheduler.accounts.still_in import PAUSE_ON_REQUEST, answer_still_in, open_still_in_link
from scheduler.planning.still_in_links import STAY, STILL_IN_ACTIONS, StillInLinkError
from web.security import rate_limited
from web.services import services_of

blueprint = Blueprint("still_in", __name__)
# What the error page of a link that cannot be used offers instead.
SIGN_IN_FOR = "to Coffee Chat: signing in keeps you in."

PAUSE_WEEKS = PAUSE_ON_REQUEST.days // 7
BUTTONS = {"stay": "Yes, keep pairing me", "pause": f"Pause me for {PAUSE_WEEKS} weeks"}


class StillInForm(FlaskForm):
    """The link page's button (its CSRF token only)."""


@blueprint.route("/still-in/<action>/<token>", methods=["GET", "POST"])
@rate_limited("links", methods=("GET", "HEAD", "POST"))
def link(action: str, token: str) -> ResponseReturnValue:
    """A "still in?" link: GET shows the button, its POST gives the answer."""
    services = services_of(current_app)
    try:
        if action not in STILL_IN_ACTIONS:
            raise StillInLinkError("invalid")
        person = open_still_in_link(services.uow_factory, services.settings.still_in_links, action, token,
                                    services.clock.now())
    except StillInLinkError as error:
        status = 410 if error.reason in ("expired", "unavailable") else 400
        return render_template("signed_link_error.html", error=error, sign_in_for=SIGN_IN_FOR), status
    form = StillInForm()
    if form.validate_on_submit():
        try:
            person = answer_still_in(services.uow_factory, services.clock, person.email, action)
        except StillInLinkError as error:  # deleted between the page and the button
            return render_template("signed_link_error.html", error=error, sign_in_for=SIGN_IN_FOR), 410
        if action == STAY:
            flash("Thank you: you stay in, and the next cycle can pair you again.")
        else:
            flash(f"You are paused until {person.paused_until.isoformat() if person.paused_until else ''}. "
                  "End the pause whenever you like on your account page.")
        return redirect(url_for("still_in.link", action=action, token=token), code=303)
    return render_template("still_in.html", person=person, action=action, form=form, button=BUTTONS[action],
                           weeks=PAUSE_WEEKS, today=services.clock.now().date()), 422 if form.is_submitted() else 200
