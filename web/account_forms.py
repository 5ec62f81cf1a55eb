"""The forms of the account pages (Flask-WTF: each carries and checks a CSRF token), in the sign-up form's style:
a visible label, errors in plain words next to the field, and what was typed kept."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, HiddenField, RadioField, SelectField, StringField
from wtforms.validators import Length, ValidationError

from scheduler.accounts.profile import MAX_URL_LENGTH, ProfileChange
from scheduler.model import CalendarSource, Person, WorkingHours, normalize_email
from web.forms import (
    KIND_CHOICES,
    CheckboxesField,
    MeetingPreferenceChecks,
    choice_list,
    list_of_addresses,
    list_of_names,
    plain_text,
    split_list,
    strip_text,
    text_field,
    zone_choices,
    zone_names,
)

_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
DAY_CHOICES = (("0", "Monday"), ("1", "Tuesday"), ("2", "Wednesday"), ("3", "Thursday"), ("4", "Friday"),
               ("5", "Saturday"), ("6", "Sunday"))


def _clock_time(text: str | None) -> time | None:
    """``HH:MM`` as a time, or ``None`` when ``text`` is not one."""
    text = (text or "").strip()
    return time.fromisoformat(text) if _CLOCK.fullmatch(text) else None


def _time_field(label: str, description: str = "") -> StringField:
    field = text_field(label, description=description)
    field.kwargs["render_kw"] = {"type": "time", "class": "short"}
    return field


class ProfileForm(MeetingPreferenceChecks, FlaskForm):
    """Profile and preferences."""

    name = text_field("Your name", required="Enter your name.")
    team = text_field("Team", required="Enter your team: you are never paired with your own team.")
    department = text_field("Department (optional)")
    office = text_field("Office (optional)", description="Needed to meet in person: people meet in their own office.")
    timezone = SelectField("Time zone", default="UTC", validate_choice=False,
                           description="Meeting times are found in your working hours in this zone.")
    work_days = CheckboxesField("Working days", default=["0", "1", "2", "3", "4"], validate_choice=False,
                                choices=choice_list(*DAY_CHOICES))
    work_start = _time_field("Working hours start", "Like 09:00, in your time zone.")
    work_end = _time_field("Working hours end", "Like 17:00.")
    lunch_start = _time_field("Lunch starts (optional)", "Leave both lunch times empty for your office's hours.")
    lunch_end = _time_field("Lunch ends (optional)")
    kinds = CheckboxesField("I would like to meet for", default=["coffee"], validate_choice=False,
                            choices=KIND_CHOICES)
    mode = RadioField("Meet", default="either", validate_choice=False,
                      choices=choice_list(("either", "In person or online"), ("in_person", "In person only"),
                                       ("virtual", "Online only")))
    cadence = RadioField("How often", default="weekly", validate_choice=False,
                         choices=choice_list(("weekly", "Every week"), ("fortnightly", "Every two weeks"),
                                          ("monthly", "Every four weeks")))
    interests = text_field("Interests (optional)", description="Separated by commas, like: climbing, jazz, chess.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = list(zone_choices())

    @classmethod
    def of(cls, person: Person) -> ProfileForm:
        """The form filled in with ``person``'s stored profile (what a GET shows)."""
        hours = person.working_hours
        return cls(data={
            "name": person.name, "team": person.team, "department": person.department, "office": person.office,
            "timezone": person.timezone, "work_days": [str(day) for day in sorted(hours.days)],
            "work_start": f"{hours.start:%H:%M}", "work_end": f"{hours.end:%H:%M}",
            "lunch_start": f"{person.lunch[0]:%H:%M}" if person.lunch else "",
            "lunch_end": f"{person.lunch[1]:%H:%M}" if person.lunch else "",
            "kinds": sorted(person.kinds), "mode": person.mode, "cadence": person.cadence,
            "interests": ", ".join(sorted(person.interests)),
        })

    def validate_timezone(self, field: Field) -> None:
        """One of the offered zones."""
        if field.data not in zone_names():
            raise ValidationError("Choose a time zone from the list.")

    def validate_work_days(self, field: Field) -> None:
        """At least one day, each one of the week's."""
        chosen = field.data or []
        if not chosen or not set(chosen) <= {value for value, _ in DAY_CHOICES}:
            raise ValidationError("Choose the days you work, at least one.")

    def validate_work_start(self, field: Field) -> None:
        """A time of day."""
        if _clock_time(field.data) is None:
            raise ValidationError("Give a time like 09:00.")

    def validate_work_end(self, field: Field) -> None:
        """A time of day after the start."""
        end, start = _clock_time(field.data), _clock_time(self.work_start.data)
        if end is None:
            raise ValidationError("Give a time like 17:00.")
        if start is not None and end <= start:
            raise ValidationError("Working hours must end after they start.")

    def validate_lunch_start(self, field: Field) -> None:
        """Empty, or a time of day (with an end)."""
        if (field.data or "").strip() and _clock_time(field.data) is None:
            raise ValidationError("Give a time like 12:00, or leave it empty.")
        if bool((field.data or "").strip()) != bool((self.lunch_end.data or "").strip()):
            raise ValidationError("Give both lunch times, or neither.")

    def validate_lunch_end(self, field: Field) -> None:
        """Empty, or a time of day after the lunch start."""
        if not (field.data or "").strip():
            return
        end, start = _clock_time(field.data), _clock_time(self.lunch_start.data)
        if end is None:
            raise ValidationError("Give a time like 13:00, or leave it empty.")
        if start is not None and end <= start:
            raise ValidationError("Lunch must end after it starts.")

    validate_interests = list_of_names

    def to_change(self) -> ProfileChange:
        """The validated form as the profile service takes it."""
        lunch_start, lunch_end = _clock_time(self.lunch_start.data), _clock_time(self.lunch_end.data)
        return ProfileChange(
            name=self.name.data or "", team=self.team.data or "", department=self.department.data or "",
            office=self.office.data or "", timezone=self.timezone.data or "UTC",
            working_hours=WorkingHours(frozenset(int(day) for day in self.work_days.data or ()),
                                       _clock_time(self.work_start.data) or time(9),
                                       _clock_time(self.work_end.data) or time(17)),
            lunch=(lunch_start, lunch_end) if lunch_start and lunch_end else None,
            kinds=frozenset(self.kinds.data or ()), mode=self.mode.data or "either",
            cadence=self.cadence.data or "weekly",
            interests=frozenset(entry.lower() for entry in split_list(self.interests.data or "")),
        )


class WishesForm(FlaskForm):
    """Whom I would like to meet, and whom never."""

    meet_people = text_field("People you would like to meet", description="Their work email addresses, separated by "
                        "commas.")
    meet_teams = text_field("Teams you would like to meet", description="Separated by commas.")
    meet_departments = text_field("Departments you would like to meet", description="Separated by commas.")
    blocked = text_field("People you never want to be paired with", description="Their work email addresses, "
                    "separated by commas. They are not told.")

    @classmethod
    def of(cls, person: Person) -> WishesForm:
        """The form filled in with ``person``'s stored lists."""
        def named(prefix: str) -> str:
            return ", ".join(sorted(entry[len(prefix):] for entry in person.wishlist if entry.startswith(prefix)))

        people = sorted(entry for entry in person.wishlist if not entry.startswith(("team:", "department:")))
        return cls(data={"meet_people": ", ".join(people), "meet_teams": named("team:"),
                         "meet_departments": named("department:"), "blocked": ", ".join(sorted(person.blocked))})

    validate_meet_people = list_of_addresses
    validate_meet_teams = list_of_names
    validate_meet_departments = list_of_names
    validate_blocked = list_of_addresses

    def wishlist(self) -> frozenset[str]:
        """The wishlist as stored: addresses, ``team:NAME``, ``department:NAME``."""
        wishes = {normalize_email(address) for address in split_list(self.meet_people.data or "")}
        wishes |= {f"team:{name}" for name in split_list(self.meet_teams.data or "")}
        wishes |= {f"department:{name}" for name in split_list(self.meet_departments.data or "")}
        return frozenset(wishes)

    def blocked_addresses(self) -> frozenset[str]:
        """The block list as stored: normalised addresses."""
        return frozenset(normalize_email(address) for address in split_list(self.blocked.data or ""))


class PauseForm(FlaskForm):
    """Pause until a date, or end the pause."""

    until = text_field("Pause until", description="No cycle starting before this day pairs you.")
    action = HiddenField(default="pause")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.until.render_kw = {"type": "date"}

    def validate_until(self, field: Field) -> None:
        """A date like 2026-12-24 (only when pausing)."""
        if self.action.data == "resume":
            return
        try:
            date.fromisoformat((field.data or "").strip())
        except ValueError:
            raise ValidationError("Give a date like 2026-12-24.") from None

    def validate_action(self, field: Field) -> None:
        """Pause or resume."""
        if field.data not in {"pause", "resume"}:
            raise ValidationError("Choose to pause or to resume.")

    def day(self) -> date | None:
        """The day to pause until, or ``None`` to resume."""
        return None if self.action.data == "resume" else date.fromisoformat((self.until.data or "").strip())


class ParticipationForm(FlaskForm):
    """Leave Coffee Chat, or come back."""

    action = HiddenField()

    def validate_action(self, field: Field) -> None:
        """Leave or rejoin."""
        if field.data not in {"leave", "rejoin"}:
            raise ValidationError("Choose to leave or to come back.")


class CalendarForm(FlaskForm):
    """Where my free/busy comes from."""

    kind = RadioField("My calendar", default="none", validate_choice=False, choices=choice_list(
        ("none", "The organisation's calendar (or none: you are planned on your working hours)"),
        ("ics", "A calendar feed (ICS) at a web address"),
        ("caldav", "A CalDAV calendar collection")))
    url = StringField("Calendar address", filters=[strip_text], validators=[
        Length(max=MAX_URL_LENGTH, message=f"Keep it under {MAX_URL_LENGTH} characters."), plain_text],
        description="An http:// or https:// address, for a feed or a CalDAV collection. Only the times you are "
                    "busy are read, never titles or guests.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url.render_kw = {"type": "url", "inputmode": "url"}

    @classmethod
    def of(cls, source: CalendarSource) -> CalendarForm:
        """The form filled in with the stored source."""
        return cls(data={"kind": source.kind if source.kind in ("none", "ics", "caldav") else "none",
                         "url": source.location if source.kind in ("ics", "caldav") else ""})

    def validate_kind(self, field: Field) -> None:
        """One of the offered kinds."""
        if field.data not in {"none", "ics", "caldav"}:
            raise ValidationError("Choose one of the offered calendars.")


class CheckCalendarForm(FlaskForm):
    """The "check my calendar" button."""


class DeleteForm(FlaskForm):
    """Delete my account, confirmed by typing my address."""

    confirm = text_field("Type your email address to confirm", required="Type your email address to confirm.")

    def __init__(self, *args: Any, email: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def validate_confirm(self, field: Field) -> None:
        """Exactly the signed-in address (any case)."""
        if (field.data or "").strip().lower() != self.email.lower():
            raise ValidationError("This is not your email address: type it exactly to confirm.")



class ProgramChoiceForm(FlaskForm):
    """Join or leave one program (its name in ``program``)."""

    program = HiddenField()
    action = HiddenField()

    def validate_action(self, field: Field) -> None:
        """Join or leave."""
        if field.data not in {"join", "leave"}:
            raise ValidationError("Choose to join or to leave the program.")

    def validate_program(self, field: Field) -> None:
        """A program's name is given."""
        if not (field.data or "").strip():
            raise ValidationError("Choose a program.")
