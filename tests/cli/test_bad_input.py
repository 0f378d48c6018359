"""Bad input to the CLI: one specific `error:` line, a non-zero exit, nothing changed, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

TAGPIN = str(Path(".venv/bin/tagpin").resolve())
GOOD = """\
version: "3.8"
services:
  web:
    image: 127.0.0.1:5000/acme/web
"""


def run(tmp_path: Path, *argv: str, template: str | None = GOOD, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TAGPIN_")}
    base.update({"HOME": str(tmp_path), "TAGPIN_DATABASE_URL": f"sqlite:///{tmp_path / 'tagpin.db'}"})
    if template is not None:
        path = tmp_path / "stack.yml"
        path.write_text(template)
        base["TAGPIN_STACK_TEMPLATE"] = str(path)
    base.update(env)
    return subprocess.run([TAGPIN, *argv], capture_output=True, text=True, env=base, timeout=60, check=False)


def refused(done: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert needle in lines[0], lines[0]


@pytest.mark.parametrize(("argv", "template", "code", "needle"), [
    (["deploy", "Acme"], GOOD, 2, "^[a-z][a-z0-9-]{0,30}$"),
    (["deploy", "acme"], None, 1, "TAGPIN_STACK_TEMPLATE"),
    (["deploy", "acme"], "version: '3.8'\nservices: [oops", 1, "not valid YAML"),
    (["deploy", "acme"], GOOD.replace("acme/web\n", "acme/web\n    x-tagpin: {constrant: '^1'}\n"), 2,
     "constrant"),
    (["deploy", "acme"], GOOD.replace("acme/web\n", "acme/web:latest\n"), 1, "latest"),
    (["deploy", "acme"], GOOD + "    environment: {HOME: '${HOME}'}\n", 1, "HOME"),
    (["deploy", "acme", "--set", "web"], GOOD, 2, "SERVICE=TAG"),
    (["audit", "--limit", "0"], GOOD, 2, "at least 1"),
    (["rollback", "acme"], GOOD, 1, "no earlier converged deployment"),
    (["drift", "Bad_Tenant"], GOOD, 2, "tenant"),
])
def test_refused_with_one_line_and_nothing_changed(tmp_path: Path, argv: list[str], template: str | None,
                                                   code: int, needle: str) -> None:
    refused(run(tmp_path, *argv, template=template), code, needle)
    listed = run(tmp_path, "tenants", "--json", template=template)
    assert listed.returncode == 0 and json.loads(listed.stdout) == {"tenants": []}


def test_json_errors_are_one_object_on_stdout(tmp_path: Path) -> None:
    done = run(tmp_path, "audit", "--limit", "0", "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout) == {"error": done.stderr.strip().removeprefix("error: "), "kind": "UsageError"}
    refused = run(tmp_path, "deploy", "Acme", "--json")
    assert refused.returncode == 2
    assert json.loads(refused.stdout) == {
        "tenant": "Acme", "deployment_id": None, "outcome": "refused", "services": [], "risks": [], "compose": "",
        "error": refused.stderr.strip().removeprefix("error: "), "kind": "UsageError"}


def test_bad_settings_are_named(tmp_path: Path) -> None:
    refused(run(tmp_path, "tenants", TAGPIN_CONVERGE_TIMEOUT="soon"), 2, "TAGPIN_CONVERGE_TIMEOUT")
    refused(run(tmp_path, "tenants", TAGPIN_DATABASE_URL="nosuchdb://x"), 1, "database")
