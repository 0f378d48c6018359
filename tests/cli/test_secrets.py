"""Secrets the Docker way: every secret setting also reads NAME_FILE, and no secret reaches a message or a repr."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bot.config import Settings
from bot.errors import UsageError

SECRETS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "TAGPIN_DATABASE_URL",
           "TAGPIN_REGISTRY_EVENTS_TOKEN")


@pytest.mark.parametrize("name", SECRETS)
def test_each_secret_reads_its_file(name: str, tmp_path: Path) -> None:
    path = tmp_path / name.lower()
    path.write_text("s3cret-value\n")                  # as `docker secret create` stores `echo …` output
    settings = Settings.from_env({"HOME": str(tmp_path), f"{name}_FILE": str(path)})
    field = {"SLACK_BOT_TOKEN": "slack_bot_token", "SLACK_SIGNING_SECRET": "slack_signing_secret",
             "SLACK_APP_TOKEN": "slack_app_token", "TAGPIN_DATABASE_URL": "database_url",
             "TAGPIN_REGISTRY_EVENTS_TOKEN": "registry_events_token"}[name]
    assert getattr(settings, field) == "s3cret-value"
    assert "s3cret" not in repr(settings)


def test_both_set_or_an_unreadable_file_is_a_clear_error_without_the_secret(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("xoxb-from-file")
    with pytest.raises(UsageError, match="both SLACK_BOT_TOKEN and SLACK_BOT_TOKEN_FILE are set"):
        Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-inline", "SLACK_BOT_TOKEN_FILE": str(path)})
    with pytest.raises(UsageError, match=r"SLACK_BOT_TOKEN_FILE=/nonexistent/token: cannot read it") as missing:
        Settings.from_env({"SLACK_BOT_TOKEN_FILE": "/nonexistent/token"})
    assert "xoxb" not in str(missing.value)


def test_the_cli_reads_the_database_url_from_a_file(tmp_path: Path) -> None:
    db = tmp_path / "from-secret.db"
    (tmp_path / "url").write_text(f"sqlite:///{db}\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TAGPIN_DATABASE_URL_FILE": str(tmp_path / "url")}
    done = subprocess.run([str(Path(".venv/bin/tagpin").resolve()), "tenants", "--json"], env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"tenants": []} and db.exists()
    env["TAGPIN_DATABASE_URL"] = f"sqlite:///{db}"
    both = subprocess.run([str(Path(".venv/bin/tagpin").resolve()), "tenants"], env=env, capture_output=True,
                          text=True, check=False, timeout=60)
    assert both.returncode == 2 and both.stderr.strip() == (
        "error: both TAGPIN_DATABASE_URL and TAGPIN_DATABASE_URL_FILE are set; set one of them")
