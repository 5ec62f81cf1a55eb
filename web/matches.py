"""The match page: whom I meet, when (in my zone), why, where; accept, decline, ask for another time; and
afterwards, "did we meet?".

Two ways in, both ending in one service of ``scheduler.planning.matches``:

- ``/matches/<id>`` for a signed-in member (anyone else gets 404, whether or not the match exists), whose
  buttons POST to ``/matches/<id>/<action>``.
- ``/matches/<id>/<action>/<token>``, the signed one-click links of the emails. GET and HEAD only show the match
  and a button (mail scanners follow links); the button's POST, with its CSRF token, does the action. A link that
  is tampered with, made for another action or match, or expired shows an error page and changes nothing.

CSRF is checked on every POST by the app-wide ``CSRFProtect``, before any view runs.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import Length

from scheduler.delivery.emails import KIND_LABELS, format_slot
from scheduler.errors import CalendarError, InputError, NotFoundError
from scheduler.planning import matches
from scheduler.planning.links import ACTIONS, FEEDBACK_ACTIONS, MET, MatchLinkError
from scheduler.planning.matches import MatchPage
from web.auth import current_viewer, sign_in_required
from web.security import rate_limited
from web.services import services_of

blueprint = Blueprint("matches", __name__)

SIGNED_IN_ACTIONS = ("accept", "decline", "reschedule", "feedback")
DONE = {
    "accepted": "Thank you: the match page now shows your partners that you will be there.",
    "declined": "Thank you for letting us know. The meeting stands for the others.",
    # Said in the future: the cancellation waits in the outbox until the relay's next run sends it.
    "cancelled": "Thank you for letting us know. The meeting is cancelled; your partner will get an email saying so.",
    "reschedule": "The meeting moved to {when}. Everyone gets the updated invite.",
    "feedback": "Thank you for telling us.",
}
CONFIRM = {
    "accept": ("Will you be there?", "Yes, I'll be there"),
    "decline": ("Can't make it?", "Decline this meeting"),
    "reschedule": ("Ask for another time?", "Find the next common time"),
    "met": ("You met: how was it?", "Send"),
    "not-met": ("You didn't meet?", "Send"),
}
RATINGS = {str(n): n for n in range(1, 6)}
RATING_CHOICES = [SelectChoice("", "No rating"), *(SelectChoice(str(n), f"{n} of 5") for n in range(1, 6))]


class ActionForm(FlaskForm):
    """A button (its CSRF token only)."""


class FeedbackForm(FlaskForm):
    """Did we meet? With an optional 1–5 rating and a comment."""

    met = RadioField("Did you meet?", validate_choice=True,
                     choices=[SelectChoice("yes", "Yes, we met"), SelectChoice("no", "No, we didn't meet")])
    # "" (no rating) is one of the choices: no Optional() validator, which would let white space past the check.
    rating = RadioField("How was it? (optional)", choices=RATING_CHOICES, default="", validate_choice=True)
    comment = TextAreaField("Anything to tell us? (optional)", validators=[
        Length(max=matches.MAX_COMMENT, message=f"Keep it under {matches.MAX_COMMENT} characters.")],
        description="Only the Coffee Chat organisers read it; your partner never sees it.")

    def rating_value(self) -> int | None:
        """The chosen rating, or None."""
        return RATINGS.get(self.rating.data or "")


class LinkFeedbackForm(FeedbackForm):
    """The same, behind a "we met" / "we didn't meet" link, which already says whether."""

    met = None


def _label(page: MatchPage) -> str:
    kind = page.program.kind if page.program is not None else "coffee"
    return KIND_LABELS.get(kind, kind.capitalize())


def _render_page(template: str, page: MatchPage, status: int = 200, **context: Any) -> ResponseReturnValue:
    zone = page.viewer.timezone
    slot = page.meeting.slot
    return render_template(
        template, page=page, label=_label(page),
        when=format_slot(slot, zone) if slot is not None else None,
        partner_times={person.email: format_slot(slot, person.timezone) for person in page.partners}
        if slot is not None else {},
        **context), status


def _load(meeting_id: int, email: str) -> MatchPage:
    services = services_of(current_app)
    try:
        return matches.load_match(services.uow_factory, meeting_id, email, services.clock.now())
    except NotFoundError:
        abort(404)


@blueprint.get("/matches/<int:meeting_id>")
@sign_in_required
def page(meeting_id: int) -> ResponseReturnValue:
    """The match page of a signed-in member."""
    viewer = current_viewer()
    if viewer is None:  # pragma: no cover - sign_in_required sent every visitor without a session away
        abort(404)
    match = _load(meeting_id, viewer.email)
    return _render_page("match.html", match, action_form=ActionForm(), feedback_form=_feedback_form(match))


def _feedback_form(match: MatchPage, form_class: type[FeedbackForm] = FeedbackForm) -> FeedbackForm:
    if request.method == "POST":
        return form_class()
    given = match.feedback
    data: dict[str, Any] = {}
    if given is not None:
        data = {"met": "yes" if given.met else "no", "comment": given.comment,
                "rating": str(given.rating) if given.rating else ""}
    return form_class(data=data)


@blueprint.post("/matches/<int:meeting_id>/<action>")
@sign_in_required
@rate_limited("links")
def act(meeting_id: int, action: str) -> ResponseReturnValue:
    """A button of the match page (signed in): accept, decline, reschedule or feedback."""
    viewer = current_viewer()
    if viewer is None or action not in SIGNED_IN_ACTIONS:
        abort(404)
    match = _load(meeting_id, viewer.email)
    if action == "feedback":
        form = FeedbackForm()
        if not form.validate_on_submit():
            return _render_page("match.html", match, 422, action_form=ActionForm(), feedback_form=form)
        outcome = _perform(match, "feedback", met=form.met.data == "yes", rating=form.rating_value(),
                           comment=form.comment.data or "")
    else:  # the button carries nothing but its CSRF token, which CSRFProtect checked before this view ran
        outcome = _perform(match, action)
    flash(outcome)
    return redirect(url_for("matches.page", meeting_id=meeting_id), code=303)


def _perform(match: MatchPage, action: str, *, met: bool = False, rating: int | None = None,
             comment: str = "") -> str:
    """Do ``action`` for the page's viewer; the sentence to show afterwards (a refusal in plain words too)."""
    services = services_of(current_app)
    email, meeting_id = match.viewer.email, match.meeting_id
    try:
        if action in ("accept", "decline"):
            response = matches.respond(services.uow_factory, services.clock, services.settings, meeting_id, email,
                                       "accepted" if action == "accept" else "declined")
            return DONE["cancelled" if response.called_off else response.answer]
        if action == "reschedule":
            change = matches.ask_for_another_time(services.uow_factory, services.calendar, services.clock,
                                                  services.settings, meeting_id, email)
            slot = change.meeting.slot
            return DONE["reschedule"].format(when=format_slot(slot, match.viewer.timezone) if slot else "")
        matches.record_feedback(services.uow_factory, services.clock, meeting_id, email, met=met, rating=rating,
                                comment=comment)
        return DONE["feedback"]
    except NotFoundError:
        abort(404)
    except CalendarError as error:
        return f"We could not look for another time: {error}."
    except InputError as error:
        return f"That did not work: {str(error).partition(': ')[2] or error}."


@blueprint.route("/matches/<int:meeting_id>/<action>/<token>", methods=["GET", "POST"])
@rate_limited("links", methods=("GET", "HEAD", "POST"))
def link(meeting_id: int, action: str, token: str) -> ResponseReturnValue:
    """A signed link from an email: GET shows the match and a button; the button's POST does the action."""
    services = services_of(current_app)
    try:
        links = services.settings.links
        if links is None or action not in ACTIONS:
            raise MatchLinkError("invalid")
        email = links.load(action, token, meeting_id, services.clock.now())
        try:
            match = matches.load_match(services.uow_factory, meeting_id, email, services.clock.now())
        except NotFoundError:
            raise MatchLinkError("unavailable") from None
    except MatchLinkError as error:
        status = 410 if error.reason in ("expired", "unavailable") else 400
        return render_template("match_link_error.html", error=error), status
    feedback = action in FEEDBACK_ACTIONS
    form: FlaskForm = _feedback_form(match, LinkFeedbackForm) if feedback else ActionForm()
    if form.validate_on_submit():
        if isinstance(form, LinkFeedbackForm):
            outcome = _perform(match, "feedback", met=action == MET, rating=form.rating_value(),
                               comment=form.comment.data or "")
        else:
            outcome = _perform(match, action)
        flash(outcome)
        return redirect(url_for("matches.link", meeting_id=meeting_id, action=action, token=token), code=303)
    question, button = CONFIRM[action]
    return _render_page("match_link.html", match, 422 if form.is_submitted() else 200, action=action, form=form,
                        question=question, button=button)
