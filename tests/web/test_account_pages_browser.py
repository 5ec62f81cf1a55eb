"""The account pages in a real browser (Debian's Chromium through Playwright, the site served on loopback): a new
person confirms, edits their preferences, lists and calendar, pauses, checks their calendar, downloads their
data, deletes their account, and can no longer sign in. Screenshots go to ``test-output/browser/account-*``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.web import test_browser as served
from tests.web.test_browser import CHROMIUM, LiveSite, emails_in, shoot, text_of

pytestmark = pytest.mark.slow
live_site = served.live_site


def sign_up_and_confirm(page: Page, site: LiveSite) -> None:
    page.goto(f"{site.url}/sign-up")
    page.get_by_label("Your name").fill("Ana Lima")
    page.get_by_label("Work email").fill("ana.lima@example.com")
    page.get_by_label("Team", exact=True).fill("Payments")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    found = re.search(rf"{re.escape(site.url)}/confirm/\S+", text_of(emails_in(site.outbox)[-1]))
    assert found is not None
    page.goto(found.group(0))
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()


def test_edit_preferences_then_delete_the_account_and_no_longer_sign_in(live_site: LiveSite,
                                                                         tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)"
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(timezone_id="Europe/Berlin", viewport={"width": 1000, "height": 900},
                                          accept_downloads=True)
            page = context.new_page()
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            sign_up_and_confirm(page, live_site)
            shoot(page, "account-01-home")

            page.get_by_role("link", name="Profile and preferences").click()
            expect(page.get_by_role("heading", name="Profile and preferences")).to_be_visible()
            page.get_by_label("Working hours end").fill("15:00")
            page.get_by_label("Working hours start").fill("16:00")
            page.get_by_role("button", name="Save").click()
            expect(page.locator("#work_end-error")).to_have_text("Working hours must end after they start.")
            expect(page.get_by_label("Working hours start")).to_have_value("16:00")
            shoot(page, "account-02-profile-errors")
            page.get_by_label("Working hours start").fill("08:00")
            page.get_by_label("Your name").fill("Ana Maria Lima")
            page.get_by_label("Friday").uncheck()
            page.get_by_label("Lunch", exact=True).check()
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_role("status")).to_contain_text("Your profile is saved.")
            expect(page.get_by_label("Your name")).to_have_value("Ana Maria Lima")
            expect(page.get_by_label("Friday")).not_to_be_checked()
            shoot(page, "account-03-profile")

            page.goto(f"{live_site.url}/account/wishes")
            page.get_by_label("Teams you would like to meet").fill("Search, Sales")
            page.get_by_label("People you never want to be paired with").fill("bo@example.com")
            page.get_by_role("button", name="Save").click()
            expect(page.get_by_role("status")).to_contain_text("Your lists are saved.")
            shoot(page, "account-04-wishes")

            page.goto(f"{live_site.url}/account/calendar")
            page.get_by_label("A calendar feed (ICS) at a web address").check()
            page.get_by_label("Calendar address").fill("/etc/passwd")
            page.get_by_role("button", name="Save").click()
            expect(page.locator("#url-error")).to_contain_text("http:// or https://")
            page.get_by_label("The organisation's calendar", exact=False).check()
            page.get_by_role("button", name="Save").click()
            page.get_by_role("button", name="Check my calendar").click()
            expect(page.locator("#check-result")).to_contain_text("planned on your working hours alone")
            shoot(page, "account-05-calendar")

            page.goto(f"{live_site.url}/account")
            page.get_by_label("Pause until").fill("2099-01-01")
            page.get_by_role("button", name="Pause").click()
            expect(page.locator("#until-error")).to_contain_text("Choose a day")
            with page.expect_download() as download:
                page.get_by_role("link", name="Download my data (JSON)").click()
            saved = tmp_path / "my-data.json"
            download.value.save_as(saved)
            data = json.loads(saved.read_text(encoding="utf-8"))
            assert data["profile"]["name"] == "Ana Maria Lima"
            assert data["profile"]["wishlist"] == ["team:Sales", "team:Search"]

            page.goto(f"{live_site.url}/account/history")
            expect(page.get_by_text("You have not been paired yet.")).to_be_visible()

            page.goto(f"{live_site.url}/account/delete")
            shoot(page, "account-06-delete")
            page.get_by_label("Type your email address to confirm").fill("ana.lima@example.com")
            page.get_by_role("button", name="Delete my account").click()
            expect(page.get_by_role("status")).to_contain_text("Your account and everything stored about you")
            page.goto(f"{live_site.url}/account")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
            page.get_by_label("Work email").fill("ana.lima@example.com")
            page.get_by_role("button", name="Email me a sign-in link").click()
            expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
            assert f"{live_site.url}/sign-in/" not in text_of(emails_in(live_site.outbox)[-1])

            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            small = phone.new_page()
            sign_up_and_confirm(small, live_site)
            small.goto(f"{live_site.url}/account/profile")
            width = small.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the profile page scrolls sideways on a phone ({width}px)"
            shoot(small, "account-07-profile-phone")
        finally:
            browser.close()
    assert [problem for problem in problems if "status of 422" not in problem] == []
