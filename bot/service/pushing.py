"""Registry push events: which of the template's services a notification concerns, kept in the store until the
active watcher scans them (any watcher may be the one the registry reaches; only the active one scans and posts)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from bot import metrics
from bot.domain.pushes import affected, normal_host, parse_envelope, pushes
from bot.domain.times import utcnow
from bot.service.context import Context

log = logging.getLogger("tagpin.watch")


@dataclass
class Received:
    """What one envelope held: the tag changes kept for a scan, and why every other event was ignored."""

    accepted: list[str] = field(default_factory=list)       # host/repository:tag
    ignored: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"accepted": len(self.accepted), "ignored": len(self.ignored),
                "events": self.accepted + [f"ignored: {why}" for why in self.ignored]}


def receive(ctx: Context, body: bytes) -> Received:
    """Record each push of a tag of a repository the template uses; raises EnvelopeError (nothing recorded) when the
    body is not an envelope, StoreError when the store cannot take it (the registry then sends it again)."""
    events = parse_envelope(body)
    found, ignored = pushes(events)
    metrics.REGISTRY_EVENTS.inc(len(events))
    out = Received(ignored=ignored)
    services = [(t.name, t.image) for t in ctx.template().services]
    now = utcnow()
    for push in found:
        names = affected(push, services)
        hit = [image for name, image in services if name in names]
        if not hit:
            out.ignored.append(f"{'/'.join(push.hosts) or '?'}/{push.repository}: not an image of the template")
            continue
        for host in dict.fromkeys(normal_host(image.registry) for image in hit):
            ctx.tables.pushes.record(host, push.repository, push.tag, now)
        out.accepted.append(f"{normal_host(hit[0].registry)}/{push.repository}:{push.tag}")
    metrics.REGISTRY_EVENTS_HANDLED.labels(result="ignored").inc(len(out.ignored))
    metrics.REGISTRY_EVENTS_HANDLED.labels(result="accepted").inc(len(out.accepted))
    return out


Taken = list[tuple[str, str, str]]       # (host, repository, tag) as PendingPushes.take gives them


def due(ctx: Context) -> tuple[frozenset[str], Taken]:
    """The services whose repositories were pushed since the last take, and those pushes."""
    taken = ctx.tables.pushes.take()
    if not taken:
        return frozenset(), []
    wanted = {(host, repository) for host, repository, _ in taken}
    services = frozenset(t.name for t in ctx.template().services
                         if (normal_host(t.image.registry), t.image.repository) in wanted)
    return services, taken


def again(ctx: Context, taken: Taken) -> None:
    """Put pushes back: their scan could not judge them (the registry was down, a bug), so the next try is not
    the next periodic scan -- perhaps 10 intervals away."""
    now = utcnow()
    for host, repository, tag in taken:
        ctx.tables.pushes.record(host, repository, tag, now)


def said(taken: Taken) -> str:
    return ", ".join(f"{host}/{repository}:{tag}" for host, repository, tag in taken)

