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

from bot import metrics
from bot.adapters.registry_auth import Authenticator
from bot.adapters.registry_tls import Trust
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


def _timed_out(exc: requests.exceptions.RequestException) -> bool:
    # After urllib3 retries a read timeout arrives wrapped: ConnectionError(MaxRetryError(reason)); one while
    # reading the body arrives as ConnectionError(ReadTimeoutError). urllib3's NewConnectionError (refused)
    # subclasses its timeout error, hence the exclusion.
    cause = exc.args[0] if exc.args else None
    reason = getattr(cause, "reason", cause)
    return isinstance(exc, requests.exceptions.Timeout) or (
        isinstance(reason, urllib3.exceptions.TimeoutError)
        and not isinstance(reason, urllib3.exceptions.NewConnectionError))


class Transport:
    """Sends requests for one RegistryClient; every failure leaves as a one-line bot.errors exception."""

    def __init__(self, *, session: requests.Session, insecure: Iterable[str], auth_factory: Callable[
                 [Callable[..., requests.Response]], Authenticator], sleep: Callable[[float], None],
                 timeout: float, max_rate_limit_retries: int, trust: Trust) -> None:
        self.session = session
        self.trust = trust
        self.insecure = frozenset(insecure)
        self.sleep = sleep
        self.timeout = timeout
        self.max_retries = max_rate_limit_retries
        self.auth = auth_factory(self.send)
        self.ratelimit_remaining: int | None = None
        self._schemes: dict[str, str] = {}
        self._stats: Counter[str] = Counter()
        self._lock = threading.Lock()

    def base_url(self, host: str) -> str:
        return f"{self._scheme(host)}://{host}"

    def _scheme(self, host: str) -> str:
        if not plain_http_allowed(host, self.insecure):
            return "https"
        if host in self.insecure:
            return "http"
        # Loopback may serve TLS (a registry with a private CA): like dockerd, https first, then http.
        with self._lock:
            known = self._schemes.get(host)
        if known is None:
            known = self._probe(host)
            with self._lock:
                self._schemes[host] = known
        return known

    def _probe(self, host: str) -> str:
        url = f"https://{host}/v2/"  # the distribution API's version check: any answer means TLS works
        self.trust.prepare(self.session, url)
        self._count("probe")
        try:
            answer = self.session.get(url, timeout=self.timeout)
            answer.close()
            metrics.REGISTRY_REQUESTS.labels(kind="probe", status=str(answer.status_code)).inc()
            return "https"
        except requests.exceptions.SSLError as exc:  # an untrusted certificate is still https: say so later
            metrics.REGISTRY_REQUESTS.labels(kind="probe", status="tls_error").inc()
            return "https" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else "http"
        except requests.exceptions.RequestException as exc:
            metrics.REGISTRY_REQUESTS.labels(kind="probe", status="error").inc()
            raise self._unavailable(exc, host) from None  # not remembered: the next call probes again

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
        self.trust.prepare(self.session, url)
        try:
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)  # type: ignore[arg-type]
        except requests.exceptions.SSLError as exc:
            metrics.REGISTRY_REQUESTS.labels(kind=kind, status="error").inc()
            raise RegistryUnavailable(f"TLS failed for {where}: {self._tls_hint(str(exc), url)}") from None
        except requests.exceptions.RequestException as exc:
            metrics.REGISTRY_REQUESTS.labels(kind=kind, status="error").inc()
            raise self._unavailable(exc, where) from None
        metrics.REGISTRY_REQUESTS.labels(kind=kind, status=str(response.status_code)).inc()
        return response

    def _unavailable(self, exc: requests.exceptions.RequestException, where: str) -> RegistryUnavailable:
        if _timed_out(exc):
            return RegistryUnavailable(f"registry timed out after {self.timeout:g}s: {where}")
        return RegistryUnavailable(f"registry unreachable (connection failed): {where}")

    def _tls_hint(self, error: str, url: str) -> str:
        host = urlsplit(url).netloc
        if "CERTIFICATE_VERIFY_FAILED" not in error:  # a handshake that never got to a certificate
            return "if this registry speaks plain http, add it to TAGPIN_INSECURE_REGISTRIES"
        if "mismatch" in error:  # OpenSSL: "Hostname mismatch" / "IP address mismatch"
            return f"the registry's certificate does not name {urlsplit(url).hostname}"
        return self.trust.hint(host)

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
