"""The one error translator: expected errors become advice, bugs become a log entry and a reference id."""

from __future__ import annotations

import logging
import uuid

from bot import errors
from bot.slack import blocks

log = logging.getLogger("tagpin.slack")

# What to do next, per kind of expected error; the error's own message says what happened.
HINTS: tuple[tuple[type[errors.TagpinError], str], ...] = (
    (errors.LockHeld, "Wait for that deploy to finish, then run the command again."),
    (errors.Refused, "Nothing was changed. The refusal is in the audit trail."),
    (errors.ConfirmationRequired, "Nothing was changed."),
    (errors.UsageError, "Nothing was changed. Try `/tagpin help`."),
    (errors.RegistryUnavailable, "The registry did not answer; try again in a minute."),
    (errors.RegistryAuthError, "An operator must fix the registry credentials of the bot."),
    (errors.NoPlatform, "Nothing was changed. Push the release built for the nodes' platform as well "
                        "(docker buildx build --platform …)."),
    (errors.NoDeployableTag, "Push a tag the service's policy allows, or change the policy (x-tagpin)."),
    (errors.StackError, "An operator must fix the stack template (TAGPIN_STACK_TEMPLATE)."),
    (errors.SwarmError, "Nothing more was changed; ask an operator to check the Swarm."),
    (errors.StoreError, "The database is unavailable; ask an operator."),
)


def hint_for(exc: errors.TagpinError) -> str:
    for kind, hint in HINTS:
        if isinstance(exc, kind):
            return hint
    return ""


def translate(exc: BaseException, where: str = "") -> blocks.Message:
    """An ephemeral message for the user; a bug is logged here with its traceback and a reference id."""
    if isinstance(exc, errors.TagpinError):
        return blocks.error(str(exc), hint_for(exc))
    ref = uuid.uuid4().hex[:8]
    log.error("bug %s in %s", ref, where or "a Slack listener", exc_info=exc)
    return blocks.error(f"something went wrong inside tagpin (reference `{ref}`).",
                        "This is a bug, not something you did; an operator can find the traceback in the bot's "
                        "log under that reference.")
