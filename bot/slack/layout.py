"""Filling one message within Slack's limits: lines packed into sections, and a summary line for what did not fit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.slack import limits

Block = dict[str, Any]
More = Callable[[int], str]          # how many items did not fit → the line that says so


def split(line: str, size: int = limits.TEXT) -> list[str]:
    """`line` in pieces of at most `size` characters, cut at a space where there is one; nothing is dropped."""
    pieces = []
    while len(line) > size:
        cut = line.rfind(" ", size // 2, size)
        cut = cut if cut > 0 else size
        pieces.append(line[:cut])
        line = line[cut:]
    return [*pieces, line]


def pack(items: Sequence[str], size: int = limits.TEXT, joiner: str = "\n") -> list[str]:
    """Items joined into as few texts of at most `size` characters as possible, in order, none cut short."""
    texts: list[str] = []
    for item in (piece for it in items for piece in split(it, size)):
        if texts and len(texts[-1]) + len(joiner) + len(item) <= size:
            texts[-1] += joiner + item
        else:
            texts.append(item)
    return [t for t in texts if t]      # Slack refuses an empty text


def rest_of(items: Sequence[str]) -> More:
    """The summary line for the last n of `items` when they do not fit: how much is missing, never silently."""
    return lambda n: f"…({sum(len(i) for i in items[len(items) - n:])} more characters not shown)"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def context(texts: Sequence[str]) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


@dataclass
class Page:
    """The blocks of one message so far; `reserve` keeps room for blocks that must still come (the buttons)."""

    blocks: list[Block] = field(default_factory=list)
    reserve: list[Block] = field(default_factory=list)

    def fits(self, extra: Sequence[Block]) -> bool:
        every = [*self.blocks, *extra, *self.reserve]
        return len(every) <= limits.MAX_BLOCKS and limits.text_size(every) <= limits.TOTAL_TEXT

    def lines(self, items: Sequence[str], more: More | None = None) -> bool:
        """As many whole items as fit, in sections, then more(rest); False (nothing added) if `more` is None
        and not every item fits: the caller must then not offer what depends on them."""
        return self._fill(items, more, lambda chosen: [section(t) for t in pack(chosen)])

    def context(self, items: Sequence[str], more: More | None = None) -> bool:
        """The same for small print: one context block of at most 10 elements, items joined with " · "."""
        return self._fill(items, more, lambda chosen: [context(pack(chosen, joiner=" · "))] if chosen else [],
                          elements=limits.CONTEXT_ELEMENTS)

    def _fill(self, items: Sequence[str], more: More | None, build: Callable[[list[str]], list[Block]],
              elements: int | None = None) -> bool:
        def attempt(k: int) -> list[Block] | None:
            chosen = list(items[:k]) + ([more(len(items) - k)] if more and k < len(items) else [])
            blocks = build(chosen)
            too_many = elements is not None and any(len(b["elements"]) > elements for b in blocks)
            return None if too_many or not self.fits(blocks) else blocks

        best = attempt(len(items))
        if best is None and more is not None:
            low, high = 0, len(items) - 1     # binary search for the most items that still fit with the summary
            while low < high:
                mid = (low + high + 1) // 2
                low, high = (mid, high) if attempt(mid) is not None else (low, mid - 1)
            best = attempt(low)
        if best is None:
            return False
        self.blocks += best
        return True

    def done(self) -> list[Block]:
        return [*self.blocks, *self.reserve]


def fallback(text: str) -> str:
    """A message's plain `text` (notifications, screen readers): the gist, never past Slack's advice."""
    return text if len(text) <= limits.FALLBACK_TEXT else text[: limits.FALLBACK_TEXT - 1] + "…"
