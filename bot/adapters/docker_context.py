"""Which Docker engine tagpin talks to, resolved as the docker CLI resolves it, for the SDK and the CLI alike."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from docker.context.config import get_context_host, get_context_id
from docker.tls import TLSConfig
from docker.utils import kwargs_from_env

from bot.errors import SwarmError

DEFAULT = "default"
# Variables that choose the engine or its TLS; a named context overrides every one of them for the CLI.
ENGINE_VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


@dataclass(frozen=True)
class Engine:
    """One engine: the context that named it, its host, and the TLS material to reach it."""

    context: str                 # "default" or a context's name
    host: str                    # as the CLI spells it: unix:///…, tcp://…, ssh://…
    source: str                  # what chose it: DOCKER_HOST, DOCKER_CONTEXT, "currentContext in …", default
    tls_dir: Path | None = None  # a named context's TLS material (ca.pem, cert.pem, key.pem)
    skip_tls_verify: bool = False
    ignored_context: str | None = None   # DOCKER_CONTEXT set beside DOCKER_HOST: the CLI ignores it, so do we

    def describe(self) -> str:
        if self.context != DEFAULT:
            return f"docker context '{self.context}' ({self.host}, from {self.source})"
        said = f"DOCKER_HOST {self.host}" if self.source == "DOCKER_HOST" else f"the local engine {self.host}"
        if self.ignored_context:
            said += f"; DOCKER_CONTEXT '{self.ignored_context}' ignored because DOCKER_HOST is set, as the CLI does"
        return said

    def client(self, environ: Mapping[str, str]) -> docker.DockerClient:
        """An SDK client for this engine (it asks the engine its API version, so it may raise DockerException)."""
        return EngineClient(**self.client_kwargs(environ))

    def client_kwargs(self, environ: Mapping[str, str]) -> dict[str, Any]:
        """Client arguments; never docker.from_env, whose context fallback reads os.environ and
        silently lands on the local socket when a context is missing."""
        if self.context == DEFAULT:
            params: dict[str, Any] = dict(kwargs_from_env(environment={**environ, "DOCKER_HOST": self.host}))
            return params
        return {"base_url": self.host, "tls": self._tls() or False}

    def cli_environ(self, environ: Mapping[str, str]) -> dict[str, str]:
        """The docker CLI's environment, pinned to this engine: DOCKER_HOST set, DOCKER_CONTEXT gone, so
        neither DOCKER_CONTEXT nor currentContext in config.json can send `docker stack deploy` elsewhere."""
        if self.context == DEFAULT:
            env = {k: v for k, v in environ.items() if k != "DOCKER_CONTEXT"}
        else:
            env = {k: v for k, v in environ.items() if k not in ENGINE_VARIABLES}
            if self.tls_dir is not None:
                env["DOCKER_CERT_PATH"] = str(self.tls_dir)
                env["DOCKER_TLS" if self.skip_tls_verify else "DOCKER_TLS_VERIFY"] = "1"
        env["DOCKER_HOST"] = self.host
        return env

    def _tls(self) -> TLSConfig | None:
        if self.tls_dir is None:
            return None
        ca, cert, key = (self.tls_dir / name for name in ("ca.pem", "cert.pem", "key.pem"))
        return TLSConfig(client_cert=(str(cert), str(key)) if cert.is_file() and key.is_file() else None,
                         ca_cert=str(ca) if ca.is_file() else None, verify=not self.skip_tls_verify)


class _EngineAPI(docker.APIClient):
    """docker-py's API client whose TLS CA stays the engine's when REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is set:
    requests lets those replace a session's CA (docker/docker-py#2433, psf/requests#3829); the CLI ignores them."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        return super().merge_environment_settings(url, proxies, stream, self.verify if verify is None else verify,
                                                  cert)


class EngineClient(docker.DockerClient):
    """docker.DockerClient over _EngineAPI (DockerClient's constructor does nothing but build its APIClient)."""

    def __init__(self, **kwargs: Any) -> None:
        self.api = _EngineAPI(**kwargs)


def config_dir(environ: Mapping[str, str]) -> Path | None:
    """$DOCKER_CONFIG, else ~/.docker: where the CLI keeps config.json and its context store."""
    if environ.get("DOCKER_CONFIG"):
        return Path(environ["DOCKER_CONFIG"])
    return Path(environ["HOME"]) / ".docker" if environ.get("HOME") else None


def resolve(environ: Mapping[str, str]) -> Engine:
    """The CLI's precedence (docker/cli resolveContextName): a non-empty DOCKER_HOST means the default context
    whatever DOCKER_CONTEXT says; then DOCKER_CONTEXT; then currentContext in config.json; then default."""
    host = environ.get("DOCKER_HOST") or ""
    named = environ.get("DOCKER_CONTEXT") or ""
    if host:
        return Engine(DEFAULT, host, "DOCKER_HOST", ignored_context=named if named not in ("", DEFAULT) else None)
    folder = config_dir(environ)
    source = "DOCKER_CONTEXT"
    if not named:
        named, source = _current_context(folder), f"currentContext in {folder and folder / 'config.json'}"
    if named in ("", DEFAULT):
        return Engine(DEFAULT, get_context_host(), DEFAULT)
    return _load(named, source, folder)


def _current_context(folder: Path | None) -> str:
    path = folder / "config.json" if folder else None
    if path is None or not path.is_file():
        return ""
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("currentContext") or ""
    except (OSError, ValueError, AttributeError) as exc:
        # The CLI warns and goes on with the local engine; guessing the engine is the bug this module removes.
        raise SwarmError(f"cannot read {path} to find the current docker context: {exc}") from exc
    if not isinstance(value, str):
        raise SwarmError(f"currentContext in {path} is not a context name")
    return value


def _load(name: str, source: str, folder: Path | None) -> Engine:
    """A named context from the CLI's store: contexts/meta/<sha256 of name>/meta.json and contexts/tls/…/docker."""
    missing = SwarmError(f"docker context '{name}' does not exist ({source}); `docker context ls` lists them")
    if folder is None:
        raise missing
    store = folder / "contexts"
    meta_file = store / "meta" / get_context_id(name) / "meta.json"
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        endpoint = meta["Endpoints"]["docker"]
    except FileNotFoundError:
        raise missing from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SwarmError(f"docker context '{name}' ({source}) has no readable docker endpoint in {meta_file}: "
                         f"{exc!r}") from exc
    host = endpoint.get("Host") or get_context_host()
    tls_dir = store / "tls" / get_context_id(name) / "docker"
    return Engine(name, str(host), source, tls_dir=tls_dir if tls_dir.is_dir() else None,
                  skip_tls_verify=bool(endpoint.get("SkipTLSVerify", False)))

