"""The reconcile / close-periods / worker commands and the demo's settings file."""

from __future__ import annotations

from click.testing import CliRunner

from b24app import envfile
from b24app.cli import cli


def test_commands_read_demo_env_under_the_environment(tmp_path):
    env_file = tmp_path / "demo.env"
    envfile.write_env_file(env_file, {"B24_ENV": "development", "B24_DATABASE": "/tmp/demo.db",
                                   "B24_CLIENT_ID": "local.demo.1"})
    settings = envfile.cli_settings({"B24_CLIENT_ID": "local.from.env"}, env_file=env_file)
    assert settings["DATABASE"] == "/tmp/demo.db" and settings["ENV"] == "development"
    assert settings["CLIENT_ID"] == "local.from.env"
    assert (env_file.stat().st_mode & 0o777) == 0o600  # it holds the client secret
    assert envfile.cli_settings({}, env_file=tmp_path / "absent.env")["DATABASE"] == "instance/b24plans.db"


def test_reconcile_and_worker_on_an_empty_database(tmp_path, monkeypatch):
    monkeypatch.setenv("B24_ENV", "development")
    monkeypatch.setenv("B24_DATABASE", str(tmp_path / "app.db"))
    runner = CliRunner()
    result = runner.invoke(cli, ["reconcile"])
    assert result.exit_code == 0, result.output
    assert "no active installation" in result.output
    result = runner.invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "0 event(s)" in result.output


def test_close_periods_rejects_a_malformed_date(tmp_path, monkeypatch):
    monkeypatch.setenv("B24_ENV", "development")
    monkeypatch.setenv("B24_DATABASE", str(tmp_path / "app.db"))
    result = CliRunner().invoke(cli, ["close-periods", "--today", "31/12/2026"])
    assert result.exit_code == 2
    assert "--today" in result.output
