#!/usr/bin/env bash
# Install (when missing) and start, idempotently, everything tagpin's demo and tests talk to:
# a dockerd in swarm mode and a registry, both on loopback only, headless Chromium and (--postgres) PostgreSQL.
# Usage: scripts/services.sh [--no-browser] [--postgres]
set -euo pipefail

STATE_DIR=${TAGPIN_STATE_DIR:-/var/lib/tagpin-dev}
LOG_DIR=${TAGPIN_LOG_DIR:-/var/log}
REGISTRY_ADDR=${TAGPIN_REGISTRY_ADDR:-127.0.0.1:5000}
POSTGRES_PORT=${TAGPIN_POSTGRES_PORT:-5433}
WANT_BROWSER=1 WANT_POSTGRES=0
for arg in "$@"; do
  case $arg in
    --no-browser) WANT_BROWSER=0 ;;
    --postgres) WANT_POSTGRES=1 ;;
    *) printf 'services: unknown option %s (known: --no-browser, --postgres)\n' "$arg" >&2; exit 2 ;;
  esac
done

# shellcheck source=scripts/registry.sh
source "$(dirname "$0")/registry.sh"

say() { printf 'services: %s\n' "$*" >&2; }
need_root() { [[ $(id -u) == 0 ]] || { say "must run as root (installs packages, starts dockerd)"; exit 1; }; }

apt_install() {
  local missing=()
  for spec in "$@"; do
    local pkg=${spec%%:*} bin=${spec#*:}
    command -v "$bin" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  need_root
  say "installing ${missing[*]}"
  if [[ ! -f /var/lib/apt/periodic/tagpin-updated ]]; then
    apt-get update -qq && mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/tagpin-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  need_root
  say "starting dockerd (no bridge, no iptables: nothing leaves loopback)"
  # A stale pid file from a killed daemon stops a new one from starting.
  if [[ -f /var/run/docker.pid ]] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  nohup dockerd --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    >"$LOG_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && return 0; sleep 0.5; done
  say "dockerd did not come up; last lines of $LOG_DIR/dockerd.log:"; tail -20 "$LOG_DIR/dockerd.log" >&2
  exit 1
}

init_swarm() {
  local state
  state=$(docker info --format '{{.Swarm.LocalNodeState}}')
  if [[ $state == active ]]; then return 0; fi
  say "initialising swarm on 127.0.0.1"
  docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
}

start_registry() {
  if curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; then return 0; fi
  say "starting registry on $REGISTRY_ADDR"
  serve_registry "$REGISTRY_ADDR" "$STATE_DIR" "$LOG_DIR/tagpin-registry.log" || exit 1
}

# Debian's PostgreSQL as a cluster of our own: its own data directory, 127.0.0.1 only, port 5433 (Debian's default
# cluster on 5432 is left alone). The tests make one database per test in it, as role tagpin.
start_postgres() {
  local bin data=$STATE_DIR/postgres
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)     # none: not installed
  if [[ -z $bin ]]; then
    apt_install postgresql:/nonexistent/no-server-yet      # no server binaries at all: install the package
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  if "$bin/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"; then return 0; fi
  need_root
  if [[ ! -f $data/PG_VERSION ]]; then
    say "creating a PostgreSQL cluster in $data (127.0.0.1:$POSTGRES_PORT)"
    mkdir -p "$data" && chown postgres:postgres "$data" && chmod 700 "$data"
    runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      -E UTF8 >/dev/null
  fi
  say "starting PostgreSQL on 127.0.0.1:$POSTGRES_PORT"
  runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -k $data -c max_connections=200" >/dev/null
  # The role and its database, idempotently, as the superuser over the cluster's own socket.
  runuser -u postgres -- "$bin/psql" -q -h "$data" -p "$POSTGRES_PORT" -d postgres -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE tagpin LOGIN CREATEDB PASSWORD ''tagpin''' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tagpin')\gexec
SELECT 'CREATE DATABASE tagpin OWNER tagpin' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'tagpin')\gexec
SQL
}

apt_install docker.io:dockerd docker-registry:docker-registry busybox-static:busybox curl:curl
# Debian's docker.io ships the CLI; an existing newer CLI is fine (API version negotiation).
command -v docker >/dev/null || apt_install docker-cli:docker
if ((WANT_BROWSER)); then apt_install chromium:chromium; fi
start_dockerd
init_swarm
start_registry
if ((WANT_POSTGRES)); then start_postgres; PG_READY=", postgres 127.0.0.1:$POSTGRES_PORT"; fi
say "ready: dockerd (swarm $(docker info --format '{{.Swarm.LocalNodeState}}')), registry http://$REGISTRY_ADDR${PG_READY:-}"
