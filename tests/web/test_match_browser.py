"""The match pages in a real browser (Debian's Chromium through Playwright) against the site served on loopback,
with the emails written by the file mailer: a cycle pairs two people, one opens the "Yes, I'll be there" link of
the announcement and presses its button; the other signs in, sees the match in their own zone and declines it,
which cancels it. Screenshots go to ``test-output/browser/`` (or ``$COFFEECHAT_TEST_OUTPUT/browser``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from scheduler.config import load_config
from scheduler.delivery.outbox import deliver_due
from scheduler.entrypoints.bootstrap import bootstrap
from scheduler.model import Person
from scheduler.planning.run import run_cycle
from tests.web.test_browser import CHROMIUM, LiveSite, emails_in, live_site, shoot, text_of
from web.urls import WebUrls

__all__ = ["live_site"]  # the fixture, used by name
pytestmark = pytest.mark.slow


def deliver(site: LiveSite) -> None:
    """Run the outbox relay with the site's own configuration (the file mailer)."""
    config = load_config(site.outbox.parent / "coffeechat.toml")
    services = bootstrap(config, site=WebUrls.from_config(config))
    try:
        mailer = services.mailer_factory()
        deliver_due(services.uow_factory, services.performers(mailer), services.clock, services.retry_policy)
        mailer.close()
    finally:
        services.dispose()


def plan(site: LiveSite) -> None:
    """Two confirmed people from different teams, and a cycle that pairs them; deliver the announcements."""
    config = load_config(site.outbox.parent / "coffeechat.toml")
    services = bootstrap(config, site=WebUrls.from_config(config))
    confirmed = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with services.uow_factory() as uow:
            uow.people.save(Person(email="ana@example.com", name="Ana López", team="Payments", office="Berlin",
                                   timezone="Europe/Berlin", verified_at=confirmed))
            uow.people.save(Person(email="ben@example.com", name="Ben Okafor", team="Field Sales",
                                   timezone="America/New_York", verified_at=confirmed))
            uow.commit()
        outcome = run_cycle(services.uow_factory, services.calendar, services.clock, services.config.programs[0],
                            services.settings)
        assert outcome.cycle is not None
    finally:
        services.dispose()
    deliver(site)


def latest_email(site: LiveSite, to: str, subject_start: str) -> str:
    for message in reversed(emails_in(site.outbox)):
        if message["To"].addresses[0].addr_spec == to and str(message["Subject"]).startswith(subject_start):
            return text_of(message)
    raise AssertionError(f"no email to {to} starting {subject_start!r}")


def test_accept_by_link_then_sign_in_and_decline(live_site: LiveSite) -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)"
    plan(live_site)
    announcement = latest_email(live_site, "ana@example.com", "Coffee chat with Ben")
    accept = re.search(rf"{re.escape(live_site.url)}/matches/\d+/accept/\S+", announcement)
    assert accept is not None
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(timezone_id="Europe/Berlin", viewport={"width": 1000, "height": 900})
            page = context.new_page()
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))

            # Ana, from her email, not signed in: the link shows the match and a button, and changes nothing.
            page.goto(accept.group(0))
            expect(page.get_by_role("heading", name="Coffee chat with Ben Okafor")).to_be_visible()
            expect(page.get_by_text("(Europe/Berlin)").first).to_be_visible()
            expect(page.get_by_text("Has not answered yet")).to_be_visible()
            shoot(page, "11-match-link")
            page.get_by_role("button", name="Yes, I'll be there").click()
            expect(page.get_by_role("status")).to_contain_text("shows your partners that you will be there")
            expect(page.get_by_text("You said you will be there.")).to_be_visible()
            shoot(page, "12-match-link-accepted")

            # Ben signs in by emailed link and opens his match page: Ana's answer, his own zone.
            ben = browser.new_context(timezone_id="America/New_York", viewport={"width": 1000, "height": 900})
            his = ben.new_page()
            his.on("pageerror", lambda error: problems.append(str(error)))
            match_path = accept.group(0).split("/accept/")[0].removeprefix(live_site.url)
            his.goto(f"{live_site.url}{match_path}")
            expect(his.get_by_role("heading", name="Sign in")).to_be_visible()
            his.get_by_label("Work email").fill("ben@example.com")
            his.get_by_role("button", name="Email me a sign-in link").click()
            sign_in = re.search(rf"{re.escape(live_site.url)}/sign-in/\S+",
                                latest_email(live_site, "ben@example.com", "Your Example Corp"))
            assert sign_in is not None
            his.goto(sign_in.group(0))
            his.get_by_role("button", name="Sign in").click()
            expect(his).to_have_url(f"{live_site.url}{match_path}")
            expect(his.get_by_role("heading", name="Coffee chat with Ana López")).to_be_visible()
            expect(his.get_by_text("(America/New_York)").first).to_be_visible()
            expect(his.get_by_text("Will be there")).to_be_visible()
            shoot(his, "13-match-page")

            # "I can't make it" asks first, offering another time before the decline itself.
            his.get_by_role("button", name="I can't make it").click()
            expect(his.get_by_role("heading", name="Can't make it?")).to_be_visible()
            expect(his.get_by_role("button", name="Ask for another time")).to_be_visible()
            shoot(his, "14-match-decline-asks")
            his.get_by_role("button", name="Yes, decline").click()
            expect(his.get_by_role("status")).to_contain_text("The meeting is cancelled")
            expect(his.get_by_text("This meeting was cancelled.")).to_be_visible()
            expect(his.get_by_role("button", name="Undo my decline")).to_be_visible()
            shoot(his, "14-match-cancelled")

            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            small = phone.new_page()
            small.goto(accept.group(0))
            width = small.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the match page scrolls sideways on a phone ({width}px)"
            shoot(small, "15-match-link-phone")
        finally:
            browser.close()
    assert problems == []
    deliver(live_site)
    assert "Ben Okafor cannot make it" in latest_email(live_site, "ana@example.com", "Cancelled")
