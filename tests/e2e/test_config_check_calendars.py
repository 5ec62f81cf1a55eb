"""Issue 13: `coffeechat config check` refuses calendar settings that would send a login anywhere, or that a
cycle would only meet as every person's calendar problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.org import CliResult

RunCli = Callable[..., CliResult]
BASE = '[database]\nurl = "sqlite:///coffeechat.db"\n[mail]\nbackend = "file"\n'


def test_issue_13_a_caldav_login_without_servers_fails_config_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli) -> None:
    config = tmp_path / "coffeechat.toml"
    config.write_text(BASE, encoding="utf-8")
    monkeypatch.setenv("COFFEECHAT_CALDAV_USERNAME", "coffee")
    monkeypatch.setenv("COFFEECHAT_CALDAV_PASSWORD", "dav-pass-4k2j")

    refused = run_cli("--config", config, "config", "check")
    config.write_text(BASE + '[calendar.caldav]\nservers = ["https://dav.example.com"]\n', encoding="utf-8")
    listed = run_cli("--config", config, "config", "check")

    assert refused.code == 2, refused.text
    assert "calendar.caldav.servers" in refused.err
    assert "config OK" not in refused.out
    assert "dav-pass-4k2j" not in refused.text
    assert listed.code == 0, listed.text
    assert listed.out.rstrip().endswith("config OK")


def test_issue_13_an_enabled_google_without_its_key_fails_config_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_cli: RunCli) -> None:
    monkeypatch.delenv("COFFEECHAT_GOOGLE_KEY", raising=False)
    config = tmp_path / "coffeechat.toml"
    config.write_text(BASE + '[calendar.google]\nenabled = true\ndomains = ["example.com"]\n'
                      'organizer = "coffee@example.com"\n', encoding="utf-8")

    result = run_cli("--config", config, "config", "check")

    assert result.code == 2, result.text
    assert "COFFEECHAT_GOOGLE_KEY" in result.err
