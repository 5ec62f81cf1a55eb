from datetime import date
from pathlib import Path

import pytest

from scheduler.config import describe_config, find_config_path, load_config, mask_url
from scheduler.errors import ConfigError, NotFoundError
from scheduler.model import OfficeRules
from scheduler.programs.settings import find_program

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "coffeechat.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_and_matches_the_defaults(tmp_path: Path) -> None:
    example = load_config(EXAMPLE)
    defaults = load_config(write(tmp_path, ""))
    # The example documents every key with its default: apart from its path it must equal an empty file.
    for section in ("organisation", "database", "mail", "calendar", "web", "delivery", "programs"):
        assert getattr(example, section) == getattr(defaults, section), section


def test_sqlite_file_next_to_the_config_is_the_default_database(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.database_url == f"sqlite:///{tmp_path.resolve() / 'coffeechat.db'}"


def test_unknown_key_names_the_key_and_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[mail]\nbackend = 'file'\nsendr = 'x@example.com'\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "mail.sendr" in str(caught.value)
    assert str(path) in str(caught.value)


def test_wrong_type_is_refused_without_guessing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mail\.smtp\.port.*must be an integer"):
        load_config(write(tmp_path, "[mail.smtp]\nport = '587'\n"))


def test_bad_value_in_a_program_names_the_program_entry(tmp_path: Path) -> None:
    text = "[[programs]]\nname = 'a'\n\n[[programs]]\nname = 'b'\nkind = 'brunch'\n"
    with pytest.raises(ConfigError, match=r"programs\[1\].*brunch"):
        load_config(write(tmp_path, text))


def test_program_weights_are_read(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[[programs]]\nname = 'lunch'\nkind = 'lunch'\n"
                                         "duration_minutes = 60\n[programs.weights]\nnever_met = 9\n"))
    program = find_program(config.programs, "lunch")
    assert (program.kind, program.duration_minutes, program.weights.never_met) == ("lunch", 60, 9.0)
    with pytest.raises(NotFoundError, match="no program named 'coffee'; configured: lunch"):
        find_program(config.programs, "coffee")


def test_tentative_busy_is_a_program_setting(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[[programs]]\nname = 'coffee'\n[[programs]]\nname = 'lunch'\n"
                                         "kind = 'lunch'\ntentative_busy = false\n"))
    assert [p.tentative_busy for p in config.programs] == [True, False]


def test_the_old_calendar_tentative_busy_key_says_where_it_moved(tmp_path: Path) -> None:
    path = write(tmp_path, "[calendar]\ntentative_busy = false\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "calendar.tentative_busy" in str(caught.value)
    assert "moved to [[programs]] tentative_busy" in str(caught.value)
    assert str(path) in str(caught.value)


def test_duplicate_program_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unique: x"):
        load_config(write(tmp_path, "[[programs]]\nname = 'x'\n[[programs]]\nname = 'x'\n"))


def test_a_program_cannot_send_invites_through_a_provider_that_is_not_enabled(tmp_path: Path) -> None:
    program = "[[programs]]\nname = 'coffee'\ninvites = 'microsoft'\n"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, program))
    assert "programs[0].invites" in str(caught.value)
    assert "[calendar.microsoft] is not enabled" in str(caught.value)
    enabled = load_config(write(tmp_path, "[calendar.microsoft]\nenabled = true\n" + program))
    assert enabled.programs[0].invites == "microsoft"


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[mail\n"))


def test_missing_file_explains_how_to_choose_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COFFEECHAT_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="COFFEECHAT_CONFIG"):
        find_config_path(None)
    monkeypatch.setenv("COFFEECHAT_CONFIG", str(write(tmp_path, "")))
    assert find_config_path(None) == (tmp_path / "coffeechat.toml").resolve()


def test_describe_shows_whether_secrets_are_set_but_never_their_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "[mail]\nbackend = 'smtp'\n[mail.smtp]\nhost = 'smtp.example.com'\n"
                           "username = 'bot'\npassword_env = 'TEST_SMTP_PW'\n"
                           "[database]\nurl = 'postgresql+psycopg://app:hunter2@db:5432/cc'\n")
    monkeypatch.setenv("TEST_SMTP_PW", "s3cret-value")
    text = "\n".join(describe_config(load_config(path)))
    assert "smtp smtp.example.com:587" in text
    assert "$TEST_SMTP_PW set" in text
    assert "s3cret-value" not in text
    assert "hunter2" not in text
    monkeypatch.delenv("TEST_SMTP_PW")
    assert "$TEST_SMTP_PW NOT SET" in "\n".join(describe_config(load_config(path)))


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql+psycopg://u:pw@h:5432/d", "postgresql+psycopg://u:***@h:5432/d"),
    ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_a_secret_written_into_the_file_is_refused_with_the_way_to_do_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"mail\.smtp\.password.*password_env"):
        load_config(write(tmp_path, "[mail.smtp]\npassword = 'hunter2'\n"))


# --- issue 13: an office's country and its public holidays ---------------------------------------------------


def test_issue_13_an_office_names_its_country_and_subdivision(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[[offices]]\nname = 'London'\ncountry = 'gb'\nsubdivision = ' eng'\n"
                                         "holidays = ['2026-12-24']\n\n[[offices]]\nname = 'Remote'\n"))
    assert config.office_rules() == {
        "London": OfficeRules(holidays=frozenset({date(2026, 12, 24)}), country="GB", subdivision="ENG"),
        "Remote": OfficeRules(),
    }


@pytest.mark.parametrize(("office", "message"), [
    ("country = 'XX'", "country 'XX' has no public holiday table; use an ISO 3166-1 code such as GB"),
    ("country = 'England'", "country 'ENGLAND' has no public holiday table"),  # a name, not a code
    ("country = 'GB'\nsubdivision = 'BY'", "subdivision 'BY' is not one of GB's (ENG, NIR, SCT, WLS)"),
    ("subdivision = 'ENG'", "subdivision 'ENG' needs the country it is in"),
], ids=["unknown-country", "a-name", "foreign-subdivision", "subdivision-alone"])
def test_issue_13_a_bad_country_code_names_the_key_and_the_file(tmp_path: Path, office: str, message: str) -> None:
    path = write(tmp_path, f"[[offices]]\nname = 'Hub'\nlunch = '12:00-13:00'\n\n[[offices]]\nname = 'London'\n"
                           f"{office}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.path == str(path)
    assert caught.value.key == "offices[1]"
    assert f"office London: {message}" in str(caught.value)


def test_issue_13_the_example_offices_table_loads_as_documented(tmp_path: Path) -> None:
    # The example keeps [[offices]] commented out (an empty file has none); uncommented, it must load.
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    start = lines.index("# [[offices]]")
    table = []
    for line in lines[start:]:
        if line.startswith("#  "):
            continue  # a comment carried on to the next line
        if not line.startswith("# "):
            break
        table.append(line[2:])
    config = load_config(write(tmp_path, "\n".join(table) + "\n"))
    (office,) = config.offices
    assert (office.name, office.country, office.subdivision) == ("London", "GB", "ENG")
    assert office.rules().holidays
