"""The admin pages through the test client, on SQLite and PostgreSQL: who may see them, CSRF on every POST,
participants (search, CSV import, pause, disable), cycle preview and run, deliveries and requeue, programs, and
analytics drawn as SVG that parses and escapes user text."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from scheduler.model import Person
from tests.conftest import SUNDAY_NOON
from tests.web.conftest import Site, csrf_from, sign_up_and_confirm

ADMIN = "ada.admin@example.com"
WEB = (f'admins = ["{ADMIN}"]\nsign_up_per_hour = 1000\nsign_in_per_hour = 1000\nlinks_per_hour = 1000')
SVG = re.compile(r"<svg\b.*?</svg>", re.S)
SVG_NS = "{http://www.w3.org/2000/svg}"

GET_PAGES = ["/admin", "/admin?q=ana", "/admin/cycles", "/admin/cycles/coffee", "/admin/deliveries",
             "/admin/programs", "/admin/programs/coffee", "/admin/analytics"]


@pytest.fixture
def admin_site(make_site: Callable[..., Site], database_url: str) -> Site:
    """A site on each test database whose ``client`` is signed in as the admin."""
    site = make_site(database_url=database_url, web=WEB)
    assert sign_up_and_confirm(site, email=ADMIN, name="Ada Admin", team="Ops").status_code == 303
    return site


def signed_in(site: Site, email: str, address: str = "127.0.0.2", **overrides: Any) -> FlaskClient:
    """Another browser, signed in as a (new) person."""
    client = site.new_client(address)
    assert sign_up_and_confirm(site, client, email=email, **overrides).status_code == 303
    return client


def token(client: FlaskClient, page: str = "/admin") -> str:
    """The CSRF token of a page's first form."""
    return csrf_from(client.get(page).get_data(as_text=True))


def people(create_person: Callable[..., Person], count: int, **overrides: Any) -> list[Person]:
    """``count`` verified people in distinct teams, alternating two departments and two offices."""
    return [create_person(department=("Sales", "Research")[n % 2], office=("London", "Lisbon")[n % 2], **overrides)
            for n in range(count)]


def state_of(site: Site, key: str) -> str:
    with site.services.uow_factory() as uow:
        return next(effect.state for effect in uow.outbox.list() if effect.key == key)


# --- who may see the pages ----------------------------------------------------------------------------------


def test_admin_pages_refuse_anyone_but_an_admin(admin_site: Site) -> None:
    stranger = admin_site.new_client("127.0.0.3")
    member = signed_in(admin_site, "bo.member@example.com", name="Bo Member")
    for page in GET_PAGES:
        assert stranger.get(page).status_code == 302, page
        assert "/sign-in" in stranger.get(page).headers["Location"]
        assert member.get(page).status_code == 403, page
        assert admin_site.client.get(page).status_code == 200, page
    # A member's POST with a good CSRF token is refused all the same, and changes nothing.
    csrf = token(member, "/account")
    for path, data in [("/admin/people/access", {"email": "bo.member@example.com", "action": "disable"}),
                       ("/admin/cycles/coffee/run", {}), ("/admin/deliveries/requeue", {"key": "x"}),
                       ("/admin/people/pause", {"email": ADMIN, "until": "2030-01-01"})]:
        assert member.post(path, data={**data, "csrf_token": csrf}).status_code == 403, path
    with admin_site.services.uow_factory() as uow:
        assert uow.cycles.list() == []
        assert uow.people.get(ADMIN).paused_until is None  # type: ignore[union-attr]
    assert member.get("/account").status_code == 200


def test_the_admin_link_shows_for_admins_only(admin_site: Site) -> None:
    member = signed_in(admin_site, "bo.member@example.com")
    assert 'href="/admin"' in admin_site.client.get("/account").get_data(as_text=True)
    assert 'href="/admin"' not in member.get("/account").get_data(as_text=True)


def test_unknown_program_is_404(admin_site: Site) -> None:
    assert admin_site.client.get("/admin/cycles/nope").status_code == 404
    csrf = token(admin_site.client)
    assert admin_site.client.post("/admin/cycles/nope/run", data={"csrf_token": csrf}).status_code == 404


def test_every_post_needs_the_csrf_token(admin_site: Site, create_person: Callable[..., Person]) -> None:
    admin_site.store(*people(create_person, 4))
    target = "person1@example.com"
    client = admin_site.client
    for path, data in [("/admin/people/access", {"email": target, "action": "disable"}),
                       ("/admin/people/pause", {"email": target, "until": "2030-01-01"}),
                       ("/admin/cycles/coffee/run", {}),
                       ("/admin/deliveries/requeue", {"key": "x"}),
                       ("/admin/import", {"people": b"email,name,team\nz@example.com,Z,T\n"})]:
        for bad in ({}, {"csrf_token": "forged"}):
            # A file is read once by the client: give each request its own.
            fields = {name: (io.BytesIO(value), "p.csv") if isinstance(value, bytes) else value
                      for name, value in data.items()}
            answer = client.post(path, data={**fields, **bad}, content_type="multipart/form-data")
            assert answer.status_code == 400, (path, bad)
    with admin_site.services.uow_factory() as uow:
        assert uow.cycles.list() == []
        assert uow.people.get("z@example.com") is None
        assert uow.people.get(target).paused_until is None  # type: ignore[union-attr]
        assert uow.accounts.get(target) is None


# --- participants -------------------------------------------------------------------------------------------


def test_search_by_name_email_team_and_department(admin_site: Site, create_person: Callable[..., Person]) -> None:
    admin_site.store(create_person(email="ana@example.com", name="Ana Lima", team="Payments", department="Money"),
                     create_person(email="bo@example.com", name="Bo Chen", team="Search", department="Research"),
                     create_person(email="x@example.com", name="<b>Evil</b>", team="Search", department="R&D"))
    client = admin_site.client

    def found(query: str) -> set[str]:
        html = client.get("/admin", query_string={"q": query}).get_data(as_text=True)
        return {e for e in ("ana@example.com", "bo@example.com", "x@example.com")
                if f'<span class="muted">{e}</span>' in html}

    assert found("lima") == {"ana@example.com"}
    assert found("BO@EXAMPLE") == {"bo@example.com"}
    assert found("search") == {"bo@example.com", "x@example.com"}
    assert found("money") == {"ana@example.com"}
    assert found("search chen") == {"bo@example.com"}
    assert found("nobody") == set()
    html = client.get("/admin", query_string={"q": "evil"}).get_data(as_text=True)
    assert "&lt;b&gt;Evil&lt;/b&gt;" in html
    assert "<b>Evil" not in html
    assert client.get("/admin", query_string={"q": "x" * 201}).status_code == 400


def test_csv_import_saves_good_rows_and_lists_bad_ones_by_line(admin_site: Site) -> None:
    csv_text = ("email,name,team,timezone\n"
                "cy@example.com,Cy Diaz,Search,Europe/Lisbon\n"
                "not-an-address,Bad Row,Search,UTC\n"
                "di@example.com,Di Evans,Sales,Mars/Olympus\n"
                "ed@example.com,<script>alert(1)</script>,Sales,UTC\n")
    answer = admin_site.client.post("/admin/import", data={
        "csrf_token": token(admin_site.client),
        "people": (io.BytesIO(csv_text.encode()), "staff.csv")}, content_type="multipart/form-data")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "2 created, 0 updated, 2 rows not imported" in html
    assert "staff.csv, line 3" in html
    assert "staff.csv, line 4" in html
    assert "Mars/Olympus" in html
    assert "<script>alert" not in html
    assert admin_site.person("cy@example.com") is not None
    assert admin_site.person("ed@example.com").name == "<script>alert(1)</script>"  # type: ignore[union-attr]
    assert admin_site.person("di@example.com") is None
    # Importing again updates and never duplicates.
    again = admin_site.client.post("/admin/import", data={
        "csrf_token": token(admin_site.client),
        "people": (io.BytesIO(b"email,name,team\ncy@example.com,Cy D,Search\n"), "staff.csv")},
        content_type="multipart/form-data")
    assert again.status_code == 200
    assert "0 created, 1 updated" in again.get_data(as_text=True)


def test_csv_import_refuses_a_missing_or_binary_file(admin_site: Site) -> None:
    client = admin_site.client
    missing = client.post("/admin/import", data={"csrf_token": token(client)}, content_type="multipart/form-data")
    assert missing.status_code == 400
    assert "Choose a CSV file" in missing.get_data(as_text=True)
    binary = client.post("/admin/import", data={"csrf_token": token(client),
                                                "people": (io.BytesIO(b"\xff\xfe\x00bad"), "x.csv")},
                         content_type="multipart/form-data")
    assert binary.status_code == 400
    assert "not UTF-8" in binary.get_data(as_text=True)


def test_pause_until_a_date_and_resume(admin_site: Site, create_person: Callable[..., Person]) -> None:
    admin_site.store(create_person(email="cy@example.com", name="Cy Diaz"))
    client = admin_site.client
    until = SUNDAY_NOON.date() + timedelta(days=30)
    answer = client.post("/admin/people/pause?q=cy", data={"csrf_token": token(client), "email": "cy@example.com",
                                                           "until": until.isoformat()})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/admin?q=cy"
    assert admin_site.person("cy@example.com").paused_until == until  # type: ignore[union-attr]
    assert f"paused until {until.isoformat()}" in client.get("/admin?q=cy").get_data(as_text=True)
    past = client.post("/admin/people/pause", data={"csrf_token": token(client), "email": "cy@example.com",
                                                    "until": "2001-01-01"})
    assert past.status_code == 303
    assert "has passed" in client.get("/admin").get_data(as_text=True)
    assert admin_site.person("cy@example.com").paused_until == until  # type: ignore[union-attr]
    client.post("/admin/people/pause", data={"csrf_token": token(client), "email": "cy@example.com", "until": ""})
    assert admin_site.person("cy@example.com").paused_until is None  # type: ignore[union-attr]
    unknown = client.post("/admin/people/pause", data={"csrf_token": token(client), "email": "no@example.com",
                                                       "until": ""})
    assert unknown.status_code == 404


def test_disable_signs_the_person_out_and_enable_lets_them_back(admin_site: Site) -> None:
    member = signed_in(admin_site, "bo.member@example.com", name="Bo Member")
    client = admin_site.client
    answer = client.post("/admin/people/access", data={"csrf_token": token(client),
                                                       "email": "bo.member@example.com", "action": "disable"})
    assert answer.status_code == 303
    assert member.get("/account").status_code == 302  # the old cookie is useless now
    html = client.get("/admin?q=bo.member").get_data(as_text=True)
    assert "<td>disabled</td>" in html
    assert ">Enable<" in html
    client.post("/admin/people/access", data={"csrf_token": token(client), "email": "bo.member@example.com",
                                              "action": "enable"})
    with admin_site.services.uow_factory() as uow:
        assert not uow.accounts.get("bo.member@example.com").disabled  # type: ignore[union-attr]
    bad = client.post("/admin/people/access", data={"csrf_token": token(client),
                                                    "email": "bo.member@example.com", "action": "delete"})
    assert bad.status_code == 400


# --- cycles, deliveries, programs -------------------------------------------------------------------------------


def test_preview_shows_the_plan_and_stores_nothing(admin_site: Site, create_person: Callable[..., Person]) -> None:
    admin_site.store(*people(create_person, 6), create_person(email="paused@example.com",
                                                               paused_until=date(2031, 1, 1)))
    answer = admin_site.client.get("/admin/cycles/coffee")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "nothing is stored" in html
    # Six eligible and the admin (who signed up too); the paused one is out.
    assert "8 signed up, 7 eligible, 7 placed" in html
    assert "Cross-department groups" in html
    assert "Cross-office groups" in html
    assert "Repeats avoided" in html
    assert "paused until 2031-01-01" in html
    with admin_site.services.uow_factory() as uow:
        assert uow.cycles.list() == []
        assert uow.outbox.list() == []
        assert uow.history.pairs_in_recent_cycles("coffee", 6) == set()


def test_run_stores_a_cycle_and_then_shows_its_deliveries(admin_site: Site,
                                                          create_person: Callable[..., Person]) -> None:
    admin_site.store(*people(create_person, 5))
    client = admin_site.client
    csrf = token(client, "/admin/cycles/coffee")
    answer = client.post("/admin/cycles/coffee/run", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/admin/deliveries"
    with admin_site.services.uow_factory() as uow:
        cycles = uow.cycles.list("coffee")
        assert len(cycles) == 1
        assert uow.cycles.meetings(cycles[0].id)  # type: ignore[arg-type]
        effects = uow.outbox.list(cycle_id=cycles[0].id)
    assert effects
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "is planned with" in page
    # Nothing was sent yet, and the page does not claim otherwise (issue 15).
    assert "wait in the outbox below until the next delivery run" in page
    assert "now sends" not in page
    assert f"(cycle {cycles[0].id})" in page
    # Running again plans nothing new, and the preview says the week is planned.
    again = client.post("/admin/cycles/coffee/run", data={"csrf_token": csrf})
    assert again.status_code == 303
    assert "already planned" in client.get("/admin/deliveries").get_data(as_text=True)
    assert "already planned" in client.get("/admin/cycles/coffee").get_data(as_text=True)
    with admin_site.services.uow_factory() as uow:
        assert len(uow.cycles.list()) == 1
    assert "Cycles run" in client.get("/admin/cycles").get_data(as_text=True)


def test_requeue_moves_a_dead_effect_back_to_pending(admin_site: Site,
                                                     create_person: Callable[..., Person]) -> None:
    admin_site.store(*people(create_person, 3))
    client = admin_site.client
    client.post("/admin/cycles/coffee/run", data={"csrf_token": token(client)})
    now = admin_site.services.clock.now()
    with admin_site.services.uow_factory() as uow:
        key = uow.outbox.list()[0].key
        assert uow.outbox.claim(key, now, timedelta(minutes=5))
        uow.outbox.mark_dead(key, "550 mailbox <unknown> not found")
        uow.commit()
    page = client.get("/admin/deliveries").get_data(as_text=True)
    assert "550 mailbox &lt;unknown&gt; not found" in page
    assert key in page
    answer = client.post("/admin/deliveries/requeue", data={"csrf_token": token(client, "/admin/deliveries"),
                                                            "key": key})
    assert answer.status_code == 303
    assert state_of(admin_site, key) == "pending"
    # A second requeue of the same (no longer dead) effect says so instead of failing; an unknown key is 404.
    stale = client.post("/admin/deliveries/requeue", data={"csrf_token": token(client), "key": key})
    assert stale.status_code == 303
    assert "Not requeued" in client.get("/admin/deliveries").get_data(as_text=True)
    assert client.post("/admin/deliveries/requeue", data={"csrf_token": token(client),
                                                          "key": "no/such/key"}).status_code == 404


def test_programs_page_shows_rules_and_weights_and_where_to_change_them(admin_site: Site) -> None:
    html = admin_site.client.get("/admin/programs").get_data(as_text=True)
    for text in ("coffee", "cadence", "weekly", "group_size", "cooldown_cycles", "different_department",
                 "never_met", "As the configuration file says", 'href="/admin/programs/coffee"'):
        assert text in html, text


# --- analytics ----------------------------------------------------------------------------------------------


def charts(html: str) -> list[ET.Element]:
    """Every inline SVG of a page, parsed as XML (a malformed one fails the test)."""
    found = [ET.fromstring(svg) for svg in SVG.findall(html)]  # noqa: S314 - our own page, not foreign input
    for svg in found:
        assert svg.tag == f"{SVG_NS}svg"
        assert svg.get("role") == "img"
        assert svg.find(f"{SVG_NS}title") is not None
        assert svg.find(f"{SVG_NS}desc") is not None
    return found


def test_analytics_draw_parseable_svg_with_user_text_escaped(admin_site: Site,
                                                             create_person: Callable[..., Person]) -> None:
    empty = admin_site.client.get("/admin/analytics").get_data(as_text=True)
    assert len(charts(empty)) == 3
    admin_site.store(*[create_person(department=("<script>alert(1)</script>", 'Sales & "Co"')[n % 2])
                       for n in range(6)])
    client = admin_site.client
    client.post("/admin/cycles/coffee/run", data={"csrf_token": token(client)})
    response = client.get("/admin/analytics")
    html = response.get_data(as_text=True)
    assert "<script>" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    heatmap, rates, connections = charts(html)
    texts = {t.text for t in heatmap.iter(f"{SVG_NS}text")}
    assert "<script>alert(1)</script>"[:21] + "…" in texts or "<script>alert(1)</script>" in texts
    assert 'Sales & "Co"' in texts
    assert "planned" in html  # no feedback yet: the heatmap says it shows planned meetings
    # The table fallback carries the same figures.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert len(list(rates.iter(f"{SVG_NS}rect"))) >= 2
    with admin_site.services.uow_factory() as uow:
        groups = [m.group.members for m in uow.cycles.meetings(uow.cycles.list()[0].id)]  # type: ignore[arg-type]
    pairs = sum(len(g) * (len(g) - 1) // 2 for g in groups)  # every pair is new, and teams all differ
    bars = [r for r in connections.iter(f"{SVG_NS}rect") if r.find(f"{SVG_NS}title") is not None]
    assert len(bars) == 1
    assert bars[0].find(f"{SVG_NS}title").text.endswith(f": {pairs}")  # type: ignore[union-attr]


def test_heatmap_switches_to_feedback_once_people_answer(admin_site: Site,
                                                         create_person: Callable[..., Person]) -> None:
    admin_site.store(*people(create_person, 4))
    client = admin_site.client
    client.post("/admin/cycles/coffee/run", data={"csrf_token": token(client)})
    with admin_site.services.uow_factory() as uow:
        meeting = uow.cycles.meetings(uow.cycles.list()[0].id)[0]  # type: ignore[arg-type]
        uow.feedback.add(meeting.id, meeting.group.members[0], True)  # type: ignore[arg-type]
        uow.commit()
    html = client.get("/admin/analytics").get_data(as_text=True)
    assert "From the “did you meet?” answers" in html
    heatmap = charts(html)[0]
    counts = [int(t.text or 0) for t in heatmap.iter(f"{SVG_NS}text") if (t.text or "").isdigit()]
    pairs = len(meeting.group.members) * (len(meeting.group.members) - 1) // 2
    # Only the answered meeting counts: each of its pairs in one cell, or in two mirrored across the diagonal.
    assert pairs <= sum(counts) <= 2 * pairs
    assert ">100%<" in html  # the one answered meeting took place
