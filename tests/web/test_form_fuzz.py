"""Hypothesis fuzzing of the account forms and links through the test client: whatever is sent, never a 500,
every accepted request sends exactly one email (and a refused one none), and no email it triggers can carry
an injected header or go to anyone but the address typed."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from integrations.mail import build_mime
from scheduler.model import EmailMessage
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeClock
from tests.web.conftest import SECRET, SIGN_UP, Site, build_site, csrf_from

# One site serves every example of a test (it is module-scoped): examples add rows, and each checks only the
# answer and the emails of its own request.
FUZZ = settings(max_examples=120, deadline=None)
ALLOWED_HEADERS = {"from", "to", "subject", "message-id", "auto-submitted", "mime-version", "content-type",
                   "content-transfer-encoding"}
LIMITS = 'allowed_domains = ["example.com"]\nsign_up_per_hour = 100000\nsign_in_per_hour = 100000\n' \
         "links_per_hour = 100000"

# Text that tries hard: control characters, line breaks with header-looking text, markup, long runs, any Unicode.
nasty = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", " ", "\x00", "a\r\nBcc: evil@evil.example", "<script>alert(1)</script>", "x" * 201,
                     "Ana\u2028Lima", "a;b", "\ud7ff", "team:Search", "=?utf-8?q?=0D=0A?="]),
)
addresses = st.one_of(
    nasty,
    st.from_regex(r"[a-z0-9._+-]{1,20}@example\.com", fullmatch=True),
    st.from_regex(r"[a-z0-9._+-]{1,20}@[a-z]{1,10}\.(com|org)", fullmatch=True),
    st.builds(lambda local, tail: f"{local}@example.com{tail}",
              st.from_regex(r"[a-z]{1,8}", fullmatch=True),
              st.sampled_from(["\r\nBcc: evil@evil.example", "\n", ",evil@evil.example", " <evil@evil.example>",
                               ">", "\x00"])),
)
# Names the form accepts but a mail header must quote: quotes, commas, angle brackets, "=?", any script.
names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
                min_size=1, max_size=60).filter(str.strip)
sign_up_forms = st.builds(
    lambda name, address, changes: {**SIGN_UP, "name": name, "email": address, **changes},
    st.one_of(names, st.sampled_from(['Ana "The Boss" Lima', "Lima, Ana <ana@evil.example>", "=?utf-8?b?QQ==?="])),
    # Mostly acceptable addresses, so that most examples reach the email.
    st.one_of(*[st.from_regex(r"[A-Za-z0-9._+'-]{1,20}@[Ee]xample\.com", fullmatch=True)] * 3, addresses),
    st.dictionaries(st.sampled_from([field for field in SIGN_UP if field not in ("name", "email")]),
                    st.one_of(nasty, st.lists(st.sampled_from(["coffee", "lunch", "tea", "\x00"]), max_size=3)),
                    max_size=3),
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite: Path) -> Iterator[Site]:
    """One site for all the examples of this module (in place of the per-test one), with limits high enough
    never to answer 429."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COFFEECHAT_SECRET_KEY", SECRET)
        site = build_site(tmp_path_factory.mktemp("fuzz") / "site", FakeClock(SUNDAY_NOON), migrated_sqlite,
                          web=LIMITS)
    yield site
    site.services.dispose()


def check_email(message: EmailMessage, typed_address: str) -> None:
    """The email goes to the typed address alone, and its headers are exactly ours, each on one line."""
    parsed = email.message_from_bytes(build_mime(message).as_bytes(), policy=email.policy.default)
    assert {name.lower() for name in parsed} <= ALLOWED_HEADERS
    recipients = parsed["To"].addresses
    assert [recipient.addr_spec for recipient in recipients] == [typed_address.strip().lower()]
    assert parsed["Subject"] == message.subject
    assert "\n" not in message.subject
    assert "\r" not in message.subject
    assert len(parsed.get_all("To")) == 1
    assert parsed["Cc"] is None
    assert parsed["Bcc"] is None


@FUZZ
@given(form=sign_up_forms)
def test_fuzzed_sign_up_never_fails_and_never_injects_a_header(site: Site, form: dict[str, object]) -> None:
    token = csrf_from(site.client.get("/sign-up").get_data(as_text=True))
    sent_before = len(site.mailer.sent)

    response = site.client.post("/sign-up", data={**form, "csrf_token": token})

    assert response.status_code in (303, 422), response.status_code
    event(f"answered {response.status_code}")
    emails = site.mailer.sent[sent_before:]
    if response.status_code == 303:
        assert response.headers["Location"] == "/check-inbox"
        [message] = emails
        check_email(message, str(form["email"]))
    else:
        assert emails == []
        assert '<p class="error"' in response.get_data(as_text=True)


@FUZZ
@given(address=addresses, next_path=nasty)
def test_fuzzed_sign_in_never_fails_and_never_injects_a_header(site: Site, address: str,
                                                              next_path: str) -> None:
    token = csrf_from(site.client.get("/sign-in").get_data(as_text=True))
    sent_before = len(site.mailer.sent)

    response = site.client.post("/sign-in", data={"email": address, "next": next_path, "csrf_token": token})

    assert response.status_code in (303, 422), response.status_code
    event(f"answered {response.status_code}")
    emails = site.mailer.sent[sent_before:]
    if response.status_code == 303:
        [message] = emails
        check_email(message, address)
    else:
        assert emails == []


@FUZZ
@given(token=st.one_of(st.text(min_size=1, max_size=300).filter(lambda t: "/" not in t),
                       st.from_regex(r"[A-Za-z0-9_-]{10,80}\.[A-Za-z0-9_-]{10,60}", fullmatch=True)),
       kind=st.sampled_from(["confirm", "sign-in"]), post=st.booleans())
def test_fuzzed_links_are_refused_without_a_failure(site: Site, token: str, kind: str, post: bool) -> None:
    csrf = csrf_from(site.client.get("/sign-in").get_data(as_text=True))

    url = f"/{kind}/{token}"
    response = site.client.post(url, data={"csrf_token": csrf}) if post else site.client.get(url)

    assert response.status_code in (400, 404, 410), response.status_code
    assert "coffeechat_session" not in " ".join(response.headers.getlist("Set-Cookie"))

