"""Stack templates: read the shared compose template, render one tenant's stack with every image pinned.

Rendering rules (each one closes a way the incident could recur or a deploy could surprise):
- `${TENANT}` / `$TENANT` become the tenant name in every string, keys included, read as compose reads
  interpolation (`${TENANT:+alt}` and the other operators, nested); any other variable is refused, since
  `docker stack deploy` would read it from the deployer's environment, as is anything compose could not
  read; `$$` stays.
- Every image becomes `repo:tag@sha256:…`; every `x-tagpin` block is dropped.
- Every service gets the service labels `com.tagpin.tag` and `com.tagpin.policy` (compact JSON), so a
  running spec can be traced back to the tag and policy that chose it.
- `deploy.update_config.failure_action` is `rollback` (a template asking for `pause` or `continue` is
  refused: deploys rely on Swarm rolling back); `order` and the rest are kept; `deploy.rollback_config`
  gets defaults when absent. Everything else is kept as written, in its order.
- Docker interpolates label values too, so a `$` in the policy label is written `$$`; Swarm stores `$`.
- The output is deterministic and passes `validate_rendered` before it is returned.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.domain.composefile import check_version, dump_yaml, load_yaml, map_strings, where
from bot.domain.interpolation import interpolate
from bot.domain.references import ImageRef, parse_reference
from bot.domain.tenants import validate_tenant
from bot.domain.validate import EXTENSION, POLICY_LABEL, TAG_LABEL, deploy_labels
from bot.domain.validate import validate_rendered as validate_rendered
from bot.domain.versions import KNOWN_POLICY_KEYS, Policy
from bot.errors import ImageReferenceError, PolicyError, StackError

# swarmkit's service-name rule (a DNS label, ≤ 63 characters): `<tenant>_<service>` with a tenant of up to 31.
_SERVICE_NAME = re.compile(r"[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*")
# Swarm's own defaults, written out so the rendered file says what a failed rollback does: stop and wait.
ROLLBACK_DEFAULTS = {"parallelism": 1, "delay": "0s", "failure_action": "pause", "monitor": "5s",
                     "order": "stop-first"}


@dataclass(frozen=True)
class ServiceTemplate:
    name: str
    image: ImageRef  # carries no tag or digest: tagpin chooses them
    policy: Policy


@dataclass(frozen=True)
class StackTemplate:
    document: Mapping[str, Any] = field(hash=False)  # the parsed compose file; render works on a copy
    services: tuple[ServiceTemplate, ...]

    def service(self, name: str) -> ServiceTemplate:
        for service in self.services:
            if service.name == name:
                return service
        raise StackError(f"the stack template has no service {name!r}")


@dataclass(frozen=True)
class Pin:
    tag: str
    digest: str


def policy_label(policy: Policy) -> str:
    values = {key: getattr(policy, key) for key in sorted(KNOWN_POLICY_KEYS)}
    present = {k: v for k, v in values.items() if v is not None}
    return json.dumps(present, separators=(",", ":"), sort_keys=True)


def _check_deploy(name: str, service: Mapping[str, Any], source: str) -> None:
    deploy = service.get("deploy") or {}
    if not isinstance(deploy, Mapping):
        raise StackError(f"{source}: service {name}: deploy must be a mapping")
    for key in ("update_config", "rollback_config"):
        if not isinstance(deploy.get(key) or {}, Mapping):
            raise StackError(f"{source}: service {name}: deploy.{key} must be a mapping")
    action = (deploy.get("update_config") or {}).get("failure_action", "rollback")
    if action != "rollback":
        raise StackError(f"{source}: service {name}: deploy.update_config.failure_action is {action!r}; "
                         "tagpin deploys rely on Swarm rolling back a failed update; remove it")
    if not isinstance(deploy.get("labels") or {}, Mapping | list):
        raise StackError(f"{source}: service {name}: deploy.labels must be a mapping or a list")
    owned = sorted(k for k in deploy_labels(service) if k.startswith("com.tagpin."))
    if owned:
        raise StackError(f"{source}: service {name}: labels {', '.join(owned)} are tagpin's own; remove them")


def _service(name: str, service: Any, source: str) -> ServiceTemplate:
    if not isinstance(service, Mapping):
        raise StackError(f"{source}: service {name}: expected a mapping")
    if not _SERVICE_NAME.fullmatch(name) or len(name) > 31:
        raise StackError(f"{source}: service {name}: Swarm names the service <tenant>_{name}; use up to 31 "
                         "letters and digits, with '-' or '_' between them")
    image = service.get("image")
    if not isinstance(image, str) or not image:
        raise StackError(f"{source}: service {name}: no image (write the repository without a tag)")
    if "$" in image:
        raise StackError(f"{source}: service {name}: image {image!r} uses a variable; "
                         "all tenants share one image per service")
    try:
        ref = parse_reference(image)
    except ImageReferenceError as exc:
        raise StackError(f"{source}: service {name}: {exc}") from None
    if ref.tag is not None or ref.digest is not None:
        raise StackError(f"{source}: service {name}: image {image!r} carries a tag or digest; write "
                         f"{ref.name()} and let the x-tagpin policy choose the version")
    block = service.get(EXTENSION) or {}
    if not isinstance(block, Mapping):
        raise PolicyError(f"{source}: service {name}: {EXTENSION} must be a mapping")
    try:
        policy = Policy.from_mapping(block)
    except PolicyError as exc:
        raise PolicyError(f"{source}: service {name}: {EXTENSION}: {exc}") from None
    _check_deploy(name, service, source)
    return ServiceTemplate(name, ref, policy)


def load_template(text: str, source: str = "<template>") -> StackTemplate:
    """Parse and check a stack template; raise StackError/PolicyError naming the service and the problem."""
    document = load_yaml(text, source)
    if not isinstance(document, Mapping):
        raise StackError(f"{source}: expected a compose file (a mapping with version and services)")
    check_version(document, source)
    services = document.get("services")
    if not isinstance(services, Mapping) or not services:
        raise StackError(f"{source}: no services")
    if EXTENSION in document:
        raise StackError(f"{source}: {EXTENSION} belongs under a service, not at the top level")
    loaded = tuple(_service(str(name), service, source) for name, service in services.items())
    problems: list[str] = []
    _substitute(_without_extension(document), "tenant", problems)
    if problems:
        raise StackError(f"{source}: variables tagpin cannot fill:\n" + "\n".join(problems))
    return StackTemplate(document, loaded)


def _substitute(document: Any, tenant: str, problems: list[str]) -> Any:
    def change(value: str, path: tuple[str, ...]) -> str:
        found: list[str] = []
        result = interpolate(value, {"TENANT": tenant}, found)
        problems.extend(f"{where(path)}: {problem}" for problem in found)
        return result

    return map_strings(document, change)


def _without_extension(document: Mapping[str, Any]) -> dict[str, Any]:
    # x-tagpin never reaches Docker, so a pattern's `$` anchor there is no variable.
    services = document["services"]
    plain = {name: {k: v for k, v in s.items() if k != EXTENSION} for name, s in services.items()}
    return {**document, "services": plain}


def _pin_service(service: dict[str, Any], template: ServiceTemplate, pin: Pin) -> dict[str, Any]:
    # `service` is already a fresh copy (map_strings), so YAML anchors no longer share its nodes.
    pinned = dict(service)
    pinned["image"] = template.image.pinned(pin.tag, pin.digest)
    deploy = pinned["deploy"] = dict(pinned.get("deploy") or {})
    labels = deploy.get("labels") or {}
    # Docker interpolates label values too: `$$` keeps a pattern's `$` literal (Docker unescapes it).
    tagpin = {TAG_LABEL: pin.tag, POLICY_LABEL: policy_label(template.policy).replace("$", "$$")}
    if isinstance(labels, list):
        deploy["labels"] = [*labels, *(f"{k}={v}" for k, v in tagpin.items())]
    else:
        deploy["labels"] = {**labels, **tagpin}
    deploy["update_config"] = {**(deploy.get("update_config") or {}), "failure_action": "rollback"}
    deploy.setdefault("rollback_config", dict(ROLLBACK_DEFAULTS))
    return pinned


def render(template: StackTemplate, tenant: str, pins: Mapping[str, Pin]) -> str:
    """The tenant's compose text, every image pinned; raise StackError on a missing pin or variable."""
    validate_tenant(tenant)
    names = [service.name for service in template.services]
    missing = [name for name in names if name not in pins]
    unknown = sorted(set(pins) - set(names))
    if missing or unknown:
        raise StackError("cannot render: " + "; ".join(
            [f"service {name}: no tag/digest chosen" for name in missing]
            + [f"a pin for {name}, which is not in the template" for name in unknown]))
    problems: list[str] = []
    document = _substitute(_without_extension(template.document), tenant, problems)
    if problems:
        raise StackError("cannot render: variables tagpin cannot fill:\n" + "\n".join(problems))
    document["services"] = {
        name: _pin_service(service, template.service(str(name)), pins[str(name)])
        for name, service in document["services"].items()}
    text = (f"# Rendered by tagpin for tenant {tenant}: every image pinned by tag and digest. Do not edit.\n"
            + dump_yaml(document))
    validate_rendered(text)
    return text


def fingerprint(template: StackTemplate) -> str:
    """sha256 hex of the template's parsed content: a plan parked for a human is replayed only on the same one."""
    text = json.dumps(template.document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
