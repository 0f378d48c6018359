"""Benchmark: acknowledgement latency of signed /status and /deploy requests, 20 at a time, over real HTTP.

The bot runs as `tagpin bot` (HTTP mode) in its own process, as in production; this process plays Slack:
the Web API stand-in, and 20 threads sending pre-signed slash commands to /slack/events on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402 -- after the sys.path line, so the bench runs from a checkout

from bot.slack.localapi import LocalSlackAPI  # noqa: E402
from bot.slack.signing import signed_headers, slash_body  # noqa: E402

TARGET_P99_MS = 50.0            # ours; Slack's limit is 3,000 ms
CONCURRENCY = 20
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "25"))
SECRET = "bench-signing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(100):
        if proc.poll() is not None:
            raise SystemExit(f"tagpin bot exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise SystemExit("tagpin bot did not start")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, LocalSlackAPI() as api:
        port = free_port()
        env = {**os.environ, "HOME": tmp, "TAGPIN_DATABASE_URL": f"sqlite:///{tmp}/b.db",
               "TAGPIN_STACK_TEMPLATE": str(ROOT / "stacks" / "demo.yml"), "TAGPIN_BIND": f"127.0.0.1:{port}",
               "TAGPIN_INSECURE_REGISTRIES": "127.0.0.1:5000", "TAGPIN_SLACK_API_URL": api.url,
               "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET, "TAGPIN_DEPLOYERS": "UBENCH"}
        env.pop("SLACK_APP_TOKEN", None)
        proc = subprocess.Popen([sys.executable, "-m", "bot", "bot"], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/slack/events"
            wait_up(f"http://127.0.0.1:{port}/healthz", proc)
            items = [("/status", f"bench{i % 5}") if i % 2 else ("/deploy", f"bench{i % 5} --dry-run")
                     for i in range(CONCURRENCY * ROUNDS)]
            bodies = [(c, slash_body(c, t, user_id="UBENCH", user_name="bench", channel_id="CBENCH",
                                     response_url=api.response_url(f"r{i}"))) for i, (c, t) in enumerate(items)]
            requests.post(url, data=bodies[0][1], headers=signed_headers(SECRET, bodies[0][1]), timeout=10)

            def one(item: tuple[str, str]) -> tuple[str, float]:
                command, body = item
                headers = signed_headers(SECRET, body)          # signed as Slack signs, before the clock starts
                started = time.perf_counter()
                reply = requests.post(url, data=body, headers=headers, timeout=10)
                elapsed = (time.perf_counter() - started) * 1000
                assert reply.status_code == 200 and "hourglass" in reply.text, reply.text
                return command, elapsed

            results: list[tuple[str, float]] = []
            started = time.perf_counter()
            with ThreadPoolExecutor(CONCURRENCY) as pool:
                # Bursts of 20 at once (Slack delivers a busy channel's commands together); the next burst
                # comes when the previous one's work has answered, as people read before they type again.
                for burst in range(ROUNDS):
                    batch = bodies[1 + burst * CONCURRENCY:1 + (burst + 1) * CONCURRENCY]
                    results += pool.map(one, batch)
                    api.wait_for(2 + (burst + 1) * CONCURRENCY, 120)   # auth.test, warm-up, one answer each
            acked = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"ack latency: {len(results)} signed requests, {CONCURRENCY} concurrent, `tagpin bot` over HTTP "
          f"on 127.0.0.1 ({os.cpu_count()} CPUs)")
    print(f"{'command':<10}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    worst = 0.0
    for name in ("/status", "/deploy", "all"):
        ms = sorted(t for c, t in results if name in ("all", c))
        p50, p99 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        worst = max(worst, p99)
        print(f"{name:<10}{len(ms):>6}{p50:>10.1f}{p99:>10.1f}{ms[-1]:>10.1f}")
    print(f"{ROUNDS} bursts in {acked:.2f} s; answers sent through response URLs: {len(api.of('response_url'))}")
    print(f"target p99 <= {TARGET_P99_MS:.0f} ms: {'met' if worst <= TARGET_P99_MS else 'MISSED'}")
    return 0 if worst <= TARGET_P99_MS else 1


if __name__ == "__main__":
    sys.exit(main())
