"""Connection pools to registries: retries, and the CAs a certificate may chain to (public roots plus extras)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.retry import Retry
from urllib3.util.ssl_ import create_urllib3_context

from bot.errors import RegistryError

# Where dockerd reads a registry's CA: certs.d/<host:port>/*.crt (Docker docs, "Verify repository client
# with certificates"); the same directory makes tagpin trust what the swarm nodes trust.
DOCKER_CERTS_DIR = Path("/etc/docker/certs.d")


class _Adapter(HTTPAdapter):
    """HTTPAdapter whose pools use one given SSLContext (a registry's own CAs); None keeps requests' own."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, **kwargs: Any) -> None:
        self._ssl_context = ssl_context
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        if self._ssl_context is not None:
            pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


class _Retry(Retry):
    """Retry, except after a timeout: a registry silent for `timeout` seconds seldom answers the next try, and
    waiting it out three times would make "timed out after 10s" a lie (and a drift scan three times slower)."""

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> Self:
        if isinstance(error, Urllib3Timeout) and not isinstance(error, NewConnectionError):
            raise MaxRetryError(_pool, url, error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


def make_adapter(ssl_context: ssl.SSLContext | None = None) -> HTTPAdapter:
    """A pooled adapter retrying connection failures and 5xx (idempotent methods only); 429 is ours."""
    # respect_retry_after_header=False: urllib3 would otherwise sleep on 429 itself, unseen and uncapped.
    # other=0: a TLS failure (an untrusted certificate, plain http on the port) is not cured by retrying.
    retry = _Retry(total=3, connect=3, read=2, status=2, other=0, backoff_factor=0.2, raise_on_status=False,
                  respect_retry_after_header=False,
                  status_forcelist=(500, 502, 503, 504), allowed_methods=frozenset({"GET", "HEAD"}))
    return _Adapter(ssl_context, max_retries=retry, pool_maxsize=16)


def make_session() -> requests.Session:
    session = requests.Session()
    adapter = make_adapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Trust:
    """Mounts, per https host with extra CAs, an adapter whose context adds them to the public roots."""

    def __init__(self, *, ca_bundle: Path | None, certs_dir: Path | None,
                 adapter: Callable[[ssl.SSLContext | None], HTTPAdapter] = make_adapter) -> None:
        self.ca_bundle, self.certs_dir, self._adapter = ca_bundle, certs_dir, adapter
        self._prepared: set[str] = set()
        self._cas: dict[str, list[Path]] = {}
        self._lock = threading.Lock()

    def extra_cas(self, host: str) -> list[Path]:
        """The CA files for `host` beyond the public roots, in the order they are loaded (read once)."""
        with self._lock:
            if host not in self._cas:
                found = [self.ca_bundle] if self.ca_bundle is not None else []
                folder = self.certs_dir / host if self.certs_dir is not None else None
                if folder is not None and folder.is_dir():
                    found += sorted(folder.glob("*.crt"))  # like dockerd: each .crt is a CA (.cert a client's)
                self._cas[host] = found
            return list(self._cas[host])

    def hint(self, host: str) -> str:
        """What an operator does when `host`'s certificate is not trusted, naming what was already tried."""
        folder = self.certs_dir or DOCKER_CERTS_DIR
        tried = ", ".join(str(p) for p in self.extra_cas(host))
        return ("the registry's certificate is not trusted: set TAGPIN_REGISTRY_CA=/path/to/ca.pem or put the "
                f"CA in {folder / host / 'ca.crt'}" + (f" (tried the public roots and {tried})" if tried else ""))

    def prepare(self, session: requests.Session, url: str) -> None:
        """Before the first request to an https host: mount its adapter if it has CAs of its own."""
        parts = urlsplit(url)
        if parts.scheme != "https":
            return
        cas = self.extra_cas(parts.netloc)
        with self._lock:
            if parts.netloc in self._prepared:
                return
            if cas:  # requests picks the longest mounted prefix, so this host gets its own pool
                session.mount(f"https://{parts.netloc}/", self._adapter(self._context(cas)))
            self._prepared.add(parts.netloc)

    def _context(self, cas: list[Path]) -> ssl.SSLContext:
        context = create_urllib3_context()  # urllib3's defaults (TLS 1.2+, its ciphers), verification on
        context.load_verify_locations(cafile=DEFAULT_CA_BUNDLE_PATH)  # additive, as dockerd adds to the system pool
        for ca in cas:
            try:
                context.load_verify_locations(cafile=str(ca))
            except (OSError, ssl.SSLError) as exc:
                source = "TAGPIN_REGISTRY_CA" if ca == self.ca_bundle else "Docker's certs.d"
                raise RegistryError(f"cannot load the CA {ca} from {source}: "
                                    f"{getattr(exc, 'strerror', None) or exc}") from None
        return context
