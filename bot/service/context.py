"""What every use case needs: settings, the store, the registry, the swarm (opened lazily) and the template."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from bot.adapters.confirmations import ConfirmationTable
from bot.adapters.converge import Converger
from bot.adapters.store import Store
from bot.adapters.swarm import Swarm
from bot.config import Settings
from bot.domain.stacks import StackTemplate, load_template
from bot.errors import StackError
from bot.service.pending import TTL, Confirmations
from bot.service.ports import Poster
from bot.service.resolve import Registry


@dataclass
class Context:
    settings: Settings
    store: Store
    registry: Registry
    swarm_factory: Callable[[], Swarm]
    clock_poll: float = 0.5
    poster: Poster | None = None            # the audit channel's poster; None: rows wait in the outbox
    owns_outbox: bool = False               # this process posts every pending row (the bot), not only its own
    _template_cache: dict[tuple[Path, float], StackTemplate] = field(default_factory=dict)

    @cached_property
    def swarm(self) -> Swarm:
        return self.swarm_factory()

    @cached_property
    def converger(self) -> Converger:
        return Converger(self.swarm, poll=self.clock_poll)

    @cached_property
    def pending(self) -> Confirmations:
        """Plans parked for a human, in the store: any bot process (or this one, restarted) honours the button."""
        return Confirmations(TTL, backend=ConfirmationTable(self.store))

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
