"""A fleet of tenants of one test template on the real Swarm, for the rollout tests (CLI and Slack)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.service.deploy import Deployer
from tests.e2e.conftest import Tenant, remove_stack


@contextmanager
def fleet(tenant: Tenant, letters: str) -> Iterator[list[str]]:
    """Tenants <name>-a, -b, … of the test's template, each deployed at frontend 1.4.0 and backend 3.0.0; their
    stacks removed after."""
    names = [f"{tenant.name}-{x}" for x in letters]
    tenant.push("frontend", "1.4.0")
    tenant.push("backend", "3.0.0")
    ctx = tenant.fresh_context()
    try:
        for name in names:
            assert Deployer(ctx).deploy(name, "tester", confirm=lambda p: True).outcome == "converged"
        yield names
    finally:
        for name in names:
            remove_stack(name)


def frontends(tenant: Tenant, names: list[str]) -> list[str | None]:
    specs = [tenant.ctx.swarm.stack(n)["frontend"].spec for n in names]
    return [s.tag if s else None for s in specs]


def onboard(tenant: Tenant) -> Tenant:
    """The test's tenant deployed at frontend 1.4.0 and backend 3.0.0."""
    tenant.push("frontend", "1.4.0")
    tenant.push("backend", "3.0.0")
    first = Deployer(tenant.fresh_context()).deploy(tenant.name, "tester", confirm=lambda plan: True)
    assert first.outcome == "converged", first.message
    return tenant
