"""Tenant names: DESIGN.md "Stack template" rule `^[a-z][a-z0-9-]{0,30}$` (the stack namespace)."""

from __future__ import annotations

import pytest

from bot.domain.tenants import validate_tenant
from bot.errors import UsageError


@pytest.mark.parametrize("name", ["a", "acme", "tenant-x", "t1", "a" + "b" * 30, "x-9-"])
def test_valid_names_are_returned(name: str) -> None:
    assert validate_tenant(name) == name


@pytest.mark.parametrize("name", [
    "",               # empty
    "Acme",           # uppercase
    "1acme",          # must start with a letter
    "-acme",          # must start with a letter
    "acme_x",         # '_' would be ambiguous next to the stack separator (acme_x_frontend)
    "a" + "b" * 31,   # 32 characters: one too many
    "acme.x",
    "acme x",
    "acme\n",         # a trailing newline must not sneak past `$`
    "ácme",
])
def test_invalid_names_are_refused_with_the_rule_and_the_name(name: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_tenant(name)
    message = str(caught.value)
    assert repr(name) in message
    assert "^[a-z][a-z0-9-]{0,30}$" in message
