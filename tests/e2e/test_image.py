"""tagpin's own image and stack: scripts/image.sh builds and pushes it; it runs as non-root and checks /healthz."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from bot.domain.stacks import Pin, load_template, render
from tests.support.images import TAG, VERSION
from tests.support.processes import ROOT, free_port


def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def test_the_image_runs_tagpin_as_a_non_root_user(image: str) -> None:
    helped = run("docker", "run", "--rm", "--network", "host", image, "tagpin", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("usage: tagpin")
    uid = run("docker", "run", "--rm", "--network", "none", image, "id", "-u")
    assert uid.returncode == 0, uid.stderr
    assert uid.stdout.strip() not in ("", "0")
    # The bot deploys with `docker stack deploy`, so the CLI must be in the image.
    cli = run("docker", "run", "--rm", "--network", "none", image, "docker", "--version")
    assert cli.returncode == 0 and cli.stdout.startswith("Docker version"), cli.stderr


def test_the_image_declares_a_healthcheck_on_healthz(image: str) -> None:
    inspected = run("docker", "image", "inspect", image)
    assert inspected.returncode == 0, inspected.stderr
    config = json.loads(inspected.stdout)[0]["Config"]
    check = config.get("Healthcheck") or {}
    assert check.get("Test", [""])[0] == "CMD", check
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["TAGPIN_HEALTH_URL"].endswith("/healthz")
    assert config["User"] not in ("", "0", "root")
    assert config["Labels"]["org.opencontainers.image.version"] == VERSION


def test_the_healthcheck_passes_on_a_live_server_and_fails_on_a_dead_one(image: str) -> None:
    port, dead = free_port(), free_port()
    check = json.loads(run("docker", "image", "inspect", image).stdout)[0]["Config"]["Healthcheck"]["Test"][1:]
    name = f"tagpin-health-{uuid.uuid4().hex[:8]}"
    started = run("docker", "run", "-d", "--rm", "--name", name, "--network", "host",
                  "-e", f"TAGPIN_HEALTH_URL=http://127.0.0.1:{port}/healthz", image,
                  "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "recovery:create_app()")
    assert started.returncode == 0, started.stderr
    try:
        deadline, probe = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            probe = run("docker", "exec", name, *check)
            if probe.returncode == 0:
                break
            time.sleep(0.5)
        assert probe is not None and probe.returncode == 0, (probe and probe.stderr, run("docker", "logs", name))
        refused = run("docker", "exec", "-e", f"TAGPIN_HEALTH_URL=http://127.0.0.1:{dead}/healthz", name, *check)
        assert refused.returncode != 0 and "Connection refused" in refused.stderr
    finally:
        run("docker", "rm", "-f", name)


def test_the_tagpin_stack_is_a_tagpin_template_that_docker_accepts_once_pinned(image: str, postgres_image: str,
                                                                               tmp_path: Path) -> None:
    # The test's build carries a -dev prerelease tag (never the release tag): opt the copy's policy into it.
    text = (ROOT / "stacks" / "tagpin.yml").read_text()
    assert text.count("prerelease: false") == 3
    template = load_template(text.replace("prerelease: false", "prerelease: true"), "stacks/tagpin.yml")
    images = {s.name: str(s.image) for s in template.services}
    tagged, digest = image.split("@")
    pg_tagged, pg_digest = postgres_image.split("@")
    # the images image.sh pushes, untagged
    assert images == {"bot": tagged.rsplit(":", 1)[0], "watch": tagged.rsplit(":", 1)[0],
                      "web": tagged.rsplit(":", 1)[0], "db": pg_tagged.rsplit(":", 1)[0]}
    pins = {name: Pin(TAG, digest) for name in ("bot", "watch", "web")}
    rendered = render(template, "tagpin", {**pins, "db": Pin(pg_tagged.rsplit(":", 1)[1], pg_digest)})
    (tmp_path / "tagpin.yml").write_text(rendered)
    config = run("docker", "stack", "config", "-c", str(tmp_path / "tagpin.yml"))
    assert config.returncode == 0, config.stderr
    assert config.stdout.count(f"tagpin/tagpin:{TAG}@{digest}") == 3
    assert config.stdout.count(f"{pg_tagged}@{pg_digest}") == 1
    for secret in ("slack_bot_token", "slack_signing_secret", "database_password", "database_url"):
        assert f"name: tagpin_{secret}" in config.stdout


def test_the_postgres_image_makes_its_database_once_from_a_secret_file_and_keeps_it(postgres_image: str,
                                                                                    tmp_path: Path) -> None:
    password = uuid.uuid4().hex
    secret = tmp_path / "password"
    secret.write_text(password)
    secret.chmod(0o444)
    port, name, volume = free_port(), f"tagpin-pg-{uuid.uuid4().hex[:8]}", f"tagpin-pg-{uuid.uuid4().hex[:8]}"
    url = f"postgresql+psycopg://tagpin:{password}@127.0.0.1:{port}/tagpin"

    def start() -> None:
        started = run("docker", "run", "-d", "--name", name, "--network", "host", "-e", f"PGPORT={port}",
                      "-e", "POSTGRES_USER=tagpin", "-e", "POSTGRES_DB=tagpin", "-e", "POSTGRES_PASSWORD_FILE=/pw",
                      "-v", f"{secret}:/pw:ro", "-v", f"{volume}:/var/lib/postgresql/data", postgres_image,
                      "postgres", "-c", "listen_addresses=127.0.0.1")
        assert started.returncode == 0, started.stderr
        deadline = time.monotonic() + 60
        while run("docker", "inspect", name, "--format", "{{.State.Health.Status}}").stdout.strip() != "healthy":
            assert time.monotonic() < deadline, run("docker", "logs", name)
            time.sleep(0.5)

    try:
        start()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE kept (n int)"))
            conn.execute(text("INSERT INTO kept VALUES (42)"))
        engine.dispose()
        with pytest.raises(OperationalError, match="password authentication failed"):
            create_engine(url.replace(password, "wrong")).connect()
        stopped = run("docker", "stop", name)                  # SIGINT: a fast shutdown, not a 10 s kill
        assert stopped.returncode == 0 and "database system is shut down" in run("docker", "logs", name).stderr
        run("docker", "rm", name)
        secret.write_text("another password")                 # an initialised volume never reads it again
        start()
        assert "initialised" not in run("docker", "logs", name).stderr
        engine = create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM kept")).scalar() == 42
        engine.dispose()
        assert run("docker", "exec", name, "id", "-un").stdout.strip() == "postgres"
    finally:
        run("docker", "rm", "-f", name)
        run("docker", "volume", "rm", volume)
