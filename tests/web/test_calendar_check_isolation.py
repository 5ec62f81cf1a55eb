"""Issue 13 on the site: "Check my calendar" never answers 500, whatever the calendar or its adapter does, and
admins see whose calendars the latest cycle could not read."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient

from scheduler.model import Person
from tests.fakes import FakeCalendarProvider
from tests.web.conftest import SIGN_UP, Site, csrf_from, sign_up_and_confirm, submit

ANA = SIGN_UP["email"]


def test_issue_13_check_my_calendar_shows_an_adapter_failure_in_plain_words(db_site: Site) -> None:
    assert sign_up_and_confirm(db_site).status_code == 303
    client: FlaskClient = db_site.client
    db_site.services.calendar = FakeCalendarProvider(
        raises={ANA: AttributeError("'NoneType' object has no attribute 'tag'")})

    response = submit(client, "/account/calendar/check", form_page="/account/calendar")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "could not be read" in html
    assert "NoneType" not in html  # the library's words stay in the log


def test_issue_13_the_cycles_page_lists_the_calendars_the_latest_cycle_could_not_read(
        make_site: Callable[..., Site], database_url: str, create_person: Callable[..., Person]) -> None:
    admin = "ada.admin@example.com"
    site = make_site(database_url=database_url, web=f'admins = ["{admin}"]\nsign_up_per_hour = 1000')
    assert sign_up_and_confirm(site, email=admin, name="Ada Admin", team="Ops").status_code == 303
    team = [create_person(department=("Sales", "Research")[n % 2]) for n in range(5)]
    site.store(*team)
    site.services.calendar = FakeCalendarProvider(raises={team[1].email: KeyError("DTSTART")},
                                                  errors={team[3].email: "calendars/x.ics: file not found"})
    client = site.client
    page = client.get("/admin/cycles/coffee").get_data(as_text=True)
    csrf = csrf_from(page)

    assert client.post("/admin/cycles/coffee/run", data={"csrf_token": csrf}).status_code == 303
    html = client.get("/admin/cycles").get_data(as_text=True)

    assert "Calendars not read in the coffee cycle" in html
    assert team[1].email in html
    assert "could not be read" in html
    assert team[3].email in html
    assert "calendars/x.ics: file not found" in html
    assert team[0].email not in html
