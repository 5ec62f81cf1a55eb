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

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import InputRequired, Length

from scheduler.delivery.emails import KIND_LABELS, format_slot
from scheduler.errors import CalendarError, InputError, NotFoundError
from scheduler.model import Interval
from scheduler.planning import matches
from scheduler.planning.links import ACTIONS, DECLINE, FEEDBACK_ACTIONS, MET, RESCHEDULE, MatchLinkError
from scheduler.planning.matches import MatchPage
from scheduler.planning.nonresponders import note_sign_of_life
from scheduler.planning.thanks import MAX_NOTE, ThanksGiven, thank_partner, thanks_offers
from web.auth import current_viewer, sign_in_required
from web.security import rate_limited
from web.services import services_of

blueprint = Blueprint("matches", __name__)
# What the error page of a link that cannot be used offers instead.
SIGN_IN_FOR = "to see your matches."
Done = TypeVar("Done")

SIGNED_IN_ACTIONS = ("accept", "decline", "reschedule", "feedback", "undo")
DONE = {
    "accepted": "Thank you: the match page now shows your partners that you will be there.",
    "declined": "Thank you for letting us know. The meeting stands for the others.",
    # Said in the future: the cancellation waits in the outbox until the relay's next run sends it.
    "cancelled": "Thank you for letting us know. The meeting is cancelled; your partner will get an email saying "
                 "so. Changed your mind? Undo it below until that email is sent.",
    # A decline that called the meeting off heals the cycle: the partner is re-paired with someone else free this
    # cycle, or nobody is free (then another time is what may still save the meeting); in a trio, the others go on.
    "repaired": "Thank you for letting us know. The meeting is cancelled, and your partner is paired with someone "
                "else who is free this cycle; they will get an email saying so.",
    "nobody_free": "Thank you for letting us know. The meeting is cancelled; nobody else is free to meet your "
                   "partner this cycle, and they will get an email saying so. If it is only the time, undo your "
                   "decline below and ask for another time instead, until that email is sent.",
    "left": "Thank you for letting us know. You are out of this meeting; the others meet as planned and will get "
            "the updated invite.",
    "reschedule": "The meeting moved to {when}. Everyone will get the updated invite.",
    "undone": "Your decline is taken back: the meeting stands, and nobody was told otherwise.",
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
    """A button: its CSRF token, and for the steps that ask first what the person confirmed. ``confirmed`` is
    "yes" once they saw what a decline does; ``start`` is the time offered for another time (ISO 8601, UTC);
    ``undo`` is "yes" to take a decline back (on a signed link's page)."""

    confirmed = HiddenField()
    start = HiddenField()
    undo = HiddenField()


class FeedbackForm(FlaskForm):
    """Did we meet? With an optional 1–5 rating and a comment, which the organisers may read only when its
    writer ticks ``share_comment`` (off by default)."""

    met = RadioField("Did you meet?", validate_choice=True,
                     choices=[SelectChoice("yes", "Yes, we met"), SelectChoice("no", "No, we didn't meet")])
    # "" (no rating) is one of the choices: no Optional() validator, which would let white space past the check.
    rating = RadioField("How was it? (optional)", choices=RATING_CHOICES, default="", validate_choice=True,
                        description="The organisers see ratings only as averages, never whose they are.")
    comment = TextAreaField("Anything to tell us? (optional)", validators=[
        Length(max=matches.MAX_COMMENT, message=f"Keep it under {matches.MAX_COMMENT} characters.")],
        description="Your partner never sees it. The organisers read it only if you tick the box below, and "
                    "then without your name.")
    share_comment = BooleanField("Organisers may read my comment", default=False)

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
    return _render_page("match.html", match, action_form=ActionForm(), feedback_form=_feedback_form(match),
                        **_thanks_context(match, url_for("matches.thank", meeting_id=meeting_id)))


def _feedback_form(match: MatchPage, form_class: type[FeedbackForm] = FeedbackForm) -> FeedbackForm:
    if request.method == "POST":
        return form_class()
    given = match.feedback
    data: dict[str, Any] = {}
    if given is not None:
        data = {"met": "yes" if given.met else "no", "comment": given.comment,
                "rating": str(given.rating) if given.rating else "", "share_comment": given.comment_shared}
    return form_class(data=data)


@blueprint.post("/matches/<int:meeting_id>/<action>")
@sign_in_required
@rate_limited("links")
def act(meeting_id: int, action: str) -> ResponseReturnValue:
    """A button of the match page (signed in): accept; decline (confirmed first, on a page that offers another
    time); another time (shown before the meeting moves); undo a decline; or feedback."""
    viewer = current_viewer()
    if viewer is None or action not in SIGNED_IN_ACTIONS:
        abort(404)
    match = _load(meeting_id, viewer.email)
    if action == "feedback":
        form = FeedbackForm()
        if not form.validate_on_submit():
            return _render_page("match.html", match, 422, action_form=ActionForm(), feedback_form=form)
        outcome = _perform(match, "feedback", met=form.met.data == "yes", rating=form.rating_value(),
                           comment=form.comment.data or "", share_comment=bool(form.share_comment.data))
        flash(outcome)
        return redirect(url_for("matches.page", meeting_id=meeting_id), code=303)
    # CSRFProtect checked the button's token before this view ran; the hidden fields say which step this is.
    here = {name: url_for("matches.act", meeting_id=meeting_id, action=name) for name in (DECLINE, RESCHEDULE)}
    return _step(match, "decline" if action == "undo" else action, ActionForm(),
                 after=url_for("matches.page", meeting_id=meeting_id), urls=here,
                 undo=action == "undo")


def _step(match: MatchPage, action: str, form: ActionForm, *, after: str, urls: dict[str, str],
          undo: bool = False, asked: bool = False) -> ResponseReturnValue:
    """Do ``action`` for the viewer, or first ask: a decline is confirmed on a page that offers another time
    first (``asked``: the page the button was on was that confirmation, as a decline link's page is); another
    time is shown before the meeting moves. ``urls`` are where the confirmation's buttons post (for
    ``decline`` and ``reschedule``); ``after`` is where to go once done."""
    if action == "decline" and (undo or form.undo.data == "yes"):
        outcome = _undo(match)
    elif action == "decline" and not asked and form.confirmed.data != "yes" and match.can_respond:
        return _render_page("match_confirm.html", match, step="decline", form=ActionForm(), urls=urls,
                            back=after, would_cancel=_would_cancel(match))
    elif action == "reschedule" and not form.start.data:
        proposal = _propose(match)
        if isinstance(proposal, str):
            outcome = proposal
        else:
            return _render_page("match_confirm.html", match, step="move", form=ActionForm(), urls=urls,
                                back=after, proposed=proposal,
                                proposed_when=format_slot(proposal, match.viewer.timezone),
                                proposed_times={person.email: format_slot(proposal, person.timezone)
                                                for person in match.partners})
    else:
        outcome = _perform(match, action, start=form.start.data or "")
    flash(outcome)
    # A decliner who left a group that goes on (a trio) is no longer in the match: its page would not open.
    return redirect(after if action != "decline" or _still_member(match) else url_for("public.index"), code=303)


def _still_member(match: MatchPage) -> bool:
    """Whether the viewer is still a member of the page's meeting."""
    services = services_of(current_app)
    try:
        matches.load_match(services.uow_factory, match.meeting_id, match.viewer.email, services.clock.now())
    except NotFoundError:
        return False
    return True


def _would_cancel(match: MatchPage) -> bool:
    """Whether the viewer's decline would call the meeting off (fewer than two others still in)."""
    return len([p for p in match.partners if match.rsvps.get(p.email) != "declined"]) < 2


def _propose(match: MatchPage) -> Interval | str:
    """The next common time to offer, or the sentence that says why there is none."""
    services = services_of(current_app)
    return _attempt(lambda: matches.propose_another_time(services.uow_factory, services.calendar, services.clock,
                                                         services.settings, match.meeting_id, match.viewer.email))


def _undo(match: MatchPage) -> str:
    services = services_of(current_app)
    undone = _attempt(lambda: matches.undo_decline(services.uow_factory, services.clock, match.meeting_id,
                                                   match.viewer.email))
    return undone if isinstance(undone, str) else DONE["undone"]


def _perform(match: MatchPage, action: str, *, met: bool = False, rating: int | None = None,
             comment: str = "", share_comment: bool = False, start: str = "") -> str:
    """Do ``action`` for the page's viewer; the sentence to show afterwards (a refusal in plain words too)."""
    services = services_of(current_app)
    email, meeting_id = match.viewer.email, match.meeting_id

    def perform() -> str:
        if action in ("accept", "decline"):
            response = matches.respond(services.uow_factory, services.clock, services.settings, meeting_id, email,
                                       "accepted" if action == "accept" else "declined",
                                       provider=services.calendar)
            if response.repaired is not None:
                return DONE["repaired"]
            if response.left_group:
                return DONE["left"]
            if response.nobody_free:
                return DONE["nobody_free"]
            return DONE["cancelled" if response.called_off else response.answer]
        if action == "reschedule":
            change = matches.move_meeting(services.uow_factory, services.calendar, services.clock,
                                          services.settings, meeting_id, email, _moment(start))
            slot = change.meeting.slot
            return DONE["reschedule"].format(when=format_slot(slot, match.viewer.timezone) if slot else "")
        matches.record_feedback(services.uow_factory, services.clock, meeting_id, email, met=met, rating=rating,
                                comment=comment, share_comment=share_comment)
        return DONE["feedback"]

    return _attempt(perform)


def _attempt(call: Callable[[], Done]) -> Done | str:
    """What ``call`` returns, or the sentence that says why the service refused (404 for a match that is not
    the viewer's, so a stranger learns nothing)."""
    try:
        return call()
    except NotFoundError:
        abort(404)
    except CalendarError as error:
        return f"We could not look for another time: {error}."
    except InputError as error:
        return f"That did not work: {str(error).partition(': ')[2] or error}."


def _moment(text: str) -> datetime:
    """The offered time a confirmation carries; ``InputError`` when it is not one (a page edited by hand)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError("the time offered could not be read; ask for another time again", where="start") from None
    if moment.tzinfo is None:
        raise InputError("the time offered has no time zone; ask for another time again", where="start")
    return moment


def _open_link(meeting_id: int, action: str, token: str) -> MatchPage | ResponseReturnValue:
    """The match page a signed link of ``action`` opens for its recipient, or the error page (400 for a link
    that is not valid, 410 for one expired or whose match is gone) when it cannot be used."""
    services = services_of(current_app)
    try:
        links = services.settings.links
        if links is None or action not in ACTIONS:
            raise MatchLinkError("invalid")
        email = links.load(action, token, meeting_id, services.clock.now())
        try:
            return matches.load_match(services.uow_factory, meeting_id, email, services.clock.now())
        except NotFoundError:
            raise MatchLinkError("unavailable") from None
    except MatchLinkError as error:
        status = 410 if error.reason in ("expired", "unavailable") else 400
        return render_template("signed_link_error.html", error=error, sign_in_for=SIGN_IN_FOR), status


@blueprint.route("/matches/<int:meeting_id>/<action>/<token>", methods=["GET", "POST"])
@rate_limited("links", methods=("GET", "HEAD", "POST"))
def link(meeting_id: int, action: str, token: str) -> ResponseReturnValue:
    """A signed link from an email: GET shows the match and a button; the button's POST does the action."""
    services = services_of(current_app)
    opened = _open_link(meeting_id, action, token)
    if not isinstance(opened, MatchPage):
        return opened
    match, email = opened, opened.viewer.email
    if request.method == "POST":  # a person pressed the page's button (scanners only GET): a sign of life
        note_sign_of_life(services.uow_factory, services.clock, email)
    feedback = action in FEEDBACK_ACTIONS
    here = url_for("matches.link", meeting_id=meeting_id, action=action, token=token)
    form: FlaskForm = _feedback_form(match, LinkFeedbackForm) if feedback else ActionForm()
    if form.validate_on_submit():
        if isinstance(form, LinkFeedbackForm):
            outcome = _perform(match, "feedback", met=action == MET, rating=form.rating_value(),
                               comment=form.comment.data or "", share_comment=bool(form.share_comment.data))
        elif isinstance(form, ActionForm) and action in ("decline", RESCHEDULE):
            # The confirmation's buttons post back to the links of their own action, each with its own token.
            urls = {DECLINE: here if action == DECLINE else _link_url(match, DECLINE),
                    RESCHEDULE: here if action == RESCHEDULE else _link_url(match, RESCHEDULE)}
            return _step(match, action, form, after=here, urls=urls, asked=True)
        else:
            outcome = _perform(match, action)
        flash(outcome)
        return redirect(here, code=303)
    if action == DECLINE and match.can_respond and match.my_answer != "declined" and not form.is_submitted():
        return _render_page("match_confirm.html", match, step="decline", form=ActionForm(), back=None,
                            urls={DECLINE: here, RESCHEDULE: _link_url(match, RESCHEDULE)},
                            would_cancel=_would_cancel(match))
    question, button = CONFIRM[action]
    thanks = _thanks_context(match, url_for("matches.thank_link", meeting_id=meeting_id, token=token)) \
        if action == MET else {}
    return _render_page("match_link.html", match, 422 if form.is_submitted() else 200, action=action, form=form,
                        question=question, button=button, **thanks)


def _link_url(match: MatchPage, action: str) -> str:
    """The signed link of ``action`` for the page's viewer, as their email carries it (the page was reached
    through one of them, so the site has a key)."""
    services = services_of(current_app)
    links = services.settings.links
    if links is None:  # pragma: no cover - the link views answer only when links are configured
        abort(404)
    token = links.token(match.meeting, match.viewer.email, action, services.clock.now())
    return url_for("matches.link", meeting_id=match.meeting_id, action=action, token=token)


# --- thanks after "we met" (scheduler.planning.thanks) ---------------------------------------------------------


class ThanksForm(FlaskForm):
    """"Say thank you to <partner>": whom (their address, checked against the meeting by the service), an
    optional short note, and whether to tell the partner's manager too (offered only when one is stored)."""

    partner = HiddenField(validators=[InputRequired(message="Choose whom to thank.")])
    note = TextAreaField("A short note (optional)", validators=[
        Length(max=MAX_NOTE, message=f"Keep your note under {MAX_NOTE} characters.")])
    tell_manager = BooleanField("Also tell their manager", default=False)


def _thanks_context(match: MatchPage, url: str, form: ThanksForm | None = None) -> dict[str, Any]:
    """What ``_thanks.html`` draws: one offer per partner once the viewer said "we met" (none before), the
    address its forms post to, and the form (after a refused POST, with what was typed and why)."""
    services = services_of(current_app)
    try:
        offers = thanks_offers(services.uow_factory, match.meeting_id, match.viewer.email, services.clock.now())
    except NotFoundError:
        offers = ()
    return {"thanks": offers, "thanks_url": url, "thanks_form": form or ThanksForm(formdata=None),
            "max_note": MAX_NOTE}


def _thanked(given: ThanksGiven, match: MatchPage) -> str:
    """The sentence after a thank-you: said in the future, since the emails wait in the outbox."""
    name = next((p.name for p in match.partners if p.email == given.thanks.recipient), "your partner")
    told = f", and so will {name}'s manager" if given.manager_told else ""
    return f"Your thank-you note will be emailed to {name}{told}."


def _thank(match: MatchPage, *, after: str, page: Callable[[ThanksForm], ResponseReturnValue]) -> ResponseReturnValue:
    """Check the thanks form and thank the chosen partner; ``page`` draws the match page again (422) with the
    form's errors, and ``after`` is where to go once done (or refused by the service, with the reason)."""
    form = ThanksForm()
    if not form.validate_on_submit():
        return page(form)
    services = services_of(current_app)
    outcome = _attempt(lambda: thank_partner(services.uow_factory, services.clock, services.settings,
                                             match.meeting_id, match.viewer.email, form.partner.data or "",
                                             note=form.note.data or "", tell_manager=bool(form.tell_manager.data)))
    flash(outcome if isinstance(outcome, str) else _thanked(outcome, match))
    return redirect(after, code=303)


@blueprint.post("/matches/<int:meeting_id>/thanks")
@sign_in_required
@rate_limited("links")
def thank(meeting_id: int) -> ResponseReturnValue:
    """"Say thank you to <partner>" on the match page of a signed-in member."""
    viewer = current_viewer()
    if viewer is None:  # pragma: no cover - sign_in_required sent every visitor without a session away
        abort(404)
    match = _load(meeting_id, viewer.email)
    here = url_for("matches.thank", meeting_id=meeting_id)
    return _thank(match, after=url_for("matches.page", meeting_id=meeting_id), page=lambda form: _render_page(
        "match.html", match, 422, action_form=ActionForm(), feedback_form=_feedback_form(match),
        **_thanks_context(match, here, form)))


@blueprint.post("/matches/<int:meeting_id>/thanks/<token>")
@rate_limited("links")
def thank_link(meeting_id: int, token: str) -> ResponseReturnValue:
    """"Say thank you" on the page of a signed "we met" link: that link's token says who is thanking."""
    services = services_of(current_app)
    opened = _open_link(meeting_id, MET, token)
    if not isinstance(opened, MatchPage):
        return opened
    match, email = opened, opened.viewer.email
    note_sign_of_life(services.uow_factory, services.clock, email)
    here = url_for("matches.link", meeting_id=meeting_id, action=MET, token=token)
    question, button = CONFIRM[MET]
    return _thank(match, after=here, page=lambda form: _render_page(
        "match_link.html", match, 422, action=MET, form=_feedback_form(match, LinkFeedbackForm),
        question=question, button=button,
        **_thanks_context(match, url_for("matches.thank_link", meeting_id=meeting_id, token=token), form)))
