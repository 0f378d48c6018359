"""Block Kit and Web API calls rendered as terminal text, for the local chat shell."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

EMOJI = {
    ":white_check_mark:": "✅", ":hourglass_flowing_sand:": "⏳", ":white_circle:": "⚪",
    ":large_green_circle:": "🟢", ":red_circle:": "🔴", ":large_orange_circle:": "🟠", ":warning:": "⚠️ ",
    ":raised_hand:": "✋", ":memo:": "📝", ":no_entry_sign:": "🚫", ":mag:": "🔍",
    ":arrows_counterclockwise:": "🔄",
}
QUIET = {"auth.test", "usergroups.users.list", "users.info"}


def mrkdwn(text: str, users: Mapping[str, str]) -> str:
    for code, char in EMOJI.items():
        text = text.replace(code, char)
    text = re.sub(r"<@(\w+)>", lambda m: "@" + users.get(m.group(1), m.group(1)), text)
    text = re.sub(r"<#(\w+)>", lambda m: "#" + m.group(1), text)
    return text.replace("*", "").replace("`", "")


def message(params: Mapping[str, Any], users: Mapping[str, str]) -> str:
    """A message's blocks as lines (buttons as [Label]); its `text` when it has no blocks."""
    lines: list[str] = []
    for block in params.get("blocks") or []:
        kind = block.get("type")
        if kind == "section":
            lines.append(block["text"]["text"])
        elif kind == "context":
            lines.append("  " + " ".join(e.get("text", "") for e in block.get("elements", [])))
        elif kind == "actions":
            buttons = [f"[{e['text']['text']}]" for e in block.get("elements", [])]
            names = " or ".join(f"`{b.strip('[]').lower()}`" for b in buttons)
            lines.append(" ".join(buttons) + f"   (type {names})")
    if not lines:
        lines.append(str(params.get("text", "")))
    return mrkdwn("\n".join(lines), users)


def call(method: str, params: Mapping[str, Any], users: Mapping[str, str], names: Mapping[str, str]) -> str | None:
    """One recorded Web API call as the text a person would see in Slack; None for calls nobody sees."""
    if method in QUIET:
        return None
    body = message(params, users)
    if method == "response_url":
        where = "(only you, updated)" if params.get("replace_original") else "(only you)"
        return _indent(where, body)
    channel = names.get(str(params.get("channel")), str(params.get("channel")))
    if method == "chat.update":
        # A progress message edited in place: one line per edit in a terminal, not the whole message again.
        return f"{channel} (edited) │ " + " · ".join(line.strip(" _") for line in body.splitlines()[1:])
    if method == "chat.postMessage":
        return _indent(f"{channel}  ↳" if params.get("thread_ts") else channel, body)
    return _indent(method, body)


def _indent(label: str, body: str) -> str:
    first, *rest = body.splitlines() or [""]
    pad = " " * (len(label) + 3)
    return "\n".join([f"{label} │ {first}", *(f"{pad[:-2]}│ {line}" for line in rest)])
