"""The account forms (Flask-WTF, so each carries and checks a CSRF token) and their checks, in plain words."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import Field, HiddenField, RadioField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.fields import EmailField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from scheduler.accounts.access import SignUpRequest, check_work_email, has_control_characters
from scheduler.errors import InputError
from scheduler.model import normalize_email

MAX_TEXT = 200
MAX_LIST_ITEMS = 20
MAX_ITEM = 60


def strip_text(value: Any) -> Any:
    """A field filter: ``value`` without surrounding white space when it is text, else as it is."""
    return value.strip() if isinstance(value, str) else value


def plain_text(form: FlaskForm, field: Field) -> None:
    """Refuse control characters (NUL, line breaks, escapes) in a one-line field."""
    if isinstance(field.data, str) and has_control_characters(field.data):
        raise ValidationError("Remove the special characters (such as line breaks or tabs) from this field.")


def split_list(text: str) -> list[str]:
    """The comma-separated entries of ``text``, stripped, empty ones dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


def list_of_names(form: FlaskForm, field: Field) -> None:
    """A comma-separated list of short names: not too many, none too long, no ``;`` (the CSV list separator)."""
    entries = split_list(field.data or "")
    if len(entries) > MAX_LIST_ITEMS:
        raise ValidationError(f"Give at most {MAX_LIST_ITEMS}, separated by commas.")
    for entry in entries:
        if len(entry) > MAX_ITEM:
            raise ValidationError(f"Keep each one under {MAX_ITEM} characters: “{entry[:20]}…” is longer.")
        if ";" in entry:
            raise ValidationError("Separate them with commas, not semicolons.")


def list_of_addresses(form: FlaskForm, field: Field) -> None:
    """A comma-separated list of email addresses: not too many, each a plain address."""
    entries = split_list(field.data or "")
    if len(entries) > MAX_LIST_ITEMS:
        raise ValidationError(f"Give at most {MAX_LIST_ITEMS} addresses, separated by commas.")
    for entry in entries:
        try:
            check_work_email(entry)
        except InputError:
            raise ValidationError(f"“{entry[:60]}” is not an email address like name@example.com.") from None


@functools.cache
def zone_names() -> frozenset[str]:
    """Every IANA time zone of a region (``Europe/London``), plus UTC."""
    return frozenset(name for name in zoneinfo.available_timezones()
                     if "/" in name and not name.startswith(("Etc/", "SystemV/", "US/", "posix", "right"))) | {"UTC"}


@functools.cache
def zone_choices() -> tuple[SelectChoice, ...]:
    """The time zones as options, UTC first, then by name."""
    return (SelectChoice("UTC"), *(SelectChoice(name, name.replace("_", " "))
                                   for name in sorted(zone_names() - {"UTC"})))


@functools.cache
def _zone_options_html() -> str:
    return "".join(f'<option value="{escape(choice.value)}">{escape(choice.label)}</option>'
                   for choice in zone_choices())


def zone_options(selected: str | None) -> Markup:
    """The ``<option>`` elements of the time zone list with ``selected`` marked. Built once and reused:
    WTForms would render some 600 options anew on every sign-up page, which costs more than the rest of it."""
    options = _zone_options_html()
    if selected and selected in zone_names():
        plain = f'<option value="{escape(selected)}">'
        options = options.replace(plain, f'<option selected value="{escape(selected)}">', 1)
    return Markup(options)  # noqa: S704 - every value and label above went through escape()


def choice_list(*pairs: tuple[str, str]) -> list[SelectChoice]:
    """The options of a choice field, from ``(value, label)`` pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def text_field(label: str, *, required: str | None = None, description: str = "") -> StringField:
    """A one-line text field, stripped, under ``MAX_TEXT`` characters and free of control characters; with
    ``required``, the message shown when it is left empty."""
    validators: list[Any] = [InputRequired(required)] if required else []
    validators += [Length(max=MAX_TEXT, message=f"Keep it under {MAX_TEXT} characters."), plain_text]
    return StringField(label, validators=validators, filters=[strip_text], description=description)


# The meeting kinds a person may choose on the sign-up and profile forms.
KIND_CHOICES = choice_list(("coffee", "Coffee"), ("lunch", "Lunch"),
                           ("dinner", "Dinner (an evening, in person at your office)"))


class MeetingPreferenceChecks:
    """The checks of the "how would you like to meet" fields, shared by the sign-up and profile forms (WTForms
    runs ``validate_<field>`` methods found on the form class, so a mixin supplies them to both)."""

    office: Field
    mode: Field

    def validate_kinds(self, field: Field) -> None:
        """Coffee, lunch, dinner, at least one; dinner is in person, at the person's office."""
        chosen = field.data or []
        if not chosen or not set(chosen) <= {"coffee", "lunch", "dinner"}:
            raise ValidationError("Choose at least one of coffee, lunch and dinner.")
        if "dinner" in chosen and self.mode.data == "virtual":
            raise ValidationError("Dinner is in person: choose a way to meet that includes in person, or leave "
                                  "dinner out.")
        if "dinner" in chosen and not (self.office.data or "").strip():
            raise ValidationError("Dinner is at your office: enter your office above, or leave dinner out.")

    def validate_mode(self, field: Field) -> None:
        """One of the offered ways; in person needs an office."""
        if field.data not in {"either", "in_person", "virtual"}:
            raise ValidationError("Choose how you would like to meet.")
        if field.data == "in_person" and not (self.office.data or "").strip():
            raise ValidationError("To meet in person only, enter your office above.")

    def validate_cadence(self, field: Field) -> None:
        """One of the offered cadences."""
        if field.data not in {"weekly", "fortnightly", "monthly"}:
            raise ValidationError("Choose how often you would like to meet.")


class SignUpForm(MeetingPreferenceChecks, FlaskForm):
    """Join Coffee Chat."""

    name = text_field("Your name", required="Enter your name.")
    email = EmailField("Work email", filters=[strip_text], validators=[
        InputRequired("Enter your work email address."), plain_text])
    team = text_field("Team", required="Enter your team: you are never paired with your own team.")
    department = text_field("Department (optional)")
    office = text_field("Office (optional)", description="Needed to meet in person: people meet in their own office.")
    timezone = SelectField("Time zone", default="UTC", validate_choice=False,
                           description="Meeting times are found in your working hours in this zone.")
    kinds = CheckboxesField("I would like to meet for", default=["coffee"], validate_choice=False,
                            choices=KIND_CHOICES)
    mode = RadioField("Meet", default="either", validate_choice=False,
                      choices=choice_list(("either", "In person or online"), ("in_person", "In person only"),
                                       ("virtual", "Online only")))
    cadence = RadioField("How often", default="weekly", validate_choice=False,
                         choices=choice_list(("weekly", "Every week"), ("fortnightly", "Every two weeks"),
                                          ("monthly", "Every four weeks")))
    interests = text_field("Interests (optional)", description="Separated by commas, like: climbing, jazz, chess.")
    meet_people = text_field("People you would like to meet (optional)",
                        description="Their work email addresses, separated by commas.")
    meet_teams = text_field("Teams you would like to meet (optional)", description="Separated by commas.")
    meet_departments = text_field("Departments you would like to meet (optional)", description="Separated by commas.")

    def __init__(self, *args: Any, allowed_domains: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_domains = allowed_domains
        self.timezone.choices = list(zone_choices())

    def validate_email(self, field: Field) -> None:
        """A plain address in one of the allowed domains."""
        if len(field.data or "") > MAX_TEXT:
            raise ValidationError("This is too long for an email address.")
        try:
            check_work_email(field.data or "", self.allowed_domains)
        except InputError as exc:
            raise ValidationError(str(exc).removeprefix("email: ")) from None

    def validate_timezone(self, field: Field) -> None:
        """One of the offered zones."""
        if field.data not in zone_names():
            raise ValidationError("Choose a time zone from the list.")


    validate_interests = list_of_names
    validate_meet_teams = list_of_names
    validate_meet_departments = list_of_names
    validate_meet_people = list_of_addresses

    def to_request(self) -> SignUpRequest:
        """The validated form as the sign-up service takes it."""
        wishlist = {normalize_email(address) for address in split_list(self.meet_people.data or "")}
        wishlist |= {f"team:{name}" for name in split_list(self.meet_teams.data or "")}
        wishlist |= {f"department:{name}" for name in split_list(self.meet_departments.data or "")}
        return SignUpRequest(
            email=self.email.data or "",
            name=self.name.data or "",
            team=self.team.data or "",
            department=self.department.data or "",
            office=self.office.data or "",
            timezone=self.timezone.data or "UTC",
            kinds=frozenset(self.kinds.data or ()),
            mode=self.mode.data or "either",
            cadence=self.cadence.data or "weekly",
            interests=frozenset(entry.lower() for entry in split_list(self.interests.data or "")),
            wishlist=frozenset(wishlist),
        )


class SignInForm(FlaskForm):
    """Ask for a sign-in link."""

    email = EmailField("Work email", filters=[strip_text], validators=[
        InputRequired("Enter your work email address."), plain_text])
    next = HiddenField(filters=[strip_text])

    def __init__(self, *args: Any, allowed_domains: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allowed_domains = allowed_domains

    def validate_email(self, field: Field) -> None:
        """A plain address in one of the allowed domains."""
        if len(field.data or "") > MAX_TEXT:
            raise ValidationError("This is too long for an email address.")
        try:
            check_work_email(field.data or "", self.allowed_domains)
        except InputError as exc:
            raise ValidationError(str(exc).removeprefix("email: ")) from None


class ConfirmForm(FlaskForm):
    """The button behind an emailed link (CSRF token only: the link's token is in the URL)."""


class SignOutForm(FlaskForm):
    """The sign-out button."""
