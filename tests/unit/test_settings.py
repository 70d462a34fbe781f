import re
from pathlib import Path

import pytest

from b24app import create_app
from b24app.settings import SETTINGS, SettingsError, check_required, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"\|\s*`(B24_[A-Z0-9_]+)`\s*\|", text))
    missing = [s.env for s in SETTINGS if s.env not in documented]
    assert not missing, f"settings missing from README's table: {missing}"
    unknown = documented - {s.env for s in SETTINGS}
    assert not unknown, f"README documents settings that do not exist: {unknown}"


def test_every_setting_has_help_text():
    assert all(s.help.strip() for s in SETTINGS)


@pytest.mark.parametrize(
    ("environ", "key", "expected"),
    [
        ({"B24_RATE_BURST": "250"}, "RATE_BURST", 250),
        ({"B24_RATE_PER_SECOND": "5"}, "RATE_PER_SECOND", 5.0),
        ({"B24_SCHEDULER": "off"}, "SCHEDULER", False),
        ({"B24_SCHEDULER": "yes"}, "SCHEDULER", True),
        ({}, "OAUTH_URL", "https://oauth.bitrix.info/oauth/token/"),
        ({"B24_OAUTH_URL": "http://127.0.0.1:5050/oauth/token/"}, "OAUTH_URL", "http://127.0.0.1:5050/oauth/token/"),
    ],
)
def test_settings_are_read_from_the_environment(environ, key, expected):
    assert load_settings(environ)[key] == expected


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"B24_RATE_BURST": "many"}, "B24_RATE_BURST"),
        ({"B24_RATE_PER_SECOND": "-2"}, "B24_RATE_PER_SECOND"),
        ({"B24_SCHEDULER": "maybe"}, "B24_SCHEDULER"),
        ({"B24_ENV": "staging"}, "B24_ENV"),
    ],
)
def test_a_malformed_setting_names_its_variable(environ, variable):
    with pytest.raises(SettingsError, match=variable):
        load_settings(environ)


def test_production_without_required_settings_names_each_missing_variable():
    config = load_settings({"B24_CLIENT_ID": "local.1.2"})
    with pytest.raises(SettingsError) as err:
        check_required(config)
    message = str(err.value)
    for name in ("B24_CLIENT_SECRET", "B24_PUBLIC_URL", "B24_SECRET_KEY"):
        assert name in message
    assert "B24_CLIENT_ID" not in message


def test_create_app_refuses_to_start_in_production_without_settings(monkeypatch):
    for s in SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    with pytest.raises(SettingsError, match="B24_CLIENT_SECRET"):
        create_app()


def test_a_malformed_secret_is_not_echoed(monkeypatch):
    # secrets parse as strings, so use a numeric setting to prove the value is shown for non-secrets
    with pytest.raises(SettingsError, match="'lots'"):
        load_settings({"B24_MAX_RETRIES": "lots"})


def test_development_mode_starts_without_client_settings(tmp_path, monkeypatch):
    for s in SETTINGS:
        monkeypatch.delenv(s.env, raising=False)
    monkeypatch.setenv("B24_ENV", "development")
    monkeypatch.setenv("B24_SCHEDULER", "off")
    app = create_app({"DATABASE": str(tmp_path / "dev.db")})
    assert app.config["ENV"] == "development"
    assert (tmp_path / "dev.db").exists()
