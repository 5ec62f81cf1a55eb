"""An admin in a real browser (Debian's Chromium through Playwright) on the site served on loopback: signs in by
the emailed link, searches people, previews a cycle, runs it, sees its deliveries and opens the analytics, with
no console error (a CSP violation would be one). Screenshots go to ``test-output/browser/admin-*.png``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from scheduler.model import Person
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeClock
from tests.web.conftest import SECRET, Site, build_site, link_path
from tests.web.test_admin import ADMIN, WEB
from tests.web.test_browser import CHROMIUM, OUTPUT

pytestmark = pytest.mark.slow


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_sqlite: Path) -> Iterator[tuple[Site, str]]:
    """A site with a few people and an admin, served over HTTP on loopback; yields it and its address."""
    monkeypatch.setenv("COFFEECHAT_SECRET_KEY", SECRET)
    site = build_site(tmp_path / "site", FakeClock(SUNDAY_NOON), migrated_sqlite, web=WEB,
                      base_url="http://127.0.0.1")
    departments = ("Sales", "Research", "<script>alert(1)</script>")
    site.store(Person(email=ADMIN, name="Ada Admin", team="Ops", verified_at=SUNDAY_NOON),
               *[Person(email=f"p{n}@example.com", name=f"Person {n}", team=f"team-{n}",
                        department=departments[n % 3], office=("London", "Lisbon")[n % 2], verified_at=SUNDAY_NOON)
                 for n in range(9)])
    server: BaseWSGIServer = make_server("127.0.0.1", 0, site.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin-site", daemon=True)
    thread.start()
    try:
        yield site, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        site.services.dispose()


def shoot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"admin-{name}.png"), full_page=True)


def test_admin_previews_runs_a_cycle_and_opens_the_analytics(served: tuple[Site, str]) -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)"
    site, url = served
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_context(viewport={"width": 1000, "height": 900}).new_page()
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))

            page.goto(f"{url}/admin")  # not signed in: off to sign in, coming back here afterwards
            page.get_by_label("Work email").fill(ADMIN)
            page.get_by_role("button", name="Email me a sign-in link").click()
            page.goto(url + link_path(site.mailer.sent[-1]))
            page.get_by_role("button", name="Sign in", exact=True).click()
            expect(page.get_by_role("heading", name="Participants")).to_be_visible()

            page.get_by_label("Name, email, team or department").fill("research")
            page.get_by_role("button", name="Search").click()
            expect(page.get_by_text("3 people match")).to_be_visible()
            shoot(page, "participants")

            page.get_by_role("navigation", name="Admin").get_by_role("link", name="Cycles").click()
            page.get_by_role("link", name="Preview the next cycle").click()
            expect(page.get_by_text("nothing is stored")).to_be_visible()
            expect(page.get_by_text("10 signed up, 10 eligible, 10 placed")).to_be_visible()
            shoot(page, "preview")
            with site.services.uow_factory() as uow:
                assert uow.cycles.list() == []

            page.get_by_role("button", name="Run this cycle").click()
            expect(page.get_by_role("heading", name="Deliveries")).to_be_visible()
            expect(page.get_by_text("is planned with 5 groups")).to_be_visible()
            shoot(page, "deliveries")
            with site.services.uow_factory() as uow:
                assert len(uow.cycles.list()) == 1

            page.get_by_role("link", name="Analytics").click()
            heatmap = page.get_by_role("img", name="Meetings between departments")
            expect(heatmap).to_be_visible()
            expect(page.get_by_role("img", name="New cross-team connections by cycle")).to_be_visible()
            shoot(page, "analytics")

            page.get_by_role("link", name="Programs").click()
            expect(page.get_by_text("As the configuration file says")).to_be_visible()
            shoot(page, "programs")
            page.get_by_role("link", name="Change coffee").click()
            page.get_by_label("Cycles before two people may meet again").fill("4")
            page.get_by_label("How often").select_option("fortnightly")
            shoot(page, "program")
            page.get_by_role("button", name="Save the changes").click()
            expect(page.get_by_text("coffee is changed")).to_be_visible()
            expect(page.get_by_text("Changed on this site")).to_be_visible()
            program = site.services.program("coffee")
            assert (program.cooldown_cycles, program.cadence) == (4, "fortnightly")
        finally:
            browser.close()
    assert problems == []
