"""The default database and error log live under $XDG_STATE_HOME/tagpin (else ~/.local/state/tagpin), so one audit
trail serves every working directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bot.__main__ import run
from bot.config import Settings


def test_settings_default_to_the_xdg_state_directory(tmp_path: Path) -> None:
    home = Settings.from_env({"HOME": str(tmp_path)})
    assert home.database_url == f"sqlite:///{tmp_path}/.local/state/tagpin/tagpin.db"
    assert home.log_file == tmp_path / ".local" / "state" / "tagpin" / "errors.log"
    xdg = Settings.from_env({"HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state")})
    assert xdg.database_url == f"sqlite:///{tmp_path}/state/tagpin/tagpin.db"
    assert xdg.log_file == tmp_path / "state" / "tagpin" / "errors.log"
    assert Settings.from_env({"HOME": str(tmp_path), "TAGPIN_DATABASE_URL": "sqlite:///x.db"}).database_url \
        == "sqlite:///x.db"


def test_two_working_directories_share_one_audit_trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    for name in list(os.environ):
        if name.startswith("TAGPIN_") or name == "XDG_STATE_HOME":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    assert run(["deploy", "acme", "--json"]) != 0          # refused (no template), and audited
    monkeypatch.chdir(tmp_path / "two")
    assert run(["audit", "--json"]) == 0
    events = json.loads(capsys.readouterr().out.splitlines()[-1])["events"]
    assert [(e["command"], e["tenant"], e["outcome"]) for e in events] == [("deploy", "acme", "refused")]
    assert (tmp_path / "home" / ".local" / "state" / "tagpin" / "tagpin.db").exists()
    assert not list((tmp_path / "one").iterdir()) and not list((tmp_path / "two").iterdir())
