"""Who may deploy: TAGPIN_DEPLOYERS user and usergroup IDs, optionally narrowed per tenant and per channel."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.errors import Refused

log = logging.getLogger("tagpin.slack.auth")


def is_usergroup(entry: str) -> bool:
    return entry.startswith("S")          # Slack usergroup IDs start with S, users with U or W


class Authorizer:
    """A user may deploy a tenant from a channel when every configured list admits them.

    `deployers` is global; `tenant_deployers[tenant]` narrows it for one tenant (both must admit);
    `tenant_channels[tenant]` limits the channels a tenant may be deployed from.
    """

    def __init__(self, deployers: Sequence[str], client: WebClient, *,
                 tenant_deployers: Mapping[str, Sequence[str]] | None = None,
                 tenant_channels: Mapping[str, Sequence[str]] | None = None, ttl: float = 60.0) -> None:
        self.deployers = tuple(deployers)
        self.client = client
        self.tenant_deployers = dict(tenant_deployers or {})
        self.tenant_channels = dict(tenant_channels or {})
        self.ttl = ttl
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def check(self, user: str, tenant: str, channel: str, action: str = "deploy") -> None:
        """Return when allowed; raise Refused saying why and what to ask for otherwise."""
        if not self.deployers:
            raise Refused(f"nobody may {action} from Slack yet: TAGPIN_DEPLOYERS is empty "
                          f"(an operator adds user or usergroup IDs, e.g. {user})")
        if not self._admits(self.deployers, user):
            raise Refused(f"<@{user}> may not {action}: you are not in TAGPIN_DEPLOYERS "
                          f"(ask an operator to add {user} or one of your user groups)")
        narrowed = self.tenant_deployers.get(tenant)
        if narrowed is not None and not self._admits(narrowed, user):
            raise Refused(f"<@{user}> may not {action} {tenant}: this tenant has its own deployer list")
        channels = self.tenant_channels.get(tenant)
        if channels is not None and channel not in channels:
            where = ", ".join(f"<#{c}>" for c in channels)
            raise Refused(f"{tenant} may only be deployed from {where}; run the command there")

    def _admits(self, entries: Sequence[str], user: str) -> bool:
        if user in entries:
            return True
        return any(user in self._members(group) for group in entries if is_usergroup(group))

    def _members(self, group: str) -> frozenset[str]:
        """A usergroup's members, cached briefly: membership changes are rare, commands are frequent."""
        now = time.monotonic()
        with self._lock:
            cached = self._groups.get(group)
            if cached is not None and cached[0] > now:
                return cached[1]
        try:
            users = frozenset(self.client.usergroups_users_list(usergroup=group).get("users") or [])
        except (SlackApiError, SlackClientError, OSError) as exc:
            # Fail closed: an unreadable group admits nobody; say so in the log for the operator.
            log.warning("cannot read usergroup %s: %s", group, exc)
            return frozenset()
        with self._lock:
            self._groups[group] = (now + self.ttl, users)
        return users
