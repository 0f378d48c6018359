"""RegistryClient: complete tag listings (cached, one listing per repository at a time) and digests."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import requests

from bot.adapters.registry_auth import Authenticator
from bot.adapters.registry_http import Transport, plain_http_allowed
from bot.adapters.registry_tls import DOCKER_CERTS_DIR, Trust, make_session
from bot.domain.references import SHA256, ImageRef
from bot.errors import RegistryError, RepositoryNotFound

# Index types first: for a multi-arch tag we want the index digest, which is what Swarm pins.
MANIFEST_ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
PAGE_SIZE = 1000
MAX_PAGES = 10_000


class RegistryClient:
    """Reads tags and digests from registries speaking the OCI distribution API (Docker Registry v2).

    `ca_bundle` (TAGPIN_REGISTRY_CA) and `certs_dir`/<host:port>/*.crt add CAs to the public roots.
    """

    def __init__(self, *, insecure: Iterable[str] = (), docker_config: Path | None = None,
                 cache_ttl: float = 60.0, session: requests.Session | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 timeout: float = 10.0, max_rate_limit_retries: int = 3, ca_bundle: Path | None = None,
                 certs_dir: Path | None = DOCKER_CERTS_DIR) -> None:
        insecure = frozenset(insecure)
        self._clock, self._ttl = clock, cache_ttl
        self._http = Transport(
            session=session or make_session(), insecure=insecure, sleep=sleep, timeout=timeout,
            max_rate_limit_retries=max_rate_limit_retries,
            trust=Trust(ca_bundle=ca_bundle, certs_dir=certs_dir),
            auth_factory=lambda send: Authenticator(send, docker_config=docker_config, clock=clock,
                                                    plain_ok=lambda h: plain_http_allowed(h, insecure)))
        self._listings: dict[tuple[str, str], tuple[Future[tuple[str, ...]], float]] = {}
        self._lock = threading.Lock()

    @property
    def stats(self) -> dict[str, int]:
        """Requests sent, by kind: tags_page, manifest_head, manifest_get, token, rate_limit_wait."""
        return self._http.stats

    @property
    def ratelimit_remaining(self) -> int | None:
        """The last `ratelimit-remaining` a registry reported (Docker Hub), or None if none did."""
        return self._http.ratelimit_remaining

    def tags(self, image: ImageRef) -> tuple[str, ...]:
        """Every tag of the repository; concurrent and repeated callers within cache_ttl share one listing."""
        key = (image.api_host, image.repository)
        with self._lock:
            entry = self._listings.get(key)
            owner = entry is None or (entry[0].done() and entry[1] <= self._clock())
            if owner:
                future: Future[tuple[str, ...]] = Future()
                self._listings[key] = (future, float("inf"))
            else:
                assert entry is not None
                future = entry[0]
        if owner:
            try:
                result = self._list_tags(image)
            except BaseException as exc:
                with self._lock:  # failures are not cached: the next caller tries again
                    self._listings.pop(key, None)
                future.set_exception(exc)
                raise
            with self._lock:
                self._listings[key] = (future, self._clock() + self._ttl)
            future.set_result(result)
        return future.result()

    def _list_tags(self, image: ImageRef) -> tuple[str, ...]:
        base = self._http.base_url(image.api_host)
        url = f"{base}/v2/{image.repository}/tags/list?n={PAGE_SIZE}"
        seen_urls: set[str] = set()
        tags: dict[str, None] = {}  # insertion-ordered set: some hosts repeat tags across pages
        while url:
            if url in seen_urls or len(seen_urls) >= MAX_PAGES:
                raise RegistryError(f"{image.registry} sent a pagination loop listing tags of "
                                    f"{image.repository} (at {url})")
            seen_urls.add(url)
            response = self._http.request("GET", url, kind="tags_page", repository=image.repository)
            if response.status_code == 404:
                raise RepositoryNotFound(f"repository {image.repository} not found on {image.registry}")
            page = self._page(response, image)
            fresh = [t for t in page if t not in tags]
            tags.update(dict.fromkeys(page))
            url = self._next_url(response, base, image, url, page, fresh)
        return tuple(tags)

    def _page(self, response: requests.Response, image: ImageRef) -> list[str]:
        try:
            listed = response.json().get("tags") if response.status_code == 200 else None
            if listed is None and response.status_code == 200:
                return []  # distribution answers "tags": null for a repository without tags
            if isinstance(listed, list) and all(isinstance(t, str) for t in listed):
                return listed
        except (ValueError, AttributeError):
            pass
        raise RegistryError(f"{image.registry} answered HTTP {response.status_code} with no tag list "
                            f"for {image.repository}")

    def _next_url(self, response: requests.Response, base: str, image: ImageRef, url: str,
                  page: list[str], fresh: list[str]) -> str:
        link = response.links.get("next", {}).get("url")  # parses with or without <angle brackets>
        if link:
            absolute = urljoin(url, link)
            if urlsplit(absolute).netloc != urlsplit(base).netloc:
                raise RegistryError(f"{image.registry} paginates to another host ({absolute}); not following")
            return absolute
        # Exactly the page size we asked for and no Link: the host may paginate but forget the header, so
        # ask past the last tag. A longer page means the host ignores `n` and sent everything.
        if len(page) == PAGE_SIZE and fresh:
            return f"{base}/v2/{image.repository}/tags/list?n={PAGE_SIZE}&last={page[-1]}"
        return ""

    def digest(self, image: ImageRef, tag: str) -> str | None:
        """The content digest `tag` points to now (an index digest for multi-arch), or None if it is gone."""
        url = f"{self._http.base_url(image.api_host)}/v2/{image.repository}/manifests/{tag}"
        headers = {"Accept": MANIFEST_ACCEPT}
        head = self._http.request("HEAD", url, kind="manifest_head", repository=image.repository,
                                  headers=headers)
        if head.status_code == 404:
            return None  # deleted between listing and now: the caller moves to the next candidate
        found = head.headers.get("Docker-Content-Digest", "")
        if head.status_code == 200 and SHA256.fullmatch(found):
            return found
        # No (usable) header: the digest is by definition the sha256 of the exact manifest bytes.
        get = self._http.request("GET", url, kind="manifest_get", repository=image.repository,
                                 headers=headers)
        if get.status_code == 404:
            return None
        if get.status_code != 200:
            raise RegistryError(f"{image.registry} answered HTTP {get.status_code} for manifest "
                                f"{image.repository}:{tag}")
        return "sha256:" + hashlib.sha256(get.content).hexdigest()

    def close(self) -> None:
        self._http.session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
