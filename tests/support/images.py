"""tagpin's own images for the tests: scripts/image.sh builds them (once per source) and pushes them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import tomllib

from tests.support.processes import ROOT

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _source_hash() -> str:
    """What goes into the image: a changed file gives a new tag, so a test never checks a stale build."""
    digest = hashlib.sha256()
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "Dockerfile", ".dockerignore",
                             "pyproject.toml", "README.md", "bot", "recovery", "static"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split()
    for name in sorted(listed):
        path = ROOT / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


# The tests' build: a -dev prerelease of the version, never the release tag itself.
TAG = f"{VERSION}-dev.{_source_hash()}"


def build(registry: str, what: str = "tagpin") -> str:
    """scripts/image.sh [postgres]: the pushed reference repo:tag@sha256:… (built when not in the registry yet)."""
    env = {**os.environ, "TAGPIN_REGISTRY_ADDR": registry, "TAGPIN_IMAGE_TAG": TAG}
    started = time.monotonic()
    # A cold build (base, wheels, image, push) takes ~100 s here (postgres ~55 s); one already pushed, ~1 s.
    done = subprocess.run(["bash", str(ROOT / "scripts" / "image.sh"), what], capture_output=True, text=True,
                          env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"scripts/image.sh {what}: {time.monotonic() - started:.1f} s")
    reference = done.stdout.strip().splitlines()[-1]
    want = f"{registry}/tagpin/tagpin:{TAG}@sha256:" if what == "tagpin" else f"{registry}/tagpin/postgres:15."
    assert reference.startswith(want) and "@sha256:" in reference, done.stdout
    return reference
