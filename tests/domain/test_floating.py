"""One floating-tag list: the rendered-file validator refuses exactly the tags the resolver skips, for one reason."""

from __future__ import annotations

import json

import pytest

from bot.domain.tags import FLOATING, FLOATING_REASON, is_floating
from bot.domain.validate import POLICY_LABEL, TAG_LABEL, validate_rendered
from bot.domain.versions import Policy, select
from bot.errors import StackError

DIGEST = "sha256:" + "a" * 64
# Every floating word in three spellings, words that only look like one, and tags that are versions in some mode.
CORPUS = sorted({
    *FLOATING, *(t.upper() for t in FLOATING), *(t.title() for t in FLOATING),
    "production", "latest-1", "stable1", "v-latest", "lates", "alpine", "mainline", "sha-abc1234", "2024-01-15",
    "1.2.3", "v1.2.3", "1.2", "17", "1.2.3-rc.1", "1.2.3-latest", "1.2.3-slim", "1.2.3.4",
})
POLICIES = {
    "semver": Policy(),
    "two-part": Policy(mode="two-part"),
    "prerelease": Policy(prerelease=True),
    "pattern": Policy(mode="pattern", pattern=r"^(?P<version>\d+\.\d+\.\d+)(?:-(?P<variant>\w+))?$"),
}


def _refusal(tag: str, policy: Policy) -> str | None:
    """The validator's complaint about a file deploying `tag` under `policy`, or None when it passes."""
    block = {k: v for k, v in {"mode": policy.mode, "constraint": policy.constraint, "prerelease": policy.prerelease,
                               "pattern": policy.pattern}.items() if v is not None}
    labels = {TAG_LABEL: tag, POLICY_LABEL: json.dumps(block).replace("$", "$$")}
    service = {"image": f"127.0.0.1:5000/acme/web:{tag}@{DIGEST}",
               "deploy": {"labels": labels, "update_config": {"failure_action": "rollback"}}}
    try:
        validate_rendered(json.dumps({"version": "3.8", "services": {"web": service}}))
    except StackError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_the_validator_refuses_exactly_the_tags_the_resolver_skips(name: str) -> None:
    policy = POLICIES[name]
    skipped = {r.tag for r in select(CORPUS, policy).rejected}
    refused = {tag for tag in CORPUS if _refusal(tag, policy) is not None}
    assert refused == skipped
    assert skipped >= {t for t in CORPUS if is_floating(t)} >= FLOATING
    assert "1.2.3" not in skipped                            # the corpus is not all refusals


@pytest.mark.parametrize("name", ["semver", "two-part", "prerelease"])
def test_both_call_the_same_tags_floating_in_the_same_words(name: str) -> None:
    policy = POLICIES[name]
    by_resolver = {r.tag for r in select(CORPUS, policy).rejected if r.reason == FLOATING_REASON}
    by_validator = {tag for tag in CORPUS if FLOATING_REASON in (_refusal(tag, policy) or "")}
    assert by_resolver == by_validator == {t for t in CORPUS if t.lower() in FLOATING}
    assert {"LATEST", "Stable", "prod"} <= by_validator and not {"production", "v-latest", "lates"} & by_validator
