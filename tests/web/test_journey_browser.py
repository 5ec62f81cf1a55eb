"""The whole journey in a real browser (Debian's Chromium through Playwright), every email through a real SMTP
server on loopback (aiosmtpd): a new person signs up, confirms through the link in the email the server caught,
edits their preferences; an admin signs in by emailed link, previews and runs the cycle; the delivery worker
sends the invites over SMTP; the new person opens the match from the invitation, sees their partner, the time in
their own zone and why, and accepts. Screenshots go to ``test-output/browser/journey-*.png``."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Page, expect, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from scheduler.config import load_config
from scheduler.delivery.outbox import deliver_due
from scheduler.entrypoints.bootstrap import Services, bootstrap
from scheduler.model import Person
from scheduler.storage.migrate import upgrade_database
from tests.integration.test_mail_smtp import HOST, free_port
from tests.web.test_browser import CHROMIUM, OUTPUT, LateApp, text_of
from web import create_app
from web.urls import WebUrls

pytestmark = pytest.mark.slow

ADMIN = "ada.admin@example.com"
CONFIG = """
[organisation]
name = "Example Corp"
base_url = "{base_url}"

[mail]
backend = "smtp"
sender = "Coffee Chat <coffee@example.com>"

[mail.smtp]
host = "{smtp_host}"
port = {smtp_port}
security = "none"

[web]
allowed_domains = ["example.com"]
admins = ["{admin}"]

[[programs]]
name = "coffee"
meeting_mode = "virtual"
"""


@dataclass
class Inbox:
    """What the SMTP server on loopback received, message by message."""

    messages: list[MimeMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def last_to(self, address: str, subject_start: str = "") -> MimeMessage:
        """The newest message to ``address`` whose subject starts with ``subject_start``."""
        with self.lock:
            for message in reversed(self.messages):
                if (message["To"].addresses[0].addr_spec == address
                        and str(message["Subject"]).startswith(subject_start)):
                    return message
        raise AssertionError(f"no email to {address} starting {subject_start!r}")


@dataclass
class Journey:
    url: str
    inbox: Inbox
    services: Services


@pytest.fixture
def journey(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Journey]:
    """The site served on loopback, its mail going to an SMTP server on loopback, three colleagues and an admin
    already known (an admin import)."""
    monkeypatch.setenv("COFFEECHAT_SECRET_KEY", "journey-test-key-0123456789abcdef")
    inbox = Inbox()
    smtp = Controller(inbox, hostname=HOST, port=free_port())
    smtp.start()
    late = LateApp()
    server: BaseWSGIServer = make_server("127.0.0.1", 0, late, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    path = tmp_path / "coffeechat.toml"
    path.write_text(CONFIG.format(base_url=url, smtp_host=HOST, smtp_port=smtp.port, admin=ADMIN), encoding="utf-8")
    config = load_config(path)
    upgrade_database(config.database_url)
    services = bootstrap(config, site=WebUrls.from_config(config))
    confirmed = datetime(2026, 1, 1, tzinfo=UTC)
    with services.uow_factory() as uow:
        uow.people.save(Person(email=ADMIN, name="Ada Admin", team="Ops", verified_at=confirmed, opted_out=True))
        for n, (team, department) in enumerate((("Field Sales", "Sales"), ("Design Systems", "Design"),
                                                ("Legal Ops", "Legal"))):
            uow.people.save(Person(email=f"colleague{n}@example.com", name=f"Colleague {n}", team=team,
                                   department=department, timezone="Europe/London", verified_at=confirmed))
        uow.commit()
    late.app = create_app(config, services=services)
    thread = threading.Thread(target=server.serve_forever, name="journey-site", daemon=True)
    thread.start()
    try:
        yield Journey(url=url, inbox=inbox, services=services)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        services.dispose()
        smtp.stop()


def link_in(message: MimeMessage, url: str, path: str) -> str:
    """The first link in the message's text to ``url`` + ``path`` (a regular expression)."""
    found = re.search(rf"{re.escape(url)}{path}\S+", text_of(message))
    assert found is not None, text_of(message)
    return found.group(0)


def shoot(page: Page, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"journey-{name}.png"), full_page=True)


def run_delivery_worker(services: Services) -> None:
    """What ``coffeechat deliver`` (or ``tick``) does: perform the due outbox effects, here over SMTP."""
    mailer = services.mailer_factory()
    try:
        deliver_due(services.uow_factory, services.performers(mailer), services.clock, services.retry_policy)
    finally:
        mailer.close()


def test_sign_up_confirm_edit_then_an_admin_runs_the_cycle_and_the_match_is_accepted(journey: Journey) -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run `make browser-deps` (apt-get install chromium)"
    url, inbox = journey.url, journey.inbox
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            ana = browser.new_context(timezone_id="Europe/Berlin", viewport={"width": 1000, "height": 900}).new_page()
            admin = browser.new_context(timezone_id="Europe/London", viewport={"width": 1000, "height": 900}
                                        ).new_page()
            for page in (ana, admin):
                page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
                page.on("pageerror", lambda error: problems.append(str(error)))

            # Ana signs up; the confirmation comes through the SMTP server.
            ana.goto(f"{url}/sign-up")
            ana.get_by_label("Your name").fill("Ana Lima")
            ana.get_by_label("Work email").fill("ana.lima@example.com")
            ana.get_by_label("Team", exact=True).fill("Payments")
            ana.get_by_label("Department (optional)").fill("Engineering")
            ana.get_by_role("button", name="Sign up").click()
            expect(ana.get_by_role("heading", name="Check your inbox")).to_be_visible()
            confirmation = inbox.last_to("ana.lima@example.com", "Confirm your Example Corp Coffee Chat sign-up")
            ana.goto(link_in(confirmation, url, "/confirm/"))
            ana.get_by_role("button", name="Confirm and sign in").click()
            expect(ana.get_by_role("heading", name="My account")).to_be_visible()
            shoot(ana, "01-account")

            # She edits her preferences.
            ana.get_by_role("link", name="Profile and preferences").click()
            ana.get_by_label("Interests (optional)").fill("climbing, jazz")
            ana.get_by_label("Working hours start").fill("08:30")
            ana.get_by_role("button", name="Save").click()
            expect(ana.get_by_role("status")).to_contain_text("Your profile is saved.")
            stored = journey.services.uow_factory
            with stored() as uow:
                profile = uow.people.get("ana.lima@example.com")
            assert profile is not None
            assert profile.interests == frozenset({"climbing", "jazz"})
            assert profile.working_hours.start.isoformat("minutes") == "08:30"

            # The admin signs in by the emailed link, previews the cycle, and runs it.
            admin.goto(f"{url}/admin/cycles")
            admin.get_by_label("Work email").fill(ADMIN)
            admin.get_by_role("button", name="Email me a sign-in link").click()
            admin.goto(link_in(inbox.last_to(ADMIN), url, "/sign-in/"))
            admin.get_by_role("button", name="Sign in", exact=True).click()
            admin.get_by_role("link", name="Preview the next cycle").click()
            expect(admin.get_by_text("nothing is stored")).to_be_visible()
            expect(admin.get_by_text("4 eligible, 4 placed")).to_be_visible()
            shoot(admin, "02-preview")
            admin.get_by_role("button", name="Run this cycle").click()
            expect(admin.get_by_text("is planned with 2 groups")).to_be_visible()

            # The delivery worker sends the invitations through the SMTP server.
            run_delivery_worker(journey.services)
            invitation = inbox.last_to("ana.lima@example.com", "Coffee chat with")
            assert any(part.get_content_type() == "text/calendar" for part in invitation.walk())
            partner = str(invitation["Subject"]).removeprefix("Coffee chat with ").split(":")[0]

            # Ana opens the match from her invitation: partner, her own time zone, why; she accepts.
            ana.goto(link_in(invitation, url, r"/matches/\d+/accept/"))
            expect(ana.get_by_role("heading", name=f"Coffee chat with {partner}")).to_be_visible()
            expect(ana.get_by_text("(Europe/Berlin)").first).to_be_visible()
            expect(ana.get_by_role("heading", name="Why you were paired")).to_be_visible()
            shoot(ana, "03-match")
            ana.get_by_role("button", name="Yes, I'll be there").click()
            expect(ana.get_by_text("You said you will be there.")).to_be_visible()
            shoot(ana, "04-accepted")
        finally:
            browser.close()
    assert problems == []
    with journey.services.uow_factory() as uow:
        [(_, meeting)] = uow.accounts.meetings_of("ana.lima@example.com")
        answers = {rsvp.email: rsvp.answer for rsvp in uow.matches.rsvps(meeting.id or 0)}
    assert answers == {"ana.lima@example.com": "accepted"}
