"""Push small runnable images straight through the registry HTTP API (no Docker needed to make them)."""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import shutil
import tarfile
from dataclasses import dataclass
from functools import cache

import requests

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


@dataclass(frozen=True)
class Pushed:
    repository: str
    tag: str
    digest: str


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tar(files: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 0
            tar.addfile(info, io.BytesIO(data))
        for name, target in sorted((links or {}).items()):
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, 0
            tar.addfile(info)
    return buf.getvalue()


@cache
def _busybox_layer() -> tuple[bytes, bytes]:
    """(gzipped, raw) layer holding a static busybox with sh and sleep."""
    path = shutil.which("busybox")
    if path is None:
        raise RuntimeError("busybox is not installed (apt-get install busybox-static)")
    with open(path, "rb") as f:
        raw = _tar({"bin/busybox": f.read()}, {"bin/sh": "busybox", "bin/sleep": "busybox"})
    return gzip.compress(raw, mtime=0), raw


class Pusher:
    """Uploads blobs and manifests to one registry (plain http on loopback, or https trusting `ca`)."""

    def __init__(self, registry: str = "127.0.0.1:5000", *, ca: str | None = None,
                 auth: tuple[str, str] | None = None) -> None:
        """`ca`: a CA bundle path, to push over https to a registry with a private CA; `auth`: (user, password)
        sent as Basic on every request (a registry with htpasswd auth)."""
        self.base = f"{'https' if ca else 'http'}://{registry}"
        self.registry = registry
        self.http = requests.Session()
        self.http.auth = auth
        if ca:
            self.http.verify = ca
            self.http.trust_env = False  # else REQUESTS_CA_BUNDLE overrides a session's verify (requests#3829)

    def _blob(self, repo: str, data: bytes) -> str:
        digest = _sha(data)
        if self.http.head(f"{self.base}/v2/{repo}/blobs/{digest}", timeout=30).status_code == 200:
            return digest
        start = self.http.post(f"{self.base}/v2/{repo}/blobs/uploads/", timeout=30)
        start.raise_for_status()
        location = requests.compat.urljoin(self.base, start.headers["Location"])
        sep = "&" if "?" in location else "?"
        put = self.http.put(f"{location}{sep}digest={digest}", data=data, timeout=120,
                            headers={"Content-Type": "application/octet-stream"})
        put.raise_for_status()
        return digest

    def _manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        r = self.http.put(f"{self.base}/v2/{repo}/manifests/{ref}", data=body, timeout=30,
                          headers={"Content-Type": media_type})
        r.raise_for_status()
        return _sha(body)

    def push(self, repo: str, tag: str, content: str | None = None, *,
             cmd: tuple[str, ...] = ("/bin/sleep", "3600"), media_type: str = DOCKER_MANIFEST,
             created: str | None = None, architecture: str = "amd64") -> Pushed:
        """Push a runnable image; `content` goes into /VERSION so distinct content gives distinct digests;
        `created` (RFC 3339) is the config's build time (none by default, as a reproducible build may leave it);
        an empty `tag` pushes the manifest by its digest, untagged."""
        gz, raw = _busybox_layer()
        marker = _tar({"VERSION": f"{content if content is not None else tag}\n".encode()})
        marker_gz = gzip.compress(marker, mtime=0)
        config = json.dumps({
            "architecture": architecture, "os": "linux",
            "config": {"Cmd": list(cmd), "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [_sha(raw), _sha(marker)]},
            **({"created": created} if created is not None else {}),
        }, sort_keys=True).encode()
        oci = media_type == OCI_MANIFEST
        layer_type = ("application/vnd.oci.image.layer.v1.tar+gzip" if oci
                      else "application/vnd.docker.image.rootfs.diff.tar.gzip")
        config_type = ("application/vnd.oci.image.config.v1+json" if oci
                       else "application/vnd.docker.container.image.v1+json")
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": media_type,
            "config": {"mediaType": config_type, "size": len(config), "digest": self._blob(repo, config)},
            "layers": [
                {"mediaType": layer_type, "size": len(gz), "digest": self._blob(repo, gz)},
                {"mediaType": layer_type, "size": len(marker_gz), "digest": self._blob(repo, marker_gz)},
            ],
        }, sort_keys=True).encode()
        return Pushed(repo, tag, self._manifest(repo, tag or _sha(manifest), manifest, media_type))

    def push_index(self, repo: str, tag: str, content: str | None = None, created: str | None = None, *,
                   platforms: tuple[str, ...] = ("linux/amd64",),
                   contents: dict[str, str] | None = None) -> Pushed:
        """Push an OCI index (multi-arch shape) with one OCI image manifest per platform ("linux/amd64",
        "linux/arm64"). Each child carries the same busybox layer (an arm64 child is never run) and its /VERSION
        is `contents[platform]`, else `content`, else `<tag>-<arch>-child`. The linux/amd64 child is also tagged
        `<tag>-amd64-child`, as before; other children are pushed by digest only."""
        entries = []
        for platform in platforms:
            os_name, _, arch = platform.partition("/")
            child_tag = f"{tag}-amd64-child" if platform == "linux/amd64" else ""
            marker = (contents or {}).get(platform, content if content is not None else f"{tag}-{arch}-child")
            child = self.push(repo, child_tag, marker, media_type=OCI_MANIFEST, created=created, architecture=arch)
            body = self.http.get(f"{self.base}/v2/{repo}/manifests/{child.digest}", timeout=30,
                                 headers={"Accept": OCI_MANIFEST}).content
            entries.append({"mediaType": OCI_MANIFEST, "size": len(body), "digest": child.digest,
                            "platform": {"architecture": arch, "os": os_name}})
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
                           sort_keys=True).encode()
        return Pushed(repo, tag, self._manifest(repo, tag, index, OCI_INDEX))

    def children(self, repo: str, reference: str) -> dict[str, str]:
        """An index's child digests by platform ("linux/amd64" → sha256:…)."""
        got = self.http.get(f"{self.base}/v2/{repo}/manifests/{reference}", timeout=30, headers={"Accept": OCI_INDEX})
        got.raise_for_status()
        return {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
                for m in got.json()["manifests"]}

    def delete_tag(self, repo: str, tag: str) -> None:
        """Delete the manifest a tag points to (the registry must allow deletes)."""
        head = self.http.head(f"{self.base}/v2/{repo}/manifests/{tag}", timeout=30,
                              headers={"Accept": f"{DOCKER_MANIFEST}, {OCI_MANIFEST}, {OCI_INDEX}"})
        head.raise_for_status()
        self.http.delete(f"{self.base}/v2/{repo}/manifests/{head.headers['Docker-Content-Digest']}",
                         timeout=30).raise_for_status()


def main() -> None:
    parser = argparse.ArgumentParser(description="push runnable sample images to a local registry")
    parser.add_argument("--registry", default="127.0.0.1:5000")
    parser.add_argument("repository")
    parser.add_argument("tags", nargs="+", help="TAG, or TAG=CONTENT to give two tags one digest")
    parser.add_argument("--delete", action="store_true", help="delete these tags (if present) instead")
    args = parser.parse_args()
    pusher = Pusher(args.registry)
    if args.delete:
        for tag in args.tags:
            with contextlib.suppress(requests.HTTPError):   # not there: nothing to delete
                pusher.delete_tag(args.repository, tag)
        return
    for spec in args.tags:
        tag, _, content = spec.partition("=")
        pushed = pusher.push(args.repository, tag, content or None)
        print(f"{args.registry}/{pushed.repository}:{pushed.tag}@{pushed.digest}")


if __name__ == "__main__":
    main()
