#!/usr/bin/env bash
# Build tagpin's image here, where nothing can be pulled from Docker Hub, and push it to the local registry as
# tagpin/tagpin:<version from pyproject.toml>. Idempotent: a version already in the registry is left alone (a
# semver tag that moves is the drift tagpin reports), unless --force rebuilds and re-pushes it.
#   1. the base: a Debian bookworm rootfs with python3 from mmdebstrap, `docker import`ed as tagpin-base:bookworm
#      (made once; TAGPIN_IMAGE_BASE names another base and skips this step);
#   2. the docker CLI (the bot runs `docker stack deploy`): /usr/bin/docker from Debian's docker.io package,
#      imported as tagpin-docker-cli:bookworm (made once; TAGPIN_IMAGE_DOCKER_CLI names another, e.g. docker:27-cli);
#   3. every wheel tagpin needs (its Postgres driver too), built on the host with pip (PyPI), so the image build
#      runs with --network none;
#   4. the repository's Dockerfile, unchanged, with --build-arg BASE=<the base>.
# `scripts/image.sh postgres` builds the stack's database the same way: a Debian rootfs with postgresql-15
# (tagpin-postgres-base:bookworm), then scripts/postgres/Dockerfile on it, pushed as tagpin/postgres:<upstream
# version of Debian's package>, e.g. 15.14 (the stack's two-part policy picks it).
# Prints the pushed reference (repo:tag@sha256:…) on stdout; progress goes to stderr.
# Usage: scripts/image.sh [--force] [tagpin|postgres]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE_DIR=${TAGPIN_STATE_DIR:-/var/lib/tagpin-dev}
REGISTRY=${TAGPIN_REGISTRY_ADDR:-127.0.0.1:5000}
BASE=${TAGPIN_IMAGE_BASE:-tagpin-base:bookworm}
CLI=${TAGPIN_IMAGE_DOCKER_CLI:-tagpin-docker-cli:bookworm}
# The Debian sources are the machine's own, as its apt is set up (TAGPIN_DEBIAN_SOURCES: other files, space-separated).
read -r -a SOURCES <<<"${TAGPIN_DEBIAN_SOURCES:-$(ls /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
  /etc/apt/sources.list.d/*.list 2>/dev/null | tr '\n' ' ')}"
PG_BASE=${TAGPIN_POSTGRES_BASE:-tagpin-postgres-base:bookworm}
PG_MAJOR=15
FORCE=0 WHAT=tagpin
for arg in "$@"; do
  case $arg in
    --force) FORCE=1 ;;
    tagpin|postgres) WHAT=$arg ;;
    *) printf 'image: unknown argument %q; usage: scripts/image.sh [--force] [tagpin|postgres]\n' "$arg" >&2; exit 2 ;;
  esac
done
PYTHON=python3
[[ -x "$ROOT/.venv/bin/python" ]] && PYTHON="$ROOT/.venv/bin/python"
# No buildx plugin here, so the CLI uses the legacy builder; say so rather than have it guess (it works with
# dockerd 20.10 and needs no network of its own: RUN steps get --network none).
export DOCKER_BUILDKIT=0

say() { printf 'image: %s\n' "$*" >&2; }

# Kept out of services.sh's list so the demo never waits for it: only building the base needs mmdebstrap.
ensure_mmdebstrap() {
  command -v mmdebstrap >/dev/null 2>&1 && return 0
  [[ $(id -u) == 0 ]] || { say "mmdebstrap is missing; run as root or apt-get install mmdebstrap"; exit 1; }
  say "installing mmdebstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null \
    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null; }
}

make_base() {
  if docker image inspect "$BASE" >/dev/null 2>&1; then return 0; fi
  [[ $BASE == tagpin-base:bookworm ]] || { say "base image $BASE is not present"; exit 1; }
  ensure_mmdebstrap
  say "making $BASE from Debian packages (mmdebstrap, ~40 s)"
  # minbase: essential + required packages (useradd included) + apt; docs, man pages and locales left out.
  # The sources are the host's (its security suite included), so a rebuilt base carries Debian's security fixes.
  mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates \
    --aptopt='APT::Install-Recommends "false"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm - "${SOURCES[@]}" \
    | docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE" >/dev/null
}

make_cli() {
  if docker image inspect "$CLI" >/dev/null 2>&1; then return 0; fi
  [[ $CLI == tagpin-docker-cli:bookworm ]] || { say "docker CLI image $CLI is not present"; exit 1; }
  say "making $CLI from Debian's docker.io package (only /usr/bin/docker, as /usr/local/bin/docker)"
  local dir; dir=$(mktemp -d)
  chmod 755 "$dir"    # apt fetches as the _apt user
  (cd "$dir" && apt-get download -qq docker.io >/dev/null) \
    || { apt-get update -qq && (cd "$dir" && apt-get download -qq docker.io >/dev/null); }
  mkdir -p "$dir/root/usr/local/bin"
  dpkg-deb --fsys-tarfile "$dir"/docker.io_*.deb | tar -xO ./usr/bin/docker >"$dir/root/usr/local/bin/docker"
  chmod 755 "$dir/root/usr/local/bin/docker"
  tar -C "$dir/root" -cf - usr | docker import - "$CLI" >/dev/null
  rm -rf "$dir"
}

manifest_head() {  # REPO TAG: the registry's answer for that tag's manifest (fails when it is not there)
  curl -fsS -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$REGISTRY/v2/$1/manifests/$2"
}

in_registry() { manifest_head "$1" "$2" >/dev/null; }

pushed() {  # REPO TAG: print repo:tag@digest, the script's one line of output
  local digest
  digest=$(manifest_head "$1" "$2" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest" {print $2}')
  echo "$REGISTRY/$1:$2@$digest"
}

make_postgres_base() {
  if docker image inspect "$PG_BASE" >/dev/null 2>&1; then return 0; fi
  [[ $PG_BASE == tagpin-postgres-base:bookworm ]] || { say "postgres base image $PG_BASE is not present"; exit 1; }
  ensure_mmdebstrap
  say "making $PG_BASE from Debian packages (mmdebstrap, postgresql-$PG_MAJOR, ~60 s)"
  # No cluster at install time: the entry point makes one in the volume on the first start.
  mmdebstrap --quiet --variant=minbase --include="postgresql-$PG_MAJOR" \
    --aptopt='APT::Install-Recommends "false"' \
    --essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" >"$1/etc/postgresql-common/createcluster.d/tagpin.conf"' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
    bookworm - "${SOURCES[@]}" \
    | docker import --change 'ENV LANG=C.UTF-8' - "$PG_BASE" >/dev/null
}

build_postgres() {
  make_postgres_base
  local version tag
  version=$(docker run --rm --network none "$PG_BASE" dpkg-query -W -f '${Version}' "postgresql-$PG_MAJOR")
  tag=${version%%-*}            # 15.14-0+deb12u1 -> 15.14
  if ((!FORCE)) && in_registry tagpin/postgres "$tag" 2>/dev/null; then
    say "$REGISTRY/tagpin/postgres:$tag is already in the registry (Debian's postgresql-$PG_MAJOR $version)"
  else
    say "building $REGISTRY/tagpin/postgres:$tag on $PG_BASE (docker build, --network none)"
    docker build --quiet --network none --build-arg "BASE=$PG_BASE" --build-arg "PG_MAJOR=$PG_MAJOR" \
      --build-arg "VERSION=$version" -t "$REGISTRY/tagpin/postgres:$tag" "$ROOT/scripts/postgres" >/dev/null
    say "pushing $REGISTRY/tagpin/postgres:$tag"
    docker push --quiet "$REGISTRY/tagpin/postgres:$tag" >/dev/null
  fi
  pushed tagpin/postgres "$tag"
}

exec 9>"${TMPDIR:-/tmp}/tagpin-image.lock"
flock 9    # two builds at once would race for the same tag
if [[ $WHAT == postgres ]]; then
  build_postgres
  exit 0
fi

VERSION=$("$PYTHON" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
  "$ROOT/pyproject.toml")
# TAGPIN_IMAGE_TAG: another tag for the same build (the tests use <version>-dev.<source hash>, so they never check
# a stale image nor move the release tag).
TAG=${TAGPIN_IMAGE_TAG:-$VERSION}
IMAGE="$REGISTRY/tagpin/tagpin:$TAG"

if ((!FORCE)) && in_registry tagpin/tagpin "$TAG" 2>/dev/null; then
  say "$IMAGE is already in the registry; bump the version in pyproject.toml, or --force to rebuild it"
else
  ((FORCE)) && in_registry tagpin/tagpin "$TAG" 2>/dev/null && say "--force: re-pushing $IMAGE moves that tag"
  make_base
  make_cli
  # Binary wheels must match the base's Python (cp311 today).
  want=$(docker run --rm --network none "$BASE" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  have=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [[ $want == "$have" ]] || { say "the base has Python $want, the host $have: wheels would not match"; exit 1; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  say "building wheels on the host (pip, PyPI)"
  # setuptools too: the image's pip builds tagpin from source in an isolated env, offline.
  "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$work/wheels" "$ROOT[postgres]" \
    "setuptools>=68"
  say "building $IMAGE on $BASE (docker build, --network none)"
  tar -cf - --exclude=__pycache__ --exclude='*.pyc' -C "$ROOT" Dockerfile .dockerignore pyproject.toml README.md \
      bot recovery static -C "$work" wheels \
    | docker build --quiet --network none --build-arg "BASE=$BASE" --build-arg "DOCKER_CLI=$CLI" \
        --build-arg PIP_NO_INDEX=1 --build-arg "VERSION=$VERSION" -t "$IMAGE" - >/dev/null
  say "pushing $IMAGE"
  docker push --quiet "$IMAGE" >/dev/null
fi
pushed tagpin/tagpin "$TAG"
