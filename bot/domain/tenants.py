"""The tenant-name rule: a tenant name is also the Swarm stack namespace, so it must be safe there."""

from __future__ import annotations

import re

from bot.errors import UsageError

# The stack namespace prefixes every service, network and volume ("acme_frontend"), and those names
# feed DNS labels and label values: lowercase, starting with a letter, short enough to leave room.
TENANT_RULE = r"^[a-z][a-z0-9-]{0,30}$"
_TENANT = re.compile(r"[a-z][a-z0-9-]{0,30}")


def validate_tenant(name: str) -> str:
    """Return `name` if it is a valid tenant name; raise UsageError stating the rule otherwise."""
    if not isinstance(name, str) or not _TENANT.fullmatch(name):
        raise UsageError(
            f"invalid tenant name {name!r}: use 1-31 characters, lowercase letters, digits and '-', "
            f"starting with a letter (rule {TENANT_RULE})")
    return name
