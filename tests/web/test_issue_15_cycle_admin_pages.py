"""Issue 15, part 6, through the site (SQLite and PostgreSQL): the admin's cycle page, removing and swapping people
before delivery (and the refusals: after delivery, by a hard rule, without a CSRF token, on bad input), and the
ratings and shared comments, which a comment kept private never joins."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from scheduler.delivery.outbox import deliver_due
from scheduler.model import Cycle, Group, Interval, Meeting, Person, Unmatched, WorkingHours
from scheduler.planning.cycle import CyclePlan, next_window, save_plan
from tests.web.conftest import Site, csrf_from, sign_up_and_confirm, submit
from tests.web.test_sessions import sign_in

ADMIN = "ada.admin@example.com"
WEB = f'admins = ["{ADMIN}"]\nsign_up_per_hour = 1000\nsign_in_per_hour = 1000\nlinks_per_hour = 1000'


@pytest.fixture
def admin_site(make_site: Callable[..., Site], database_url: str) -> Site:
    """A site on each test database whose ``client`` is signed in as the admin."""
    site = make_site(database_url=database_url, web=WEB)
    assert sign_up_and_confirm(site, email=ADMIN, name="Ada Admin", team="Ops").status_code == 303
    return site


@pytest.fixture
def cast(create_person: Callable[..., Person]) -> dict[str, Person]:
    return {
        "ana": create_person(email="ana@example.com", name="Ana López", team="Payments", department="Finance"),
        "ben": create_person(email="ben@example.com", name="Ben Okafor", team="Field Sales", department="Sales",
                             timezone="America/New_York", working_hours=WorkingHours.parse("mon-fri 04:00-17:00")),
        "cy": create_person(email="cy@example.com", name="Cy Brandt", team="Research", department="Science"),
        "dee": create_person(email="dee@example.com", name="Dee Wu", team="Legal", department="Law"),
        "eve": create_person(email="eve@example.com", name="Eve <Ito>", team="Design", department="Product"),
    }


def plan(site: Site, cast: dict[str, Person]) -> Cycle:
    """Store a cycle of the site's program: {Ana, Ben} and {Cy, Dee}; Eve left out."""
    program = site.services.config.programs[0]
    window = next_window(program, site.services.clock.now())
    day = window.start + timedelta(days=1, hours=10)
    slots = [day, day + timedelta(hours=2)]
    meetings = tuple(Meeting(Group((cast[a].email, cast[b].email), 1.0, ("different departments",)),
                             Interval(start, start + program.duration))
                     for (a, b), start in zip([("ana", "ben"), ("cy", "dee")], slots, strict=True))
    made = CyclePlan(program=program, window=window, seed=7, planned_at=site.services.clock.now(),
                     people={p.email: p for p in cast.values()}, meetings=meetings,
                     unmatched=(Unmatched("eve@example.com", "no partner was free at a common time"),))
    with site.services.uow_factory() as uow:
        for person in cast.values():
            uow.people.save(person)
        uow.programs.save(program)
        cycle = save_plan(uow, made, site.services.settings)
        uow.commit()
    return cycle


def page_of(site: Site, cycle: Cycle) -> str:
    answer = site.client.get(f"/admin/cycle/{cycle.id}")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def groups(site: Site, cycle: Cycle) -> list[tuple[str, tuple[str, ...]]]:
    with site.services.uow_factory() as uow:
        return [(m.state, m.group.members) for m in uow.cycles.meetings(cycle.id)]  # type: ignore[arg-type]


def left_out(site: Site, cycle: Cycle) -> list[str]:
    with site.services.uow_factory() as uow:
        return [u.email for u in uow.cycles.unmatched(cycle.id)]  # type: ignore[arg-type]


def post(client: FlaskClient, path: str, data: dict[str, str], page: str) -> tuple[int, str]:
    answer = client.post(path, data={**data, "csrf_token": csrf_from(client.get(page).get_data(as_text=True))})
    if answer.status_code == 303:
        answer = client.get(answer.headers["Location"])
    return answer.status_code, answer.get_data(as_text=True)


def test_issue_15_the_cycle_page_shows_groups_in_each_zone_and_who_was_left_out(admin_site: Site,
                                                                                cast: dict[str, Person]) -> None:
    cycle = plan(admin_site, cast)

    listing = admin_site.client.get("/admin/cycles").get_data(as_text=True)
    assert f'href="/admin/cycle/{cycle.id}"' in listing
    shown = page_of(admin_site, cycle)

    assert "Ana López (Finance)" in shown
    assert "Ben Okafor (Sales)" in shown
    assert "10:00–10:30 (Europe/London)" in shown
    assert "05:00–05:30 (America/New_York)" in shown
    assert "Eve &lt;Ito&gt; (Product): no partner was free at a common time" in shown
    assert "<Ito>" not in shown
    assert shown.count(">Remove<") == 4
    assert "no answer" in shown
    assert "Nothing of this cycle has been sent yet" in shown
    assert admin_site.client.get(f"/admin/cycle/{cycle.id + 1}").status_code == 404  # type: ignore[operator]


def test_issue_15_an_admin_removes_a_person_and_the_pair_is_cancelled(admin_site: Site,
                                                                      cast: dict[str, Person]) -> None:
    cycle = plan(admin_site, cast)

    status, shown = post(admin_site.client, f"/admin/cycle/{cycle.id}/remove", {"email": "ana@example.com"},
                         f"/admin/cycle/{cycle.id}")

    assert status == 200
    assert "Ana López is out of group" in shown
    assert "wait in the outbox until the next delivery run" in shown
    assert groups(admin_site, cycle)[0] == ("cancelled", ("ana@example.com", "ben@example.com"))
    assert left_out(admin_site, cycle) == ["ana@example.com", "ben@example.com", "eve@example.com"]
    assert "nobody else was free to join you" in shown


def test_issue_15_an_admin_swaps_a_grouped_person_with_someone_left_out(admin_site: Site,
                                                                        cast: dict[str, Person]) -> None:
    cycle = plan(admin_site, cast)

    status, shown = post(admin_site.client, f"/admin/cycle/{cycle.id}/swap",
                         {"first": "dee@example.com", "second": "eve@example.com"}, f"/admin/cycle/{cycle.id}")

    assert status == 200
    assert "takes Dee Wu" in shown
    assert groups(admin_site, cycle)[1] == ("proposed", ("cy@example.com", "eve@example.com"))
    assert left_out(admin_site, cycle) == ["dee@example.com"]


def test_issue_15_after_delivery_began_the_buttons_go_and_a_change_is_refused(admin_site: Site,
                                                                              cast: dict[str, Person]) -> None:
    cycle = plan(admin_site, cast)
    form_page = page_of(admin_site, cycle)  # opened before the emails went out
    services = admin_site.services
    deliver_due(services.uow_factory, services.performers(admin_site.mailer), services.clock, services.retry_policy)
    before = (groups(admin_site, cycle), left_out(admin_site, cycle))

    shown = page_of(admin_site, cycle)
    assert ">Remove<" not in shown
    assert ">Swap</button>" not in shown
    assert "Delivery of this cycle has begun" in shown
    token = csrf_from(form_page)
    removed = admin_site.client.post(f"/admin/cycle/{cycle.id}/remove",
                                     data={"email": "ana@example.com", "csrf_token": token})
    swapped = admin_site.client.post(f"/admin/cycle/{cycle.id}/swap",
                                     data={"first": "ana@example.com", "second": "cy@example.com",
                                           "csrf_token": token})

    assert removed.status_code == swapped.status_code == 409
    assert "Nobody was removed: delivery of this cycle has begun" in removed.get_data(as_text=True)
    assert "Nobody was swapped: delivery of this cycle has begun" in swapped.get_data(as_text=True)
    assert (groups(admin_site, cycle), left_out(admin_site, cycle)) == before


def test_issue_15_a_swap_against_a_hard_rule_is_refused_with_the_rule_named(admin_site: Site,
                                                                            cast: dict[str, Person]) -> None:
    cast["eve"] = replace(cast["eve"], blocked=frozenset({"cy@example.com"}))
    cycle = plan(admin_site, cast)

    answer = submit(admin_site.client, f"/admin/cycle/{cycle.id}/swap",
                    {"first": "dee@example.com", "second": "eve@example.com"}, form_page=f"/admin/cycle/{cycle.id}")

    assert answer.status_code == 409
    assert "Nobody was swapped: Eve &lt;Ito&gt; and Cy Brandt cannot be grouped: blocked." in \
        answer.get_data(as_text=True)
    assert groups(admin_site, cycle)[1] == ("proposed", ("cy@example.com", "dee@example.com"))


def test_issue_15_changes_without_the_csrf_token_are_refused(admin_site: Site, cast: dict[str, Person]) -> None:
    cycle = plan(admin_site, cast)
    before = (groups(admin_site, cycle), left_out(admin_site, cycle))
    for path, data in [(f"/admin/cycle/{cycle.id}/remove", {"email": "ana@example.com"}),
                       (f"/admin/cycle/{cycle.id}/swap", {"first": "ana@example.com", "second": "cy@example.com"})]:
        for bad in ({}, {"csrf_token": "forged"}):
            assert admin_site.client.post(path, data={**data, **bad}).status_code == 400, (path, bad)
    assert (groups(admin_site, cycle), left_out(admin_site, cycle)) == before


def test_issue_15_only_admins_may_see_or_change_a_cycle(admin_site: Site, cast: dict[str, Person]) -> None:
    cycle = plan(admin_site, cast)
    member = admin_site.new_client("127.0.0.5")
    assert sign_up_and_confirm(admin_site, member, email="bo@example.com", name="Bo").status_code == 303

    assert member.get(f"/admin/cycle/{cycle.id}").status_code == 403
    token = csrf_from(member.get("/account").get_data(as_text=True))
    assert member.post(f"/admin/cycle/{cycle.id}/remove",
                       data={"email": "ana@example.com", "csrf_token": token}).status_code == 403
    assert groups(admin_site, cycle)[0][0] == "proposed"


@pytest.mark.parametrize(("path", "data", "message"), [
    ("remove", {"email": ""}, "choose whom to remove"),
    ("remove", {"email": "nobody@example.com"}, "nobody@example.com is not in this cycle"),
    ("remove", {"email": "eve@example.com"}, "they are left out already"),
    ("remove", {"email": "x" * 400}, "choose whom to remove"),
    ("swap", {"first": "ana@example.com", "second": "ana@example.com"}, "choose two different people"),
    ("swap", {"first": "ana@example.com", "second": "ben@example.com"}, "in the same group already"),
    ("swap", {"first": "ana@example.com", "second": "zed@example.com"}, "Not a valid choice"),
    ("swap", {"first": "ana@example.com"}, "Not a valid choice"),
])
def test_issue_15_bad_input_gives_a_clear_error_and_changes_nothing(admin_site: Site, cast: dict[str, Person],
                                                                    path: str, data: dict[str, str],
                                                                    message: str) -> None:
    cycle = plan(admin_site, cast)
    before = (groups(admin_site, cycle), left_out(admin_site, cycle))

    answer = submit(admin_site.client, f"/admin/cycle/{cycle.id}/{path}", data, form_page=f"/admin/cycle/{cycle.id}")

    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)
    assert (groups(admin_site, cycle), left_out(admin_site, cycle)) == before
    assert submit(admin_site.client, f"/admin/cycle/9999/{path}", data,
                  form_page=f"/admin/cycle/{cycle.id}").status_code == 404


def feedback(site: Site, email: str, meeting_id: int, **fields: str) -> None:
    browser = site.new_client(f"127.0.1.{len(email)}")
    sign_in(site, browser, email)
    shown = browser.get(f"/matches/{meeting_id}").get_data(as_text=True)
    assert re.search(r'<input id="share_comment" name="share_comment" type="checkbox" value="y">', shown), \
        "the box is there, not ticked"
    answer = submit(browser, f"/matches/{meeting_id}/feedback", {"met": "yes", **fields},
                    form_page=f"/matches/{meeting_id}")
    assert answer.status_code == 303


def test_issue_15_ratings_are_averaged_and_a_comment_not_shared_never_reaches_the_admin(
        admin_site: Site, cast: dict[str, Person]) -> None:
    cycle = plan(admin_site, cast)
    with admin_site.services.uow_factory() as uow:
        first, second = (m.id for m in uow.cycles.meetings(cycle.id))  # type: ignore[arg-type]
        last = uow.cycles.meeting(second).slot  # type: ignore[arg-type, union-attr]
    assert first is not None
    assert second is not None
    assert last is not None
    admin_site.services.clock.current = last.end + timedelta(hours=1)  # type: ignore[attr-defined]

    feedback(admin_site, "ana@example.com", first, rating="5", comment="Shared: lovely <b>chat</b>",
             share_comment="y")
    feedback(admin_site, "ben@example.com", first, rating="2", comment="Secret: a private remark")
    feedback(admin_site, "cy@example.com", second, rating="4", comment="Secret too")

    analytics = admin_site.client.get("/admin/analytics").get_data(as_text=True)
    cycle_page = page_of(admin_site, cycle)
    for shown in (analytics, cycle_page):
        assert "Shared: lovely &lt;b&gt;chat&lt;/b&gt;" in shown
        assert "Secret" not in shown
        assert "ana@example.com" not in shown.split("Ratings")[-1]  # comments come without names
    assert "average 3.7 of 5 over 3 ratings" in analytics
    assert "3 ratings, average 3.7 of 5." in cycle_page
    assert "we met" in cycle_page
