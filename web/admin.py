"""The admin's pages: participants, cycles, deliveries, programs and analytics. Admins only.

Admins are the addresses in ``[web] admins``. A visitor who is not signed in is sent to sign in; a signed-in
person who is not an admin gets 403. GET never changes anything (a cycle preview is a dry run); every POST
carries the CSRF token of Flask-WTF. Each view parses, calls one service of ``scheduler.admin``,
``scheduler.planning`` or ``scheduler.delivery`` and renders.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import InputRequired, Length

from scheduler.accounts import access as accounts
from scheduler.admin.analytics import analytics as compute_analytics
from scheduler.admin.audiences import program_audiences
from scheduler.admin.cycle_changes import ChangeRefused, remove_member, swap_members
from scheduler.admin.cycle_page import CyclePage, list_cycles, load_cycle_page
from scheduler.admin.cycles import delivery_overview, latest_calendar_gaps, preview_cycle, share
from scheduler.admin.participants import (
    MAX_QUERY,
    Participant,
    import_people,
    parse_pause_date,
    pause_participant,
    search_participants,
)
from scheduler.admin.ratings import program_ratings
from scheduler.delivery.dead_letters import requeue_effect
from scheduler.errors import InputError, NotFoundError, StorageError
from scheduler.model import Program
from scheduler.planning.nonresponders import silence_overview
from scheduler.planning.run import program_overview, run_cycle
from scheduler.programs.settings import (
    AUDIENCE_NAMES,
    EDITABLE,
    EDITABLE_FLAGS,
    WEIGHT_NAMES,
    ProgramSheet,
    change_program,
    program_settings,
    program_sheets,
    program_weights,
    reset_program,
)
from web.auth import current_viewer, sign_in_required
from web.charts import ACCENT, Series, bar_chart_svg, heatmap_svg
from web.forms import plain_text
from web.program_form import AUDIENCE_PREFIX, WEIGHT_PREFIX, ProgramForm
from web.services import services_of

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

MAX_UPLOAD = 2 * 1024 * 1024  # a CSV of many thousand people fits; more is a mistake
_View = TypeVar("_View", bound=Callable[..., Any])


def admin_required(view: _View) -> _View:
    """Signed in (else off to sign in) and an admin (else 403)."""

    @functools.wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        viewer = current_viewer()
        if viewer is None or not viewer.is_admin:
            abort(403, "This page is for the administrators of Coffee Chat.")
        return view(*args, **kwargs)

    return sign_in_required(guarded)  # type: ignore[return-value]


class SearchForm(FlaskForm):
    """Find people (a GET form: it changes nothing, so it needs no CSRF token)."""

    class Meta:
        csrf = False

    q = StringField("Name, email, team or department",
                    validators=[Length(max=MAX_QUERY, message="Keep it under 200 characters."), plain_text])


class ImportForm(FlaskForm):
    """Upload a CSV of people."""

    people = FileField("CSV file of people", validators=[FileRequired("Choose a CSV file to import.")],
                       description="The same columns and rules as coffeechat import-people: email, name, team, "
                                   "and optional department, office, timezone, working_hours, calendar, ….")


class PersonForm(FlaskForm):
    """An action on one person: pause until a date, or disable / enable."""

    email = HiddenField(validators=[InputRequired(), Length(max=320), plain_text])
    until = StringField("Pause until", validators=[Length(max=20), plain_text])
    action = HiddenField(validators=[Length(max=10)])  # "disable" or "enable", checked by the view


class ButtonForm(FlaskForm):
    """A button: the CSRF token only."""


class RemoveForm(FlaskForm):
    """Take one person out of their group in a cycle."""

    email = HiddenField(validators=[InputRequired("Choose whom to remove."), Length(max=320), plain_text])


class SwapForm(FlaskForm):
    """Swap two people of a cycle: the choices are the cycle's people (``with_people``)."""

    first = SelectField("Swap", validate_choice=True)
    second = SelectField("with", validate_choice=True)

    def with_people(self, people: tuple[tuple[str, str], ...]) -> SwapForm:
        """Offer these ``(email, label)`` choices in both lists."""
        self.first.choices = list(people)
        self.second.choices = list(people)
        return self


class RequeueForm(FlaskForm):
    """Requeue one dead effect."""

    key = HiddenField(validators=[InputRequired(), Length(max=500)])


def _services() -> Any:
    return services_of(current_app)


# --- participants ---------------------------------------------------------------------------------------------


@blueprint.get("")
@admin_required
def participants() -> ResponseReturnValue:
    """Search people; import a CSV; pause, disable or enable someone."""
    return _participants_page(ImportForm())


def _participants_page(import_form: ImportForm, report: Any = None, status: int = 200) -> ResponseReturnValue:
    search = SearchForm(request.args)
    found: list[Participant] = []
    total = 0
    if search.validate():
        found, total = search_participants(_services().uow_factory, search.q.data or "")
    services = _services()
    silent = silence_overview(services.uow_factory, services.settings.silence, services.clock.now())
    return render_template("admin_participants.html", search=search, found=found, total=total,
                           import_form=import_form, person_form=PersonForm(formdata=None), report=report,
                           today=_services().clock.now().date(), silent=silent), status if search.errors == {} else 400


@blueprint.post("/import")
@admin_required
def import_csv() -> ResponseReturnValue:
    """Import people from an uploaded CSV with the CLI's rules: good rows saved, bad rows listed by line."""
    form = ImportForm()
    if not form.validate_on_submit():
        return _participants_page(form, status=400)
    upload = form.people.data
    raw = upload.stream.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        form.people.errors = [f"The file is larger than {MAX_UPLOAD // (1024 * 1024)} MB."]
        return _participants_page(form, status=413)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.people.errors = ["The file is not UTF-8 text: save it as “CSV UTF-8” and try again."]
        return _participants_page(form, status=400)
    name = (upload.filename or "people.csv")[:100]
    services = _services()
    try:
        report = import_people(services.uow_factory, text, source=name, clock=services.clock)
    except InputError as error:
        form.people.errors = [str(error)]
        return _participants_page(form, status=400)
    return _participants_page(ImportForm(formdata=None), report=report, status=200 if not report.errors else 422)


def _person_form() -> PersonForm:
    form = PersonForm()
    if not form.validate_on_submit():
        abort(400, "The form was incomplete or has expired: reload the page and try again.")
    return form


def _back() -> ResponseReturnValue:
    query = request.args.get("q", "")[: MAX_QUERY]
    return redirect(url_for("admin.participants", q=query or None), code=303)


@blueprint.post("/people/pause")
@admin_required
def pause() -> ResponseReturnValue:
    """Pause someone until a date (empty: resume them)."""
    form = _person_form()
    services = _services()
    try:
        until = parse_pause_date(form.until.data or "", services.clock.now().date())
        person = pause_participant(services.uow_factory, form.email.data or "", until)
    except NotFoundError as error:
        abort(404, str(error))
    except InputError as error:
        flash(f"Not paused: {error}.")
        return _back()
    flash(f"{person.name} is paused until {until.isoformat()}." if until else f"{person.name} takes part again.")
    return _back()


@blueprint.post("/people/access")
@admin_required
def access() -> ResponseReturnValue:
    """Disable someone's account (signing them out everywhere) or enable it again."""
    form = _person_form()
    if form.action.data not in ("disable", "enable"):
        abort(400, "Choose to disable or to enable.")
    services = _services()
    email = form.email.data or ""
    try:
        accounts.set_disabled(services.uow_factory, services.clock, email, form.action.data == "disable")
    except NotFoundError as error:
        abort(404, str(error))
    flash(f"{email} is disabled and signed out everywhere." if form.action.data == "disable"
          else f"{email} may sign in again (they stay opted out until they opt back in).")
    return _back()


# --- cycles ---------------------------------------------------------------------------------------------------


def _program(name: str) -> Program:
    try:
        return _services().program(name)
    except NotFoundError:
        abort(404, f"There is no program named {name!r} in the configuration.")


@blueprint.get("/cycles")
@admin_required
def cycles() -> ResponseReturnValue:
    """Each program with its latest cycle, a link to preview the next one, and the calendars it could not
    read."""
    services = _services()
    overviews = program_overview(services.uow_factory, services.programs())
    gaps = latest_calendar_gaps(services.uow_factory, services.programs())
    return render_template("admin_cycles.html", overviews=overviews, calendar_gaps=gaps,
                           stored=list_cycles(services.uow_factory))


@blueprint.get("/cycle/<int:cycle_id>")
@admin_required
def cycle(cycle_id: int) -> ResponseReturnValue:
    """One stored cycle: its groups, answers and the people left out; remove or swap people before delivery."""
    return _cycle_page(_load_cycle(cycle_id))


def _load_cycle(cycle_id: int) -> CyclePage:
    try:
        return load_cycle_page(_services().uow_factory, cycle_id)
    except NotFoundError:
        abort(404, f"There is no stored cycle {cycle_id}.")


def _cycle_page(page: CyclePage, swap_form: SwapForm | None = None, problem: str = "",
                status: int = 200) -> ResponseReturnValue:
    form = (swap_form or SwapForm(formdata=None)).with_people(page.swappable)
    return render_template("admin_cycle.html", page=page, remove_form=RemoveForm(formdata=None), swap_form=form,
                           problem=problem), status


def _refusal(page: CyclePage, error: InputError, what: str, swap_form: SwapForm | None = None
             ) -> ResponseReturnValue:
    """The cycle page again with why the change was refused (409: the cycle cannot change so; 400: bad input)."""
    text = str(error).removeprefix(f"{error.where}: ") if error.where else str(error)
    return _cycle_page(page, swap_form, f"{what}: {text}.", 409 if isinstance(error, ChangeRefused) else 400)


def _changed(cycle_id: int, summary: str) -> ResponseReturnValue:
    # Nothing is sent here: the new announcements and notices wait in the outbox for the next delivery run.
    flash(f"{summary} The emails wait in the outbox until the next delivery run (`coffeechat tick` or "
          "`coffeechat deliver`) sends them.")
    return redirect(url_for("admin.cycle", cycle_id=cycle_id), code=303)


@blueprint.post("/cycle/<int:cycle_id>/remove")
@admin_required
def remove_from_cycle(cycle_id: int) -> ResponseReturnValue:
    """Take one person out of their group, before the cycle's delivery has begun."""
    page = _load_cycle(cycle_id)
    form = RemoveForm()
    if not form.validate_on_submit():
        return _cycle_page(page, problem="Nobody was removed: choose whom to remove from the list.", status=400)
    services = _services()
    try:
        change = remove_member(services.uow_factory, services.clock, services.settings, cycle_id,
                               form.email.data or "")
    except NotFoundError:
        abort(404, f"There is no stored cycle {cycle_id}.")
    except InputError as error:
        return _refusal(_load_cycle(cycle_id), error, "Nobody was removed")
    return _changed(cycle_id, change.summary)


@blueprint.post("/cycle/<int:cycle_id>/swap")
@admin_required
def swap_in_cycle(cycle_id: int) -> ResponseReturnValue:
    """Swap two people of the cycle (two groups, or a group and the people left out), before delivery."""
    page = _load_cycle(cycle_id)
    form = SwapForm().with_people(page.swappable)
    if not form.validate_on_submit():
        return _cycle_page(page, form, "Nobody was swapped: choose two people of this cycle.", status=400)
    services = _services()
    try:
        change = swap_members(services.uow_factory, services.clock, services.settings, cycle_id,
                              form.first.data or "", form.second.data or "")
    except NotFoundError:
        abort(404, f"There is no stored cycle {cycle_id}.")
    except InputError as error:
        return _refusal(_load_cycle(cycle_id), error, "Nobody was swapped", form)
    return _changed(cycle_id, change.summary)


@blueprint.get("/cycles/<path:name>")
@admin_required
def preview(name: str) -> ResponseReturnValue:
    """A dry run of the program's next cycle: nothing is stored or sent."""
    program = _program(name)
    services = _services()
    result = preview_cycle(services.uow_factory, services.calendar, services.clock, program,
                                 services.settings)
    return render_template("admin_preview.html", preview=result, form=ButtonForm(), share=share)


@blueprint.post("/cycles/<path:name>/run")
@admin_required
def run(name: str) -> ResponseReturnValue:
    """Plan and store the program's next cycle; the outbox relay then sends its invites."""
    program = _program(name)
    if not ButtonForm().validate_on_submit():
        abort(400, "The form has expired: reload the page and try again.")
    services = _services()
    outcome = run_cycle(services.uow_factory, services.calendar, services.clock, program, services.settings)
    cycle = outcome.cycle
    if outcome.nobody_eligible:
        flash(f"Nobody is eligible for the next {program.name} cycle yet: nothing was stored, so people who join "
              "before it begins are planned when it runs.")
    elif outcome.already_planned or cycle is None:
        flash(f"The {program.name} cycle for that week was already planned: nothing new was planned.")
    else:
        groups = len(outcome.plan.meetings) if outcome.plan else 0
        # Nothing is sent here: the effects wait in the outbox for the next `tick` or `deliver` run.
        flash(f"Cycle {cycle.id} of {program.name} is planned with {groups} groups: its invites wait in the outbox "
              "below until the next delivery run (`coffeechat tick` or `coffeechat deliver`) sends them.")
    return redirect(url_for("admin.deliveries"), code=303)


# --- deliveries -----------------------------------------------------------------------------------------------


@blueprint.get("/deliveries")
@admin_required
def deliveries() -> ResponseReturnValue:
    """Outbox effects by cycle and state; the dead ones with their errors and a requeue button."""
    rows, dead = delivery_overview(_services().uow_factory)
    return render_template("admin_deliveries.html", rows=rows, dead=dead, form=RequeueForm(formdata=None),
                           states=("pending", "in_flight", "done", "dead", "superseded"))


@blueprint.post("/deliveries/requeue")
@admin_required
def requeue() -> ResponseReturnValue:
    """Give a dead effect another round of attempts, due now."""
    form = RequeueForm()
    if not form.validate_on_submit():
        abort(400, "The form was incomplete or has expired: reload the page and try again.")
    services = _services()
    key = form.key.data or ""
    try:
        requeue_effect(services.uow_factory, services.clock, key)
    except NotFoundError as error:
        abort(404, str(error))
    except StorageError as error:
        # requeue says StorageError for an effect that is not dead (any more): a stale page, not an outage.
        flash(f"Not requeued: {error}")
        return redirect(url_for("admin.deliveries"), code=303)
    flash(f"Requeued {key}: the delivery worker tries it again now.")
    return redirect(url_for("admin.deliveries"), code=303)


# --- programs and analytics -----------------------------------------------------------------------------------


@blueprint.get("/programs")
@admin_required
def programs() -> ResponseReturnValue:
    """Each program's cadence, kind, group size, rules and weights as it runs, with what the site changed."""
    services = _services()
    all_sheets = program_sheets(services.uow_factory, services.config.programs)
    sheets = [(sheet, program_settings(sheet.program), program_weights(sheet.program)) for sheet in all_sheets]
    audiences = {audience.program.name: audience for audience in program_audiences(
        services.uow_factory, [sheet.program for sheet in all_sheets], services.clock.now().date())}
    return render_template("admin_programs.html", sheets=sheets, audiences=audiences,
                           config_path=services.config.path)


@blueprint.get("/audiences/<path:name>")
@admin_required
def audience(name: str) -> ResponseReturnValue:
    """Who is in one program's audience, who joined or left it, and whom its next cycle would plan."""
    services = _services()
    program = next((p for p in services.programs() if p.name == name), None)
    if program is None:
        abort(404, f"There is no program named {name!r} in the configuration.")
    (found,) = program_audiences(services.uow_factory, [program], services.clock.now().date())
    return render_template("admin_audience.html", audience=found)


@blueprint.route("/programs/<path:name>", methods=["GET", "POST"])
@admin_required
def program(name: str) -> ResponseReturnValue:
    """Change one program's settings (stored over the configuration file), or put it back as the file says."""
    services = _services()
    sheet = next((s for s in program_sheets(services.uow_factory, services.config.programs)
                  if s.program.name == name), None)
    if sheet is None:
        abort(404, f"There is no program named {name!r} in the configuration.")
    if request.method == "POST" and request.form.get("action") == "reset":
        # Putting it back needs only the CSRF token: the settings typed into the form do not matter.
        if not ButtonForm().validate_on_submit():
            abort(400, "The form has expired: reload the page and try again.")
        reset_program(services.uow_factory, services.config.programs, name)
        flash(f"{name} runs as the configuration file says again.")
        return redirect(url_for("admin.programs"), code=303)
    form = ProgramForm.for_program(sheet.program)
    if request.method == "GET":
        return _program_page(sheet, form)
    if not form.validate_on_submit():
        return _program_page(sheet, form, status=400)
    viewer = current_viewer()
    try:
        change_program(services.uow_factory, services.config.programs, name, form.wanted(),
                       by=viewer.email if viewer else "", at=services.clock.now())
    except InputError as error:
        field = form.field_named(error.where)
        if field is None:
            form.form_errors.append(str(error))
        else:
            form[field].errors = [*form[field].errors, str(error).removeprefix(f"{error.where}: ")]
        return _program_page(sheet, form, status=400)
    flash(f"{name} is changed: its next cycle uses the new settings.")
    return redirect(url_for("admin.programs"), code=303)


def _program_page(sheet: ProgramSheet, form: ProgramForm, status: int = 200) -> ResponseReturnValue:
    return render_template("admin_program.html", sheet=sheet, form=form, weight_prefix=WEIGHT_PREFIX,
                           editable=EDITABLE, flags=EDITABLE_FLAGS, weight_names=WEIGHT_NAMES,
                           audience_prefix=AUDIENCE_PREFIX, audience_names=AUDIENCE_NAMES,
                           config_path=_services().config.path), status


@blueprint.get("/analytics")
@admin_required
def analytics() -> ResponseReturnValue:
    """The heatmap of meetings between departments and the rates of each cycle, as SVG with tables."""
    figures = compute_analytics(_services().uow_factory)
    labels = [row.label for row in figures.cycles]
    rates = bar_chart_svg(
        "Participation and “we met” by cycle",
        "For each cycle, oldest first: the share of its people placed in a group, and the share of answered "
        "meetings that took place. The same figures follow as a table.",
        labels, [Series("placed in a group", ACCENT, [r.participation for r in figures.cycles]),
                 Series("said “we met”", "#2f6b3a", [r.met_rate for r in figures.cycles])],
        chart_id="rates", percent=True)
    connections = bar_chart_svg(
        "New cross-team connections by cycle",
        "For each cycle, oldest first: pairs of people from different teams who had never been grouped before. "
        "The same figures follow as a table.",
        labels, [Series("new connections", "#1d5fbf", [float(r.new_connections) for r in figures.cycles])],
        chart_id="connections")
    return render_template("admin_analytics.html", figures=figures, heatmap=heatmap_svg(figures.heatmap),
                           rates=rates, connections=connections, ratings=program_ratings(_services().uow_factory))
