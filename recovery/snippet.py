"""The snippet as served: its bytes, content-hash ETag, versioned immutable URL, manifest and SRI hash."""

from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Response, abort, jsonify, request, url_for

from recovery.fileformat import VERSION
from recovery.runtime import runtime

IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Snippet:
    body: bytes
    sha256: str
    integrity: str
    gzip_bytes: int             # the manifest reports it; the body never changes, so compress once

    @classmethod
    def load(cls, path: Path) -> Snippet:
        body = path.read_bytes()
        sha384 = base64.b64encode(hashlib.sha384(body).digest()).decode()
        return cls(body=body, sha256=hashlib.sha256(body).hexdigest(), integrity=f"sha384-{sha384}",
                   gzip_bytes=len(gzip.compress(body, 9)))

    @property
    def version(self) -> str:
        """Derived from the content alone, so every instance behind a load balancer agrees."""
        return self.sha256[:16]

    def response(self, cache_control: str) -> Response:
        return conditional(Response(self.body, mimetype="text/javascript"), self.version, cache_control)


def conditional(resp: Response, etag: str, cache_control: str) -> Response:
    """ETag + Cache-Control, then 304 when the client already has it."""
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = cache_control
    resp.make_conditional(request)
    return resp


def script() -> Response:
    rt = runtime()
    # Short max-age, then revalidation: an ETag hit costs a 304, and a fix reaches users within minutes.
    return rt.snippet.response(f"public, max-age={rt.settings.cache_seconds}")


def versioned_script(version: str) -> Response:
    snippet = runtime().snippet
    if version != snippet.version:
        abort(404, description=f"no recovery.js version {version!r} here; the current one is "
                               f"{snippet.version} (see /recovery/manifest.json)")
    return snippet.response(IMMUTABLE)


def manifest() -> Response:
    snippet = runtime().snippet
    body: dict[str, Any] = {
        "name": "recovery.js",
        "version": snippet.version,
        "file_format_version": VERSION,
        "url": url_for("recovery.versioned_script", version=snippet.version),
        "integrity": snippet.integrity,
        "sha256": snippet.sha256,
        "bytes": len(snippet.body),
        "gzip_bytes": snippet.gzip_bytes,
    }
    return conditional(jsonify(body), snippet.version, "no-cache")
