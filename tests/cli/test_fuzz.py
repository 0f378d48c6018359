"""Every CLI command fed arbitrary text and bytes: never exit 70, never a traceback, always the one-line contract."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.__main__ import run

TEMPLATE = """\
version: "3.8"
services:
  web:
    image: 127.0.0.1:5000/fuzz/web
"""
# Python hands a program its arguments decoded with surrogateescape: bytes that are not UTF-8 arrive as U+DCxx.
RAW = st.binary(max_size=24).map(lambda b: b.decode("utf-8", "surrogateescape"))
# Well-formed pieces too, so inputs get past argparse into the commands (valid tenant names, numbers, ranges).
TENANT = st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True)
RANGE = st.one_of(st.sampled_from([">=1.2 <2", "^1.4", "~0.0", "1.x", "*", ">=", "1.2.3 - 2", "<0.0.0-0", "^v1"]),
                  st.text(alphabet="0123456789.^~<>=| -xv*", max_size=16))
FLAGS = st.sampled_from(["--json", "--limit", "--yes", "--set", "--exit-code", "--once", "--constraint", "--mode",
                         "-", "--", "="])
ARG = st.one_of(st.text(max_size=24), RAW, TENANT, st.integers(-5, 10**20).map(str), FLAGS)
ARGS = st.lists(ARG, max_size=5)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory: pytest.TempPathFactory, registry: str) -> Iterator[Path]:
    """A temp SQLite, a template on the real loopback registry, the bug log in a file; no Slack, no other host."""
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "stack.yml").write_text(TEMPLATE)
    with socket.socket() as s:                  # the watcher's health port: one nothing else uses
        s.bind(("127.0.0.1", 0))
        watch_port = s.getsockname()[1]
    logger = logging.getLogger("tagpin")
    handlers = list(logger.handlers)
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"HOME": str(tmp), "TAGPIN_DATABASE_URL": f"sqlite:///{tmp / 'tagpin.db'}",
                           "TAGPIN_STACK_TEMPLATE": str(tmp / "stack.yml"), "TAGPIN_INSECURE_REGISTRIES": registry,
                           "TAGPIN_LOG_FILE": str(tmp / "tagpin.log"), "TAGPIN_WATCH_BIND": f"127.0.0.1:{watch_port}",
                           "TAGPIN_SLACK_API_URL": "http://127.0.0.1:9/api/", "TAGPIN_REGISTRY_TIMEOUT": "3"}.items():
            mp.setenv(key, value)
        for key in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "TAGPIN_DRIFT_CHANNEL"):
            mp.delenv(key, raising=False)
        yield tmp
    for handler in logger.handlers[len(handlers):]:
        logger.removeHandler(handler)


def check(argv: list[str], log: Path) -> None:
    logged = log.stat().st_size if log.exists() else 0
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = run(argv)
        except SystemExit as exc:             # argparse's --help exits 0 on its own (after printing the help)
            code = exc.code if isinstance(exc.code, int) else 2
    event(f"exit {code}")                           # --hypothesis-show-statistics: how deep the inputs got
    where = f"{argv!r} -> {code}\nstdout: {out.getvalue()[:500]}\nstderr: {err.getvalue()[:500]}"
    assert code != 70, where
    assert "Traceback" not in out.getvalue() + err.getvalue(), where
    new_log = log.read_bytes()[logged:] if log.exists() else b""
    assert b"Traceback" not in new_log, where + "\nlog: " + new_log[-2000:].decode(errors="replace")
    if code not in (0, 3):
        lines = err.getvalue().splitlines()
        assert lines and lines[-1].startswith("error: ") and len(lines[-1]) < 2000, where
    if "--json" in argv and code in (0, 1, 2):
        json.loads(out.getvalue())                      # exactly one JSON object, whatever went wrong


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


def test_the_reported_crash_non_utf8_audit_argument_is_a_usage_error(cli_env: Path) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = run(["audit", b"\xff".decode("utf-8", "surrogateescape")])
    assert code == 2 and err.getvalue().startswith("error: ") and "not valid UTF-8" in err.getvalue(), err.getvalue()


@FUZZ
@given(command=st.sampled_from(["status", "drift", "audit", "rollback", "tenants"]), args=ARGS)
def test_read_and_refusing_commands_survive_any_arguments(cli_env: Path, command: str, args: list[str]) -> None:
    check([command, *args], cli_env / "tagpin.log")


@FUZZ
@given(args=ARGS)
def test_deploy_dry_run_survives_any_arguments(cli_env: Path, args: list[str]) -> None:
    check(["deploy", "--dry-run", *args], cli_env / "tagpin.log")        # --dry-run always: nothing is applied


@FUZZ
@given(repo=st.one_of(st.text(max_size=30), RAW, st.from_regex(r"fuzz/[a-z0-9]{1,8}(/[a-z0-9._-]{1,8})?",
                                                                fullmatch=True)),
       options=st.lists(st.tuples(st.sampled_from(["--constraint", "--mode", "--pattern", "--current"]),
                                  st.one_of(st.text(max_size=20), RAW, RANGE,
                                            st.sampled_from(["semver", "two-part", "pattern", r"^(?P<version>.*)$",
                                                             "(", "1.2.3", "v1"]))), max_size=3),
       flags=st.lists(st.sampled_from(["--json", "--prerelease", "--allow-downgrade"]), max_size=2))
def test_resolve_survives_any_arguments(cli_env: Path, repo: str, options: list[tuple[str, str]],
                                        flags: list[str]) -> None:
    # The repository always names the loopback registry first, so no fuzz input can send a request elsewhere.
    argv = ["resolve", "127.0.0.1:5000/" + repo, *[part for pair in options for part in pair], *flags]
    check(argv, cli_env / "tagpin.log")


@FUZZ
@given(args=ARGS)
def test_watch_once_survives_any_arguments(cli_env: Path, args: list[str]) -> None:
    check(["watch", "--once", *args], cli_env / "tagpin.log")      # no SLACK_BOT_TOKEN: it can never start posting


@FUZZ
@given(command=st.sampled_from(["shell", "bot", "watch", "nosuch", ""]), args=ARGS.filter(bool))
def test_long_running_commands_refuse_bad_arguments_in_one_line(cli_env: Path, command: str,
                                                                args: list[str]) -> None:
    # A stray positional always follows, so none of these starts serving; the parse is what is fuzzed.
    check([command, *args, "stray-positional"], cli_env / "tagpin.log")
