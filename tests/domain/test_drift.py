"""Drift: each kind DESIGN.md "Watch" names (behind, tag_moved, unpinned, partial_rollout, missing)."""

from __future__ import annotations

import pytest

from bot.domain.drift import Available, Finding, Observed, find_drift, wanted_replicas
from bot.domain.references import parse_reference
from bot.domain.stacks import Pin, ServiceTemplate
from bot.domain.versions import Policy

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
REPO = "127.0.0.1:5000/acme/frontend"
FRONTEND = ServiceTemplate("frontend", parse_reference(REPO), Policy(constraint="<2.0.0"))


def observed(image: str = f"{REPO}:1.2.3@{D1}", digests: tuple[str, ...] = (D1,), running: int = 1,
             desired: int = 1, state: str | None = None) -> Observed:
    return Observed("frontend", image, digests, running, desired, state)


CURRENT = Pin("1.2.3", D1)


def available(best: Pin | None = CURRENT, spec_tag_digest: str | None = D1) -> Available:
    return Available(best, spec_tag_digest)


def drift(obs: Observed | None, avail: Available | None = None) -> list[Finding]:
    return find_drift("acme", [FRONTEND], {} if obs is None else {"frontend": obs},
                      {"frontend": avail or available()})


def test_in_sync_service_has_no_findings() -> None:
    assert drift(observed()) == []
    assert drift(observed(digests=(), running=0, desired=0)) == []  # scaled to zero on purpose
    assert drift(observed(state="completed")) == []
    assert drift(observed(state="rollback_completed")) == []


@pytest.mark.parametrize(("obs", "avail", "kind", "running", "target", "detail"), [
    # The incident: the spec says :latest, so nodes run whatever they cached under that name.
    (observed(f"{REPO}:latest", ()), available(), "unpinned", f"{REPO}:latest", f"{REPO}:1.2.3@{D1}",
     "frontend runs 127.0.0.1:5000/acme/frontend:latest, which has no version tag"),
    (observed(f"{REPO}:latest@{D1}"), available(), "unpinned", f"{REPO}:latest@{D1}", f"{REPO}:1.2.3@{D1}",
     "no version tag"),
    (observed(f"{REPO}:1.2.3", ()), available(), "unpinned", f"{REPO}:1.2.3", f"{REPO}:1.2.3@{D1}",
     "which has no digest"),
    (observed(), available(spec_tag_digest=D2), "tag_moved", f"{REPO}:1.2.3@{D1}", f"{REPO}:1.2.3@{D2}",
     "frontend: tag 1.2.3 was re-pushed"),
    (observed(), available(Pin("1.10.0", D2)), "behind", f"{REPO}:1.2.3@{D1}", f"{REPO}:1.10.0@{D2}",
     "frontend runs 1.2.3; 1.10.0 is the newest its policy allows"),
    (observed(digests=(D1, D2)), available(), "partial_rollout", f"{REPO}@{D1},{REPO}@{D2}",
     f"{REPO}:1.2.3@{D1}", "tasks run 2 different digests"),
    (observed(digests=(D2,)), available(), "partial_rollout", f"{REPO}@{D2}", f"{REPO}:1.2.3@{D1}",
     "not the spec's"),
    (observed(running=1, desired=3), available(), "partial_rollout", f"{REPO}@{D1}", f"{REPO}:1.2.3@{D1}",
     "frontend: 1/3 tasks running"),
    (observed(state="paused"), available(), "partial_rollout", f"{REPO}@{D1}", f"{REPO}:1.2.3@{D1}",
     "update paused"),
    (observed(state="rollback_paused"), available(), "partial_rollout", f"{REPO}@{D1}", f"{REPO}:1.2.3@{D1}",
     "update rollback paused"),
    (observed(digests=(D1, D2), running=2, desired=2, state="updating"), available(), "partial_rollout",
     f"{REPO}@{D1},{REPO}@{D2}", f"{REPO}:1.2.3@{D1}", "an update is in progress"),
    (None, available(Pin("1.2.4", D2)), "missing", None, f"{REPO}:1.2.4@{D2}",
     "frontend is in the template but not running in stack acme"),
])
def test_each_kind(obs: Observed | None, avail: Available, kind: str, running: str | None,
                   target: str | None, detail: str) -> None:
    (finding,) = drift(obs, avail)
    assert (finding.tenant, finding.service, finding.kind) == ("acme", "frontend", kind)
    assert (finding.running, finding.target) == (running, target)
    assert detail in finding.detail
    assert "\n" not in finding.detail


@pytest.mark.parametrize("avail", [
    available(Pin("1.2.4-rc.1", D2)),   # a prerelease the policy does not opt in to is never "newer"
    available(Pin("1.2.2", D2)),        # older is not newer
    available(Pin("v1.2.3", D1)),       # one version, another spelling
    Available(None, None),              # the registry could not say: no guess
])
def test_no_false_alarms(avail: Available) -> None:
    assert drift(observed(), avail) == []


def test_running_digests_may_be_full_references() -> None:
    assert drift(observed(digests=(f"{REPO}:1.2.3@{D1}",))) == []


def test_updating_alone_is_not_drift() -> None:
    # Mid-deploy: the tasks already run the spec's digest, nothing to report.
    assert drift(observed(state="updating")) == []


def test_a_running_prerelease_is_pinned_not_unpinned() -> None:
    findings = drift(observed(f"{REPO}:2.0.0-rc.1@{D1}"), available(Pin("1.9.0", D2)))
    assert findings == []


def test_several_findings_are_ordered_by_service_then_urgency() -> None:
    proxy = ServiceTemplate("proxy", parse_reference("127.0.0.1:5000/proxy"), Policy())
    obs = {"frontend": observed(f"{REPO}:1.2.3@{D1}", (D1, D3), running=1, desired=2)}
    avail = {"frontend": available(Pin("1.3.0", D2), spec_tag_digest=D2)}
    findings = find_drift("acme", [proxy, FRONTEND], obs, avail)
    assert [(f.service, f.kind) for f in findings] == [
        ("frontend", "tag_moved"), ("frontend", "partial_rollout"), ("frontend", "behind"),
        ("proxy", "missing")]
    assert findings == find_drift("acme", [proxy, FRONTEND], obs, avail)
    assert findings[-1].target is None  # nothing known about proxy's registry


def test_key_identifies_a_finding_across_scans_whatever_the_wording() -> None:
    first = drift(observed(), available(Pin("1.10.0", D2)))[0]
    again = Finding(first.tenant, first.service, first.kind, first.running, first.target, "other words")
    assert first.key() == again.key() == (
        "acme", "frontend", "behind", f"{REPO}:1.2.3@{D1}", f"{REPO}:1.10.0@{D2}")
    newer = drift(observed(), available(Pin("1.11.0", D2)))[0]
    assert newer.key() != first.key()


def test_an_unparseable_spec_image_is_unpinned() -> None:
    (finding,) = drift(observed("not a reference", ()))
    assert finding.kind == "unpinned" and finding.running == "not a reference"


def test_a_registry_that_could_not_answer_is_unknown_never_ok() -> None:
    (finding,) = drift(observed(), Available(None, None, unknown="registry down"))
    assert (finding.kind, finding.target) == ("unknown", None)
    assert "drift unknown" in finding.detail and "registry down" in finding.detail
    # A missing service is still missing, and what it should run is unknown too.
    assert [f.kind for f in drift(None, Available(None, None, unknown="500"))] == ["missing", "unknown"]
    # What needs no registry is still judged: an unpinned image is unpinned, whatever the registry says.
    kinds = [f.kind for f in drift(observed(f"{REPO}:latest"), Available(None, None, unknown="x"))]
    assert kinds == ["unpinned", "unknown"]


@pytest.mark.parametrize(("spec_replicas", "wanted", "kinds"), [
    (0, 2, ["scaled_down"]),       # someone scaled it down: nothing runs
    (0, 0, []),                    # `replicas: 0` in the template is a choice
    (0, None, []),                 # a global service has no replica count
    (2, 2, []),
])
def test_scaled_down(spec_replicas: int, wanted: int | None, kinds: list[str]) -> None:
    obs = Observed("frontend", f"{REPO}:1.2.3@{D1}", (), 0, 0, None, spec_replicas)
    found = find_drift("acme", [FRONTEND], {"frontend": obs}, {"frontend": available()}, {"frontend": wanted})
    assert [f.kind for f in found] == kinds


@pytest.mark.parametrize(("document", "wanted"), [
    ({"services": {"frontend": {}}}, 1),
    ({"services": {"frontend": {"deploy": {"replicas": 3}}}}, 3),
    ({"services": {"frontend": {"deploy": {"replicas": 0}}}}, 0),
    ({"services": {"frontend": {"deploy": {"mode": "global"}}}}, None),
])
def test_wanted_replicas(document: dict[str, object], wanted: int | None) -> None:
    assert wanted_replicas(document, "frontend") == wanted
