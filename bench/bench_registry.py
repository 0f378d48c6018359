"""Benchmark the registry client against a loopback fake: a 9,000-tag listing and 100 resolves over 5 repos."""

from __future__ import annotations

import hashlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python bench/bench_registry.py`

from bot.adapters.registry import RegistryClient
from bot.domain.references import parse_reference
from tests.support.fake_registry import FakeRegistry, Reply, Seen, paginated_tags


def big_listing() -> None:
    tags = [f"{i // 100}.{i % 100}.0" for i in range(9000)]
    with FakeRegistry(paginated_tags(tags, cap=100)) as fake:  # caps pages at 100 whatever n says
        client = RegistryClient()
        start = time.perf_counter()
        listed = client.tags(parse_reference(f"{fake.host}/acme/big"))
        elapsed = time.perf_counter() - start
    assert len(listed) == 9000 and set(listed) == set(tags)
    print(f"9,000 tags, server caps pages at 100: {len(fake.seen)} pages fetched, "
          f"requests {client.stats}, listing took {elapsed * 1000:.0f} ms")


def resolves() -> None:
    tags = [f"1.{i}.0" for i in range(40)]
    listing = paginated_tags(tags, cap=100)

    def handle(seen: Seen) -> Reply:
        if "/manifests/" in seen.path:
            digest = "sha256:" + hashlib.sha256(seen.path.encode()).hexdigest()
            return 200, {"Docker-Content-Digest": digest}, b""
        return listing(seen)

    with FakeRegistry(handle) as fake:
        client = RegistryClient(cache_ttl=60)
        images = [parse_reference(f"{fake.host}/acme/service-{i}") for i in range(5)]

        def resolve(n: int) -> str | None:
            image = images[n % 5]
            return client.digest(image, max(client.tags(image), key=lambda t: int(t.split(".")[1])))

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            digests = list(pool.map(resolve, range(100)))
        elapsed = time.perf_counter() - start
    assert all(digests)
    print(f"100 resolves over 5 repositories (8 threads, cache_ttl 60 s): requests {client.stats} "
          f"(target: 5 tag listings), {elapsed * 1000:.0f} ms")


if __name__ == "__main__":
    big_listing()
    resolves()
