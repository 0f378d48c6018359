"""Registry notifications (distribution's event envelope), read purely: which events say a tag changed, and where."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.domain.references import ImageRef
from bot.errors import UsageError

# What distribution 2.x sends (notifications.EventsMediaType); plain JSON is taken too (a relay, curl by hand).
ENVELOPE_TYPES = ("application/vnd.docker.distribution.events.v1+json",
                  "application/vnd.docker.distribution.events.v2+json", "application/json")
# An envelope holds the few events of one push; more than this is not a registry talking.
MAX_EVENTS = 1000


class EnvelopeError(UsageError):
    """The body is not a registry event envelope: said precisely, nothing is done."""


@dataclass(frozen=True)
class Push:
    """A tag that now names other content (pushed) or none (deleted), in one repository of one registry."""

    hosts: tuple[str, ...]           # the registry as the pushing client named it, and as its own URL names it
    repository: str
    tag: str


def _text(obj: Mapping[str, object], key: str, where: str) -> str:
    value = obj.get(key)
    if value is None:                    # absent or null: Go's omitempty, or a relay that writes nulls
        return ""
    if not isinstance(value, str):
        raise EnvelopeError(f"{where}.{key} must be a string, not {type(value).__name__}")
    return value


def parse_envelope(body: bytes) -> list[Mapping[str, object]]:
    """The envelope's events; EnvelopeError naming what is wrong (not JSON, no events list, an event not an object)."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"the body is not JSON ({exc})") from None
    if not isinstance(data, dict) or "events" not in data:
        raise EnvelopeError('the body is not a registry event envelope: expected {"events": [...]}')
    events = data["events"]
    if not isinstance(events, list):
        raise EnvelopeError(f'"events" must be a list, not {type(events).__name__}')
    if len(events) > MAX_EVENTS:
        raise EnvelopeError(f"too many events in one envelope ({len(events)}; at most {MAX_EVENTS})")
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise EnvelopeError(f"events[{i}] must be an object, not {type(event).__name__}")
        for part in ("target", "request"):
            if not isinstance(event.get(part, {}), dict):
                raise EnvelopeError(f"events[{i}].{part} must be an object")
    return events


def read_event(event: Mapping[str, object], where: str) -> Push | str:
    """A Push, or why the event changes no tag: a pull, a blob, a manifest pushed by digest, a delete by digest."""
    action = _text(event, "action", where)
    target: Mapping[str, object] = event.get("target") or {}  # type: ignore[assignment]
    request: Mapping[str, object] = event.get("request") or {}  # type: ignore[assignment]
    if action not in ("push", "delete"):
        return f"action {action or 'missing'}"
    repository, tag = _text(target, "repository", f"{where}.target"), _text(target, "tag", f"{where}.target")
    if not repository:
        raise EnvelopeError(f"{where}.target.repository is missing")
    if not tag:
        return f"{action} without a tag"
    hosts = [_text(request, "host", f"{where}.request"), _netloc(_text(target, "url", f"{where}.target"))]
    return Push(tuple(dict.fromkeys(normal_host(h) for h in hosts if h)), repository, tag)


def _netloc(url: str) -> str:
    """The host[:port] of an absolute URL ("" for anything else); the domain parses it without urllib."""
    scheme, sep, rest = url.partition("://")
    return rest.split("/", 1)[0].rpartition("@")[2] if sep and scheme in ("http", "https") else ""


def normal_host(host: str) -> str:
    """Host names compare without case and without the scheme's default port (a Host header usually drops it)."""
    host = host.lower()
    for default in (":443", ":80"):
        host = host.removesuffix(default)
    return host


def affected(push: Push, images: Iterable[tuple[str, ImageRef]]) -> list[str]:
    """The names (services) whose image is the pushed repository on the pushed registry."""
    return [name for name, image in images
            if image.repository == push.repository and normal_host(image.registry) in push.hosts]


def envelope_type(content_type: str | None) -> str | None:
    """None when the request's media type is one a registry sends; else why it is refused."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media in ENVELOPE_TYPES:
        return None
    return (f"Content-Type {media or 'missing'} is not a registry event envelope "
            f"(expected {ENVELOPE_TYPES[0]})")


def pushes(events: Sequence[Mapping[str, object]]) -> tuple[list[Push], list[str]]:
    """Every event read: the tag changes, and why each other event is ignored."""
    found, ignored = [], []
    for i, event in enumerate(events):
        read = read_event(event, f"events[{i}]")
        if isinstance(read, Push):
            found.append(read)
        else:
            ignored.append(read)
    return found, ignored
