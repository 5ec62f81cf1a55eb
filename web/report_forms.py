"""The form of a manager's page of reports: the leaders suggested to one report."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired

from scheduler.model import normalize_email
from web.forms import list_of_addresses, split_list


class LeaderSuggestionForm(FlaskForm):
    """Which leaders one direct report should get to know."""

    report = HiddenField("Report", validators=[DataRequired(message="Say which report.")])
    leaders = StringField("Leaders to suggest", description="Their work email addresses, separated by commas; "
                          "empty to suggest none.")

    validate_leaders = list_of_addresses

    def leader_addresses(self) -> frozenset[str]:
        """The leaders' addresses as typed, normalised."""
        return frozenset(normalize_email(address) for address in split_list(self.leaders.data or ""))
