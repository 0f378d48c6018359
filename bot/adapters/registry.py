"""RegistryClient: complete tag listings (cached, one listing per repository at a time) and digests."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from bot.adapters.registry_auth import Authenticator
from bot.adapters.registry_http import Transport, plain_http_allowed
from bot.adapters.registry_tls import DOCKER_CERTS_DIR, Trust, make_session
from bot.domain.references import SHA256, ImageRef
from bot.errors import RegistryError, RepositoryNotFound

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
# Index types first: for a multi-arch tag we want the index digest, which is what Swarm pins.
MANIFEST_ACCEPT = ", ".join((
    *INDEX_TYPES,
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
PAGE_SIZE = 1000
MAX_PAGES = 10_000
CREATED_KEPT = 10_000          # build times and platforms kept (content-addressed: they never change)
_FRACTION = re.compile(r"(\.\d{6})\d+")   # Go writes nanoseconds; Python reads up to microseconds


def parse_created(value: object) -> datetime | None:
    """An image config's `created` (RFC 3339, as Go writes it), in UTC; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


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
        self._created: OrderedDict[tuple[str, str, str], datetime | None] = OrderedDict()
        self._platforms: OrderedDict[tuple[str, str, str], tuple[str, ...]] = OrderedDict()
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

    def forget(self, image: ImageRef) -> None:
        """Drop the repository's shared listing: the registry said it changed (a push event), so the next caller
        lists it afresh instead of within cache_ttl of the old listing."""
        with self._lock:
            entry = self._listings.get((image.api_host, image.repository))
            if entry is not None and entry[0].done():
                del self._listings[(image.api_host, image.repository)]

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
            self._saw_type(image, found, head.headers.get("Content-Type", ""))
            return found
        # No (usable) header: the digest is by definition the sha256 of the exact manifest bytes.
        get = self._http.request("GET", url, kind="manifest_get", repository=image.repository,
                                 headers=headers)
        if get.status_code == 404:
            return None
        if get.status_code != 200:
            raise RegistryError(f"{image.registry} answered HTTP {get.status_code} for manifest "
                                f"{image.repository}:{tag}")
        found = "sha256:" + hashlib.sha256(get.content).hexdigest()
        self._saw_type(image, found, get.headers.get("Content-Type", ""))
        return found

    def _saw_type(self, image: ImageRef, digest: str, content_type: str) -> None:
        """A manifest that is no index offers no platforms: known without asking again (content-addressed)."""
        if content_type and content_type.split(";")[0].strip() not in INDEX_TYPES:
            self._keep(self._platforms, (image.api_host, image.repository, digest), ())

    def _keep(self, memo: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        with self._lock:
            memo[key] = value
            memo.move_to_end(key)
            while len(memo) > CREATED_KEPT:
                memo.popitem(last=False)

    def platforms(self, image: ImageRef, digest: str) -> tuple[str, ...]:
        """The platforms ("linux/amd64", "linux/arm/v7") the index `digest` names has images for; () for a single
        image. Asks the registry only about an index (or a digest `digest()` never answered), once per digest."""
        key = (image.api_host, image.repository, digest)
        with self._lock:
            if key in self._platforms:
                return self._platforms[key]
        found: list[str] = []
        for child in self._manifest(image, digest).get("manifests") or ():
            platform = child.get("platform") if isinstance(child, dict) else None
            if isinstance(platform, dict) and platform.get("os") not in (None, "", "unknown"):   # not attestations
                found.append("/".join(str(platform[k]) for k in ("os", "architecture", "variant") if platform.get(k)))
        self._keep(self._platforms, key, tuple(found))
        return tuple(found)

    def created(self, image: ImageRef, digest: str) -> datetime | None:
        """When the image `digest` names was built: its config's `created` (of an index, its linux/amd64 image, or
        its first); None when the image does not say. Fetched once per digest and kept."""
        key = (image.api_host, image.repository, digest)
        with self._lock:
            if key in self._created:
                self._created.move_to_end(key)
                return self._created[key]
        found = self._read_created(image, digest)
        with self._lock:
            self._created[key] = found
            while len(self._created) > CREATED_KEPT:
                self._created.popitem(last=False)
        return found

    def _read_created(self, image: ImageRef, digest: str) -> datetime | None:
        manifest = self._manifest(image, digest)
        children = manifest.get("manifests")
        if isinstance(children, list) and children:          # an index: one platform's image says when
            child = next((m for m in children if (m.get("platform") or {}).get("os") == "linux"
                          and (m.get("platform") or {}).get("architecture") == "amd64"), children[0])
            manifest = self._manifest(image, str(child.get("digest", "")))
        config = (manifest.get("config") or {}).get("digest")
        if not isinstance(config, str) or not SHA256.fullmatch(config):
            return None
        url = f"{self._http.base_url(image.api_host)}/v2/{image.repository}/blobs/{config}"
        blob = self._http.request("GET", url, kind="config_blob", repository=image.repository)
        if blob.status_code != 200 or "sha256:" + hashlib.sha256(blob.content).hexdigest() != config:
            raise RegistryError(f"{image.registry} answered HTTP {blob.status_code} for the config {config[:19]}… "
                                f"of {image.repository}@{digest[:19]}…" + (" (its content does not match its "
                                                                           "digest)" if blob.status_code == 200
                                                                           else ""))
        try:
            data = blob.json()
        except ValueError:
            return None
        return parse_created(data.get("created")) if isinstance(data, dict) else None

    def _manifest(self, image: ImageRef, digest: str) -> dict[str, Any]:
        """The manifest (or index) a digest names, checked against it."""
        url = f"{self._http.base_url(image.api_host)}/v2/{image.repository}/manifests/{digest}"
        got = self._http.request("GET", url, kind="manifest_get", repository=image.repository,
                                 headers={"Accept": MANIFEST_ACCEPT})
        if got.status_code != 200 or "sha256:" + hashlib.sha256(got.content).hexdigest() != digest:
            raise RegistryError(f"{image.registry} answered HTTP {got.status_code} for manifest "
                                f"{image.repository}@{digest[:19]}…" + (" (its content does not match its digest)"
                                                                        if got.status_code == 200 else ""))
        try:
            data = got.json()
        except ValueError:
            raise RegistryError(f"{image.registry} sent a manifest that is not JSON for "
                                f"{image.repository}@{digest[:19]}…") from None
        if not isinstance(data, dict):
            raise RegistryError(f"{image.registry} sent a manifest that is not an object for "
                                f"{image.repository}@{digest[:19]}…")
        return data

    def close(self) -> None:
        self._http.session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
