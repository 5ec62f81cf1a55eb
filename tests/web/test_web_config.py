"""The [web] settings of the account pages: defaults, normalisation, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.config import load_config
from scheduler.errors import ConfigError


def web_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coffeechat.toml"
    path.write_text(f"[web]\n{text}\n", encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    web = load_config(web_config(tmp_path, "")).web

    assert (web.allowed_domains, web.admins, web.trusted_proxies) == ((), (), 0)
    assert (web.session_days, web.sign_in_link_minutes, web.confirm_link_hours) == (14, 15, 48)
    assert (web.sign_up_per_hour, web.sign_in_per_hour, web.links_per_hour) == (60, 60, 120)


def test_domains_and_admins_are_normalised(tmp_path: Path) -> None:
    web = load_config(web_config(tmp_path, 'allowed_domains = [" Example.COM ", "@corp.example"]\n'
                                           'admins = [" Boss@Example.com "]')).web

    assert web.allowed_domains == ("example.com", "corp.example")
    assert web.admins == ("boss@example.com",)


@pytest.mark.parametrize(("text", "message"), [
    ('allowed_domains = ["localhost"]', "allowed_domains: 'localhost' is not a mail domain such as example.com"),
    ('allowed_domains = ["a@b.com"]', "allowed_domains: 'a@b.com' is not a mail domain"),
    ('admins = ["boss"]', "admins: 'boss' is not an email address"),
    ("trusted_proxies = -1", "trusted_proxies must be 0 or more"),
    ("sign_up_per_hour = 0", "sign_up_per_hour must be at least 1"),
    ("session_days = 0", "session_days must be at least 1"),
    ('links_per_hour = "10"', "must be an integer"),
])
def test_bad_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(web_config(tmp_path, text))

    assert message in str(caught.value)
    assert "web" in str(caught.value)
