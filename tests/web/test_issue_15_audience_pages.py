"""Issue 15, part 5 through the site, on SQLite and PostgreSQL: the programs open to a person on their account page
with a join/leave button each (CSRF), the admin's audience figures and list, the audience, opting in and the video
link on the admin's program page, and the role from the people CSV on the profile page."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from scheduler.model import Person
from scheduler.programs.settings import AUDIENCE_NAMES, EDITABLE, EDITABLE_FLAGS, WEIGHT_NAMES
from tests.web.conftest import Site, csrf_from, sign_up_and_confirm, submit
from tests.web.test_account_pages import PROFILE
from tests.web.test_admin import ADMIN, WEB, signed_in, token

PROGRAMS = ('[[programs]]\nname = "coffee"\n\n'
            '[[programs]]\nname = "london-lunch"\nkind = "lunch"\nopt_in = true\n'
            '[programs.audience]\noffices = ["London"]\n\n'
            '[[programs]]\nname = "leaders"\n[programs.audience]\nroles = ["leader"]\n')
ANA = "ana@example.com"


@pytest.fixture
def audience_site(make_site: Callable[..., Site], database_url: str) -> Site:
    """A site with a program for everyone, an opt-in London lunch and a program for leaders; ``client`` is the
    admin (office London, from the sign-up form)."""
    site = make_site(database_url=database_url, web=WEB, programs=PROGRAMS)
    assert sign_up_and_confirm(site, email=ADMIN, name="Ada Admin", team="Ops").status_code == 303
    return site


def choices(site: Site, email: str) -> dict[str, bool]:
    with site.services.uow_factory() as uow:
        return uow.program_choices.of_person(email)


def choose(client: Any, program: str, action: str, *, csrf: bool = True) -> Any:
    data = {"program": program, "action": action}
    if csrf:
        data["csrf_token"] = token(client, "/account")
    return client.post("/account/programs", data=data)


def test_issue_15_the_account_page_lists_the_programs_open_to_me(audience_site: Site) -> None:
    ana = signed_in(audience_site, ANA, name="Ana", team="Payments", office="London")
    html = ana.get("/account").get_data(as_text=True)
    assert "Leave coffee" in html  # for everyone: in unless I leave
    assert "Join london-lunch" in html  # opt in: out until I join
    assert "only people who join it take part" in html
    assert "leaders" not in html  # not open to me: I have no leader role

    lisbon = signed_in(audience_site, "bo@example.com", "127.0.0.3", name="Bo", team="Search", office="Lisbon")
    assert "london-lunch" not in lisbon.get("/account").get_data(as_text=True)


def test_issue_15_join_and_leave_through_the_site(audience_site: Site) -> None:
    ana = signed_in(audience_site, ANA, name="Ana", team="Payments", office="London")

    joined = choose(ana, "london-lunch", "join")
    assert joined.status_code == 303
    assert choices(audience_site, ANA) == {"london-lunch": True}
    page = ana.get("/account").get_data(as_text=True)
    assert "You have joined london-lunch" in page
    assert "Leave london-lunch" in page

    assert choose(ana, "coffee", "leave").status_code == 303
    assert choices(audience_site, ANA) == {"london-lunch": True, "coffee": False}
    page = ana.get("/account").get_data(as_text=True)
    assert "you have left it" in page
    assert "Join coffee" in page

    assert choose(ana, "coffee", "join").status_code == 303
    assert choices(audience_site, ANA)["coffee"] is True
    # The choices are part of "download my data".
    assert ana.get("/account/export").get_json()["programs"] == {"coffee": True, "london-lunch": True}


def test_issue_15_a_choice_needs_the_csrf_token_and_an_open_program(audience_site: Site) -> None:
    ana = signed_in(audience_site, ANA, name="Ana", team="Payments", office="London")
    assert choose(ana, "london-lunch", "join", csrf=False).status_code == 400
    refused = choose(ana, "leaders", "join")  # a program for leaders only
    assert refused.status_code == 422
    assert "leaders is for role leader only" in refused.get_data(as_text=True)
    assert choose(ana, "no-such-program", "join").status_code == 422
    assert choose(ana, "coffee", "explode").status_code == 422
    assert choices(audience_site, ANA) == {}
    # Signed out, nothing is changed either.
    stranger = audience_site.new_client("127.0.0.9")
    answer = stranger.post("/account/programs", data={"program": "coffee", "action": "leave"})
    assert answer.status_code in (302, 303, 400, 401, 403)
    assert choices(audience_site, ANA) == {}


def test_issue_15_the_admin_sees_each_programs_audience(audience_site: Site,
                                                       create_person: Callable[..., Person]) -> None:
    audience_site.store(create_person(email="lea@example.com", name="Lea Leader", office="Lisbon", role="leader"),
                        create_person(email="lou@example.com", name="Lou <b>", office="London"))
    ana = signed_in(audience_site, ANA, name="Ana", team="Payments", office="London", kinds=["coffee", "lunch"])
    assert choose(ana, "london-lunch", "join").status_code == 303
    assert choose(ana, "coffee", "leave").status_code == 303

    page = audience_site.client.get("/admin/programs").get_data(as_text=True)
    assert "For London office only; only people who join take part" in page
    assert "3 people in the audience, 1 opted in,\n  0 opted out, 1 the next cycle would plan" in page
    assert "4 people in the audience, 0 opted in,\n  1 opted out, 3 the next cycle would plan" in page
    assert "1 person in the audience" in page  # the leaders

    answer = audience_site.client.get("/admin/audiences/london-lunch")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "3 people in the audience" in html
    assert "1 opted in, 0 opted out" in html
    assert "Lou &lt;b&gt;" in html  # names are escaped
    assert "left out: has not joined this program" in html
    assert "Lea Leader" not in html  # Lisbon
    assert audience_site.client.get("/admin/audiences/nothing").status_code == 404
    assert ana.get("/admin/audiences/london-lunch").status_code == 403


def program_form(site: Site, name: str, **changes: Any) -> dict[str, str]:
    program = site.services.program(name)
    data: dict[str, Any] = {key: getattr(program, key) for key in EDITABLE if key not in EDITABLE_FLAGS}
    data |= {key: "y" for key in EDITABLE_FLAGS if getattr(program, key)}
    data |= {f"weight_{key}": getattr(program.weights, key) for key in WEIGHT_NAMES}
    data |= {f"audience_{key}": "\n".join(sorted(getattr(program.audience, key))) for key in AUDIENCE_NAMES}
    data |= changes
    return {key: str(value) for key, value in data.items() if value is not False}


def test_issue_15_the_admin_sets_audience_opt_in_and_video_link(audience_site: Site) -> None:
    client = audience_site.client
    page = client.get("/admin/programs/coffee").get_data(as_text=True)
    assert 'name="audience_offices"' in page
    assert 'name="video_link"' in page
    assert 'name="opt_in"' in page

    answer = client.post("/admin/programs/coffee", data={
        **program_form(audience_site, "coffee", opt_in="y", video_link="https://meet.example.org/coffee-{uid}",
                       audience_offices="London\nLisbon", audience_emails="new.one@example.com, Two@Example.com"),
        "action": "save", "csrf_token": csrf_from(page)})
    assert answer.status_code == 303
    coffee = audience_site.services.program("coffee")
    assert coffee.opt_in is True
    assert coffee.video_link == "https://meet.example.org/coffee-{uid}"
    assert coffee.audience.offices == {"London", "Lisbon"}
    assert coffee.audience.emails == {"new.one@example.com", "two@example.com"}
    assert "Lisbon or London office or invited people only" in client.get("/admin/programs").get_data(as_text=True)
    # The form shows what is stored, one entry per line.
    assert "Lisbon\nLondon</textarea>" in client.get("/admin/programs/coffee").get_data(as_text=True)


@pytest.mark.parametrize(("field", "value", "words"), [
    ("video_link", "http://meet.example.org/room", "is not an https://"),
    ("video_link", "https://meet.example.org/{room}", "unknown placeholder"),
    ("audience_emails", "not-an-address", "is not an email address"),
])
def test_issue_15_bad_program_settings_are_refused_next_to_their_field(audience_site: Site, field: str,
                                                                       value: str, words: str) -> None:
    client = audience_site.client
    answer = client.post("/admin/programs/coffee", data={
        **program_form(audience_site, "coffee", **{field: value}), "action": "save",
        "csrf_token": token(client, "/admin/programs/coffee")})
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert words in html
    with audience_site.services.uow_factory() as uow:
        assert uow.program_changes.list() == []


def test_issue_15_the_profile_shows_the_role_from_the_csv_import(audience_site: Site) -> None:
    ana = signed_in(audience_site, ANA, name="Ana", team="Payments", office="London")
    assert "Role: <strong>none</strong>" in ana.get("/account/profile").get_data(as_text=True)
    csv_text = f"email,name,team,office,role\n{ANA},Ana,Payments,Lisbon,leader\n"
    answer = audience_site.client.post("/admin/import", data={
        "csrf_token": token(audience_site.client),
        "people": (io.BytesIO(csv_text.encode()), "staff.csv")}, content_type="multipart/form-data")
    assert answer.status_code in (200, 303)
    assert audience_site.person(ANA).role == "leader"  # type: ignore[union-attr]
    assert "Role: <strong>leader</strong>" in ana.get("/account/profile").get_data(as_text=True)
    # The leaders' program is open to her now, the London lunch no longer.
    html = ana.get("/account").get_data(as_text=True)
    assert "Leave leaders" in html
    assert "london-lunch" not in html
    # Saving her own profile keeps the role the import gave.
    assert submit(ana, "/account/profile", PROFILE).status_code == 303
    assert audience_site.person(ANA).role == "leader"  # type: ignore[union-attr]
