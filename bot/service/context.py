"""What every use case needs: settings, the store, the registry, the swarm (opened lazily) and the template.

Everything outside the service comes in through a port (bot/service/ports.py); bot/__main__.py wires the real
adapters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path

from bot.config import Settings
from bot.domain.stacks import StackTemplate, load_template
from bot.domain.times import utcnow
from bot.errors import StackError
from bot.service.pending import TTL, Backend, Confirmations
from bot.service.ports import Converger, Fleet, Jobs, Notices, Outbox, Poster, Pushes, Rollouts, Seen, Store, Swarm
from bot.service.resolve import Ages, BuildTimes, FirstSeen, Platforms, Registry, ReleaseAges


@dataclass(frozen=True)
class Tables:
    """The feature tables beside the core store, each behind its port."""

    outbox: Outbox                          # the audit trail's messages, stored before they are posted
    notices: Notices                        # the watcher's drift notices
    seen: Seen                              # Slack requests already acted on
    confirmations: Backend                  # plans parked for a human
    jobs: Jobs                              # Slack work handed from the acknowledging processes to a worker
    fleet: Fleet                            # tenant labels, holds and freezes
    rollouts: Rollouts                      # fleet rollouts and their tenant steps
    releases: FirstSeen                     # when tagpin first saw each release (min_age)
    pushes: Pushes                          # registry notifications waiting for the active watcher


@dataclass
class Context:
    settings: Settings
    store: Store
    registry: Registry
    swarm_factory: Callable[[], Swarm]
    tables: Tables
    converger_factory: Callable[[], Converger]     # waits on the same engine swarm_factory opens
    poster: Poster | None = None            # the audit channel's poster; None: rows wait in the outbox
    owns_outbox: bool = False               # this process posts every pending row (the bot), not only its own
    builds: BuildTimes | None = None        # image build times (the registry client), for min_age
    platforms: Platforms | None = None      # an index's platforms (the registry client): refuse what no node runs
    clock: Callable[[], datetime] = utcnow  # what freeze windows are judged against (tests set the time)
    freeze_override: str | None = None      # `tagpin rollout --override-freeze --reason R`: R, for each deploy
    _template_cache: dict[tuple[Path, float], StackTemplate] = field(default_factory=dict)

    @cached_property
    def swarm(self) -> Swarm:
        return self.swarm_factory()

    @cached_property
    def ages(self) -> Ages | None:
        """Release ages for min_age: build times from the registry client, first sightings from the store."""
        return ReleaseAges(self.builds, self.tables.releases) if self.builds is not None else None

    @cached_property
    def converger(self) -> Converger:
        return self.converger_factory()

    @cached_property
    def pending(self) -> Confirmations:
        """Plans parked for a human, in the store: any bot process (or this one, restarted) honours the button."""
        return Confirmations(TTL, backend=self.tables.confirmations)

    def template(self) -> StackTemplate:
        """The stack template, re-read when the file changes (an operator edits it between deploys)."""
        path = self.settings.stack_template
        if path is None:
            raise StackError("no stack template: set TAGPIN_STACK_TEMPLATE to the path of the compose template")
        try:
            stamp = path.stat().st_mtime
            key = (path, stamp)
            if key not in self._template_cache:
                self._template_cache.clear()
                self._template_cache[key] = load_template(path.read_text(encoding="utf-8"), str(path))
            return self._template_cache[key]
        except FileNotFoundError:
            raise StackError(f"stack template {path} does not exist (TAGPIN_STACK_TEMPLATE)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise StackError(f"cannot read stack template {path}: {exc}") from exc
