"""The demo: a generated organisation with ICS calendars, an embedded database and a file mail outbox.

``prepare_demo`` writes the folder once (config, people.csv, calendars) and brings the database to the current
schema; running it again leaves existing files alone, so a second demo run plans nothing new for the same
window and sends nothing twice. ``show_a_decline`` then plays the loop on the cycle it planned: two people
decline, as with their email's button, and their partners are re-paired within the cycle.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from scheduler.config import Config, load_config
from scheduler.delivery.emails import format_slot
from scheduler.entrypoints.demo_org import generate_organisation, offices_config, write_organisation
from scheduler.model import Cycle, Person, Program
from scheduler.planning.cycle import PlanSettings, next_window
from scheduler.planning.matches import respond
from scheduler.ports import CalendarProvider, Clock, UowFactory

DEMO_SEED = 2026
DEMO_CONFIG = """\
# Coffee Chat demo configuration, written by `coffeechat demo`. See config.example.toml for every key.
[organisation]
name = "Example Corp"
organizer_email = "coffee@example.com"
organizer_name = "Coffee Chat"
base_url = "http://127.0.0.1:5000"

[database]
url = ""            # empty: coffeechat.db next to this file

[mail]
backend = "file"    # each email becomes an .eml file in outbox_dir
sender = "Coffee Chat <coffee@example.com>"
outbox_dir = "outbox"

[calendar]
ics_dir = "."       # people.csv names calendars/<person>.ics relative to this folder

[[programs]]
name = "coffee"
kind = "coffee"
cadence = "weekly"
duration_minutes = 30
meeting_mode = "either"   # in person when both share an office, else a video call
# The people CSV's seniorities, lowest first: a seniority_mix weight (Admin > Programs) mixes them.
seniority_levels = ["junior", "mid", "senior", "staff", "lead", "director"]

[[programs]]
name = "lunch"
kind = "lunch"            # slots inside 11:30-14:00 local time
cadence = "monthly"
duration_minutes = 60
meeting_mode = "either"   # lunch together in the same office, or a virtual lunch across offices

[[programs]]
name = "dinner"
kind = "dinner"           # the office's evening, 18:00-21:00 local time, for the people who chose dinner
cadence = "monthly"
group_size = 3            # tables of three from one office (two or four where the count does not divide)
duration_minutes = 120
meeting_mode = "in_person"  # the only mode a dinner takes
"""


def prepare_demo(directory: Path, *, size: int, now: datetime) -> tuple[Config, Path]:
    """Create the demo folder if needed; return its config and the people CSV to import."""
    from scheduler.storage.migrate import upgrade_database

    directory.mkdir(parents=True, exist_ok=True)
    config_path = directory / "config.toml"
    if not config_path.exists():
        config_path.write_text(DEMO_CONFIG + "\n" + offices_config(), encoding="utf-8")
    config = load_config(config_path)
    people_csv = directory / "people.csv"
    if not people_csv.exists():
        # Calendars start a week before the first window so recurring events have history, and run three
        # weeks past it so `tick` next week still finds calendar data.
        window = next_window(config.programs[0] if config.programs else Program("coffee"), now)
        organisation = generate_organisation(seed=DEMO_SEED, start=window.start.date() - timedelta(days=7),
                                             days=28, size=size)
        people_csv = write_organisation(organisation, directory)
    upgrade_database(config.database_url)
    return config, people_csv


# How many meetings of the demo's first cycle are declined to show the loop: two, so that the second partner
# left alone can be re-paired with the first when nobody else is free.
DECLINES_SHOWN = 2


def show_a_decline(uow_factory: UowFactory, provider: CalendarProvider, clock: Clock, settings: PlanSettings,
                   cycle: Cycle | None) -> list[str]:
    """Decline the first ``DECLINES_SHOWN`` pairs' meetings of ``cycle`` on behalf of their first member, as the
    email's button does (``planning.matches.respond``, with the calendars: the partner is re-paired within the
    cycle when someone is free); return one sentence per decline saying what followed. Nothing when the cycle
    already had a cancellation (a second demo run: the loop was shown when it was planned)."""
    if cycle is None or cycle.id is None:
        return []
    with uow_factory() as uow:
        meetings = uow.cycles.meetings(cycle.id)
        people = {person.email: person for person in uow.people.list()}
    if any(meeting.state == "cancelled" for meeting in meetings):
        return []
    pairs = sorted((m for m in meetings if m.slot is not None and len(m.group.members) == 2 and m.id is not None),
                   key=lambda m: m.id or 0)[:DECLINES_SHOWN]
    lines = []
    for meeting in pairs:
        decliner, partner = (people.get(email) or Person(email=email, name=email, team="")
                             for email in meeting.group.members)
        response = respond(uow_factory, clock, settings, meeting.id or 0, decliner.email, "declined",
                           provider=provider)
        said = f"{decliner.name} declines the {cycle.program} with {partner.name} (as with the email's button): "
        if response.repaired is not None and response.repaired.slot is not None:
            other = next(email for email in response.repaired.group.members if email != partner.email)
            name = people[other].name if other in people else other
            lines.append(said + f"{partner.name} is paired with {name} instead, "
                                f"{format_slot(response.repaired.slot, partner.timezone)}")
        elif response.called_off:
            lines.append(said + f"nobody else is free this cycle, so {partner.name} is told and stays in for the "
                                "next one")
    return lines
