"""The account services without the web: input checks, signed links, sessions, admins, purging."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from scheduler.accounts import access as accounts
from scheduler.accounts.access import AccountSettings, LinkError, LinkSigner, SignUpRequest, check_work_email
from scheduler.errors import InputError
from scheduler.model import Person
from tests.conftest import SUNDAY_NOON
from tests.fakes import FakeClock
from tests.web.conftest import Site

KEY = "service-test-key-0123456789abcdef"
REQUEST = SignUpRequest(email="ana@example.com", name="Ana", team="Payments")


def settings_of(site: Site, **changes: object) -> AccountSettings:
    return replace(AccountSettings.from_config(site.services.config, site.services.site), **changes)


def do_sign_up(site: Site, clock: FakeClock, request: SignUpRequest = REQUEST, **changes: object) -> str:
    return accounts.sign_up(site.services.uow_factory, site.services.mailer_factory, clock, LinkSigner(KEY),
                            settings_of(site, **changes), request)


@pytest.mark.parametrize("address", ["ana@example.com", "Ana.Lima+coffee@Example.COM", "o'neil@sub.example.co.uk",
                                     "  ana@example.com  "])
def test_plain_addresses_are_accepted_and_normalised(address: str) -> None:
    assert check_work_email(address) == address.strip().lower()


@pytest.mark.parametrize("address", ["", "ana", "ana@", "@example.com", "ana@example", "ana@@example.com",
                                     "ana@example.com\r\nBcc: x@evil.example", '"ana"@example.com',
                                     "ana@[127.0.0.1]", "ana@-example.com", "a..b@example.com",
                                     "ana@example.com,bo@example.com", "ana <ana@example.com>",
                                     "x" * 250 + "@example.com"])
def test_other_addresses_are_refused_in_plain_words(address: str) -> None:
    with pytest.raises(InputError, match=r"Enter an email address like name@example\.com") as caught:
        check_work_email(address)
    assert caught.value.where == "email"


def test_control_characters_are_refused_by_the_service_too(site: Site, clock: FakeClock) -> None:
    with pytest.raises(InputError) as caught:
        do_sign_up(site, clock, replace(REQUEST, team="Pay\x00ments"))

    assert caught.value.where == "team"
    assert site.person("ana@example.com") is None
    assert site.mailer.sent == []


def test_an_address_outside_the_allowed_domains_is_refused(site: Site, clock: FakeClock) -> None:
    with pytest.raises(InputError, match=r"Use your work address \(@corp\.example\)"):
        do_sign_up(site, clock, allowed_domains=("corp.example",))
    assert site.mailer.sent == []


def test_a_profile_the_model_refuses_names_the_problem(site: Site, clock: FakeClock) -> None:
    with pytest.raises(InputError, match="unknown time zone 'Mars/Olympus'"):
        do_sign_up(site, clock, replace(REQUEST, timezone="Mars/Olympus"))


def test_links_signed_with_another_key_are_invalid() -> None:
    token = LinkSigner("another-key-0123456789").sign(accounts.SIGN_IN, "ana@example.com", SUNDAY_NOON)

    with pytest.raises(LinkError) as caught:
        LinkSigner(KEY).load(accounts.SIGN_IN, token, SUNDAY_NOON, timedelta(minutes=15))
    assert caught.value.reason == "invalid"


def test_a_link_from_the_future_is_invalid_and_one_at_its_last_second_works() -> None:
    signer = LinkSigner(KEY)
    future = signer.sign(accounts.SIGN_IN, "ana@example.com", SUNDAY_NOON + timedelta(minutes=5))
    token = signer.sign(accounts.SIGN_IN, "ana@example.com", SUNDAY_NOON, next_path="/account")

    with pytest.raises(LinkError):
        signer.load(accounts.SIGN_IN, future, SUNDAY_NOON, timedelta(minutes=15))
    claim = signer.load(accounts.SIGN_IN, token, SUNDAY_NOON + timedelta(minutes=15), timedelta(minutes=15))
    assert (claim.email, claim.purpose, claim.next_path, claim.issued_at) == (
        "ana@example.com", accounts.SIGN_IN, "/account", SUNDAY_NOON)


def test_an_unsafe_next_path_in_a_link_is_dropped() -> None:
    signer = LinkSigner(KEY)
    token = signer.sign(accounts.SIGN_IN, "ana@example.com", SUNDAY_NOON, next_path="//evil.example")

    assert signer.load(accounts.SIGN_IN, token, SUNDAY_NOON, timedelta(minutes=15)).next_path == ""


def test_a_signer_needs_a_key() -> None:
    with pytest.raises(ValueError, match="secret key"):
        LinkSigner("")


def test_viewer_is_admin_when_configured_and_visits_are_noted_sparingly(
    site: Site, clock: FakeClock, create_person: Callable[..., Person]
) -> None:
    site.store(create_person(email="boss@example.com", name="Boss"))
    services = site.services
    signer = LinkSigner(KEY)
    settings = settings_of(site, admins=("boss@example.com",))
    token = signer.sign(accounts.SIGN_IN, "boss@example.com", clock.now())
    opened = accounts.use_link(services.uow_factory, clock, signer, settings, accounts.SIGN_IN, token)

    viewer = accounts.current_viewer(services.uow_factory, clock, settings, opened.token)
    assert viewer is not None
    assert (viewer.email, viewer.name, viewer.is_admin) == ("boss@example.com", "Boss", True)
    not_admin = accounts.current_viewer(services.uow_factory, clock, settings_of(site), opened.token)
    assert not_admin is not None
    assert not not_admin.is_admin

    def last_seen() -> object:
        with services.uow_factory() as uow:
            record = uow.accounts.find_session(accounts.token_hash(opened.token))
            assert record is not None
            return record.last_seen_at

    clock.advance(timedelta(minutes=4))
    accounts.current_viewer(services.uow_factory, clock, settings, opened.token)
    assert last_seen() == SUNDAY_NOON
    clock.advance(timedelta(minutes=1))
    accounts.current_viewer(services.uow_factory, clock, settings, opened.token)
    assert last_seen() == SUNDAY_NOON + timedelta(minutes=5)


@pytest.mark.parametrize("token", ["", "x" * 300, "never-issued"])
def test_unknown_or_absurd_session_tokens_are_nobody(site: Site, clock: FakeClock, token: str) -> None:
    services = site.services
    assert accounts.current_viewer(services.uow_factory, clock, settings_of(site), token) is None
    assert accounts.sign_out(services.uow_factory, clock, token) is False


def test_purge_expired_removes_old_sessions_and_links(site: Site, clock: FakeClock) -> None:
    assert do_sign_up(site, clock) == accounts.CONFIRM
    services = site.services
    signer = LinkSigner(KEY)
    token = signer.sign(accounts.CONFIRM, "ana@example.com", clock.now())
    opened = accounts.use_link(services.uow_factory, clock, signer, settings_of(site), accounts.CONFIRM, token)

    assert accounts.purge_expired(services.uow_factory, clock) == 0
    clock.advance(timedelta(days=15))
    assert accounts.purge_expired(services.uow_factory, clock) == 2  # the session and the used link
    assert accounts.current_viewer(services.uow_factory, clock, settings_of(site), opened.token) is None


def test_disabling_an_unknown_address_is_not_found(site: Site, clock: FakeClock) -> None:
    from scheduler.errors import NotFoundError

    with pytest.raises(NotFoundError, match="nobody has the address"):
        accounts.set_disabled(site.services.uow_factory, clock, "ghost@example.com", True)
