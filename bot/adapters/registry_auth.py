"""Registry credentials from Docker's config.json (or credential helpers) and answers to auth challenges."""

from __future__ import annotations

import base64
import binascii
import json
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from bot.adapters.registry_challenge import choose, parse_challenges
from bot.errors import RegistryAuthError, RegistryUnavailable

HUB_HOSTS = {"docker.io", "index.docker.io", "registry-1.docker.io"}
HUB_KEY = "https://index.docker.io/v1/"  # the key `docker login` writes for Docker Hub
DEFAULT_TOKEN_LIFETIME = 60.0  # distribution token spec: expires_in defaults to 60 seconds
Send = Callable[..., requests.Response]


@dataclass(frozen=True)
class Credentials:
    username: str | None = None
    password: str | None = None
    identity_token: str | None = None  # OAuth2 refresh token `docker login` may store instead of a password
    source: str = ""

    def basic(self) -> str | None:
        if self.username is None or self.password is None:
            return None
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


def _hostname(key: str) -> str:
    # Docker's ConvertToHostname: config keys may be URLs ("https://host/v1/") or bare hosts.
    host = key.split("://", 1)[-1].split("/", 1)[0]
    return "docker.io" if host in HUB_HOSTS else host


def _from_helper(helper: str, host: str) -> Credentials | None:
    binary = shutil.which(f"docker-credential-{helper}")
    if binary is None:
        return None  # a helper named but not installed: behave as anonymous, like a fresh machine
    server = HUB_KEY if _hostname(host) == "docker.io" else host
    try:
        done = subprocess.run([binary, "get"], input=server.encode(), capture_output=True, timeout=10,
                              check=False)
        payload = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        payload = None
    if not isinstance(payload, dict):
        return None
    user, secret = payload.get("Username"), payload.get("Secret")
    if user == "<token>":
        return Credentials(identity_token=secret, source=f"docker-credential-{helper}")
    return Credentials(user, secret, source=f"docker-credential-{helper}")


def load_credentials(config: Path | None, host: str) -> Credentials | None:
    """What `docker login` stored for `host`: credHelpers, then credsStore, then inline auths."""
    if config is None or not config.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(config.read_text())
    except (OSError, ValueError):
        raise RegistryAuthError(f"cannot read Docker config {config}: not valid JSON") from None
    wanted = _hostname(host)
    helpers = data.get("credHelpers") or {}
    helper = helpers.get(wanted) or helpers.get(host) or data.get("credsStore")
    found = _from_helper(helper, host) if helper else None
    if found is not None:
        return found
    entry = next((v for k, v in (data.get("auths") or {}).items() if _hostname(k) == wanted), None)
    if not isinstance(entry, dict):
        return None
    user, password = entry.get("username"), entry.get("password")
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise RegistryAuthError(f"auths.{wanted}.auth in {config} is not base64 user:password") from None
    return Credentials(user, password, entry.get("identitytoken"), source=str(config))


class Authenticator:
    """Caches one bearer token per (registry, scope) until it expires; remembers Basic-only registries."""

    def __init__(self, send: Send, *, docker_config: Path | None, clock: Callable[[], float],
                 plain_ok: Callable[[str], bool]) -> None:
        self._send, self._config, self._clock, self._plain_ok = send, docker_config, clock, plain_ok
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}
        self._basic_hosts: set[str] = set()
        self._creds: dict[str, Credentials | None] = {}
        self._lock = threading.Lock()

    def credentials(self, host: str) -> Credentials | None:
        with self._lock:
            if host not in self._creds:
                self._creds[host] = load_credentials(self._config, host)
            return self._creds[host]

    def header(self, host: str, scope: str) -> dict[str, str]:
        with self._lock:
            token = self._tokens.get((host, scope))
            basic = host in self._basic_hosts
        if token and token[1] > self._clock():
            return {"Authorization": f"Bearer {token[0]}"}
        creds = self.credentials(host) if basic else None
        value = creds.basic() if creds else None
        return {"Authorization": value} if value else {}

    def forget(self, host: str, scope: str) -> None:
        with self._lock:
            self._tokens.pop((host, scope), None)

    def answer(self, host: str, scope: str, challenge: str) -> None:
        offered = parse_challenges(challenge)
        chosen = choose(offered)
        scheme, params = (chosen.scheme, chosen.params) if chosen else ("", {})
        if scheme == "basic":
            with self._lock:
                self._basic_hosts.add(host)
        elif scheme == "bearer" and params.get("realm"):
            token, lifetime = self._fetch_token(host, params, params.get("scope") or scope)
            margin = min(10.0, lifetime / 10)  # renew a little early so a token never dies mid-request
            with self._lock:
                self._tokens[(host, scope)] = (token, self._clock() + lifetime - margin)
        else:
            names = ", ".join(c.scheme for c in offered) or "none"
            raise RegistryAuthError(f"{host} asks for an auth scheme tagpin cannot answer (offered: {names}); "
                                    "tagpin answers Bearer (with a realm) and Basic")

    def _fetch_token(self, host: str, params: dict[str, str], scope: str) -> tuple[str, float]:
        realm = params["realm"]
        creds = self.credentials(host)
        realm_host = urlsplit(realm).netloc
        if creds and urlsplit(realm).scheme != "https" and not self._plain_ok(realm_host):
            raise RegistryAuthError(f"{host}'s token service {realm} is plain http: not sending credentials")
        query = [("service", params.get("service", ""))] + [("scope", s) for s in scope.split()]
        if creds and creds.identity_token:
            form = dict(query, grant_type="refresh_token", refresh_token=creds.identity_token,
                        client_id="tagpin")
            response = self._send("POST", realm, kind="token", data=form)
        else:
            basic = creds.basic() if creds else None
            response = self._send("GET", realm, kind="token", params=query,
                                  headers={"Authorization": basic} if basic else {})
        if response.status_code in (401, 403):
            raise RegistryAuthError(self.refusal(host, scope.split(":")[1] if ":" in scope else scope))
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            token = None
        if response.status_code != 200 or not token:
            raise RegistryUnavailable(
                f"token service {realm} answered HTTP {response.status_code} without a token")
        return str(token), lifetime

    def refusal(self, host: str, repository: str) -> str:
        creds = self.credentials(host)
        shown = "docker.io" if host in HUB_HOSTS else host
        if creds and (creds.basic() or creds.identity_token):
            return (f"{shown} refused the credentials from {creds.source} for {repository} "
                    "(wrong, expired or lacking pull access)")
        return (f"{shown} requires credentials for {repository} (or it does not exist): "
                f"run `docker login {shown}`")
