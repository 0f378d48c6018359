"""Registry push events: the real docker-registry notifies a real `tagpin watch` (interval 600 s), which scans the
pushed repository's services at once and posts to the local Slack Web API stand-in."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import delete
from sqlmodel import col

from bot.adapters.models import TenantLock
from bot.service.electing import WATCH_LEASE, Election
from bot.slack.localapi import LocalSlackAPI
from tests.e2e.conftest import Tenant
from tests.e2e.test_watch import deploy, payload
from tests.support.notifying_registry import notifying_registry
from tests.support.oci import Pusher
from tests.support.processes import free_port, start_tagpin, until
from tests.support.prom import Samples, scrape, total, value
from tests.support.tcpproxy import TCPProxy

TOKEN = "registry-events-s3cret"
INTERVAL = "600"         # the periodic scan never comes during a test: whatever is posted, a push event caused
ENVELOPE = "application/vnd.docker.distribution.events.v1+json"
PROXY = pytest.StashKey[TCPProxy]()


@pytest.fixture
def slack() -> Iterator[LocalSlackAPI]:
    with LocalSlackAPI() as api:
        yield api


@pytest.fixture
def watch_port() -> int:
    """The port the registry's notifications go to (the watcher the test starts there)."""
    return free_port()


@pytest.fixture
def registry(tmp_path_factory: pytest.TempPathFactory, watch_port: int, request: pytest.FixtureRequest,
             swarm: object) -> Iterator[str]:
    """A registry of the test's own (the host's 127.0.0.1:5000 is never reconfigured) notifying 127.0.0.1:watch_port
    with the right token -- or with the one a `registry_token` mark gives."""
    mark = request.node.get_closest_marker("registry_token")
    token = mark.args[0] if mark else TOKEN
    with notifying_registry(tmp_path_factory.mktemp("registry"), f"http://127.0.0.1:{watch_port}/registry/events",
                            token) as host:
        if request.node.get_closest_marker("registry_proxy") is None:
            yield host
            return
        with TCPProxy(int(host.rpartition(":")[2])) as proxy:    # the test's processes reach it through this
            request.node.stash[PROXY] = proxy
            yield f"127.0.0.1:{proxy.port}"


def watch_env(tenant: Tenant, slack: LocalSlackAPI, **extra: str) -> dict[str, str]:
    return {**tenant.env, "TAGPIN_DRIFT_CHANNEL": "CDRIFT", "SLACK_BOT_TOKEN": "xoxb-local",
            "TAGPIN_SLACK_API_URL": slack.url, "TAGPIN_REGISTRY_EVENTS_TOKEN": TOKEN,
            # the default listing cache (the tenant fixture's is 1 ms): a push must be seen through it at once
            "TAGPIN_REGISTRY_CACHE_TTL": "60", **extra}


def start_watch(env: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    proc = start_tagpin(["watch", "--interval", INTERVAL], env, "TAGPIN_WATCH_BIND", port, log)
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def posts(slack: LocalSlackAPI, service: str | None = None) -> list[str]:
    return [c.params["text"] for c in slack.of("chat.postMessage")
            if service is None or payload(c.params)["service"] == service]


def onboarded(tenant: Tenant) -> None:
    """frontend 1.9.3 and backend 3.0.0 run, converged: nothing to say until a release comes."""
    tenant.push("frontend", "1.9.3")
    tenant.push("backend", "3.0.0")
    deploy(tenant)


def first_scan_done(url: str, log: Path) -> None:
    until(lambda: value(scrape(url), "tagpin_watch_scans_total", result="ok") == 1, log.read_text, 60)


def onboarding_events_taken(url: str, log: Path) -> Samples:
    """The registry queued the onboarding pushes' events while no watcher listened, and sends them once one does
    (it retries until accepted): wait for them and their scan, then give the counters as they stand."""
    until(lambda: value(scrape(url), "tagpin_registry_events_total", result="accepted") >= 2, log.read_text, 20)
    until(lambda: total(scrape(url), "tagpin_watch_event_scans_total") >= 1, log.read_text, 20)
    time.sleep(1)
    return scrape(url)


def test_a_push_posts_the_behind_notice_within_seconds_and_a_burst_is_one_or_two_scans(
        tenant: Tenant, slack: LocalSlackAPI, watch_port: int, tmp_path: Path) -> None:
    onboarded(tenant)
    log = tmp_path / "watch.log"
    proc, url = start_watch(watch_env(tenant, slack), watch_port, log)
    try:
        first_scan_done(url, log)
        assert posts(slack) == []
        pushed = time.monotonic()
        tenant.push("frontend", "1.9.4")
        took = until(lambda: posts(slack, "frontend"), log.read_text, 20, poll=0.05)
        latency = time.monotonic() - pushed
        assert "1.9.4" in posts(slack, "frontend")[0]
        assert latency < 5, latency                      # the interval is 600 s: the push did it, and fast
        samples = scrape(url)
        assert value(samples, "tagpin_watch_scans_total", result="ok") == 1          # no periodic scan ran
        assert value(samples, "tagpin_watch_event_scans_total", result="ok") >= 1
        assert value(samples, "tagpin_registry_events_total", result="accepted") >= 1
        assert value(samples, "tagpin_registry_events_total", result="ignored") >= 1  # the blobs' pushes
        assert value(samples, "tagpin_registry_events_received_total") >= 2
        print(f"\npush-to-notice: {latency:.2f} s (poll {took:.2f} s)")

        scans_before = value(samples, "tagpin_watch_event_scans_total", result="ok")
        for patch in range(5, 25):                       # a CI job pushing 20 releases in a row
            tenant.push("frontend", f"1.9.{patch}")
        until(lambda: any("1.9.24" in c.params.get("text", "") for c in slack.of("chat.update")),
              log.read_text, 20, poll=0.05)
        time.sleep(1.5)                                  # any scan still owed has run
        scans = value(scrape(url), "tagpin_watch_event_scans_total", result="ok") - scans_before
        accepted = value(scrape(url), "tagpin_registry_events_total", result="accepted")
        assert accepted >= 21 and 1 <= scans <= 10, (accepted, scans)    # 20 pushes, far fewer scans
        assert len(posts(slack)) == 1                    # one notice, edited in place
        print(f"20 pushes: {scans:g} scans")
    finally:
        stop(proc)


@pytest.mark.registry_token("not-the-token")
def test_a_wrong_token_is_401_and_scans_nothing(tenant: Tenant, slack: LocalSlackAPI, watch_port: int,
                                              tmp_path: Path) -> None:
    onboarded(tenant)
    log = tmp_path / "watch.log"
    proc, url = start_watch(watch_env(tenant, slack), watch_port, log)
    try:
        first_scan_done(url, log)
        tenant.push("frontend", "1.9.4")                 # the registry sends it with the wrong token
        until(lambda: value(scrape(url), "tagpin_registry_event_requests_total", status="401") >= 1,
              log.read_text, 20)
        body = json.dumps({"events": [{"action": "push", "target": {
            "repository": tenant.repo("frontend"), "tag": "1.9.4", "url": f"http://{tenant.registry}/v2/x"},
            "request": {"host": tenant.registry}}]})
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"},
                        {"Authorization": f"Bearer {TOKEN}x"}):
            resp = requests.post(f"{url}/registry/events", data=body, timeout=5,
                                 headers={"Content-Type": ENVELOPE, **headers})
            assert resp.status_code == 401, (headers, resp.text)
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        time.sleep(2.5)
        samples = scrape(url)
        assert total(samples, "tagpin_watch_event_scans_total") == 0
        assert value(samples, "tagpin_registry_events_received_total") == 0
        assert posts(slack) == []
    finally:
        stop(proc)


def test_bad_requests_get_a_specific_answer_and_no_token_means_off(tenant: Tenant, slack: LocalSlackAPI,
                                                                 watch_port: int, tmp_path: Path) -> None:
    onboarded(tenant)
    log = tmp_path / "watch.log"
    proc, url = start_watch(watch_env(tenant, slack), watch_port, log)
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": ENVELOPE}
    try:
        def post(data: bytes | str, **headers: str) -> requests.Response:
            return requests.post(f"{url}/registry/events", data=data, headers={**auth, **headers}, timeout=5)

        cases = [("not json", "the body is not JSON"), ("[]", "expected {\"events\": [...]}"),
                 ('{"events": {}}', '"events" must be a list, not dict'),
                 ('{"events": [1]}', "events[0] must be an object, not int"),
                 ('{"events": [{"action": "push", "target": []}]}', "events[0].target must be an object"),
                 ('{"events": [{"action": "push", "target": {"tag": "1.0.0"}}]}',
                  "events[0].target.repository is missing")]
        for data, message in cases:
            resp = post(data)
            assert resp.status_code == 400 and message in resp.json()["error"], (data, resp.text)
        resp = post('{"events": []}', **{"Content-Type": "text/plain"})
        assert resp.status_code == 415 and "text/plain is not a registry event envelope" in resp.json()["error"]
        resp = post(b'{"events": [' + b" " * (1 << 20) + b"]}")
        assert resp.status_code == 413, resp.text
        pull = {"events": [{"action": "pull", "target": {"repository": tenant.repo("frontend"), "tag": "1.9.3"},
                            "request": {"host": tenant.registry}}]}
        resp = post(json.dumps(pull))
        assert resp.status_code == 202 and resp.json()["ignored"] == 1 and resp.json()["accepted"] == 0
        assert total(scrape(url), "tagpin_watch_event_scans_total") == 0
    finally:
        stop(proc)
    off = {k: v for k, v in watch_env(tenant, slack).items() if k != "TAGPIN_REGISTRY_EVENTS_TOKEN"}
    proc, url = start_watch(off, watch_port, tmp_path / "off.log")
    try:
        resp = requests.post(f"{url}/registry/events", data="{}", headers=auth, timeout=5)
        assert resp.status_code == 404 and "TAGPIN_REGISTRY_EVENTS_TOKEN" in resp.json()["error"]
    finally:
        stop(proc)


def test_a_push_to_another_repository_scans_nothing(tenant: Tenant, slack: LocalSlackAPI, watch_port: int,
                                                    tmp_path: Path) -> None:
    onboarded(tenant)
    log = tmp_path / "watch.log"
    proc, url = start_watch(watch_env(tenant, slack), watch_port, log)
    try:
        first_scan_done(url, log)
        before = onboarding_events_taken(url, log)
        Pusher(tenant.registry).push(f"{tenant.prefix}-other/frontend", "1.9.4")     # same registry, other repo
        received = value(before, "tagpin_registry_events_received_total")
        until(lambda: value(scrape(url), "tagpin_registry_events_received_total") >= received + 2, log.read_text, 20)
        time.sleep(1.5)
        samples = scrape(url)

        def more(name: str, **labels: str) -> float:
            return total(samples, name, **labels) - total(before, name, **labels)

        assert more("tagpin_registry_events_total", result="accepted") == 0
        assert more("tagpin_registry_events_total", result="ignored") >= 2
        assert more("tagpin_watch_event_scans_total") == 0
        assert posts(slack) == []
        tenant.push("backend", "3.0.1")                  # the template's backend: only it is scanned
        until(lambda: posts(slack, "backend"), log.read_text, 20, poll=0.05)
        assert [payload(c.params)["service"] for c in slack.of("chat.postMessage")] == ["backend"]
    finally:
        stop(proc)


def test_a_standby_that_receives_the_push_does_not_post_the_active_watcher_does(
        tenant: Tenant, slack: LocalSlackAPI, watch_port: int, tmp_path: Path) -> None:
    onboarded(tenant)
    env = watch_env(tenant, slack)
    active, active_url = start_watch(env, free_port(), tmp_path / "active.log")     # not where the registry posts
    standby: subprocess.Popen[bytes] | None = None
    try:
        first_scan_done(active_url, tmp_path / "active.log")
        standby, standby_url = start_watch(env, watch_port, tmp_path / "standby.log")
        until(lambda: "standby" in requests.get(f"{standby_url}/readyz", timeout=5).json()["checks"]["scan"]["detail"],
              (tmp_path / "standby.log").read_text, 20)
        pushed = time.monotonic()
        tenant.push("frontend", "1.9.4")
        until(lambda: posts(slack, "frontend"), (tmp_path / "active.log").read_text, 20, poll=0.05)
        latency = time.monotonic() - pushed
        time.sleep(1.5)
        on_standby, on_active = scrape(standby_url), scrape(active_url)
        assert value(on_standby, "tagpin_registry_events_total", result="accepted") >= 1   # the registry reached it
        assert value(on_standby, "tagpin_watch_active") == 0
        assert total(on_standby, "tagpin_watch_event_scans_total") == 0 == total(on_standby, "tagpin_watch_scans_total")
        assert value(on_active, "tagpin_registry_events_received_total") == 0
        assert value(on_active, "tagpin_watch_event_scans_total", result="ok") >= 1
        assert len(posts(slack)) == 1
        assert latency < 6, latency
        print(f"\npush to a standby, notice by the active watcher: {latency:.2f} s")
    finally:
        if standby is not None:
            stop(standby)
        stop(active)


def test_a_re_pushed_tag_is_a_tag_moved_notice_at_once_despite_the_digest_memory(
        tenant: Tenant, slack: LocalSlackAPI, watch_port: int, tmp_path: Path) -> None:
    onboarded(tenant)
    log = tmp_path / "watch.log"
    proc, url = start_watch(watch_env(tenant, slack, TAGPIN_WATCH_DIGEST_TTL="900"), watch_port, log)
    try:
        first_scan_done(url, log)
        onboarding_events_taken(url, log)
        tenant.push("backend", "3.0.0", "same tag, other content")
        took = until(lambda: posts(slack, "backend"), log.read_text, 20, poll=0.05)
        assert [payload(c.params)["kind"] for c in slack.of("chat.postMessage")] == ["tag_moved"]
        assert took < 5, took
    finally:
        stop(proc)


@pytest.mark.registry_proxy
def test_a_push_whose_scan_could_not_reach_the_registry_is_tried_again_not_left_to_the_interval(
        tenant: Tenant, slack: LocalSlackAPI, watch_port: int, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    proxy = request.node.stash[PROXY]           # tenant.registry is this proxy: pushes, deploys and tagpin use it
    onboarded(tenant)
    log = tmp_path / "watch.log"
    proc, url = start_watch(watch_env(tenant, slack), watch_port, log)
    try:
        first_scan_done(url, log)
        onboarding_events_taken(url, log)
        tenant.push("frontend", "1.9.4")
        proxy.pause("refuse")                    # the event comes; the scan it starts finds the registry away
        proxy.cut()                              # (the watcher's pooled connection too)
        until(lambda: value(scrape(url), "tagpin_watch_event_scans_total", result="incomplete") >= 1,
              log.read_text, 20, poll=0.05)
        assert posts(slack) == []
        proxy.resume()
        took = until(lambda: posts(slack, "frontend"), log.read_text, 30, poll=0.1)
        assert "1.9.4" in posts(slack, "frontend")[0]
        assert took < 15, took                   # RETRY (10 s), not the 600 s interval
        assert value(scrape(url), "tagpin_watch_scans_total", result="ok") == 1
    finally:
        proxy.resume()
        stop(proc)


def test_a_watcher_whose_lease_is_taken_over_stands_by_within_a_heartbeat_not_at_the_interval(
        tenant: Tenant, slack: LocalSlackAPI, watch_port: int, tmp_path: Path) -> None:
    onboarded(tenant)
    log = tmp_path / "watch.log"
    proc, url = start_watch(watch_env(tenant, slack), watch_port, log)
    try:
        first_scan_done(url, log)
        scans = total(onboarding_events_taken(url, log), "tagpin_watch_event_scans_total")
        store = tenant.fresh_context().store
        with store.session() as s:               # its lease ends (a long pause, a lost network) ...
            s.execute(delete(TenantLock).where(col(TenantLock.tenant) == WATCH_LEASE))
            s.commit()
        other = Election(store, float(INTERVAL), holder="watch@elsewhere:1")
        assert other.active()                    # ... and another watcher took it over
        # its heartbeat (a third of the 60 s TTL) finds out; the wait between scans (600 s) does not hold it
        took = until(lambda: value(scrape(url), "tagpin_watch_active") == 0, log.read_text, 40, poll=0.2)
        tenant.push("frontend", "1.9.4")         # the registry still reaches it: stored, not scanned, not posted
        until(lambda: value(scrape(url), "tagpin_registry_events_total", result="accepted") >= 3, log.read_text, 20)
        time.sleep(2)
        assert posts(slack) == []
        assert total(scrape(url), "tagpin_watch_event_scans_total") == scans     # the onboarding's, before
        print(f"\nlease taken over: standing by {took:.1f} s later")
        other.resign()
    finally:
        stop(proc)
