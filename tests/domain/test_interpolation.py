"""Compose interpolation as compose reads it (compose-spec "Interpolation"): only ${TENANT} is filled in."""

from __future__ import annotations

import pytest
import yaml

from bot.domain.interpolation import interpolate
from bot.domain.stacks import Pin, load_template, render
from bot.errors import StackError

D1 = "sha256:" + "1" * 64


def fill(text: str) -> tuple[str, list[str]]:
    problems: list[str] = []
    return interpolate(text, {"TENANT": "acme"}, problems), problems


# TENANT is always set and never empty, so `:-`/`-` and `:?`/`?` give its value and `:+`/`+` the alternative;
# `$$` stays `$$` because `docker stack deploy` interpolates the rendered file once more.
FILLED = [
    ("${TENANT}", "acme"),
    ("$TENANT", "acme"),
    ("$TENANT-db", "acme-db"),
    ("${TENANT}_backend", "acme_backend"),
    ("${TENANT:-fallback}", "acme"),
    ("${TENANT-fallback}", "acme"),
    ("${TENANT:?tenant needed}", "acme"),
    ("${TENANT?tenant needed}", "acme"),
    ("${TENANT:+rt-m}", "rt-m"),
    ("${TENANT+on}", "on"),
    ("${TENANT:+}", ""),
    ("${TENANT:-}", "acme"),
    ("${TENANT:+x-${TENANT}}", "x-acme"),
    ("${TENANT:+a-${TENANT:+b-${TENANT}}-c}", "a-b-acme-c"),
    ("${TENANT:+a$$b}", "a$$b"),
    ("${TENANT:-x}}", "acme}"),  # a `}` outside any ${...} is text, as in compose
    ("pay $$5 {not a variable}", "pay $$5 {not a variable}"),
    ("$$TENANT", "$$TENANT"),
    ("$${TENANT}", "$${TENANT}"),
    ("no variables", "no variables"),
]


@pytest.mark.parametrize(("text", "rendered"), FILLED)
def test_tenant_is_filled_in(text: str, rendered: str) -> None:
    assert fill(text) == (rendered, [])


REFUSED = [
    ("${TENANT:+${HOME}}", "${HOME} would be read from the deployer's environment"),  # the issue: was `rt-m}`
    ("${TENANT:-${HOME}}", "${HOME}"),
    ("${HOME:-x}", "${HOME}"),
    ("${HOME:+${TENANT}}", "${HOME}"),
    ("$HOME", "${HOME}"),
    ("$TENANTX", "${TENANTX}"),
    ("${tenant}", "${tenant}"),  # compose names are case-sensitive
    ("a ${TENANT", "no closing '}'"),
    ("${TENANT:+a ${TENANT}", "no closing '}'"),
    ("${}", "cannot read '${}'"),
    ("${1X}", "cannot read '${1X"),
    ("${TENANT:x}", "cannot read '${TENANT:x"),
    ("${TENANT/a/b}", "cannot read '${TENANT/"),
    ("${TENANT#acme}", "cannot read '${TENANT#"),
    ("pay 5$", "a lone '$'"),
    ("$ 5", "a lone '$'"),
    ("${TENANT:+5$}", "a lone '$'"),
]


@pytest.mark.parametrize(("text", "needle"), REFUSED)
def test_other_variables_and_unreadable_text_are_refused_whole(text: str, needle: str) -> None:
    result, problems = fill(text)
    assert result == text, "never a half-substituted string"
    assert problems and needle in problems[0], problems


def test_issue_template_is_refused_naming_service_and_field() -> None:
    text = 'version: "3.8"\nservices: {web: {image: nginx, environment: {HOME_DIR: "${TENANT:+${HOME}}"}}}'
    with pytest.raises(StackError, match=r"service web \(environment.HOME_DIR\): \$\{HOME\} would be read"):
        load_template(text, "stack.yml")


def test_nested_tenant_renders_into_the_stack_file() -> None:
    text = ('version: "3.8"\nservices: {web: {image: nginx, environment: '
            '{SITE: "${TENANT:+https://${TENANT}.example.com}", PRICE: "$$5"}}}')
    document = yaml.safe_load(render(load_template(text), "acme", {"web": Pin("1.25.3", D1)}))
    assert document["services"]["web"]["environment"] == {"SITE": "https://acme.example.com", "PRICE": "$$5"}
