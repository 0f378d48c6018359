"""Signed slash commands with arbitrary text through the real bolt app: every one answered, none raises, no 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.slack.commands import USAGE
from bot.slack.listeners import COMMANDS
from bot.slack.notice_blocks import DEPLOY_NOW, SHOW_PLAN, SNOOZE
from tests.slack.harness import Bot

WORDS = st.sampled_from([*USAGE, "acme", "Acme", "--dry-run", "--limit", "--limit=0", "--limit=x", "—dry-run",
                         "web@1.2.3", "web@", "@", '"', "'", "\\", "--", "a" * 40])
PHRASE = st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=6).map(" ".join)
TEXT = st.one_of(st.text(max_size=60), PHRASE, st.tuples(st.sampled_from(list(USAGE)), PHRASE).map(" ".join))


class Records(logging.Handler):
    """Every record at ERROR or above from tagpin's Slack layer and from bolt (a listener that raised)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("tagpin.slack", "slack_bolt")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(command=st.sampled_from(sorted(COMMANDS)), text=TEXT, user=st.sampled_from(["UALICE", "UBOB", "UNOBODY"]))
def test_any_slash_command_text_is_answered_and_nothing_raises(offline_bot: Bot, errors: Records, command: str,
                                                               text: str, user: str) -> None:
    answered = len(offline_bot.responses())
    reply = offline_bot.command(command, text, user=user)
    assert reply.status_code == 200, (command, text, reply.status_code, reply.text[:300])
    ack = reply.json()
    assert ack.get("text"), (command, text, ack)
    offline_bot.wait(60)
    later = offline_bot.responses()[answered:]
    event(f"{command}: {'acknowledged only' if not later else 'answered later'}")
    # An acknowledgement that promises work is followed by an answer; one that answered in full is not.
    working = ack["text"].startswith(":hourglass_flowing_sand:")
    assert bool(later) == working, (command, text, ack["text"], later)
    assert all(r.get("text") for r in later), later
    assert not errors.records, [(r.name, r.getMessage()) for r in errors.records]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(action=st.sampled_from(["tagpin_confirm", "tagpin_cancel", DEPLOY_NOW, SHOW_PLAN, SNOOZE]),
       value=st.one_of(st.text(max_size=80), st.from_regex(r"[a-z][a-z0-9-]{0,8}[:|/ ][a-z0-9@.:-]{0,20}",
                                                           fullmatch=True)),
       user=st.sampled_from(["UALICE", "UBOB"]))
def test_any_button_value_is_acknowledged_and_nothing_raises(offline_bot: Bot, errors: Records, action: str,
                                                            value: str, user: str) -> None:
    # A button's value comes back from the client: a forged or stale one must be refused, never crash.
    reply = offline_bot.click(action, value, user=user)
    assert reply.status_code == 200, (action, value, reply.status_code, reply.text[:300])
    offline_bot.wait(60)
    assert not errors.records, [(r.name, r.getMessage()) for r in errors.records]
