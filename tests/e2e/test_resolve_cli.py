"""`tagpin resolve` end to end on the real registry: the CLI case of the issue, and one clear line per error."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.fake_registry import FakeRegistry, json_reply
from tests.support.oci import Pusher

TAGPIN = str(Path(".venv/bin/tagpin").resolve())


def tagpin(*argv: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "TAGPIN_DATABASE_URL": f"sqlite:///{home / 'tagpin.db'}"}
    return subprocess.run([TAGPIN, *argv], capture_output=True, text=True, env=env, timeout=60, check=False)


def test_the_highest_release_wins_with_the_digest_the_registry_reports(registry: str, unique: str,
                                                                      tmp_path: Path) -> None:
    pusher = Pusher(registry)
    pushed = {tag: pusher.push(f"cli{unique}/frontend", tag).digest
              for tag in ("latest", "1.2.0", "1.9.0", "1.10.0", "2.0.0-rc.1")}
    image = f"{registry}/cli{unique}/frontend"

    done = tagpin("resolve", image, "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["tag"], data["digest"]) == ("1.10.0", pushed["1.10.0"])
    assert data["reference"] == f"{image}:1.10.0@{pushed['1.10.0']}"
    assert [c["tag"] for c in data["candidates"]] == ["1.10.0", "1.9.0", "1.2.0"]
    assert {r["tag"] for r in data["rejected"]} == {"latest", "2.0.0-rc.1"}

    table = tagpin("resolve", image, home=tmp_path)
    assert table.returncode == 0 and table.stdout.startswith(f"{image} → 1.10.0")
    assert "latest: floating tag, not a version" in table.stdout
    assert data["current_note"] is None and "note" not in table.stdout


    pre = json.loads(tagpin("resolve", image, "--prerelease", "--json", home=tmp_path).stdout)
    assert (pre["tag"], pre["digest"]) == ("2.0.0-rc.1", pushed["2.0.0-rc.1"])
    floor = json.loads(tagpin("resolve", image, "--constraint", "<1.10", "--json", home=tmp_path).stdout)
    assert floor["tag"] == "1.9.0"


def _one_line_error(done: subprocess.CompletedProcess[str], code: int, needles: list[str]) -> None:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    for needle in needles:
        assert needle in done.stderr


@pytest.mark.parametrize(("argv", "code", "needles"), [
    # Refused before any registry is asked: no registry needed, so these run everywhere.
    (["resolve", "127.0.0.1:1/acme/frontend"], 1, ["unreachable", "127.0.0.1:1"]),
    (["resolve", "127.0.0.1:1/Acme/Frontend"], 2, ["invalid image reference", "lowercase"]),
    (["resolve", "127.0.0.1:1/acme/frontend:1.2.0"], 2, ["without a tag"]),
    (["resolve", "127.0.0.1:1/acme/frontend", "--constraint", ">=1 <<"], 2, ["constraint"]),
    (["resolve", "127.0.0.1:1/acme/frontend", "--mode", "pattern"], 2, ["pattern"]),
    (["resolve"], 2, ["image"]),
])
def test_errors_are_one_clear_line(tmp_path: Path, argv: list[str], code: int, needles: list[str]) -> None:
    _one_line_error(tagpin(*argv, home=tmp_path), code, needles)


def test_an_unknown_repository_is_one_clear_line(registry: str, unique: str, tmp_path: Path) -> None:
    _one_line_error(tagpin("resolve", f"{registry}/cli{unique}/never-pushed", home=tmp_path), 1,
                    ["not found", registry])


def test_no_deployable_tag_and_refused_credentials(registry: str, unique: str, tmp_path: Path) -> None:
    Pusher(registry).push(f"cli{unique}/junk", "latest")
    _one_line_error(tagpin("resolve", f"{registry}/cli{unique}/junk", home=tmp_path), 1,
                    ["none of its 1 tags is deployable", "floating tag"])

    def refuse(seen: object) -> tuple[int, dict[str, str], bytes]:
        return json_reply({"errors": [{"code": "UNAUTHORIZED"}]}, 401, {"WWW-Authenticate": 'Basic realm="x"'})

    with FakeRegistry(refuse) as fake:
        _one_line_error(tagpin("resolve", f"{fake.host}/acme/frontend", home=tmp_path), 1, [fake.host, "docker login"])


def test_a_running_tag_that_is_no_version_is_said_not_silently_ignored(registry: str, unique: str,
                                                                       tmp_path: Path) -> None:
    pusher = Pusher(registry)
    for tag in ("latest", "1.9.0"):
        pusher.push(f"cli{unique}/frontend", tag)
    image = f"{registry}/cli{unique}/frontend"
    done = tagpin("resolve", image, "--current", "latest", "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    note = json.loads(done.stdout)["current_note"]
    assert note.startswith("running tag latest is not a version") and "no downgrade floor" in note
    table = tagpin("resolve", image, "--current", "latest", home=tmp_path)
    assert f"  note       {note}" in table.stdout
