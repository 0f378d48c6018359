"""The check the incident lacked: a rendered stack file deploys only version tags pinned by digest."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.domain.composefile import load_yaml, map_strings, where
from bot.domain.interpolation import interpolate
from bot.domain.references import SHA256, parse_reference
from bot.domain.tags import FLOATING_REASON, is_floating
from bot.domain.versions import Policy, Rejection, parse_tag
from bot.errors import ImageReferenceError, PolicyError, StackError

TAG_LABEL = "com.tagpin.tag"
POLICY_LABEL = "com.tagpin.policy"
EXTENSION = "x-tagpin"


def deploy_labels(service: Mapping[str, Any]) -> dict[str, str]:
    """Service labels (`deploy.labels`), written either as a mapping or as a list of `key=value`."""
    deploy = service.get("deploy") or {}
    labels = deploy.get("labels") if isinstance(deploy, Mapping) else None
    if isinstance(labels, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in labels.items()}
    if isinstance(labels, list):
        pairs = (str(item).partition("=") for item in labels)
        return {key: value for key, _, value in pairs}
    return {}


def _image_problems(name: str, service: Mapping[str, Any]) -> list[str]:
    image = service.get("image")
    if not isinstance(image, str):
        return [f"service {name}: no image"]
    try:
        ref = parse_reference(image)
    except ImageReferenceError as exc:
        return [f"service {name}: {exc}"]
    problems: list[str] = []
    if ref.digest is None or not SHA256.fullmatch(ref.digest):
        problems.append(f"service {name}: image {image} is not pinned to a sha256 digest")
    if ref.tag is None:
        return [*problems, f"service {name}: image {image} has no version tag"]
    labels = deploy_labels(service)
    if is_floating(ref.tag):
        problems.append(f"service {name}: image {image} uses tag {ref.tag!r}: {FLOATING_REASON}")
    elif not any(c.isdigit() for c in ref.tag):
        problems.append(f"service {name}: image {image} uses tag {ref.tag!r}, which is not a version")
    elif POLICY_LABEL not in labels:
        problems.append(f"service {name}: no {POLICY_LABEL} label to check the tag against its policy")
    else:
        try:
            # The label was `$$`-escaped for Docker's interpolation (see stacks.render).
            policy = Policy.from_mapping(json.loads(labels[POLICY_LABEL].replace("$$", "$")))
            result = parse_tag(ref.tag, policy)
        except (ValueError, TypeError, AttributeError, PolicyError) as exc:
            problems.append(f"service {name}: unreadable {POLICY_LABEL} label: {exc}")
        else:
            if isinstance(result, Rejection):
                problems.append(f"service {name}: tag {ref.tag!r} is not a version under its policy: "
                                f"{result.reason}")
    if labels.get(TAG_LABEL, ref.tag) != ref.tag:
        problems.append(f"service {name}: label {TAG_LABEL}={labels[TAG_LABEL]}, image tag {ref.tag}")
    return problems


def _deploy_problems(name: str, service: Mapping[str, Any]) -> list[str]:
    deploy = service.get("deploy") or {}
    update = deploy.get("update_config") if isinstance(deploy, Mapping) else None
    action = update.get("failure_action") if isinstance(update, Mapping) else None
    if action != "rollback":
        found = "not set" if action is None else f"{action!r}"
        return [f"service {name}: deploy.update_config.failure_action is {found}, not 'rollback'"]
    return []


def _extension_paths(node: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(node, Mapping):
        found = [(*path, EXTENSION)] if EXTENSION in node else []
        return found + [p for k, v in node.items() for p in _extension_paths(v, (*path, str(k)))]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _extension_paths(v, (*path, str(i)))]
    return []


def validate_rendered(text: str) -> None:
    """Raise StackError listing every problem, one per line, each naming its service."""
    document = load_yaml(text, "rendered stack file")
    services = document.get("services") if isinstance(document, Mapping) else None
    if not isinstance(services, Mapping) or not services:
        raise StackError("rendered stack file failed validation:\nno services")
    problems: list[str] = []
    for name, service in services.items():
        if not isinstance(service, Mapping):
            problems.append(f"service {name}: not a mapping")
            continue
        problems += _image_problems(str(name), service) + _deploy_problems(str(name), service)
    problems += [f"{where(p[:-1])}: {EXTENSION} left in the file" for p in _extension_paths(document)]

    def note(value: str, path: tuple[str, ...]) -> str:
        found: list[str] = []
        interpolate(value, {}, found)
        problems.extend(f"{where(path)}: {problem}" for problem in found)
        return value

    map_strings(document, note)
    if problems:
        raise StackError("rendered stack file failed validation:\n" + "\n".join(problems))
