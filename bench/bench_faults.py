"""Benchmark: what a deploy tells its user under each fault, and what it leaves behind, on the real Swarm and registry.

Run from the repo root: `.venv/bin/python bench/bench_faults.py [--cases registry-down,sigkill]`.
Each case onboards a fresh tenant (own repositories, template, SQLite file, stack) at 1.0.0 through the real
registry, then deploys it to 1.1.0 under one fault and prints one row: what the user was told (exit code and
first error line, or the outcome), the audit rows the attempt wrote, the lock and the deployment row after,
and the seconds to that clear message. A row showing a bug (a traceback, exit 70, a lock left held, no audit
row, an all-clear without a converged deployment) is marked BUG?, and the bench then exits 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from _support import REGISTRY, Workspace, push_repos, remove_stacks, run_id, template_text

from bot.adapters.models import TenantLock
from bot.domain.references import ImageRef
from bot.errors import TagpinError
from bot.service.context import Context
from bot.service.deploy import Deployer
from bot.service.resolve import Registry
from tests.slack.harness import AUDIT, CHANNEL, Bot, running_bot
from tests.support.fake_registry import FakeRegistry, json_reply
from tests.support.oci import Pusher

TAGPIN = str(Path(sys.executable).with_name("tagpin"))
SERVICES = ("frontend", "backend")
HANG = 12.0        # seconds: past both the registry client's and the Slack client's 10 s timeout
SETTLED = ("converged", "rolled_back", "failed")


@dataclass
class Told:
    text: str                          # what the user saw: exit code + first error line, or the outcome
    seconds: float                     # from the fault (or the command) to that message
    stderr: str = ""
    lock: tuple[str, ...] = ("free",)  # the lock states this case may leave
    after: str = ""                    # what `tagpin status` later made of the deployment row


@dataclass
class Case:
    tenant: str
    prefix: str
    ws: Workspace
    pusher: Pusher = field(default_factory=lambda: Pusher(REGISTRY))
    onboarded: int = 0                 # the onboarding deployment's id
    audited: int = 0                   # the last audit row before the fault

    def context(self) -> Context:
        return self.ws.context()

    def point_at(self, host: str) -> None:
        path = self.ws.directory / "stack.yml"
        path.write_text(path.read_text().replace(f"{REGISTRY}/", f"{host}/"), encoding="utf-8")

    def cli(self, *argv: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
        started = time.monotonic()
        done = subprocess.run([TAGPIN, *argv], capture_output=True, text=True, env={**self.ws.env, **env},
                              timeout=300, check=False)
        return done, time.monotonic() - started

    def deploy(self, **env: str) -> Told:
        done, seconds = self.cli("deploy", self.tenant, "--yes", "--json", **env)
        return Told(said(done.returncode, done.stdout, done.stderr), seconds, done.stderr)


def said(code: int, stdout: str, stderr: str) -> str:
    line = next(iter(stderr.strip().splitlines()), "")
    if not line or code == 0:
        try:
            data = json.loads(stdout)
            line = f"{data.get('outcome')}: {data.get('message', '')}"
        except ValueError:
            line = line or stdout.strip()[:80]
    return f"exit {code}: {line}"


def lock_state(ctx: Context, tenant: str) -> str:
    with ctx.store.session() as s:
        held = s.get(TenantLock, tenant)
        if held is None:
            return "free"
        live = held.expires_at.replace(tzinfo=UTC) > datetime.now(UTC)
        return f"held by {held.holder}" if live else f"expired ({held.holder})"


def settle(case: Case, deployment_id: int, timeout: float = 60) -> tuple[str, float, float]:
    """Run `tagpin status` until the deployment row is no longer running/interrupted and no live lock is left:
    (its outcome, seconds until reconciled, seconds until the tenant was first seen free)."""
    started, free = time.monotonic(), -1.0
    while time.monotonic() - started < timeout:
        if free < 0 and not lock_state(case.context(), case.tenant).startswith("held"):
            free = time.monotonic() - started
        case.cli("status", case.tenant)
        row = case.context().store.deployment(deployment_id)
        if row is not None and row.outcome in SETTLED and free >= 0:
            return row.outcome, time.monotonic() - started, free
        time.sleep(0.2)
    return "not reconciled", time.monotonic() - started, free


def running_deployment(case: Case, timeout: float = 60) -> int:
    ctx, deadline = case.context(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = ctx.store.latest_deployment(case.tenant)
        if row is not None and row.id != case.onboarded and row.outcome == "running":
            return int(row.id or 0)
        time.sleep(0.05)
    raise RuntimeError("the deploy never recorded a running deployment")


# ---- the cases: each provokes one fault around a deploy of the onboarded tenant to 1.1.0 ----

def registry_down(case: Case) -> Told:
    with socket.socket() as s:                      # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    case.point_at(f"127.0.0.1:{port}")
    return case.deploy()


def registry_answering(status: int, pause: float = 0.0) -> Callable[[Case], Told]:
    def run(case: Case) -> Told:
        def handler(seen: object) -> tuple[int, dict[str, str], bytes]:
            time.sleep(pause)
            return json_reply({"errors": [{"code": "UNKNOWN"}]}, status, {"Retry-After": "1"})

        with FakeRegistry(handler) as fake:
            case.point_at(fake.host)
            return case.deploy()
    return run


class DeletesAfterListing:
    """The real client; right after listing `repo`, another operator deletes `tag` through the registry API."""

    def __init__(self, inner: Registry, pusher: Pusher, repo: str, tag: str) -> None:
        self.inner, self.pusher, self.repo, self.tag, self.done = inner, pusher, repo, tag, False

    def tags(self, image: ImageRef) -> tuple[str, ...]:
        listed = self.inner.tags(image)
        if image.name().endswith(self.repo) and not self.done:
            self.pusher.delete_tag(self.repo, self.tag)
            self.done = True
        return listed

    def digest(self, image: ImageRef, tag: str) -> str | None:
        return self.inner.digest(image, tag)


def tag_deleted(case: Case) -> Told:
    repo = f"{case.prefix}/frontend"
    case.pusher.push(repo, "1.2.0", "frontend 1.2.0")
    ctx = case.context()
    ctx.registry = DeletesAfterListing(ctx.registry, case.pusher, repo, "1.2.0")
    started = time.monotonic()
    result = Deployer(ctx).deploy(case.tenant, "bench", confirm=lambda plan: True)
    moved = ", ".join(f"{s['name']} {tag(s['from'])}→{tag(s['to'])}" for s in result.as_dict()["services"])
    return Told(f"{result.outcome}: {moved} (1.2.0 listed, then deleted)", time.monotonic() - started)


def tag(reference: str | None) -> str:
    return reference.split("@")[0].rsplit(":", 1)[-1] if reference else "-"


def engine_down(case: Case) -> Told:
    return case.deploy(DOCKER_HOST="unix:///nonexistent.sock")


def slack(fault: str) -> Callable[[Case], Told]:
    """/deploy through the real bolt app while the Web API stand-in answers, drops every connection ("down") or
    sits on every post ("hang")."""
    def run(case: Case) -> Told:
        with running_bot(case.ws.env) as bot:
            bot.api.down = fault == "down"
            if fault == "hang":
                bot.api.hang.update({"chat.postMessage": HANG, "chat.update": HANG})
            started, wall = time.monotonic(), datetime.now(UTC)
            bot.command("/deploy", case.tenant)
            ctx = case.context()
            while not any(e.command == "deploy" and e.outcome in SETTLED and (e.id or 0) > case.audited
                          for e in ctx.store.events(case.tenant, 5)):
                time.sleep(0.1)
            recorded = time.monotonic() - started
            bot.wait()
            row = ctx.store.latest_deployment(case.tenant)
            applied = max((row.started_at.replace(tzinfo=UTC) - wall).total_seconds(), 0) if row else -1.0
            bot.api.down, bot.api.hang = False, {}
            return Told(f"{slack_said(bot, started)}; deployment row started ~{applied:.0f} s after the command, "
                        f"outcome recorded after {recorded:.1f} s", recorded)
    return run


def slack_said(bot: Bot, started: float) -> str:
    """The last message the requester could see (progress in the channel or via the response URL), and the
    audit thread: posts kept in the outbox and posted by a flush once Slack answers again."""
    outbox = bot.rt.trail.outbox
    kept = len(outbox.pending(AUDIT)) if outbox else 0
    seen = [c for c in bot.api.calls if c.status == 200 and (c.method == "response_url" or (
        c.method in ("chat.postMessage", "chat.update") and c.params.get("channel") == CHANNEL))]
    last = (f"last seen ({seen[-1].method}, {seen[-1].at - started:.1f} s): {str(seen[-1].params.get('text'))[:60]!r}"
            if seen else "nothing reached Slack")
    return f"{last}; {kept} audit posts kept, {bot.rt.trail.flush()} posted once Slack answered"


def signalled(sig: signal.Signals) -> Callable[[Case], Told]:
    def run(case: Case) -> Told:
        if sig is signal.SIGKILL:
            case.ws.env["TAGPIN_LEASE_TTL"] = "2"   # a short lease: the tenant is free 2 s after the kill
        proc = subprocess.Popen([TAGPIN, "deploy", case.tenant, "--yes", "--json"], env=case.ws.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deployment = running_deployment(case)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
        exited = time.monotonic() - sent
        right_after = case.context().store.deployment(deployment)
        outcome, took, free = settle(case, deployment)
        after = f"{right_after.outcome if right_after else '?'} → {outcome} after {took:.1f} s of `tagpin status`"
        if sig is signal.SIGKILL:
            return Told(f"killed (exit {proc.returncode}); tenant free {free:.1f} s after the kill", exited + free,
                        err, lock=("free", "expired (bench)"), after=after)
        return Told(said(proc.returncode, out, err), exited, err, after=after)
    return run


def lease_taken_over(case: Case) -> Told:
    ctx = case.context()

    def take_over(step: str, detail: str) -> None:
        if step == "planned":                      # as if this deploy stalled past its lease and bob took over
            held = ctx.store.live_lock(case.tenant)
            assert held is not None
            ctx.store.release(case.tenant, held.token)
            ctx.store.acquire(case.tenant, "bob", ttl=60)

    started = time.monotonic()
    try:
        result = Deployer(ctx).deploy(case.tenant, "bench", confirm=lambda plan: True, on_step=take_over)
        text = f"{result.outcome}: {result.message}"
    except TagpinError as exc:
        text = f"{type(exc).__name__} (exit {exc.exit_code}): {exc}"
    return Told(text, time.monotonic() - started, lock=("held by bob",))


CASES: dict[str, Callable[[Case], Told]] = {
    "no-fault": lambda case: case.deploy(),            # the controls: the same deploy with nothing wrong
    "slack-ok": slack("ok"),
    "registry-down": registry_down, "registry-500": registry_answering(500), "registry-429": registry_answering(429),
    "registry-hang": registry_answering(200, pause=HANG), "tag-deleted": tag_deleted, "engine-down": engine_down,
    "slack-down": slack("down"), "slack-hang": slack("hang"), "sigterm": signalled(signal.SIGTERM),
    "sigkill": signalled(signal.SIGKILL), "lease-taken-over": lease_taken_over,
}


def onboard(run: str, index: int) -> Case:
    """A fresh tenant at 1.0.0 (1.1.0 is available), deployed through the real registry and Swarm."""
    prefix = f"bf{run}{index:02d}"
    case = Case(f"bf{run}-{index:02d}", prefix, Workspace.create(template_text(prefix, SERVICES, 1), 60.0))
    push_repos(prefix, SERVICES, ("1.0.0", "1.1.0"))
    result = Deployer(case.context()).deploy(case.tenant, "bench", confirm=lambda plan: True,
                                             overrides=dict.fromkeys(SERVICES, "1.0.0"))
    if result.outcome != "converged":
        raise RuntimeError(f"onboarding {case.tenant}: {result.outcome}: {result.message}")
    case.onboarded = result.deployment_id or 0
    case.audited = max(e.id or 0 for e in case.context().store.events(case.tenant, 5))
    return case


def row(name: str, case: Case, told: Told) -> list[str]:
    """The printed cells, the last one the suspected bugs."""
    ctx = case.context()
    # Not the rows of the bench's own `tagpin status` calls: only what the deploy and reconciliation wrote.
    events = [e for e in reversed(ctx.store.events(case.tenant, 50))
              if (e.id or 0) > case.audited and e.command != "status"]
    latest = ctx.store.latest_deployment(case.tenant)
    deployment = latest.outcome if latest is not None and latest.id != case.onboarded else "none"
    lock = lock_state(ctx, case.tenant)
    bugs = [b for b, bad in (
        ("traceback", "Traceback" in told.stderr), ("exit 70", told.text.startswith("exit 70")),
        ("no audit row", not events), (f"lock {lock}", lock not in told.lock),
        ("deployment left running", deployment == "running"),
        ("all-clear without a converged deployment", told.text.startswith("exit 0") and deployment != "converged"),
    ) if bad]
    audit = ", ".join(f"{e.command} {e.outcome}" for e in events) or "none"
    return [name, f"{told.seconds:5.1f}", f"yes: {audit}" if events else "no", lock,
            f"{deployment} ({told.after})" if told.after else deployment, told.text, "; ".join(bugs)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--cases", default=",".join(CASES), help=f"comma list of: {', '.join(CASES)}")
    args = p.parse_args()
    chosen = [c.strip() for c in args.cases.split(",") if c.strip()]
    if unknown := [c for c in chosen if c not in CASES]:
        p.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    run = run_id()
    print(f"run {run}: {len(chosen)} fault case(s), each a fresh tenant ({' + '.join(SERVICES)}, 1 replica) "
          "onboarded at 1.0.0, then deployed to 1.1.0 under the fault", flush=True)
    cases: list[Case] = []
    rows: list[list[str]] = []
    started = time.monotonic()
    try:
        for index, name in enumerate(chosen, 1):
            cases.append(case := onboard(run, index))
            try:
                rows.append(row(name, case, CASES[name](case)))
            except Exception as exc:  # the bench could not provoke or observe the case: say so, go on
                rows.append([name, "-", "-", "-", "-", f"bench failed: {type(exc).__name__}: {exc}", "bench"])
            print("  " + " | ".join(rows[-1][:5]), flush=True)
    finally:
        cleanup = time.monotonic()
        cleaned = remove_stacks([c.tenant for c in cases], timeout=300)
        for c in cases:
            c.ws.remove()
        print(f"cleanup: {len(cases)} stacks removed in {time.monotonic() - cleanup:.0f} s "
              f"(whole run {time.monotonic() - started:.0f} s)")
    heads = ["case", "s", "audit rows", "lock after", "deployment row"]
    widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(len(heads))]
    print("  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True)) + "  told")
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[5]
              + (f"   <-- BUG? {r[6]}" if r[6] else ""))
    return 0 if cleaned and not any(r[6] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
