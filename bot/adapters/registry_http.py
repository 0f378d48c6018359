"""HTTP transport to registries: scheme policy, retries, 429 back-off, auth, error mapping, counters."""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from bot.adapters.registry_auth import Authenticator
from bot.errors import RateLimited, RegistryAuthError, RegistryUnavailable

# A Retry-After longer than this is not worth blocking a deploy for: report it instead.
MAX_RATE_LIMIT_WAIT = 60.0


def plain_http_allowed(host: str, insecure: Iterable[str]) -> bool:
    """Plain http only for loopback and hosts the operator listed; everything else must be https."""
    if host in insecure:
        return True
    name = urlsplit(f"//{host}").hostname or ""
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def make_session() -> requests.Session:
    """A pooled session retrying connection failures and 5xx (idempotent methods only); 429 is ours."""
    # respect_retry_after_header=False: urllib3 would otherwise sleep on 429 itself, unseen and uncapped.
    retry = Retry(total=3, connect=3, read=2, status=2, backoff_factor=0.2, raise_on_status=False,
                  respect_retry_after_header=False,
                  status_forcelist=(500, 502, 503, 504), allowed_methods=frozenset({"GET", "HEAD"}))
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:  # RFC 9110 10.2.3 also allows an HTTP-date
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class Transport:
    """Sends requests for one RegistryClient; every failure leaves as a one-line bot.errors exception."""

    def __init__(self, *, session: requests.Session, insecure: Iterable[str], auth_factory: Callable[
                 [Callable[..., requests.Response]], Authenticator], sleep: Callable[[float], None],
                 timeout: float, max_rate_limit_retries: int) -> None:
        self.session = session
        self.insecure = frozenset(insecure)
        self.sleep = sleep
        self.timeout = timeout
        self.max_retries = max_rate_limit_retries
        self.auth = auth_factory(self.send)
        self.ratelimit_remaining: int | None = None
        self._stats: Counter[str] = Counter()
        self._lock = threading.Lock()

    def base_url(self, host: str) -> str:
        return f"{'http' if plain_http_allowed(host, self.insecure) else 'https'}://{host}"

    @property
    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._stats)

    def _count(self, kind: str) -> None:
        with self._lock:
            self._stats[kind] += 1

    def _note_ratelimit(self, response: requests.Response) -> None:
        raw = response.headers.get("ratelimit-remaining")  # Docker Hub: "76;w=21600"
        if raw:
            with contextlib.suppress(ValueError):
                self.ratelimit_remaining = int(raw.split(";")[0].strip())

    def _once(self, method: str, url: str, kind: str, **kwargs: object) -> requests.Response:
        self._count(kind)
        where = url.split("?")[0]
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)  # type: ignore[arg-type]
        except requests.exceptions.SSLError:
            raise RegistryUnavailable(f"TLS failed for {where}; if this registry speaks plain http, "
                                      "add it to TAGPIN_INSECURE_REGISTRIES") from None
        except requests.exceptions.RequestException as exc:
            # After urllib3 retries a read timeout arrives wrapped: ConnectionError(MaxRetryError(reason));
            # urllib3's NewConnectionError (refused) subclasses its timeout error, hence the exclusion.
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            timed_out = isinstance(reason, urllib3.exceptions.TimeoutError) and not isinstance(
                reason, urllib3.exceptions.NewConnectionError)
            if isinstance(exc, requests.exceptions.Timeout) or timed_out:
                raise RegistryUnavailable(f"registry timed out after {self.timeout:g}s: {where}") from None
            raise RegistryUnavailable(f"registry unreachable (connection failed): {where}") from None

    def send(self, method: str, url: str, *, kind: str, **kwargs: object) -> requests.Response:
        """One logical request: back off on 429, raise RegistryUnavailable on 5xx that outlived retries."""
        host = urlsplit(url).netloc
        for attempt in range(self.max_retries + 1):
            response = self._once(method, url, kind, **kwargs)
            self._note_ratelimit(response)
            if response.status_code >= 500:
                raise RegistryUnavailable(
                    f"registry answered HTTP {response.status_code}: {url.split('?')[0]}")
            if response.status_code != 429:
                return response
            wait = _retry_after(response.headers.get("Retry-After"))
            if wait is not None and wait > MAX_RATE_LIMIT_WAIT:
                raise RateLimited(f"{host} is rate-limiting tagpin (HTTP 429); retry in {wait:.0f}s")
            if attempt < self.max_retries:
                self._count("rate_limit_wait")
                self.sleep(wait if wait is not None else min(2.0 ** attempt, 30.0))
        raise RateLimited(f"{host} kept answering HTTP 429 (rate limited) after {self.max_retries} "
                          "retries; try again later or log in for a higher limit")

    def request(self, method: str, url: str, *, kind: str, repository: str,
                headers: Mapping[str, str] | None = None) -> requests.Response:
        """`send` with registry auth: answer one 401 challenge, then give up with RegistryAuthError."""
        host = urlsplit(url).netloc
        scope = f"repository:{repository}:pull"
        for attempt in range(2):
            response = self.send(method, url, kind=kind,
                                 headers={**(headers or {}), **self.auth.header(host, scope)})
            if response.status_code not in (401, 403):
                return response
            self.auth.forget(host, scope)
            if attempt == 1 or response.status_code == 403:  # 403: authenticated but denied; no retry helps
                break
            self.auth.answer(host, scope, response.headers.get("WWW-Authenticate", ""))
        raise RegistryAuthError(self.auth.refusal(host, repository))
