"""Registry notifications read purely: distribution's event envelope (docs/notifications.md, notifications/event.go)
-- which events change a tag, where, and what a malformed envelope is told."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.domain.pushes import EnvelopeError, Push, affected, envelope_type, parse_envelope, pushes
from bot.domain.references import parse_reference

# The manifest event of `push acme/frontend:1.2.3`, as Debian's docker-registry 2.8.2 sent it (ids shortened).
MANIFEST_PUSH: dict[str, Any] = {
    "id": "0eebee0a", "timestamp": "2026-12-07T12:37:31.534201092Z", "action": "push",
    "target": {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": 610,
               "digest": "sha256:304cf64289d2cfba3a5db1bf41a917300b240a25d613bdbf500355d32dfb3f26", "length": 610,
               "repository": "acme/frontend",
               "url": "http://127.0.0.1:43867/v2/acme/frontend/manifests/sha256:304cf642"
                      "89d2cfba3a5db1bf41a917300b240a25d613bdbf500355d32dfb3f26",
               "tag": "1.2.3"},
    "request": {"id": "e45ebcd7", "addr": "127.0.0.1:51720", "host": "127.0.0.1:43867", "method": "PUT",
                "useragent": "python-requests/2.34.2"},
    "actor": {}, "source": {"addr": "vm:43867", "instanceID": "b159d1bc"}}
BLOB_PUSH: dict[str, Any] = {
    "action": "push", "target": {"mediaType": "application/octet-stream", "repository": "acme/frontend",
                                 "url": "http://127.0.0.1:43867/v2/acme/frontend/blobs/sha256:e3fd"},
    "request": {"host": "127.0.0.1:43867"}}


def event(**changes: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(MANIFEST_PUSH))
    for key, value in changes.items():
        part, _, field = key.partition("__")
        if field:
            out[part][field] = value
        else:
            out[part] = value
    return out


def envelope(*events: dict[str, Any]) -> bytes:
    return json.dumps({"events": list(events)}).encode()


@pytest.mark.parametrize(("ev", "expected"), [
    (MANIFEST_PUSH, Push(("127.0.0.1:43867",), "acme/frontend", "1.2.3")),
    (BLOB_PUSH, "push without a tag"),                                   # layers and configs: no tag moved
    (event(action="pull"), "action pull"),
    (event(target__tag=""), "push without a tag"),                       # a manifest pushed by digest
    (event(action="delete"), Push(("127.0.0.1:43867",), "acme/frontend", "1.2.3")),   # a tag deleted
    (event(action="delete", target__tag=None), "delete without a tag"),  # a manifest deleted by digest
    (event(action="mount"), "action mount"),
    # behind a proxy the Host the client used and the registry's own URL may differ: both are the registry
    (event(request__host="Registry.Example.com:443"),
     Push(("registry.example.com", "127.0.0.1:43867"), "acme/frontend", "1.2.3")),
])
def test_which_events_change_a_tag(ev: dict[str, Any], expected: Push | str) -> None:
    found, ignored = pushes(parse_envelope(envelope(ev)))
    assert (found[0] if found else ignored[0]) == expected


@pytest.mark.parametrize(("body", "message"), [
    (b"not json", "the body is not JSON"),
    (b"\xff\xfe", "the body is not JSON"),
    (b"[]", 'the body is not a registry event envelope: expected {"events": [...]}'),
    (b'{"event": []}', 'the body is not a registry event envelope: expected {"events": [...]}'),
    (b'{"events": {}}', '"events" must be a list, not dict'),
    (b'{"events": ["push"]}', "events[0] must be an object, not str"),
    (b'{"events": [{"action": "push", "target": "x"}]}', "events[0].target must be an object"),
    (b'{"events": [{"action": "push", "request": []}]}', "events[0].request must be an object"),
    (b'{"events": [{"action": 1}]}', "events[0].action must be a string, not int"),
    (b'{"events": [{"action": "push", "target": {"tag": "1.0.0"}}]}', "events[0].target.repository is missing"),
    (b'{"events": [{"action": "push", "target": {"repository": "a", "tag": 1}}]}',
     "events[0].target.tag must be a string, not int"),
])
def test_a_malformed_envelope_is_told_precisely(body: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        pushes(parse_envelope(body))
    assert message in str(info.value)


def test_too_many_events_are_refused() -> None:
    with pytest.raises(EnvelopeError, match="too many events in one envelope"):
        parse_envelope(envelope(*[BLOB_PUSH] * 1001))


IMAGES = [("frontend", parse_reference("127.0.0.1:43867/acme/frontend")),
          ("frontend-eu", parse_reference("registry.example.com/acme/frontend")),
          ("backend", parse_reference("127.0.0.1:43867/acme/backend")),
          ("other-host", parse_reference("127.0.0.1:5000/acme/frontend")),
          ("hub", parse_reference("acme/frontend"))]


@pytest.mark.parametrize(("hosts", "repository", "expected"), [
    (("127.0.0.1:43867",), "acme/frontend", ["frontend"]),             # same repository on another host: not it
    (("127.0.0.1:43867",), "acme/backend", ["backend"]),
    (("127.0.0.1:43867",), "acme/front", []),                          # no prefix matching
    (("registry.example.com",), "acme/frontend", ["frontend-eu"]),     # :443 dropped, case folded (read_event)
    (("127.0.0.1:1",), "acme/frontend", []),
])
def test_a_push_concerns_the_services_whose_image_is_that_repository_on_that_registry(
        hosts: tuple[str, ...], repository: str, expected: list[str]) -> None:
    assert affected(Push(hosts, repository, "1.0.0"), IMAGES) == expected


@pytest.mark.parametrize(("content_type", "refused"), [
    ("application/vnd.docker.distribution.events.v1+json", False),
    ("application/vnd.docker.distribution.events.v1+json; charset=utf-8", False),
    ("application/json", False),
    ("text/plain", True),
    (None, True),
])
def test_the_envelope_media_type(content_type: str | None, refused: bool) -> None:
    assert (envelope_type(content_type) is not None) == refused
