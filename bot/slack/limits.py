"""Slack's Block Kit limits, and the one checker that holds a message's blocks against them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Slack's numbers, from the Block Kit reference (https://docs.slack.dev/reference/block-kit/…):
MAX_BLOCKS = 50          # blocks: "You can include up to 50 blocks in each message"
TEXT = 3000              # composition-objects/text-object, blocks/section-block: text at most 3,000 characters
MAX_FIELDS = 10          # blocks/section-block: fields, "Maximum number of items is 10" …
FIELD_TEXT = 2000        # … "Maximum length for the text in each item is 2000 characters"
CONTEXT_ELEMENTS = 10    # blocks/context-block: elements, "Maximum number of items is 10"
HEADER_TEXT = 150        # blocks/header-block: text at most 150 characters
ACTIONS_ELEMENTS = 25    # blocks/actions-block: at most 25 elements
BUTTON_TEXT = 75         # block-elements/button-element: text at most 75 characters …
BUTTON_VALUE = 2000      # … value at most 2,000 characters
ID = 255                 # block_id and action_id: at most 255 characters
DIALOG = {"title": 100, "text": 300, "confirm": 30, "deny": 30}   # composition-objects/confirmation-dialog-object
# Not in the reference: chat.postMessage answers msg_blocks_too_long past about 12,000 characters of text in all
# blocks together "with a buffer for block containers" (slackapi/bolt-js#2509), and #2867 saw it at 11,341; every
# message stays under 10,000.
TOTAL_TEXT = 10000
FALLBACK_TEXT = 4000     # chat.postMessage: keep `text` (notifications, screen readers) within 4,000 characters
BLOCK_TYPES = {"section", "context", "actions", "header", "divider"}


def text_size(node: Any) -> int:
    """Characters of text in a block (or any part of one), counted as Slack counts them against TOTAL_TEXT."""
    if isinstance(node, Mapping):
        own = len(node["text"]) if isinstance(node.get("text"), str) else 0
        return own + sum(text_size(v) for k, v in node.items() if k != "text" or not isinstance(v, str))
    if isinstance(node, list):
        return sum(text_size(v) for v in node)
    return 0


def violations(blocks: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every way `blocks` breaks a limit above, one `where: what` line each; empty when Slack takes them."""
    found: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        found.append(f"message: {len(blocks)} blocks, at most {MAX_BLOCKS}")
    if (total := text_size(list(blocks))) > TOTAL_TEXT:
        found.append(f"message: {total} characters of text, at most {TOTAL_TEXT}")
    for i, block in enumerate(blocks):
        found += _block(f"block {i} ({block.get('type')})", block)
    return found


def message_violations(message: Mapping[str, Any]) -> list[str]:
    """violations() of the blocks, plus the fallback text every message carries."""
    fallback = message.get("text")
    found = [] if isinstance(fallback, str) and 0 < len(fallback) <= FALLBACK_TEXT else [
        f"message: fallback text of {len(fallback) if isinstance(fallback, str) else fallback!r}, "
        f"1 to {FALLBACK_TEXT} characters"]
    return found + violations(message.get("blocks") or [])


def _text(where: str, obj: Any, limit: int, plain: bool = False) -> list[str]:
    kinds = {"plain_text"} if plain else {"plain_text", "mrkdwn"}
    if not isinstance(obj, Mapping) or obj.get("type") not in kinds or not isinstance(obj.get("text"), str):
        return [f"{where}: not a {' or '.join(sorted(kinds))} text object"]
    if not 1 <= len(obj["text"]) <= limit:
        return [f"{where}: {len(obj['text'])} characters, 1 to {limit}"]
    return []


def _count(where: str, items: Any, most: int) -> list[str]:
    if not isinstance(items, list) or not 1 <= len(items) <= most:
        return [f"{where}: {len(items) if isinstance(items, list) else 'no'} items, 1 to {most}"]
    return []


def _block(where: str, block: Mapping[str, Any]) -> list[str]:
    kind = block.get("type")
    found = [f"{where}: block_id longer than {ID}"] if len(str(block.get("block_id", ""))) > ID else []
    if kind not in BLOCK_TYPES:
        return [*found, f"{where}: a block type this checker does not know"]
    if kind == "section":
        if "text" in block or "fields" not in block:
            found += _text(f"{where} text", block.get("text"), TEXT)
        if "fields" in block:
            found += _count(f"{where} fields", block["fields"], MAX_FIELDS)
            for j, field in enumerate(block["fields"] if isinstance(block["fields"], list) else []):
                found += _text(f"{where} field {j}", field, FIELD_TEXT)
    elif kind == "header":
        found += _text(f"{where} text", block.get("text"), HEADER_TEXT, plain=True)
    elif kind == "context":
        found += _count(f"{where} elements", block.get("elements"), CONTEXT_ELEMENTS)
        for j, element in enumerate(block.get("elements") or []):
            found += _text(f"{where} element {j}", element, TEXT)
    elif kind == "actions":
        found += _count(f"{where} elements", block.get("elements"), ACTIONS_ELEMENTS)
        for j, element in enumerate(block.get("elements") or []):
            found += _button(f"{where} element {j}", element)
    return found


def _button(where: str, button: Mapping[str, Any]) -> list[str]:
    if button.get("type") != "button":
        return [f"{where}: an element type this checker does not know"]
    found = _text(f"{where} text", button.get("text"), BUTTON_TEXT, plain=True)
    if len(str(button.get("value", ""))) > BUTTON_VALUE:
        found.append(f"{where}: value of {len(str(button['value']))} characters, at most {BUTTON_VALUE}")
    if not 1 <= len(str(button.get("action_id", ""))) <= ID:
        found.append(f"{where}: action_id must have 1 to {ID} characters")
    if "confirm" in button:
        dialog = button["confirm"]
        for key, limit in DIALOG.items():
            found += _text(f"{where} confirm {key}", dialog.get(key), limit, plain=key != "text")
    return found
