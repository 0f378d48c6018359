"""What the user hears of a request whose job worker stopped while running it (SIGKILL, OOM, a lost node): the words,
and the post to the request's response URL (bot.slack.jobworker.JobWorker sweeps such jobs out of the store)."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.webhook import WebhookClient

from bot.domain.jobs import Job
from bot.errors import TagpinError
from bot.slack import blocks
from bot.slack.commands import parse
from bot.slack.posting import POST_ERRORS

log = logging.getLogger("tagpin.slack")
# A response URL answers in well under a second; a sweep tells its users one after another.
TIMEOUT = 10
READ_ONLY = ("status", "drift", "audit", "help")


def lost(body: dict[str, Any]) -> blocks.Message:
    """The ephemeral warning: which request was lost, and what to look at before asking again."""
    if body.get("command"):
        typed = " ".join(str(part) for part in (body["command"], body.get("text")) if part)
        said = f"This request (`{typed}`)"
        try:
            inv = parse(str(body["command"]), str(body.get("text") or ""))
        except TagpinError:              # the acknowledgement answered a bad command; nothing was queued for it
            inv = None
        if inv is not None and inv.name in READ_ONLY:
            return blocks.error(f"{said} was lost when tagpin's job worker stopped.", "It changed nothing; ask again.")
        tenant = inv.tenant if inv is not None else None
    else:
        action = (body.get("actions") or [{}])[0]
        said, tenant = f"Your click on `{action.get('action_id') or 'a button'}`", None
    check = f"`/tagpin status {tenant}`" if tenant else "`/tagpin audit`"
    # Never run again on its own: a deploy its worker left half-done must not be repeated blindly.
    return blocks.error(f"{said} was lost when tagpin's job worker stopped; it may have been partly done.",
                        f"Check {check} before retrying: tagpin does not retry it on its own.")


def tell(job: Job, body: dict[str, Any], label: str) -> bool:
    """Post `lost(body)` to the job's response URL; False (and a warning naming the job's `label`) when there is
    none or it refuses. Never raises: the job is already out of the store, this is its only word."""
    url = body.get("response_url")
    if not url:
        log.warning("Slack job %d (%s) was lost with its worker %s; its request has no response URL, so its user "
                    "was not told", job.id, label, job.claimed_by)
        return False
    message = lost(body)
    try:
        answer = WebhookClient(str(url), timeout=TIMEOUT).send(response_type="ephemeral", replace_original=False,
                                                              text=message["text"], blocks=message["blocks"])
    except POST_ERRORS as exc:
        log.warning("Slack job %d (%s) was lost with its worker %s; telling its user failed: %s", job.id, label,
                    job.claimed_by, exc)
        return False
    if answer.status_code != 200:        # an expired URL (30 minutes, 5 uses) answers 404
        log.warning("Slack job %d (%s) was lost with its worker %s; its response URL answered %d %s", job.id,
                    label, job.claimed_by, answer.status_code, answer.body[:200])
        return False
    log.warning("Slack job %d (%s) was lost with its worker %s; its user was told", job.id, label, job.claimed_by)
    return True
