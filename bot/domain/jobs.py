"""A piece of Slack work handed from an acknowledging process to a job worker (bot.adapters.jobs keeps them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    id: int
    function: str                          # bolt's name of the lazy listener function to run
    headers: dict[str, list[str]]          # the request's headers as bolt reads them
    body: str                              # the raw body, as Slack signed it (verified before it was stored)
    created_at: float                      # seconds since the epoch
    claimed_by: str | None = None          # the worker that took it (host:pid)
