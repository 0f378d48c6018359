"""The watcher's registry budget on the real registry: one listing per repository per scan, digests kept a while."""

from __future__ import annotations

from bot.adapters.registry import RegistryClient
from bot.domain.references import parse_reference
from bot.service.watchregistry import WatchRegistry
from tests.support.oci import Pusher


def test_steady_scans_cost_one_listing_per_repository(registry: str, unique: str) -> None:
    pusher = Pusher(registry)
    first = pusher.push(f"watch{unique}/web", "1.0.0").digest
    image = parse_reference(f"{registry}/watch{unique}/web")
    client = RegistryClient(cache_ttl=0)
    now = [0.0]
    memo = WatchRegistry(client, digest_ttl=900, clock=lambda: now[0])

    def scan() -> tuple[tuple[str, ...], str | None, dict[str, int]]:
        memo.new_scan()
        before = dict(client.stats)
        tags = memo.tags(image)
        tags = memo.tags(image)                         # many tenants, one listing
        digest = memo.digest(image, "1.0.0")
        after = client.stats
        # A loopback host is asked once per client whether it speaks https ("probe"): not a per-scan cost.
        return tags, digest, {k: after.get(k, 0) - before.get(k, 0) for k in after if k != "probe"}

    tags, digest, cost = scan()
    assert tags == ("1.0.0",) and digest == first and sum(cost.values()) == 2

    pusher.push(f"watch{unique}/web", "1.1.0")
    moved = pusher.push(f"watch{unique}/web", "1.0.0", "re-pushed").digest
    now[0] = 300.0
    tags, digest, cost = scan()
    assert set(tags) == {"1.0.0", "1.1.0"}              # a new tag shows at the next scan
    assert digest == first and sum(cost.values()) == 1   # the digest is remembered: one request per repository

    now[0] = 901.0
    _, digest, cost = scan()
    assert digest == moved and sum(cost.values()) == 2   # after digest_ttl the moved tag is seen
