"""The one error hierarchy: an expected error's str() is safe to show a user in a terminal or in Slack."""

from __future__ import annotations

from typing import Any


class TagpinError(Exception):
    """An expected failure: the message says what went wrong and, where possible, what to do."""

    exit_code = 1


class UsageError(TagpinError):
    """Bad input from the user: nothing was changed."""

    exit_code = 2


class ImageReferenceError(UsageError):
    """An image reference that cannot be parsed."""


class PolicyError(UsageError):
    """A version policy (mode, constraint, pattern, x-tagpin block) that cannot be used."""


class RegistryError(TagpinError):
    """The registry could not answer what we asked."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached or answered with a server error."""


class RegistryAuthError(RegistryError):
    """The registry refused our credentials or gave none we could use."""


class RepositoryNotFound(RegistryError):
    """The repository does not exist on that registry."""


class RateLimited(RegistryError):
    """The registry kept answering 429 (or reported no requests left) after backing off."""


class NoDeployableTag(TagpinError):
    """No tag of the repository passes the policy."""


class NoPlatform(NoDeployableTag):
    """The chosen tag is a multi-arch index with no image for the platform of any node of the swarm."""


class AmbiguousVersion(TagpinError):
    """Two spellings of one version (v1.2.3 and 1.2.3) point to different digests."""


class StackError(TagpinError):
    """The stack template is missing, unreadable, or fails validation."""


class SwarmError(TagpinError):
    """Docker or the swarm refused or failed an operation."""


class StoreError(TagpinError):
    """The database could not be read or written."""


class StoreUnreachable(StoreError):
    """A database server that did not answer at all (still starting, or down): trying again may help."""

    kind = "StoreError"           # to scripts (--json's kind) it is the StoreError it always was


class OutcomeUnrecorded(StoreError):
    """The database failed under a deploy that Swarm was given: its row stays running until reconciled."""

    def __init__(self, message: str, deployment_id: int) -> None:
        super().__init__(message)
        self.deployment_id = deployment_id


class LockHeld(TagpinError):
    """Another deploy of the same tenant is running."""


class LeaseLost(TagpinError):
    """This deploy's lease on the tenant expired or was taken over; it stopped before its next write."""


class Interrupted(TagpinError):
    """SIGTERM or SIGINT arrived: the work stopped cleanly at a step boundary and recorded what it knows."""

    exit_code = 130


class NotFound(TagpinError):
    """A tenant, deployment or other named thing does not exist."""


class Refused(TagpinError):
    """The caller is not allowed to do this."""


class ConfirmationRequired(TagpinError):
    """A risky plan needs an explicit confirmation (--yes on the CLI, a button in Slack)."""

    def __init__(self, message: str, plan: Any = None) -> None:
        super().__init__(message)
        self.plan = plan            # the bot.domain.plans.Plan that waits, so callers can show it without replanning


class ChatError(TagpinError):
    """Slack (or the local stand-in) did not accept a message; it is kept and retried."""
