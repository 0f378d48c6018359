"""Dogfood: tagpin deploys tagpin. stacks/tagpin.yml, a tenant's template like any other, goes onto the real Swarm
with `tagpin deploy` (each service pinned to the highest release of its image: tagpin's own, and Postgres beside it);
the deployed bot, watcher and recovery service pass their health checks, and a signed slash command to the deployed
bot is acknowledged and answered through the local Slack Web API."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from bot.adapters.migrations.runner import head
from bot.slack.localapi import LocalSlackAPI
from bot.slack.signing import signed_headers, slash_body
from tests.e2e.conftest import remove_stack
from tests.faults.bots import answers, eventually
from tests.support.images import VERSION
from tests.support.processes import ROOT, free_port


def run(*argv: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=timeout, check=False)


def must(*argv: str, stdin: str | None = None) -> str:
    done = run(*argv, stdin=stdin)
    assert done.returncode == 0, (argv, done.stderr)
    return done.stdout


def edited(text_: str, old: str, new: str, times: int) -> str:
    """One installation's edit of the shipped stack; the count makes a change to the file fail here, loudly."""
    assert text_.count(old) == times, (old, text_.count(old))
    return text_.replace(old, new)


@dataclass
class Installation:
    stack: str
    slack: LocalSlackAPI
    signing_secret: str
    db_url: str
    ports: dict[str, int]
    template: Path
    env: dict[str, str]          # the operator's `tagpin` that deploys the stack

    def url(self, service: str, path: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}{path}"


def _registry_digest(registry: str, repo: str, tag: str) -> str:
    resp = requests.head(f"http://{registry}/v2/{repo}/manifests/{tag}", timeout=10, headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    resp.raise_for_status()
    return resp.headers["Docker-Content-Digest"]


@pytest.fixture
def installation(image: str, postgres_image: str, registry: str, unique: str, tmp_path: Path
                 ) -> Iterator[Installation]:
    """What the stack's header says to do before the first deploy, done for a stack of the test's own: its secrets
    and the tenants' template config; tagpin's image released (as VERSION) in a repository of its own, so the
    highest release there is this source; the file edited as an installation edits it (ports, channels, the
    docker.sock group, the Slack stand-in's URL)."""
    stack, repo = f"tp{unique}", f"dogfood{unique}/tagpin"
    released = f"{registry}/{repo}:{VERSION}"
    must("docker", "pull", "-q", image)
    must("docker", "tag", image.split("@")[0], released)
    must("docker", "push", "-q", released)
    ports = {name: free_port() for name in ("bot", "watch", "web", "db")}
    password, signing = secrets.token_hex(16), secrets.token_hex(16)
    db_url = f"postgresql+psycopg://tagpin:{password}@127.0.0.1:{ports['db']}/tagpin"
    with LocalSlackAPI() as api:
        t = (ROOT / "stacks" / "tagpin.yml").read_text()
        t = edited(t, "image: 127.0.0.1:5000/tagpin/tagpin", f"image: {registry}/{repo}", 3)
        t = edited(t, "image: 127.0.0.1:5000/tagpin/postgres", f"image: {registry}/tagpin/postgres", 1)
        t = edited(t, "127.0.0.1:3000", f"127.0.0.1:{ports['bot']}", 2)
        t = edited(t, "127.0.0.1:3001", f"127.0.0.1:{ports['watch']}", 2)
        t = edited(t, "127.0.0.1:8000", f"127.0.0.1:{ports['web']}", 2)
        t = edited(t, 'PGPORT: "5432"', f'PGPORT: "{ports["db"]}"', 1)
        t = edited(t, '"10001:106"', f'"10001:{os.stat("/var/run/docker.sock").st_gid}"', 2)
        t = edited(t, "TAGPIN_INSECURE_REGISTRIES: 127.0.0.1:5000\n",
                   f"TAGPIN_INSECURE_REGISTRIES: {registry}\n      TAGPIN_SLACK_API_URL: {api.url}\n", 2)
        t = edited(t, 'TAGPIN_DEPLOYERS: ""', 'TAGPIN_DEPLOYERS: "UALICE"', 1)
        t = edited(t, 'TAGPIN_DRIFT_CHANNEL: ""', 'TAGPIN_DRIFT_CHANNEL: "CDRIFT"', 1)
        template = tmp_path / "tagpin.yml"
        template.write_text(t)
        made: dict[str, list[str]] = {"secret": [], "config": []}
        for name, value in (("slack_bot_token", "xoxb-dogfood"), ("slack_signing_secret", signing),
                            ("database_password", password), ("database_url", db_url)):
            must("docker", "secret", "create", f"{stack}_{name}", "-", stdin=value)
            made["secret"].append(f"{stack}_{name}")
        # The bot's tenants' template is this file too, so the deployed bot can answer for its own stack.
        must("docker", "config", "create", f"{stack}_tenant_template", str(template))
        made["config"].append(f"{stack}_tenant_template")
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"),
               "TAGPIN_STACK_TEMPLATE": str(template), "TAGPIN_INSECURE_REGISTRIES": registry,
               "TAGPIN_CONVERGE_TIMEOUT": "240", "TAGPIN_ACTOR": "dogfood"}
        try:
            yield Installation(stack, api, signing, db_url, ports, template, env)
        finally:
            remove_stack(stack)
            deadline = time.monotonic() + 60      # secrets, configs and volumes are freed with the last container
            while must("docker", "ps", "-aq", "--filter", f"label=com.docker.stack.namespace={stack}").strip():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            for kind, names in made.items():
                run("docker", kind, "rm", *names)
            run("docker", "volume", "rm", f"{stack}_db", f"{stack}_recovery")


def ready(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def test_tagpin_deploys_tagpin_and_the_deployed_bot_answers_a_slash_command(installation: Installation,
                                                                           registry: str, postgres_image: str
                                                                           ) -> None:
    i = installation
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bot", "deploy", i.stack, "--yes", "--json"], cwd=ROOT,
                          env=i.env, capture_output=True, text=True, timeout=400, check=False)
    took = time.monotonic() - started
    assert done.returncode == 0, (done.stdout, done.stderr[-3000:])
    result = json.loads(done.stdout)
    assert result["outcome"] == "converged", result
    pinned = {s["name"]: s for s in result["services"]}
    release = _registry_digest(registry, f"dogfood{i.stack[2:]}/tagpin", VERSION)
    assert {n: s["to"] for n, s in pinned.items()} == {
        "bot": f"{registry}/dogfood{i.stack[2:]}/tagpin:{VERSION}@{release}",
        "watch": f"{registry}/dogfood{i.stack[2:]}/tagpin:{VERSION}@{release}",
        "web": f"{registry}/dogfood{i.stack[2:]}/tagpin:{VERSION}@{release}", "db": postgres_image}, pinned
    print(f"\ntagpin deploy {i.stack}: converged in {took:.1f} s")

    # Health, as Swarm's checks and a load balancer see it; the bot's /readyz covers store, Engine and Slack.
    for service, path in (("bot", "/readyz"), ("watch", "/readyz"), ("web", "/healthz")):
        url, logs = i.url(service, path), ["docker", "service", "logs", "--tail", "40", f"{i.stack}_{service}"]
        eventually(lambda url=url: ready(url), lambda argv=logs: run(*argv), timeout=180)
    print(f"all three ready {time.monotonic() - started:.1f} s after the deploy began")
    states = must("docker", "service", "ps", "--filter", "desired-state=running", "--format",
                  "{{.Name}} {{.CurrentState}}", *(f"{i.stack}_{name}" for name in i.ports))
    assert states.count("Running") == 4, states

    # The deployed bot keeps its trail in the stack's Postgres: it migrated it to this tagpin's schema.
    engine = create_engine(i.db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head()
            assert conn.execute(text("SELECT count(*) FROM slack_jobs")).scalar() == 0
    finally:
        engine.dispose()

    body = slash_body("/status", i.stack, user_id="UALICE", user_name="alice", channel_id="COPS",
                      response_url=i.slack.response_url("dogfood"))
    sent = time.monotonic()
    ack = requests.post(i.url("bot", "/slack/events"), data=body.encode(),
                        headers=signed_headers(i.signing_secret, body), timeout=10)
    acked = time.monotonic() - sent
    assert ack.status_code == 200, ack.text
    assert acked < 3, acked                 # Slack gives up after 3 s
    said = eventually(lambda: answers(i.slack), lambda: i.slack.calls, timeout=60)
    reply = json.dumps(said[-1])
    print(f"/status acknowledged in {acked * 1000:.0f} ms; answered: {reply[:300]}")
    for service in ("bot", "watch", "web", "db"):
        assert service in reply, reply
    assert release[len("sha256:"):][:12] in reply, reply      # the digest the bot itself runs
