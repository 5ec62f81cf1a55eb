"""A real browser on a real server: Debian's Chromium, driven by Playwright, against the site served on loopback
by werkzeug in a thread, with email written by the file mailer (as in the demo).

A new person signs up (the time zone is pre-filled by the page's script from the browser's own zone), follows
the link in the emailed confirmation, confirms, and lands signed in. Screenshots of the pages go to
``test-output/browser/`` (or ``$COFFEECHAT_TEST_OUTPUT/browser``). ``make test`` installs Chromium first
(``make browser-deps``); without it this test fails, on purpose: CI must run it.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from scheduler.config import load_config
from scheduler.entrypoints.bootstrap import bootstrap
from scheduler.storage.migrate import upgrade_database
from web import create_app
from web.urls import WebUrls

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(os.environ.get("COFFEECHAT_TEST_OUTPUT", "test-output")) / "browser"
CONFIG = """
[organisation]
name = "Example Corp"
base_url = "{base_url}"

[mail]
backend = "file"
outbox_dir = "outbox"

[web]
allowed_domains = ["example.com"]

[[programs]]
name = "coffee"
"""

pytestmark = pytest.mark.slow


class LateApp:
    """A WSGI app that forwards to the Flask app once it exists: the server has to be listening (to know its
    port) before the site's config, whose base_url names that port, can be written."""

    def __init__(self) -> None:
        self.app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        assert self.app is not None
        return self.app(environ, start_response)


@dataclass
class LiveSite:
    url: str
    outbox: Path


@pytest.fixture
def live_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveSite]:
    monkeypatch.setenv("COFFEECHAT_SECRET_KEY", "browser-test-key-0123456789abcdef")
    late = LateApp()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, late, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    path = tmp_path / "coffeechat.toml"
    path.write_text(CONFIG.format(base_url=url), encoding="utf-8")
    config = load_config(path)
    upgrade_database(config.database_url)
    services = bootstrap(config, site=WebUrls.from_config(config))
    late.app = create_app(config, services=services)
    thread = threading.Thread(target=server.serve_forever, name="site", daemon=True)
    thread.start()
    try:
        yield LiveSite(url=url, outbox=config.resolve("outbox"))
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        services.dispose()


def emails_in(outbox: Path) -> list[MimeMessage]:
    """Every message the file mailer wrote, oldest first."""
    files = sorted(outbox.glob("*.eml"), key=lambda file: file.stat().st_mtime_ns)
    return [email.message_from_bytes(file.read_bytes(), policy=email.policy.default) for file in files]  # type: ignore[misc]


def text_of(message: MimeMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def shoot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def test_sign_up_confirm_by_emailed_link_and_land_signed_in(live_site: LiveSite) -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)"
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(timezone_id="Europe/Berlin", viewport={"width": 1000, "height": 900})
            page = context.new_page()
            # A CSP violation or a script error shows up here: the page must have none.
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))

            page.goto(f"{live_site.url}/sign-up")
            expect(page.get_by_role("heading", name="Join Coffee Chat")).to_be_visible()
            # The same-origin script put the browser's zone in the list.
            expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
            shoot(page, "01-sign-up")

            # Keyboard: the first Tab reaches the skip link, which is then visible.
            page.keyboard.press("Tab")
            expect(page.get_by_role("link", name="Skip to the content")).to_be_focused()

            # A first try with mistakes: the errors sit by their fields and what was typed stays.
            page.get_by_label("Your name").fill("Ana Lima")
            page.get_by_label("Work email").fill("ana.lima@elsewhere.net")
            page.get_by_role("button", name="Sign up").click()
            expect(page.get_by_role("alert")).to_contain_text("Please check these fields")
            expect(page.locator("#email-error")).to_have_text("Use your work address (@example.com).")
            expect(page.locator("#team-error")).to_contain_text("Enter your team")
            expect(page.get_by_label("Your name")).to_have_value("Ana Lima")
            expect(page.get_by_label("Time zone")).to_have_value("Europe/Berlin")
            shoot(page, "01b-sign-up-errors")

            page.get_by_label("Work email").fill("ana.lima@example.com")
            page.get_by_label("Team", exact=True).fill("Payments")
            page.get_by_label("Department (optional)").fill("Engineering")
            page.get_by_label("Office (optional)").fill("Berlin")
            page.get_by_label("Lunch", exact=True).check()
            page.get_by_label("Online only").check()
            page.get_by_label("Every two weeks").check()
            page.get_by_label("Interests (optional)").fill("climbing, jazz")
            page.get_by_role("button", name="Sign up").click()

            expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
            shoot(page, "02-check-inbox")

            [message] = emails_in(live_site.outbox)
            assert message["To"].addresses[0].addr_spec == "ana.lima@example.com"
            assert message["Subject"] == "Confirm your Example Corp Coffee Chat sign-up"
            found = re.search(rf"{re.escape(live_site.url)}/confirm/\S+", text_of(message))
            assert found is not None
            page.goto(found.group(0))
            expect(page.get_by_role("heading", name="Confirm your sign-up")).to_be_visible()
            shoot(page, "03-confirm")
            page.get_by_role("button", name="Confirm and sign in").click()

            expect(page).to_have_url(f"{live_site.url}/account")
            expect(page.get_by_role("heading", name="My account")).to_be_visible()
            expect(page.get_by_text("You are signed in as Ana Lima (ana.lima@example.com).")).to_be_visible()
            expect(page.get_by_role("status")).to_contain_text("Your address is confirmed")
            expect(page.get_by_text("(Europe/Berlin)")).to_be_visible()
            shoot(page, "04-account")
            cookies = {cookie["name"]: cookie for cookie in context.cookies()}
            assert cookies["coffeechat_session"]["httpOnly"] is True
            assert cookies["coffeechat_session"]["sameSite"] == "Lax"

            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("status")).to_contain_text("You are signed out")
            page.goto(f"{live_site.url}/account")
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible()

            phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
            small = phone.new_page()
            small.goto(f"{live_site.url}/sign-up")
            width = small.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the sign-up page scrolls sideways on a phone ({width}px)"
            shoot(small, "05-sign-up-phone")
        finally:
            browser.close()
    # The form sent back with its errors answers 422, which Chromium reports on the console; nothing else may be.
    assert [problem for problem in problems if "status of 422" not in problem] == []
