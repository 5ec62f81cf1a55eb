"""The admin's form for one program's settings: cadence, kind, group size, duration, rules and weights.

Its fields are made from ``scheduler.programs.settings`` (which settings may change and in which ranges) and from
``Weights`` (one number per weight), so a weight added to the model shows up here without a change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    Field,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, NumberRange, StopValidation

from scheduler.model import Program
from scheduler.programs import settings as programs

LABELS = {
    "kind": "Kind of meeting",
    "cadence": "How often",
    "group_size": "People per group",
    "duration_minutes": "Length of a meeting (minutes)",
    "cooldown_cycles": "Cycles before two people may meet again",
    "meeting_mode": "Where people meet",
    "window_days": "Days in a cycle's planning window",
    "min_notice_hours": "Least notice before a meeting (hours)",
    "buffer_minutes": "Free time kept around a meeting (minutes)",
    "relax": "When the rules leave someone without a partner",
    "tentative_busy": "Tentative events count as busy",
    "once_per_window": "Never pair two people another program already pairs in the same week",
    "opt_in": "Only people who join the program on their account page take part",
    "video_link": "Video link of virtual meetings",
}
AUDIENCE_PREFIX = "audience_"
AUDIENCE_LABELS = {
    "offices": "Offices",
    "departments": "Departments",
    "teams": "Teams",
    "roles": "Roles",
    "emails": "Invited people (email addresses)",
}
CHOICE_LABELS = {
    "kind": {"coffee": "Coffee", "lunch": "Lunch", "dinner": "Dinner (evenings, in person)"},
    "cadence": {"weekly": "Every week", "fortnightly": "Every two weeks", "monthly": "Every month"},
    "meeting_mode": {"virtual": "A video call", "in_person": "In person", "either": "Either, as people prefer"},
    "relax": {"never": "Leave them out and tell them why",
              "cooldown": "Let them meet someone they met recently",
              "cooldown_then_team": "Recently met, then even a teammate, as a last resort"},
}
WEIGHT_HINTS = {
    "different_department": "partners from different departments",
    "different_office": "partners from different offices (virtual meetings)",
    "never_met": "people who have never met (less the more recently they met)",
    "shared_interest": "each interest both share",
    "common_slots": "much common free time",
    "timezone_overlap": "a large overlap of working hours across time zones",
    "wishlist": "someone asked to meet this person, team or department",
    "no_shared_manager": "partners who do not report to the same manager",
    "seniority_mix": "different levels (for mentoring programs)",
}
WEIGHT_PREFIX = "weight_"


def _parsed(message: str) -> Callable[[FlaskForm, Field], None]:
    """A check that puts ``message`` in place of WTForms' own words ("Not a valid integer value.") when the
    text is not a number, and stops there (the range check would add a second, confusing message)."""

    def check(form: FlaskForm, field: Field) -> None:
        if field.process_errors:
            field.errors.clear()
            raise StopValidation(message)

    return check


def _choices(name: str) -> list[SelectChoice]:
    """The options of the setting ``name``, each with its label in words."""
    return [SelectChoice(value, label) for value, label in CHOICE_LABELS[name].items()]


def _whole(name: str, description: str = "") -> IntegerField:
    """A whole-number field for the setting ``name``, in its range from ``scheduler.programs.settings``."""
    low, high = programs.EDITABLE_NUMBERS[name]
    return IntegerField(LABELS[name], description=description,
                        validators=[InputRequired("Give a whole number."),
                                    _parsed(f"Give a whole number from {low} to {high}."),
                                    NumberRange(low, high, f"Give a number from {low} to {high}.")],
                        render_kw={"min": low, "max": high})


class ProgramForm(FlaskForm):
    """One program's settings (weight fields are added below, one per weight)."""

    kind = SelectField(LABELS["kind"], choices=_choices("kind"))
    cadence = SelectField(LABELS["cadence"], choices=_choices("cadence"))
    group_size = _whole("group_size", "2: pairs (an odd person joins a trio); 3 or 4: lunch groups.")
    duration_minutes = _whole("duration_minutes")
    cooldown_cycles = _whole("cooldown_cycles", "Two people who met within this many cycles are never paired "
                             "again; 0 allows repeats.")
    meeting_mode = SelectField(LABELS["meeting_mode"], choices=_choices("meeting_mode"))
    window_days = _whole("window_days")
    min_notice_hours = _whole("min_notice_hours")
    buffer_minutes = _whole("buffer_minutes")
    relax = SelectField(LABELS["relax"], choices=_choices("relax"))
    tentative_busy = BooleanField(LABELS["tentative_busy"])
    once_per_window = BooleanField(LABELS["once_per_window"])
    opt_in = BooleanField(LABELS["opt_in"])
    video_link = StringField(LABELS["video_link"], description=(
        "Empty: the invite says “Video call”. A fixed room such as https://meet.example.org/coffee-room, or one "
        "link per meeting with {uid} (the invite's UID, coffeechat-meeting-42) or {id} (the meeting's number, "
        "42), such as https://meet.example.org/coffee-{uid}. Only for invites sent by email."),
        filters=[lambda text: text.strip() if isinstance(text, str) else text])

    @classmethod
    def for_program(cls, program: Program, **kwargs: Any) -> ProgramForm:
        """The form filled in with ``program``'s settings (a submitted form's values win over them)."""
        values = {name: getattr(program, name) for name in programs.EDITABLE}
        values |= {WEIGHT_PREFIX + name: getattr(program.weights, name) for name in programs.WEIGHT_NAMES}
        values |= {AUDIENCE_PREFIX + name: "\n".join(sorted(getattr(program.audience, name), key=str.casefold))
                   for name in programs.AUDIENCE_NAMES}
        return cls(data=values, **kwargs)

    def wanted(self) -> dict[str, object]:
        """The settings as submitted, in ``scheduler.programs.settings``'s terms (weights under ``"weights"``)."""
        settings: dict[str, object] = {name: self[name].data for name in programs.EDITABLE}
        settings["weights"] = {name: float(self[WEIGHT_PREFIX + name].data) for name in programs.WEIGHT_NAMES}
        settings["audience"] = {name: _lines(self[AUDIENCE_PREFIX + name].data, commas=name == "emails")
                                for name in programs.AUDIENCE_NAMES}
        return settings

    def field_named(self, where: str | None) -> str | None:
        """The form field of a ``scheduler.programs.settings`` setting name (``weights.never_met``), if there is one."""
        if where is None:
            return None
        name = WEIGHT_PREFIX + where.removeprefix("weights.") if where.startswith("weights.") else where
        if where.startswith("audience."):
            name = AUDIENCE_PREFIX + where.removeprefix("audience.")
        return name if name in self else None


def _add_weight_fields() -> None:
    """One number field per weight of ``Weights`` (WTForms reads a form's fields from its class)."""
    low, high = programs.WEIGHT_RANGE
    for name in programs.WEIGHT_NAMES:
        setattr(ProgramForm, WEIGHT_PREFIX + name, DecimalField(
            name.replace("_", " ").capitalize(), places=None,
            description=f"More wanted: {WEIGHT_HINTS.get(name, name.replace('_', ' '))}.",
            validators=[InputRequired("Give a number (0 switches this rule off)."),
                        _parsed(f"Give a number from {low:g} to {high:g}, such as 2.5."),
                        NumberRange(low, high, f"Give a number from {low:g} to {high:g}.")],
            render_kw={"step": "any", "inputmode": "decimal"}))


_add_weight_fields()


def _lines(text: str | None, *, commas: bool = False) -> list[str]:
    """The entries of a list typed one per line (with ``commas``, commas and semicolons separate entries too:
    addresses never hold them, while an office's name might)."""
    text = text or ""
    if commas:
        text = text.replace(";", "\n").replace(",", "\n")
    return [entry.strip() for entry in text.splitlines() if entry.strip()]


def _add_audience_fields() -> None:
    """One text area per list of ``Audience``, one entry per line."""
    for name in programs.AUDIENCE_NAMES:
        setattr(ProgramForm, AUDIENCE_PREFIX + name, TextAreaField(
            AUDIENCE_LABELS.get(name, name.capitalize()), render_kw={"rows": 3},
            description="One per line." if name != "emails" else
            "One per line: these people are in the audience whatever their office, department, team or role."))


_add_audience_fields()
