"""The signed-in person's own pages: account overview (pause, leave or come back), profile and preferences,
wishlist and block list, calendar source with "check my calendar", meeting history, data export, and account
deletion.

Every view parses, calls one service of ``scheduler.accounts.profile`` for the signed-in viewer only, and renders. GET
and HEAD change nothing (the JSON export is a GET because it only reads); every change is a POST with a CSRF
token. A refused form answers 422 with the errors next to the fields and what was typed kept.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import Field

from scheduler.accounts import profile
from scheduler.accounts.leader_suggestions import my_reports, suggest_leaders
from scheduler.accounts.memberships import choose_program, program_memberships
from scheduler.errors import InputError, NotFoundError
from scheduler.model import as_local
from web.account_forms import (
    CalendarForm,
    CheckCalendarForm,
    DeleteForm,
    ParticipationForm,
    PauseForm,
    ProfileForm,
    ProgramChoiceForm,
    WishesForm,
)
from web.auth import COOKIE, current_viewer, sign_in_required
from web.forms import zone_options
from web.report_forms import LeaderSuggestionForm
from web.security import LIMITER_KEY, RateLimiter, cookies_secure, rate_limited
from web.services import services_of

blueprint = Blueprint("account", __name__)
# "Check my calendar" makes the server fetch an address the person chose: a few times an hour is plenty, and a
# limit keeps anyone from using the site to hammer that address.
CALENDAR_CHECKS_PER_HOUR = 20


@blueprint.record_once
def _add_rate_limit(state: BlueprintSetupState) -> None:
    limiter: RateLimiter = state.app.extensions[LIMITER_KEY]
    limiter.per_hour.setdefault("calendar_check", CALENDAR_CHECKS_PER_HOUR)


def _email() -> str:
    viewer = current_viewer()
    if viewer is None:  # pragma: no cover - sign_in_required sent every visitor without a session away
        raise RuntimeError("an account page was reached without a session")
    return viewer.email


def _refused(form: FlaskForm, error: InputError, aliases: dict[str, str] | None = None) -> None:
    """Show a service's refusal next to the field it names (``aliases`` maps a service's name for a place to the
    form's field), else above the form."""
    message = str(error).removeprefix(f"{error.where}: ") if error.where else str(error)
    message = message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
    where = error.where or ""
    try:
        field: Field | None = form[(aliases or {}).get(where, where)]
    except KeyError:
        field = None
    if field is not None and field.name != "csrf_token":
        field.errors = [*field.errors, message]
    else:
        form.form_errors.append(message)


def _home(pause_form: PauseForm | None = None, status: int = 200) -> ResponseReturnValue:
    services = services_of(current_app)
    viewer = current_viewer()
    person = profile.load_profile(services.uow_factory, _email())
    if pause_form is None:
        pause_form = PauseForm(data={"until": person.paused_until.isoformat() if person.paused_until else ""})
    memberships = program_memberships(services.uow_factory, services.programs(), person.email,
                                      services.clock.now().date())
    return render_template("account.html", person=person, pause_form=pause_form,
                           participation_form=ParticipationForm(), memberships=memberships,
                           program_form=ProgramChoiceForm(),
                           expires=as_local(viewer.session_expires_at, viewer.timezone) if viewer else None), status


@blueprint.get("/account")
@sign_in_required
def home() -> ResponseReturnValue:
    """My account: who is signed in, whether I am paused or have left, and the way to each page."""
    return _home()


@blueprint.post("/account/pause")
@sign_in_required
def pause() -> ResponseReturnValue:
    """Pause until a date, or resume."""
    services = services_of(current_app)
    form = PauseForm()
    if form.validate_on_submit():
        try:
            change = profile.set_pause(services.uow_factory, services.clock, services.settings, _email(),
                                       form.day())
        except InputError as error:
            _refused(form, error, {"paused_until": "until"})
        else:
            person = change.person
            flash((f"You are paused until {person.paused_until.isoformat()}." if person.paused_until
                   else "Your pause is over: the next cycle can pair you.") + _cancelled_note(change))
            return redirect(url_for("account.home"), code=303)
    return _home(form, 422)


@blueprint.post("/account/participation")
@sign_in_required
def participation() -> ResponseReturnValue:
    """Leave Coffee Chat (no more pairing; the account stays), or come back."""
    services = services_of(current_app)
    form = ParticipationForm()
    if not form.validate_on_submit():
        return _home(status=422)
    leaving = form.action.data == "leave"
    change = profile.set_opted_out(services.uow_factory, services.clock, services.settings, _email(), leaving)
    flash(("You have left Coffee Chat: nobody will be paired with you. You can come back at any time."
           if leaving else "Welcome back: the next cycle can pair you.") + _cancelled_note(change))
    return redirect(url_for("account.home"), code=303)


def _cancelled_note(change: profile.ParticipationChange) -> str:
    """The meetings a pause or leaving called off, as the flash says it: queued, not yet sent."""
    count = len(change.cancelled)
    if not count:
        return ""
    meetings = "meeting is" if count == 1 else f"{count} meetings are"
    return f" Your planned {meetings} cancelled: your partners will get an email saying so."


@blueprint.post("/account/programs")
@sign_in_required
def program_choice() -> ResponseReturnValue:
    """Join or leave one program open to me."""
    services = services_of(current_app)
    form = ProgramChoiceForm()
    if not form.validate_on_submit():
        return _home(status=422)
    joining = form.action.data == "join"
    name = form.program.data.strip()
    try:
        choose_program(services.uow_factory, services.programs(), _email(), name, joining, at=services.clock.now())
    except (InputError, NotFoundError) as error:
        flash(f"Not changed: {str(error).removeprefix('program: ')}.")
        return _home(status=422)
    flash(f"You have joined {name}: its next cycle can pair you." if joining
          else f"You have left {name}: its cycles no longer pair you. You can join again at any time.")
    return redirect(url_for("account.home"), code=303)


@blueprint.route("/account/profile", methods=["GET", "POST"])
@sign_in_required
def edit_profile() -> ResponseReturnValue:
    """Profile and preferences."""
    services = services_of(current_app)
    if request.method == "GET":
        form = ProfileForm.of(profile.load_profile(services.uow_factory, _email()))
    else:
        form = ProfileForm()
        if form.validate_on_submit():
            try:
                profile.update_profile(services.uow_factory, _email(), form.to_change())
            except InputError as error:
                _refused(form, error)
            else:
                flash("Your profile is saved.")
                return redirect(url_for("account.edit_profile"), code=303)
    status = 422 if form.is_submitted() else 200
    role = profile.load_profile(services.uow_factory, _email()).role
    return render_template("account_profile.html", form=form, zone_options=zone_options, role=role), status


@blueprint.route("/account/wishes", methods=["GET", "POST"])
@sign_in_required
def wishes() -> ResponseReturnValue:
    """Whom I would like to meet, and whom never."""
    services = services_of(current_app)
    if request.method == "GET":
        form = WishesForm.of(profile.load_profile(services.uow_factory, _email()))
    else:
        form = WishesForm()
        if form.validate_on_submit():
            try:
                profile.update_wishes(services.uow_factory, _email(), form.wishlist(), form.blocked_addresses())
            except InputError as error:
                _refused(form, error, {"wishlist": "meet_people"})
            else:
                flash("Your lists are saved.")
                return redirect(url_for("account.wishes"), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("account_wishes.html", form=form), status


def _calendar_page(form: CalendarForm, check: profile.CalendarCheck | None = None,
                   status: int = 200) -> ResponseReturnValue:
    services = services_of(current_app)
    person = profile.load_profile(services.uow_factory, _email())
    zone = person.timezone
    return render_template("account_calendar.html", form=form, check_form=CheckCalendarForm(), check=check,
                           source=person.calendar, reading=profile.reading_source(services.calendar, person),
                           zone=zone,
                           window=None if check is None else (as_local(check.window.start, zone),
                                                              as_local(check.window.end, zone))), status


@blueprint.route("/account/reports", methods=["GET", "POST"])
@sign_in_required
def reports() -> ResponseReturnValue:
    """A manager's reports, and which leaders each should get to know (counted by leader programs)."""
    services = services_of(current_app)
    form = LeaderSuggestionForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                suggest_leaders(services.uow_factory, _email(), form.report.data or "", form.leader_addresses(),
                                at=services.clock.now())
            except InputError as error:
                _refused(form, error)
            else:
                flash("Your suggestions are saved; leader programs count them from their next cycle.")
                return redirect(url_for("account.reports"), code=303)
    entries = my_reports(services.uow_factory, _email())
    return render_template("account_reports.html", entries=entries, form=form,
                           forms={e.report.email: LeaderSuggestionForm(formdata=None, report=e.report.email,
                                                                       leaders=", ".join(p.email for p in e.suggested))
                                  for e in entries}), status


@blueprint.route("/account/calendar", methods=["GET", "POST"])
@sign_in_required
def calendar() -> ResponseReturnValue:
    """Where my free/busy comes from: the organisation's calendar, an ICS feed or a CalDAV collection."""
    services = services_of(current_app)
    if request.method == "GET":
        return _calendar_page(CalendarForm.of(profile.load_profile(services.uow_factory, _email()).calendar))
    form = CalendarForm()
    if form.validate_on_submit():
        try:
            kind = form.kind.data or "none"
            # The internal servers the configuration allows for this kind, as the connectors allow them.
            policy = services.config.calendar.address_policy(kind)
            source = profile.calendar_source(kind, form.url.data or "", policy=policy)
            profile.set_calendar(services.uow_factory, _email(), source, policy=policy)
        except InputError as error:
            _refused(form, error, {"location": "url"})
        else:
            flash("Your calendar setting is saved. Use “Check my calendar” to see what we can read.")
            return redirect(url_for("account.calendar"), code=303)
    return _calendar_page(form, status=422)


@blueprint.post("/account/calendar/check")
@sign_in_required
@rate_limited("calendar_check")
def check_calendar() -> ResponseReturnValue:
    """Read my calendar now, as a cycle would, and say what was found (counts only)."""
    services = services_of(current_app)
    form = CheckCalendarForm()
    if not form.validate_on_submit():
        return _calendar_page(CalendarForm.of(profile.load_profile(services.uow_factory, _email()).calendar),
                              status=400)
    check = profile.check_calendar(services.uow_factory, services.calendar, services.clock, _email())
    person = profile.load_profile(services.uow_factory, _email())
    return _calendar_page(CalendarForm.of(person.calendar), check)


@blueprint.get("/account/history")
@sign_in_required
def history() -> ResponseReturnValue:
    """My meetings, newest first, times in my zone."""
    services = services_of(current_app)
    person = profile.load_profile(services.uow_factory, _email())
    return render_template("account_history.html", meetings=profile.meeting_history(services.uow_factory,
                                                                                   person.email),
                           zone=person.timezone)


@blueprint.get("/account/export")
@sign_in_required
def export() -> ResponseReturnValue:
    """Everything stored about me, as a JSON download (a GET: it only reads)."""
    services = services_of(current_app)
    data: dict[str, Any] = profile.export_data(services.uow_factory, services.clock, _email())
    body = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="coffeechat-my-data.json"'})


@blueprint.route("/account/delete", methods=["GET", "POST"])
@sign_in_required
def delete() -> ResponseReturnValue:
    """Delete my account: a GET explains, a confirmed POST deletes and signs out."""
    services = services_of(current_app)
    email = _email()
    form = DeleteForm(email=email)
    if form.validate_on_submit():
        deletion = profile.delete_account(services.uow_factory, services.clock, services.settings, email)
        session.clear()
        cancelled = len(deletion.cancelled)
        flash("Your account and everything stored about you are deleted."
              + (f" {cancelled} upcoming meeting{'s were' if cancelled != 1 else ' was'} cancelled and your "
                 "partners told." if cancelled else ""))
        response = redirect(url_for("public.index"), code=303)
        response.delete_cookie(COOKIE, path="/", secure=cookies_secure(), httponly=True, samesite="Lax")
        return response
    status = 422 if form.is_submitted() else 200
    return render_template("account_delete.html", form=form), status
