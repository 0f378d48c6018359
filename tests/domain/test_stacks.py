"""Stack templates: DESIGN.md "Stack template" (untagged images, x-tagpin, ${TENANT}) and the incident."""

from __future__ import annotations

import json

import pytest
import yaml

from bot.domain.stacks import Pin, StackTemplate, load_template, policy_label, render, validate_rendered
from bot.domain.versions import Policy
from bot.errors import PolicyError, StackError, TagpinError, UsageError

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64

TEMPLATE = r"""
version: "3.8"
x-logging: &logging
  driver: json-file
services:
  frontend:
    image: registry.example.com/acme/frontend
    x-tagpin: {constraint: ">=1.0.0 <2.0.0", prerelease: false}
    environment: {TENANT: "${TENANT}", GREETING: "hello $TENANT", PRICE: "$$5", FLAG: yes}
    ports: ["22:22"]
    logging: *logging
    deploy: &deploy
      replicas: 2
      labels: {team: web}
      update_config: {order: start-first, parallelism: 1}
  worker:
    image: registry.example.com/acme/worker
    x-tagpin: {mode: pattern, pattern: '^(?P<version>\d+\.\d+\.\d+)-(?P<variant>slim)$'}
    deploy: *deploy
    networks: [backend]
  db:
    image: postgres
    x-tagpin: {mode: two-part}
    volumes: ["${TENANT}-data:/var/lib/postgresql/data"]
networks:
  backend: {name: "${TENANT}_backend"}
volumes:
  ${TENANT}-data: {}
"""
PINS = {"frontend": Pin("1.10.0", D1), "worker": Pin("7.0.1-slim", D2), "db": Pin("17.2", D3)}


@pytest.fixture(scope="module")
def template() -> StackTemplate:
    return load_template(TEMPLATE, "stack.yml")


@pytest.fixture(scope="module")
def rendered(template: StackTemplate) -> dict[str, object]:
    document = yaml.safe_load(render(template, "acme", PINS))
    assert isinstance(document, dict)
    return document


def test_template_services_carry_repository_and_policy(template: StackTemplate) -> None:
    names = [s.name for s in template.services]
    assert names == ["frontend", "worker", "db"]
    frontend, worker, db = template.services
    assert (frontend.image.registry, frontend.image.repository, frontend.image.tag) == (
        "registry.example.com", "acme/frontend", None)
    assert frontend.policy == Policy(constraint=">=1.0.0 <2.0.0")
    assert worker.policy.mode == "pattern"
    assert db.policy == Policy(mode="two-part")
    assert db.image.repository == "library/postgres"


def test_the_incident_rendered_for_acme_has_no_unpinned_image_and_no_x_tagpin(rendered: dict) -> None:
    services = rendered["services"]
    assert services["frontend"]["image"] == f"registry.example.com/acme/frontend:1.10.0@{D1}"
    assert services["worker"]["image"] == f"registry.example.com/acme/worker:7.0.1-slim@{D2}"
    assert services["db"]["image"] == f"postgres:17.2@{D3}"  # the spelling the template used is kept
    assert "x-tagpin" not in json.dumps(rendered)
    assert "latest" not in json.dumps(rendered)


def test_tenant_is_substituted_in_values_and_keys_and_dollar_escape_is_kept(rendered: dict) -> None:
    frontend = rendered["services"]["frontend"]
    assert frontend["environment"] == {
        "TENANT": "acme", "GREETING": "hello acme", "PRICE": "$$5", "FLAG": "yes"}
    assert rendered["services"]["db"]["volumes"] == ["acme-data:/var/lib/postgresql/data"]
    assert rendered["networks"] == {"backend": {"name": "acme_backend"}}
    assert rendered["volumes"] == {"acme-data": {}}


def test_yaml_values_survive_the_round_trip_as_written(rendered: dict) -> None:
    # YAML 1.1 would read 22:22 as the base-60 integer 1342 and `yes` as true; Docker reads neither so.
    assert rendered["services"]["frontend"]["ports"] == ["22:22"]
    assert rendered["services"]["frontend"]["environment"]["FLAG"] == "yes"


def test_rest_of_document_is_kept_in_order(rendered: dict) -> None:
    assert list(rendered) == ["version", "x-logging", "services", "networks", "volumes"]
    assert rendered["version"] == "3.8"
    frontend = rendered["services"]["frontend"]
    assert list(frontend) == ["image", "environment", "ports", "logging", "deploy"]
    assert frontend["logging"] == {"driver": "json-file"}
    assert rendered["services"]["worker"]["networks"] == ["backend"]


def test_every_service_is_labelled_and_rolls_back(rendered: dict, template: StackTemplate) -> None:
    for service in template.services:
        deploy = rendered["services"][service.name]["deploy"]
        labels = deploy["labels"]
        assert labels["com.tagpin.tag"] == PINS[service.name].tag
        # Docker unescapes `$$` in labels; the running label then reads back as the policy.
        policy = json.loads(labels["com.tagpin.policy"].replace("$$", "$"))
        assert Policy.from_mapping(policy) == service.policy
        assert deploy["update_config"]["failure_action"] == "rollback"
        assert deploy["rollback_config"]["failure_action"] == "pause"
    frontend = rendered["services"]["frontend"]["deploy"]
    assert frontend["labels"]["team"] == "web"
    assert frontend["replicas"] == 2
    assert frontend["update_config"] == {
        "order": "start-first", "parallelism": 1, "failure_action": "rollback"}


def test_a_yaml_anchor_shared_by_two_services_does_not_share_their_labels(rendered: dict) -> None:
    services = rendered["services"]
    assert services["frontend"]["deploy"]["labels"]["com.tagpin.tag"] == "1.10.0"
    assert services["worker"]["deploy"]["labels"]["com.tagpin.tag"] == "7.0.1-slim"


def test_policy_label_is_compact_sorted_json() -> None:
    expected = '{"constraint":"^1.4","mode":"semver","prerelease":false}'
    assert policy_label(Policy(constraint="^1.4")) == expected


def test_rendering_is_deterministic_and_leaves_the_template_alone(template: StackTemplate) -> None:
    before = json.dumps(template.document, default=str)
    first = render(template, "acme", PINS)
    assert render(load_template(TEMPLATE), "acme", dict(reversed(PINS.items()))) == first
    assert json.dumps(template.document, default=str) == before
    assert render(template, "globex", PINS) != first
    validate_rendered(first)


def test_list_labels_and_explicit_rollback_config_are_kept() -> None:
    deploy = "deploy: {labels: [team=web], rollback_config: {parallelism: 0}}"
    text = TEMPLATE_ONE.replace("deploy: {}", deploy)
    deploy = yaml.safe_load(render(load_template(text), "acme", {"web": Pin("1.0.0", D1)}))["services"]["web"]
    assert deploy["deploy"]["labels"][:2] == ["team=web", "com.tagpin.tag=1.0.0"]
    assert deploy["deploy"]["rollback_config"] == {"parallelism": 0}


TEMPLATE_ONE = """
version: "3.8"
services:
  web:
    image: 127.0.0.1:5000/web
    deploy: {}
"""


@pytest.mark.parametrize(("text", "error", "needle"), [
    ("services: [", StackError, "stack.yml: not valid YAML at line"),
    ("- a list", StackError, "expected a compose file"),
    ('version: "3.8"\n', StackError, "no services"),
    ('version: "3.8"\nservices: {web: {environment: {}}}', StackError, "service web: no image"),
    ('version: "3.8"\nservices: {web: {image: nginx:latest}}', StackError,
     "service web: image 'nginx:latest' carries a tag"),
    (f'version: "3.8"\nservices: {{web: {{image: "nginx@{D1}"}}}}', StackError, "carries a tag or digest"),
    ('version: "3.8"\nservices: {web: {image: "Nginx"}}', StackError, "service web: invalid image reference"),
    ('version: "3.8"\nservices: {web: {image: "r/${TENANT}/web"}}', StackError, "service web: image"),
    ('version: "3.8"\nservices: {web: {image: nginx, x-tagpin: {constrant: "^1"}}}', PolicyError,
     "service web: x-tagpin: unknown x-tagpin key 'constrant'"),
    ('version: "3.8"\nservices: {web: {image: nginx, x-tagpin: {mode: calver}}}', PolicyError,
     "service web: x-tagpin: unknown mode"),
    ('version: "3.8"\nservices: {web: {image: nginx, x-tagpin: [semver]}}', PolicyError, "must be a mapping"),
    ('version: "2.4"\nservices: {web: {image: nginx}}', StackError, "Swarm needs 3"),
    ('version: "3.6"\nservices: {web: {image: nginx}}', StackError, "rollback_config needs 3.7"),
    ("version: 3.8\nservices: {web: {image: nginx}}", StackError, "quoted"),
    ("services: {web: {image: nginx}}", StackError, 'no version; write version: "3.8"'),
    ('version: "3.8"\nservices: {web: {image: nginx, deploy: {update_config: {failure_action: pause}}}}',
     StackError, "service web: deploy.update_config.failure_action is 'pause'"),
    ('version: "3.8"\nservices: {web: {image: nginx, deploy: {update_config: {failure_action: continue}}}}',
     StackError, "rolling back"),
    ('version: "3.8"\nservices: {web: {image: nginx, deploy: {labels: {com.tagpin.tag: "1"}}}}',
     StackError, "com.tagpin.tag are tagpin's own"),
    ('version: "3.8"\nservices: {web: {image: nginx, environment: {A: "${OTHER}"}}}', StackError,
     "service web (environment.A): ${OTHER} would be read from the deployer's environment"),
    ('version: "3.8"\nservices: {web: {image: nginx, command: "echo $HOME"}}', StackError, "${HOME}"),
    ('version: "3.8"\nservices: {web: {image: nginx, command: "pay 5$"}}', StackError, "a lone '$'"),
    ('version: "3.8"\nservices: {web: {image: nginx}}\nnetworks: {n: {name: "${NET:-x}"}}', StackError,
     "networks.n.name: ${NET}"),
    ('version: "3.8"\nservices: {web: {image: nginx, image: redis}}', StackError, "duplicate key 'image'"),
    ('version: "3.8"\nx-tagpin: {}\nservices: {web: {image: nginx}}', StackError, "belongs under a service"),
    ('version: "3.8"\nservices: {ml.worker: {image: nginx}}', StackError, "service ml.worker: Swarm names"),
    ('version: "3.8"\nservices: {"${TENANT}-web": {image: nginx}}', StackError, "up to 31 letters"),
    (f'version: "3.8"\nservices: {{{"w" * 32}: {{image: nginx}}}}', StackError, "up to 31 letters"),
])
def test_bad_templates_are_refused_naming_service_and_problem(text: str, error: type[TagpinError],
                                                               needle: str) -> None:
    with pytest.raises(error) as caught:
        load_template(text, "stack.yml")
    assert needle in str(caught.value)
    assert str(caught.value).startswith("stack.yml: ")


@pytest.mark.parametrize("version", ["3", "3.7", "3.8", "3.12"])
def test_swarm_capable_versions_are_accepted(version: str) -> None:
    load_template(f'version: "{version}"\nservices: {{web: {{image: nginx}}}}')


def test_every_unknown_variable_is_listed() -> None:
    text = 'version: "3.8"\nservices: {web: {image: nginx, environment: {A: "${ONE}", B: "$TWO"}}}'
    with pytest.raises(StackError) as caught:
        load_template(text)
    assert "${ONE}" in str(caught.value) and "${TWO}" in str(caught.value)


def test_render_refuses_a_variable_even_in_a_template_built_by_hand(template: StackTemplate) -> None:
    document = {**template.document, "secrets": {"s": {"file": "${HOME}/s"}}}
    with pytest.raises(StackError, match=r"secrets\.s\.file: \$\{HOME\}"):
        render(StackTemplate(document, template.services), "acme", PINS)


@pytest.mark.parametrize(("pins", "needle"), [
    ({"frontend": PINS["frontend"], "worker": PINS["worker"]}, "service db: no tag/digest chosen"),
    ({**PINS, "proxy": Pin("1.0.0", D1)}, "a pin for proxy, which is not in the template"),
])
def test_render_refuses_missing_and_unknown_pins(template: StackTemplate, pins: dict[str, Pin],
                                                 needle: str) -> None:
    with pytest.raises(StackError, match=needle):
        render(template, "acme", pins)


@pytest.mark.parametrize(("pins", "needle"), [
    ({**PINS, "frontend": Pin("latest", D1)}, "acme/frontend:latest@" + D1 + " uses tag 'latest'"),
    ({**PINS, "frontend": Pin("1.11.0-rc.1", D1)}, "prerelease (policy does not opt in)"),
    ({**PINS, "worker": Pin("7.0.1", D2)}, "service worker: tag '7.0.1' is not a version under its policy"),
])
def test_render_runs_the_validator_on_its_own_output(template: StackTemplate, pins: dict[str, Pin],
                                                     needle: str) -> None:
    with pytest.raises(StackError) as caught:
        render(template, "acme", pins)
    assert needle in str(caught.value)


@pytest.mark.parametrize("tenant", ["Acme", "", "a_b"])
def test_render_refuses_an_invalid_tenant(template: StackTemplate, tenant: str) -> None:
    with pytest.raises(UsageError, match="invalid tenant name"):
        render(template, tenant, PINS)


LABELS = '{labels: {com.tagpin.tag: "%s", com.tagpin.policy: \'{"mode":"semver","prerelease":false}\'}, ' \
    'update_config: {failure_action: rollback}}'


def rendered_file(image: str, tag: str = "1.2.3", extra: str = "") -> str:
    return f'version: "3.8"\nservices:\n  web:\n    image: "{image}"\n    deploy: {LABELS % tag}\n{extra}'


@pytest.mark.parametrize(("text", "needle"), [
    # The incident: `latest` reached the stack file and nothing read it.
    (rendered_file("r/frontend:latest", "latest"), "service web: image r/frontend:latest is not pinned"),
    (rendered_file(f"r/frontend:latest@{D1}", "latest"), "uses tag 'latest': floating tag, not a version"),
    (rendered_file("r/frontend"), "service web: image r/frontend is not pinned to a sha256 digest"),
    (rendered_file(f"r/frontend@{D1}"), "service web: image r/frontend@" + D1 + " has no version tag"),
    (rendered_file("r/frontend:1.2.3"), "not pinned to a sha256 digest"),
    (rendered_file(f"r/frontend:stable@{D1}", "stable"), "uses tag 'stable': floating tag, not a version"),
    (rendered_file(f"r/frontend:sha-3f2a1b@{D1}", "sha-3f2a1b"), "commit tag, not a version"),
    (rendered_file(f"r/frontend:1.2.4@{D1}"), "label com.tagpin.tag=1.2.3, image tag 1.2.4"),
    (rendered_file(f"r/frontend:1.2.3@{D1}", extra="    x-tagpin: {}\n"), "service web: x-tagpin left"),
    (rendered_file(f"r/frontend:1.2.3@{D1}", extra="    environment: {A: '${TOKEN}'}\n"),
     "service web (environment.A): ${TOKEN}"),
    (rendered_file(f"r/frontend:1.2.3@{D1}", extra="    environment: {A: '${TENANT}'}\n"), "${TENANT}"),
    (rendered_file(f"r/frontend:1.2.3@{D1}").replace("failure_action: rollback", "failure_action: pause"),
     "failure_action is 'pause', not 'rollback'"),
    (rendered_file(f"r/frontend:1.2.3@{D1}").replace('"mode"', '"mood"'), "unreadable com.tagpin.policy"),
    (f'version: "3.8"\nservices:\n  web:\n    image: "r/web:1.2.3@{D1}"\n', "no com.tagpin.policy label"),
    ('version: "3.8"\nservices:\n  web: {}\n', "service web: no image"),
    ('version: "3.8"\n', "no services"),
])
def test_validator_refuses_each_problem_naming_the_service(text: str, needle: str) -> None:
    with pytest.raises(StackError) as caught:
        validate_rendered(text)
    assert needle in str(caught.value)


def test_validator_accepts_a_pinned_file_and_the_dollar_escape() -> None:
    validate_rendered(rendered_file(f"r/frontend:1.2.3@{D1}", extra="    command: echo $$HOME\n"))
    validate_rendered(rendered_file(f"r/frontend:v1.2.3@{D1}", "v1.2.3"))


def test_validator_lists_every_problem_one_per_line() -> None:
    text = (f'version: "3.8"\nservices:\n  a: {{image: "r/a:latest"}}\n  b: {{image: "r/b:1.0.0@{D1}"}}\n'
            "  c:\n    image: r/c\n    environment: {X: $X}\n")
    with pytest.raises(StackError) as caught:
        validate_rendered(text)
    lines = str(caught.value).splitlines()
    assert lines[0] == "rendered stack file failed validation:"
    for service in "abc":
        assert any(line.startswith(f"service {service}") for line in lines[1:]), service
    # a: digest, tag, failure_action; b: policy label, failure_action; c: digest, tag, failure_action, $X
    assert len(lines) == 1 + 3 + 2 + 4


def test_one_floating_tag_list_serves_the_policy_and_the_rendered_file() -> None:
    from bot.domain.tags import FLOATING
    from bot.domain.versions import Rejection, parse_tag

    digest = "sha256:" + "a" * 64
    for tag in sorted(FLOATING):
        assert isinstance(parse_tag(tag, Policy()), Rejection), tag
        rendered = f'version: "3.8"\nservices:\n  web:\n    image: 127.0.0.1:5000/acme/web:{tag}@{digest}\n'
        with pytest.raises(StackError, match=tag):
            validate_rendered(rendered)
