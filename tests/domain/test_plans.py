"""Plans: every flag, the risks a deploy must confirm (DESIGN.md "Version policy": never below the running
version unless asked, flag major jumps), and a digest that binds a confirmation to one plan."""

from __future__ import annotations

import pytest

from bot.domain.plans import Plan, Running, make_plan
from bot.domain.references import parse_reference
from bot.domain.stacks import Pin, ServiceTemplate
from bot.domain.versions import Policy
from bot.errors import PolicyError, StackError

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
REPO = "127.0.0.1:5000/acme/frontend"
FRONTEND = ServiceTemplate("frontend", parse_reference(REPO), Policy())


def running(tag: str | None, digest: str | None = D1) -> Running:
    reference = REPO + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    return Running(reference, tag, digest)


def plan_for(now: Running | None, to: Pin, template: ServiceTemplate = FRONTEND, new: bool = False) -> Plan:
    return make_plan("acme", new, [template], {} if now is None else {"frontend": now}, {"frontend": to})


@pytest.mark.parametrize(("now", "to", "flags", "risky"), [
    (None, Pin("1.2.3", D1), {"new_service"}, False),
    (Running(None, None, None), Pin("1.2.3", D1), {"new_service"}, False),
    (running("1.2.3"), Pin("1.2.3", D1), {"unchanged"}, False),
    (running("1.2.3"), Pin("1.2.3", D2), {"tag_moved"}, True),          # same tag, other content
    (running("1.2.3", None), Pin("1.2.3", D1), {"tag_moved"}, True),    # never pinned: cannot know
    (running("1.2.3"), Pin("1.2.4", D2), {"upgrade"}, False),
    (running("1.10.0"), Pin("1.9.0", D2), {"downgrade"}, True),         # numeric, not string, order
    (running("1.10.0"), Pin("2.0.0", D2), {"upgrade", "major_jump"}, True),
    (running("0.3.1"), Pin("0.4.0", D2), {"upgrade", "major_jump"}, True),  # SemVer §4: 0.y may break
    (running("0.0.1"), Pin("0.0.2", D2), {"upgrade", "major_jump"}, True),  # 0.0.z: every patch may break
    (running("2.0.0-rc.1"), Pin("2.0.0", D2), {"upgrade"}, False),      # SemVer §11: release > rc
    (running("2.0.0-rc.1"), Pin("1.9.0", D2), {"downgrade"}, True),
    (running("v1.2.3"), Pin("1.2.3", D1), {"unchanged"}, False),        # one version, two spellings
    (running("v1.2.3"), Pin("1.2.3", D2), {"tag_moved"}, True),
    # The incident: `latest` ran; any version is an upgrade from "unknown", with a note saying so.
    (running("latest"), Pin("1.2.3", D2), {"upgrade"}, False),
    (Running(f"{REPO}@{D1}", None, D1), Pin("1.2.3", D2), {"upgrade"}, False),
])
def test_flags(now: Running | None, to: Pin, flags: set[str], risky: bool) -> None:
    plan = plan_for(now, to)
    (change,) = plan.services
    assert change.flags == flags
    assert plan.risky is risky
    assert bool(plan.risks) is risky
    assert plan.changed is (flags != {"unchanged"})
    assert change.reference == f"{REPO}:{to.tag}@{to.digest}"


def test_the_incident_upgrade_carries_a_note() -> None:
    (change,) = plan_for(running("latest"), Pin("1.2.3", D2)).services
    assert change.note is not None and "no version tag" in change.note and "1.2.3" in change.note


def test_two_part_mode_reads_17_and_17_0_as_one_version() -> None:
    db = ServiceTemplate("frontend", parse_reference(REPO), Policy(mode="two-part"))
    assert plan_for(running("17"), Pin("17.0", D1), db).services[0].flags == {"unchanged"}
    assert plan_for(running("16.4"), Pin("17.0", D1), db).services[0].flags == {"upgrade", "major_jump"}


def test_new_tenant_flags_every_service_and_is_risky() -> None:
    plan = plan_for(None, Pin("1.2.3", D1), new=True)
    assert plan.services[0].flags == {"new_service", "new_tenant"}
    assert plan.risky and plan.changed
    assert plan.risks == ("acme: new tenant, the stack will be created",)


@pytest.mark.parametrize(("now", "to", "sentence"), [
    (running("1.10.0"), Pin("2.0.0", D2), "frontend: major jump 1.10.0 → 2.0.0"),
    (running("1.10.0"), Pin("1.9.0", D2), "frontend: downgrade 1.10.0 → 1.9.0"),
    (running("1.2.3"), Pin("1.2.3", D2),
     "frontend: tag 1.2.3 now points to other content (111111111111 → 222222222222)"),
])
def test_risks_are_human_sentences(now: Running, to: Pin, sentence: str) -> None:
    assert plan_for(now, to).risks == (sentence,)


def test_removed_services_are_listed_and_change_the_plan() -> None:
    current = {"frontend": running("1.2.3"), "legacy": running("0.9.0"), "gone": Running(None, None, None)}
    plan = make_plan("acme", False, [FRONTEND], current, {"frontend": Pin("1.2.3", D1)})
    assert plan.removed == ("legacy",)
    assert plan.changed and not plan.risky
    assert plan.as_dict()["services"][-1] == {"name": "legacy", "from": None, "to": None,
                                              "flags": ["removed_service"]}


def test_as_dict_is_json_ready_with_references() -> None:
    data = plan_for(running("1.10.0"), Pin("2.0.0", D2)).as_dict()
    assert data["tenant"] == "acme" and data["risky"] is True and data["changed"] is True
    assert data["services"] == [{"name": "frontend", "from": f"{REPO}:1.10.0@{D1}",
                                 "to": f"{REPO}:2.0.0@{D2}", "flags": ["major_jump", "upgrade"]}]
    assert data["digest"] == plan_for(running("1.10.0"), Pin("2.0.0", D2)).digest()


def test_digest_is_stable_and_bound_to_content() -> None:
    base = plan_for(running("1.2.3"), Pin("1.2.4", D1))
    assert base.digest() == plan_for(running("1.2.3"), Pin("1.2.4", D1)).digest()
    assert len(base.digest()) == 64 and int(base.digest(), 16) >= 0
    others = [
        plan_for(running("1.2.3"), Pin("1.2.4", D2)),          # only the target digest differs
        plan_for(running("1.2.3", D2), Pin("1.2.4", D1)),      # only the running digest differs
        plan_for(running("1.2.3"), Pin("1.2.5", D1)),
        plan_for(running("1.2.3"), Pin("1.2.4", D1), new=True),
        make_plan("globex", False, [FRONTEND], {"frontend": running("1.2.3")},
                  {"frontend": Pin("1.2.4", D1)}),
    ]
    assert len({base.digest(), *(p.digest() for p in others)}) == 1 + len(others)


def test_services_follow_template_order() -> None:
    names = ["proxy", "db", "api"]
    templates = [ServiceTemplate(n, parse_reference(f"127.0.0.1:5000/{n}"), Policy()) for n in names]
    plan = make_plan("acme", False, templates, {}, {n: Pin("1.0.0", D1) for n in reversed(names)})
    assert [c.name for c in plan.services] == names


def test_missing_target_and_non_version_target_are_refused() -> None:
    with pytest.raises(StackError, match="service frontend: no target tag chosen"):
        make_plan("acme", False, [FRONTEND], {}, {})
    with pytest.raises(PolicyError, match="target tag 'latest' is not a version"):
        plan_for(running("1.2.3"), Pin("latest", D1))
